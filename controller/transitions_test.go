package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

func statusOf(deferState batonv1.State, states ...batonv1.State) *batonv1.ActionSetStatus {
	a := batonv1.ActionStatus{Name: "backup"}
	for i, s := range states {
		a.Phases = append(a.Phases, batonv1.Phase{Name: []string{"dump", "upload", "report"}[i], State: s})
	}
	if deferState != "" {
		a.DeferPhase = &batonv1.Phase{Name: "cleanup", State: deferState}
	}
	return &batonv1.ActionSetStatus{Actions: []batonv1.ActionStatus{a}}
}

func TestPhaseTransitions(t *testing.T) {
	const (
		pending  = batonv1.StatePending
		running  = batonv1.StateRunning
		complete = batonv1.StateComplete
		failed   = batonv1.StateFailed
	)
	tests := []struct {
		name          string
		before, after *batonv1.ActionSetStatus
		want          []transition
	}{
		{"first reconcile starts the first phase", &batonv1.ActionSetStatus{}, statusOf("", running, pending),
			[]transition{{key: phaseKey{}, action: "backup", phase: "dump", from: pending, to: running}}},
		{"handoff", statusOf("", running, pending), statusOf("", complete, running), []transition{
			{key: phaseKey{phase: 0}, action: "backup", phase: "dump", from: running, to: complete},
			{key: phaseKey{phase: 1}, action: "backup", phase: "upload", from: pending, to: running}}},
		{"nothing changed", statusOf(pending, running), statusOf(pending, running), nil},
		{"failure starts the deferPhase", statusOf(pending, running), statusOf(running, failed), []transition{
			{key: phaseKey{}, action: "backup", phase: "dump", from: running, to: failed},
			{key: phaseKey{deferred: true}, action: "backup", phase: "cleanup", from: pending, to: running}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, phaseTransitions(tt.before, tt.after))
		})
	}
}
