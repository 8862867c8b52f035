package controller

import (
	"errors"
	"fmt"
	"slices"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// phaseKey identifies one phase run of an ActionSet.
type phaseKey struct {
	action   int
	phase    int
	deferred bool
}

// jobResult is what the controller observed of a phase's Job.
type jobResult struct {
	// state is running while the Job has no terminal condition.
	state   batonv1.State
	outputs map[string]any
	// message explains a failure.
	message string
	// attempts, when set, replace the phase's recorded attempts.
	attempts []batonv1.PhaseAttempt
	// lost marks a failure for a Job that vanished: recorded after every
	// other result, so that when another phase failed too (and its failure
	// had this Job deleted), that one is the ActionSet's error.
	lost bool
}

// errNotStarted is what stepper.start returns when it could not start a
// phase for a reason the next reconcile may not meet (an API error): the
// phase is neither failed nor running, but left pending.
var errNotStarted = errors.New("phase not started yet")

// stepper holds what one reconcile may do to the world; advance calls it
// and never touches the cluster itself, so the state machine is unit-tested
// with fakes.
type stepper interface {
	// observe returns the result of the phase's Job, or ok=false when
	// there is nothing to record.
	observe(k phaseKey) (res jobResult, ok bool)
	// start renders the phase and creates its Job; an error is a failure of
	// the phase (a template that does not render, a bad podOverride, ...),
	// except errNotStarted.
	start(k phaseKey) error
	// stop deletes a running phase's Job (and so its pod).
	stop(k phaseKey)
	// expired says whether the ActionSet's own timeout has passed, and how
	// to say so.
	expired() (message string, ok bool)
}

// advance moves every action of as forward as far as the observed Jobs
// allow, editing as.Status in place. It is the whole state machine:
//
//   - phases of an action run in order; a phase starts once the one before
//     it has completed, in the same reconcile;
//   - actions run side by side;
//   - when any phase fails, every other action's running phase is stopped
//     and its later phases never start;
//   - an action's deferPhase runs once its phases have finished or stopped,
//     if any of them started, whether they succeeded or not;
//   - the ActionSet is complete when every action (and deferPhase) has
//     completed, failed when anything failed and nothing runs any more.
//
// It returns the first failure message it recorded, if any, for Events.
func advance(as *batonv1.ActionSet, s stepper) (failure string) {
	fail := func(p *batonv1.Phase, msg string) {
		p.State = batonv1.StateFailed
		if failure == "" {
			failure = msg
		}
		if as.Status.Error == nil || as.Status.Error.Message == "" {
			as.Status.Error = &batonv1.ActionSetError{Message: msg}
		}
	}
	// settle records a finished Job's result into p; running Jobs are left.
	// Lost Jobs wait in lost until every other result is in.
	type lostJob struct {
		p    *batonv1.Phase
		k    phaseKey
		name string
		res  jobResult
	}
	var lost []lostJob
	record := func(p *batonv1.Phase, k phaseKey, name string, res jobResult) {
		if res.attempts != nil {
			p.Attempts = res.attempts
		}
		switch res.state {
		case batonv1.StateComplete:
			p.State = batonv1.StateComplete
			p.Output = res.outputs
		case batonv1.StateFailed:
			fail(p, fmt.Sprintf("action %q phase %q failed: %s", as.Status.Actions[k.action].Name, name, res.message))
		}
	}
	settle := func(p *batonv1.Phase, k phaseKey, name string) {
		res, ok := s.observe(k)
		switch {
		case !ok:
		case res.lost:
			lost = append(lost, lostJob{p, k, name, res})
		default:
			record(p, k, name, res)
		}
	}
	begin := func(p *batonv1.Phase, k phaseKey, name string) {
		err := s.start(k)
		switch {
		case errors.Is(err, errNotStarted):
			// Stays pending: the next reconcile starts it.
		case err != nil:
			fail(p, fmt.Sprintf("action %q phase %q: %v", as.Status.Actions[k.action].Name, name, err))
		default:
			p.State = batonv1.StateRunning
		}
	}

	// Record what finished since the last reconcile before deciding anything:
	// a failure in action 2 must stop action 1 in this same pass.
	for i := range as.Status.Actions {
		a := &as.Status.Actions[i]
		for _, k := range runningPhases(i, a) {
			p := phaseIn(a, k)
			settle(p, k, p.Name)
		}
	}
	for _, l := range lost {
		record(l.p, l.k, l.name, l.res)
	}

	// Out of time: the phases still running fail for it, which stops the
	// rest as any failure does. DeferPhases are left to finish. With none
	// running (the deadline fell between two phases, or a start is being
	// retried), the next phase fails for it instead: it must not start.
	if msg, expired := s.expired(); expired {
		for i := range as.Status.Actions {
			a := &as.Status.Actions[i]
			for j := range a.Phases {
				if a.Phases[j].State == batonv1.StateRunning {
					s.stop(phaseKey{action: i, phase: j})
					fail(&a.Phases[j], fmt.Sprintf("action %q phase %q: %s", a.Name, a.Phases[j].Name, msg))
				}
			}
		}
		for i := range as.Status.Actions {
			a := &as.Status.Actions[i]
			if anyFailed(as) || isCancelled(as) {
				break
			}
			if next := slices.IndexFunc(a.Phases, func(p batonv1.Phase) bool { return p.State == batonv1.StatePending }); next >= 0 {
				fail(&a.Phases[next], fmt.Sprintf("action %q phase %q: %s", a.Name, a.Phases[next].Name, msg))
			}
		}
	}

	cancelled := isCancelled(as)
	for i := range as.Status.Actions {
		a := &as.Status.Actions[i]
		if !anyFailed(as) && !cancelled {
			for j := range a.Phases {
				p := &a.Phases[j]
				if p.State == batonv1.StatePending {
					begin(p, phaseKey{action: i, phase: j}, p.Name)
				}
				if p.State != batonv1.StateComplete {
					break
				}
			}
		}
	}

	// After a failure: stop what still runs. Done after starting, so a phase
	// that failed to render in action 2 also stops the phase action 1 just
	// started.
	// A cancellation stops them the same way, marking them cancelled rather
	// than failed; deferPhases are not stopped: they clean up.
	if anyFailed(as) || cancelled {
		stoppedState := batonv1.StateFailed
		if cancelled {
			stoppedState = batonv1.StateCancelled
		}
		for i := range as.Status.Actions {
			a := &as.Status.Actions[i]
			for j := range a.Phases {
				if a.Phases[j].State == batonv1.StateRunning {
					s.stop(phaseKey{action: i, phase: j})
					a.Phases[j].State = stoppedState
				}
			}
		}
	}
	if cancelled && !anyFailed(as) && (as.Status.Error == nil || as.Status.Error.Message == "") {
		msg := "cancelled"
		if as.Spec.Cancel.Reason != "" {
			msg += ": " + as.Spec.Cancel.Reason
		}
		as.Status.Error = &batonv1.ActionSetError{Message: msg}
	}

	for i := range as.Status.Actions {
		a := &as.Status.Actions[i]
		if a.DeferPhase == nil || a.DeferPhase.State != batonv1.StatePending {
			continue
		}
		if mainPhasesFinished(a, cancelled || anyFailed(as)) && started(a) {
			begin(a.DeferPhase, phaseKey{action: i, deferred: true}, a.DeferPhase.Name)
		}
	}

	as.Status.State = overallState(as)
	return failure
}

func isCancelled(as *batonv1.ActionSet) bool { return as.Spec.Cancel != nil }

func anyFailed(as *batonv1.ActionSet) bool {
	for _, a := range as.Status.Actions {
		for _, p := range a.Phases {
			if p.State == batonv1.StateFailed {
				return true
			}
		}
		if a.DeferPhase != nil && a.DeferPhase.State == batonv1.StateFailed {
			return true
		}
	}
	return false
}

// mainPhasesFinished: every phase completed, or the action was cut short —
// the ActionSet halted (a failure anywhere, a cancellation) or one of its
// own phases failed — so no phase runs and the later ones never will.
func mainPhasesFinished(a *batonv1.ActionStatus, halted bool) bool {
	for _, p := range a.Phases {
		if p.State == batonv1.StateRunning {
			return false
		}
	}
	if halted {
		return true
	}
	for _, p := range a.Phases {
		if p.State == batonv1.StateFailed {
			return true
		}
	}
	for _, p := range a.Phases {
		if p.State != batonv1.StateComplete {
			return false
		}
	}
	return true
}

func started(a *batonv1.ActionStatus) bool {
	for _, p := range a.Phases {
		if p.State != batonv1.StatePending {
			return true
		}
	}
	return len(a.Phases) == 0
}

func overallState(as *batonv1.ActionSet) batonv1.State {
	running := false
	for i := range as.Status.Actions {
		a := &as.Status.Actions[i]
		for _, p := range a.Phases {
			if p.State == batonv1.StateRunning {
				running = true
			}
		}
		if a.DeferPhase != nil {
			switch {
			case a.DeferPhase.State == batonv1.StateRunning:
				running = true
			case a.DeferPhase.State == batonv1.StatePending && started(a):
				// Waits for the main phases, or is due and its start
				// (met by an API error) is retried: a cleanup is never
				// skipped.
				running = true
			}
		}
	}
	switch {
	case running:
		return batonv1.StateRunning
	case anyFailed(as):
		return batonv1.StateFailed
	case as.Spec.Cancel != nil:
		return batonv1.StateCancelled
	}
	for _, a := range as.Status.Actions {
		for _, p := range a.Phases {
			if p.State != batonv1.StateComplete {
				return batonv1.StateRunning
			}
		}
	}
	return batonv1.StateComplete
}

// percentCompleted counts finished phases (deferPhases included) over all.
func percentCompleted(as *batonv1.ActionSet) int {
	total, done := 0, 0
	for _, a := range as.Status.Actions {
		phases := a.Phases
		if a.DeferPhase != nil {
			phases = append(phases[:len(phases):len(phases)], *a.DeferPhase)
		}
		for _, p := range phases {
			total++
			if p.State.IsTerminal() {
				done++
			}
		}
	}
	if total == 0 {
		return 100
	}
	return done * 100 / total
}

// runningPhase names the first running phase, for status.progress.
func runningPhase(as *batonv1.ActionSet) string {
	for _, a := range as.Status.Actions {
		for _, p := range a.Phases {
			if p.State == batonv1.StateRunning {
				return p.Name
			}
		}
		if a.DeferPhase != nil && a.DeferPhase.State == batonv1.StateRunning {
			return a.DeferPhase.Name
		}
	}
	return ""
}
