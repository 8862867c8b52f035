package controller

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// What the recorded status and a phase's Job say about where a phase is:
// read by advance, prefetch, observe, the work-queue priority and the
// clean-up of ended ActionSets alike.

// runningPhases are the keys of action i's phases recorded as running.
func runningPhases(i int, a *batonv1.ActionStatus) []phaseKey {
	var keys []phaseKey
	for j := range a.Phases {
		if a.Phases[j].State == batonv1.StateRunning {
			keys = append(keys, phaseKey{action: i, phase: j})
		}
	}
	if a.DeferPhase != nil && a.DeferPhase.State == batonv1.StateRunning {
		keys = append(keys, phaseKey{action: i, deferred: true})
	}
	return keys
}

// phaseIn is the recorded status of action a's phase k.
func phaseIn(a *batonv1.ActionStatus, k phaseKey) *batonv1.Phase {
	if k.deferred {
		return a.DeferPhase
	}
	return &a.Phases[k.phase]
}

// hasPendingPhase says whether an action has a phase or deferPhase left
// to start.
func hasPendingPhase(a *batonv1.ActionStatus) bool {
	for _, p := range a.Phases {
		if p.State == batonv1.StatePending {
			return true
		}
	}
	return a.DeferPhase != nil && a.DeferPhase.State == batonv1.StatePending
}

// finishedCondition is a Job's terminal condition, nil while it runs.
func finishedCondition(job *batchv1.Job) *batchv1.JobCondition {
	for i, c := range job.Status.Conditions {
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

func jobCompleted(job *batchv1.Job) bool {
	c := finishedCondition(job)
	return c != nil && c.Type == batchv1.JobComplete
}

// needsPods says whether a phase's pods must be read: when its Job ended,
// and when it counts a failure (or a retry's pod) not recorded yet. A
// phase that succeeds at its first try costs no pod read while it runs.
func needsPods(job *batchv1.Job, recorded []batonv1.PhaseAttempt) bool {
	return finishedCondition(job) != nil ||
		(job.Status.Failed > 0 && int(job.Status.Failed+job.Status.Active) > len(recorded))
}
