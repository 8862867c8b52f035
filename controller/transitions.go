package controller

import (
	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// transition is one phase changing state within a reconcile.
type transition struct {
	key            phaseKey
	action, phase  string
	from, to       batonv1.State
	failureMessage string
}

// phaseTransitions compares the phases of two statuses of one ActionSet
// (before and after a reconcile) and lists the ones whose state changed, in
// status order. Events and metrics are derived from them, so they describe
// exactly what the stored status says happened.
func phaseTransitions(before, after *batonv1.ActionSetStatus) []transition {
	var out []transition
	for i := range after.Actions {
		a := &after.Actions[i]
		var old *batonv1.ActionStatus
		if i < len(before.Actions) {
			old = &before.Actions[i]
		}
		for j := range a.Phases {
			from := batonv1.StatePending
			if old != nil && j < len(old.Phases) {
				from = old.Phases[j].State
			}
			if to := a.Phases[j].State; to != from {
				out = append(out, transition{key: phaseKey{action: i, phase: j}, action: a.Name, phase: a.Phases[j].Name, from: from, to: to})
			}
		}
		if a.DeferPhase != nil {
			from := batonv1.StatePending
			if old != nil && old.DeferPhase != nil {
				from = old.DeferPhase.State
			}
			if to := a.DeferPhase.State; to != from {
				out = append(out, transition{key: phaseKey{action: i, deferred: true}, action: a.Name, phase: a.DeferPhase.Name, from: from, to: to})
			}
		}
	}
	return out
}
