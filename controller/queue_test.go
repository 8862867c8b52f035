package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/types"
)

// entry builds a queue entry: ns/name created at second t.
type entryBuilder struct{ e queueEntry }

func anEntry(ns, name string, t int64) *entryBuilder {
	return &entryBuilder{e: queueEntry{uid: types.UID(ns + "/" + name), namespace: ns, name: name, created: t}}
}
func (b *entryBuilder) running() *entryBuilder { b.e.started = true; return b }
func (b *entryBuilder) ended() *entryBuilder   { b.e.started, b.e.ended = true, true; return b }
func (b *entryBuilder) obj() queueEntry        { return b.e }

func TestAdmissionQueueDecide(t *testing.T) {
	tests := []struct {
		name       string
		limits     Limits
		all        []queueEntry
		candidate  queueEntry
		wantAdmit  bool
		wantReason string
	}{
		{
			name:      "a free slot",
			limits:    Limits{Total: 2},
			all:       []queueEntry{anEntry("a", "one", 1).running().obj()},
			candidate: anEntry("a", "two", 2).obj(),
			wantAdmit: true,
		},
		{
			name:       "controller full",
			limits:     Limits{Total: 1},
			all:        []queueEntry{anEntry("a", "one", 1).running().obj(), anEntry("b", "two", 2).obj()},
			candidate:  anEntry("b", "two", 2).obj(),
			wantReason: "queued: 1 ActionSets run, the most the controller runs at once (--max-running-actionsets=1)",
		},
		{
			name:      "ended ones free their slot",
			limits:    Limits{Total: 1},
			all:       []queueEntry{anEntry("a", "one", 1).ended().obj()},
			candidate: anEntry("a", "two", 2).obj(),
			wantAdmit: true,
		},
		{
			name:   "older waiting ones go first",
			limits: Limits{Total: 2},
			all: []queueEntry{
				anEntry("a", "one", 1).running().obj(),
				anEntry("a", "young", 9).obj(),
				anEntry("a", "old", 5).obj(),
			},
			candidate:  anEntry("a", "young", 9).obj(),
			wantReason: "queued: older ActionSets are waiting for the free slots",
		},
		{
			name:   "ties in creation time go by name",
			limits: Limits{Total: 1},
			all: []queueEntry{
				anEntry("a", "b-second", 5).obj(),
				anEntry("a", "a-first", 5).obj(),
			},
			candidate: anEntry("a", "a-first", 5).obj(),
			wantAdmit: true,
		},
		{
			name:       "namespace full",
			limits:     Limits{Total: 10, PerNamespace: 1},
			all:        []queueEntry{anEntry("a", "one", 1).running().obj()},
			candidate:  anEntry("a", "two", 2).obj(),
			wantReason: "queued: 1 ActionSets run in namespace a, the most the controller runs at once in one namespace (--max-running-actionsets-per-namespace=1)",
		},
		{
			name:   "an older one waiting on a full namespace does not hold back another namespace",
			limits: Limits{Total: 10, PerNamespace: 1},
			all: []queueEntry{
				anEntry("a", "one", 1).running().obj(),
				anEntry("a", "two", 2).obj(),
			},
			candidate: anEntry("b", "three", 3).obj(),
			wantAdmit: true,
		},
		{
			name:      "the candidate is counted even before the cache holds it",
			limits:    Limits{Total: 1},
			all:       nil,
			candidate: anEntry("a", "new", 1).obj(),
			wantAdmit: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newAdmissionQueue(tt.limits)
			d := q.decide(tt.candidate, tt.all)
			assert.Equal(t, tt.wantAdmit, d.admit)
			assert.Equal(t, tt.wantReason, d.reason)
		})
	}
}

// Two reconciles racing for the last slot before the cache shows either
// started: the second must wait.
func TestAdmissionQueueCountsWhatItAdmittedBeforeTheCacheShowsIt(t *testing.T) {
	q := newAdmissionQueue(Limits{Total: 1})
	first, second := anEntry("a", "first", 1).obj(), anEntry("a", "second", 2).obj()
	stale := []queueEntry{first, second}
	assert.True(t, q.decide(first, stale).admit)
	assert.True(t, q.decide(first, stale).admit, "deciding again is idempotent")
	assert.False(t, q.decide(second, stale).admit)

	// The cache catches up: first ran and ended; second may go.
	first.started, first.ended = true, true
	assert.Equal(t, []types.UID{second.uid}, q.next([]queueEntry{first, second}))
	assert.True(t, q.decide(second, []queueEntry{first, second}).admit)
}

func TestAdmissionQueueNextWakesTheOldestThatFit(t *testing.T) {
	q := newAdmissionQueue(Limits{Total: 3, PerNamespace: 2})
	all := []queueEntry{
		anEntry("a", "running", 1).running().obj(),
		anEntry("a", "w1", 2).obj(),
		anEntry("a", "w2", 3).obj(), // namespace a is full after w1
		anEntry("b", "w3", 4).obj(),
		anEntry("b", "w4", 5).obj(), // controller full after w3
	}
	assert.Equal(t, []types.UID{"a/w1", "b/w3"}, q.next(all))
}
