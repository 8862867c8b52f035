package controller

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// fakeSteps records what advance asked for and answers observe from a table.
type fakeSteps struct {
	jobs     map[phaseKey]jobResult
	startErr map[phaseKey]error
	timedOut bool
	started  []phaseKey
	stopped  []phaseKey
}

func (f *fakeSteps) observe(k phaseKey) (jobResult, bool) { r, ok := f.jobs[k]; return r, ok }
func (f *fakeSteps) start(k phaseKey) error {
	if err := f.startErr[k]; err != nil {
		return err
	}
	f.started = append(f.started, k)
	return nil
}
func (f *fakeSteps) stop(k phaseKey) { f.stopped = append(f.stopped, k) }
func (f *fakeSteps) expired() (string, bool) {
	return "timed out: the ActionSet ran longer than its timeout of 1m0s", f.timedOut
}

// actionSetWith builds an ActionSet whose actions have the given phase
// states; a trailing "defer:<state>" entry adds a deferPhase.
func actionSetWith(actions ...[]batonv1.State) *batonv1.ActionSet {
	as := &batonv1.ActionSet{}
	for i, states := range actions {
		a := batonv1.ActionStatus{Name: []string{"backup", "other"}[i%2]}
		for j, s := range states {
			a.Phases = append(a.Phases, batonv1.Phase{Name: []string{"one", "two", "three"}[j], State: s})
		}
		as.Status.Actions = append(as.Status.Actions, a)
	}
	return as
}

func withDefer(as *batonv1.ActionSet, action int, s batonv1.State) *batonv1.ActionSet {
	as.Status.Actions[action].DeferPhase = &batonv1.Phase{Name: "cleanup", State: s}
	return as
}

const (
	pending   = batonv1.StatePending
	running   = batonv1.StateRunning
	complete  = batonv1.StateComplete
	failed    = batonv1.StateFailed
	cancelled = batonv1.StateCancelled
)

// cancel sets the ActionSet's spec.cancel.
func cancel(as *batonv1.ActionSet, reason string) *batonv1.ActionSet {
	as.Spec.Cancel = &batonv1.CancelRequest{Reason: reason}
	return as
}

func done(out map[string]any) jobResult { return jobResult{state: complete, outputs: out} }
func broke(msg string) jobResult        { return jobResult{state: failed, message: msg} }
func k(a, p int) phaseKey               { return phaseKey{action: a, phase: p} }
func d(a int) phaseKey                  { return phaseKey{action: a, deferred: true} }

func TestAdvance(t *testing.T) {
	tests := []struct {
		name        string
		as          *batonv1.ActionSet
		jobs        map[phaseKey]jobResult
		startErr    map[phaseKey]error
		timedOut    bool
		wantStarted []phaseKey
		wantStopped []phaseKey
		wantPhases  [][]batonv1.State
		wantDefer   []batonv1.State // per action, "" when none
		wantState   batonv1.State
		wantError   string
	}{
		{
			name:        "a new ActionSet starts the first phase of every action",
			as:          actionSetWith([]batonv1.State{pending, pending}, []batonv1.State{pending}),
			wantStarted: []phaseKey{k(0, 0), k(1, 0)},
			wantPhases:  [][]batonv1.State{{running, pending}, {running}},
			wantState:   running,
		},
		{
			name:       "a running phase without a result keeps running",
			as:         actionSetWith([]batonv1.State{running, pending}),
			wantPhases: [][]batonv1.State{{running, pending}},
			wantState:  running,
		},
		{
			name:        "a completed phase starts the next in the same pass",
			as:          actionSetWith([]batonv1.State{running, pending, pending}),
			jobs:        map[phaseKey]jobResult{k(0, 0): done(map[string]any{"v": "1"})},
			wantStarted: []phaseKey{k(0, 1)},
			wantPhases:  [][]batonv1.State{{complete, running, pending}},
			wantState:   running,
		},
		{
			name:       "the last phase completes the ActionSet",
			as:         actionSetWith([]batonv1.State{complete, running}),
			jobs:       map[phaseKey]jobResult{k(0, 1): done(nil)},
			wantPhases: [][]batonv1.State{{complete, complete}},
			wantState:  complete,
		},
		{
			name:        "then its deferPhase runs before completion",
			as:          withDefer(actionSetWith([]batonv1.State{complete, running}), 0, pending),
			jobs:        map[phaseKey]jobResult{k(0, 1): done(nil)},
			wantStarted: []phaseKey{d(0)},
			wantPhases:  [][]batonv1.State{{complete, complete}},
			wantDefer:   []batonv1.State{running},
			wantState:   running,
		},
		{
			name:       "a deferPhase waits while phases run",
			as:         withDefer(actionSetWith([]batonv1.State{running, pending}), 0, pending),
			wantPhases: [][]batonv1.State{{running, pending}},
			wantDefer:  []batonv1.State{pending},
			wantState:  running,
		},
		{
			name: "a failure stops siblings, skips later phases and runs deferPhases of started actions",
			as: withDefer(withDefer(withDefer(actionSetWith(
				[]batonv1.State{running, pending},
				[]batonv1.State{running, pending},
				[]batonv1.State{pending}), 0, pending), 1, pending), 2, pending),
			jobs:        map[phaseKey]jobResult{k(0, 0): broke("exit code 3")},
			wantStarted: []phaseKey{d(0), d(1)},
			wantStopped: []phaseKey{k(1, 0)},
			wantPhases:  [][]batonv1.State{{failed, pending}, {failed, pending}, {pending}},
			wantDefer:   []batonv1.State{running, running, pending},
			wantState:   running,
			wantError:   `action "backup" phase "one" failed: exit code 3`,
		},
		{
			name:       "failed once the deferPhases are done",
			as:         withDefer(actionSetWith([]batonv1.State{failed, pending}), 0, running),
			jobs:       map[phaseKey]jobResult{d(0): done(nil)},
			wantPhases: [][]batonv1.State{{failed, pending}},
			wantDefer:  []batonv1.State{complete},
			wantState:  failed,
		},
		{
			name:       "a failing deferPhase fails the ActionSet",
			as:         withDefer(actionSetWith([]batonv1.State{complete}), 0, running),
			jobs:       map[phaseKey]jobResult{d(0): broke("cleanup broke")},
			wantPhases: [][]batonv1.State{{complete}},
			wantDefer:  []batonv1.State{failed},
			wantState:  failed,
			wantError:  `action "backup" phase "cleanup" failed: cleanup broke`,
		},
		{
			name:        "a phase that cannot start fails like one that ran",
			as:          actionSetWith([]batonv1.State{pending}, []batonv1.State{pending}),
			startErr:    map[phaseKey]error{k(1, 0): errors.New(`args.command[1]: map has no entry for key "x"`)},
			wantStarted: []phaseKey{k(0, 0)},
			wantStopped: []phaseKey{k(0, 0)},
			wantPhases:  [][]batonv1.State{{failed}, {failed}},
			wantState:   failed,
			wantError:   `action "other" phase "one": args.command[1]: map has no entry for key "x"`,
		},
		{
			name:        "a phase not started for an API error stays pending, its action's next phases too",
			as:          actionSetWith([]batonv1.State{running, pending, pending}, []batonv1.State{pending}),
			jobs:        map[phaseKey]jobResult{k(0, 0): done(nil)},
			startErr:    map[phaseKey]error{k(0, 1): errNotStarted},
			wantStarted: []phaseKey{k(1, 0)},
			wantPhases:  [][]batonv1.State{{complete, pending, pending}, {running}},
			wantState:   running,
		},
		{
			name:       "a deferPhase due after a failure but not started for an API error keeps the ActionSet running",
			as:         withDefer(actionSetWith([]batonv1.State{running}), 0, pending),
			jobs:       map[phaseKey]jobResult{k(0, 0): broke("boom")},
			startErr:   map[phaseKey]error{d(0): errNotStarted},
			wantPhases: [][]batonv1.State{{failed}},
			wantDefer:  []batonv1.State{pending},
			wantState:  running,
			wantError:  `action "backup" phase "one" failed: boom`,
		},
		{
			name:        "an action between two phases when another fails still runs its deferPhase",
			as:          withDefer(actionSetWith([]batonv1.State{running, pending}, []batonv1.State{running}), 0, pending),
			jobs:        map[phaseKey]jobResult{k(0, 0): done(nil), k(1, 0): broke("boom")},
			wantStarted: []phaseKey{d(0)},
			wantPhases:  [][]batonv1.State{{complete, pending}, {failed}},
			wantDefer:   []batonv1.State{running},
			wantState:   running,
			wantError:   `action "other" phase "one" failed: boom`,
		},
		{
			name:        "a deadline between two phases fails the next one instead of starting it",
			as:          withDefer(actionSetWith([]batonv1.State{running, pending, pending}), 0, pending),
			jobs:        map[phaseKey]jobResult{k(0, 0): done(nil)},
			timedOut:    true,
			wantStarted: []phaseKey{d(0)},
			wantPhases:  [][]batonv1.State{{complete, failed, pending}},
			wantDefer:   []batonv1.State{running},
			wantState:   running,
			wantError:   `action "backup" phase "two": timed out: the ActionSet ran longer than its timeout of 1m0s`,
		},
		{
			name:       "a failure found with a Job it had stopped is the error, not the lost Job",
			as:         actionSetWith([]batonv1.State{running}, []batonv1.State{running}),
			jobs:       map[phaseKey]jobResult{k(0, 0): {state: failed, lost: true, message: "its job x was deleted"}, k(1, 0): broke("boom")},
			wantPhases: [][]batonv1.State{{failed}, {failed}},
			wantState:  failed,
			wantError:  `action "other" phase "one" failed: boom`,
		},
		{
			name:       "outputs are recorded",
			as:         actionSetWith([]batonv1.State{running}),
			jobs:       map[phaseKey]jobResult{k(0, 0): done(map[string]any{"path": "/b/1"})},
			wantPhases: [][]batonv1.State{{complete}},
			wantState:  complete,
		},
		{
			name: "cancel stops running phases, never starts pending ones, runs the deferPhase of actions that started",
			as: cancel(withDefer(withDefer(actionSetWith([]batonv1.State{complete, running, pending}, []batonv1.State{pending}), 0, pending), 1, pending),
				"maintenance window"),
			jobs:        map[phaseKey]jobResult{k(0, 1): {state: running}},
			wantStarted: []phaseKey{d(0)},
			wantStopped: []phaseKey{k(0, 1)},
			wantPhases:  [][]batonv1.State{{complete, cancelled, pending}, {pending}},
			wantDefer:   []batonv1.State{running, pending},
			wantState:   running,
		},
		{
			name:       "a cancelled ActionSet ends cancelled once its deferPhases are done",
			as:         cancel(withDefer(actionSetWith([]batonv1.State{cancelled, pending}), 0, running), "maintenance window"),
			jobs:       map[phaseKey]jobResult{d(0): done(nil)},
			wantPhases: [][]batonv1.State{{cancelled, pending}},
			wantDefer:  []batonv1.State{complete},
			wantState:  cancelled,
		},
		{
			name:        "an ActionSet out of time fails its running phases, starts no more, runs the deferPhase",
			as:          withDefer(actionSetWith([]batonv1.State{complete, running, pending}, []batonv1.State{running}), 0, pending),
			jobs:        map[phaseKey]jobResult{k(0, 1): {state: running}, k(1, 0): {state: running}},
			timedOut:    true,
			wantStarted: []phaseKey{d(0)},
			wantStopped: []phaseKey{k(0, 1), k(1, 0)},
			wantPhases:  [][]batonv1.State{{complete, failed, pending}, {failed}},
			wantDefer:   []batonv1.State{running},
			wantState:   running,
			wantError:   `action "backup" phase "two": timed out: the ActionSet ran longer than its timeout of 1m0s`,
		},
		{
			name:       "a failure before the cancel stays a failure",
			as:         cancel(actionSetWith([]batonv1.State{running}), ""),
			jobs:       map[phaseKey]jobResult{k(0, 0): broke("exit 1")},
			wantPhases: [][]batonv1.State{{failed}},
			wantState:  failed,
			wantError:  `action "backup" phase "one" failed: exit 1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := &fakeSteps{jobs: tt.jobs, startErr: tt.startErr, timedOut: tt.timedOut}
			failure := advance(tt.as, steps)

			assert.ElementsMatch(t, tt.wantStarted, steps.started, "started")
			assert.ElementsMatch(t, tt.wantStopped, steps.stopped, "stopped")
			var phases [][]batonv1.State
			var defers []batonv1.State
			for _, a := range tt.as.Status.Actions {
				var states []batonv1.State
				for _, p := range a.Phases {
					states = append(states, p.State)
				}
				phases = append(phases, states)
				if a.DeferPhase != nil {
					defers = append(defers, a.DeferPhase.State)
				}
			}
			assert.Equal(t, tt.wantPhases, phases)
			if tt.wantDefer != nil {
				assert.Equal(t, tt.wantDefer, defers)
			}
			assert.Equal(t, tt.wantState, tt.as.Status.State)
			assert.Equal(t, tt.wantError, failure)
			if tt.as.Spec.Cancel != nil && tt.wantError == "" {
				assert.Equal(t, "cancelled: maintenance window", tt.as.Status.Error.Message)
			}
			if tt.wantError != "" {
				assert.Equal(t, tt.wantError, tt.as.Status.Error.Message)
			}
		})
	}
}

func TestOutputsAreRecorded(t *testing.T) {
	as := actionSetWith([]batonv1.State{running})
	advance(as, &fakeSteps{jobs: map[phaseKey]jobResult{k(0, 0): done(map[string]any{"path": "/b/1"})}})
	assert.Equal(t, batonv1.JSONMap{"path": "/b/1"}, as.Status.Actions[0].Phases[0].Output)
}

func TestPercentCompleted(t *testing.T) {
	as := withDefer(actionSetWith([]batonv1.State{complete, running, pending}), 0, pending)
	assert.Equal(t, 25, percentCompleted(as))
	assert.Equal(t, "two", runningPhase(as))
}
