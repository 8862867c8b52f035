package controller

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/runner/outputs"
)

// podGoneMessage explains an attempt whose pod vanished before its end was
// seen: deleted by someone, or evicted and garbage-collected.
const podGoneMessage = "its pod was deleted before it finished"

// mergeAttempts records what a phase Job's pods say about its attempts into
// those recorded so far. Recorded attempts are kept even when their pod is
// gone (a deleted pod must not erase the history of a retry), and when the
// Job counts more failures than pods tell of, the missing ones are recorded
// as attempts whose pod is gone. The result is in creation order.
func mergeAttempts(recorded []batonv1.PhaseAttempt, pods []corev1.Pod, jobFailed int32) []batonv1.PhaseAttempt {
	merged := slices.Clone(recorded)
	index := map[string]int{}
	for i, a := range merged {
		if a.Pod != "" {
			index[a.Pod] = i
		}
	}
	pods = slices.Clone(pods)
	slices.SortStableFunc(pods, func(a, b corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	seen := map[string]bool{}
	for _, pod := range pods {
		seen[pod.Name] = true
		a := attemptOf(pod)
		if i, ok := index[pod.Name]; ok {
			merged[i] = a
			continue
		}
		index[pod.Name] = len(merged)
		merged = append(merged, a)
	}
	for i := range merged {
		a := &merged[i]
		if a.Pod != "" && !seen[a.Pod] && a.State == batonv1.StateRunning {
			a.State, a.Message = batonv1.StateFailed, podGoneMessage
		}
	}
	for failed := countFailed(merged); failed < int(jobFailed); failed++ {
		merged = append(merged, batonv1.PhaseAttempt{State: batonv1.StateFailed, Message: podGoneMessage})
	}
	return merged
}

// countFailed counts the attempts that failed and counted against the
// retries (disrupted pods do not: the Job replaces them for free).
func countFailed(attempts []batonv1.PhaseAttempt) int {
	n := 0
	for _, a := range attempts {
		if a.State == batonv1.StateFailed && !a.Disrupted {
			n++
		}
	}
	return n
}

// attemptOf describes one pod of a phase's Job.
func attemptOf(pod corev1.Pod) batonv1.PhaseAttempt {
	a := batonv1.PhaseAttempt{Pod: pod.Name, State: batonv1.StateRunning, StartTime: ptrTime(pod.CreationTimestamp)}
	t := terminated(pod)
	if t != nil {
		a.ExitCode = &t.ExitCode
		a.FinishTime = ptrTime(t.FinishedAt)
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		a.State = batonv1.StateComplete
	case corev1.PodFailed:
		a.State = batonv1.StateFailed
		a.Message = podFailure(pod, t)
		a.Disrupted = disrupted(pod)
	}
	return a
}

// podFailure says why a phase pod failed, in the runner's words when it
// wrote them.
func podFailure(pod corev1.Pod, t *corev1.ContainerStateTerminated) string {
	var msg string
	switch {
	case t != nil && outputs.FailureMessage(t.Message) != "":
		msg = outputs.FailureMessage(t.Message)
	case t != nil:
		msg = fmt.Sprintf("container exited with code %d (%s)", t.ExitCode, t.Reason)
	case pod.Status.Reason != "" || pod.Status.Message != "":
		msg = fmt.Sprintf("%s %s", pod.Status.Reason, pod.Status.Message)
	default:
		msg = "the pod failed before its container ran"
	}
	if c := disruption(pod); c != nil {
		msg = fmt.Sprintf("disrupted (%s: %s), not counted as a retry: %s", c.Reason, c.Message, msg)
	}
	return msg
}

func disrupted(pod corev1.Pod) bool { return disruption(pod) != nil }

func disruption(pod corev1.Pod) *corev1.PodCondition {
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func ptrTime(t metav1.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// lastFailure is the most recent failed attempt, if any.
func lastFailure(attempts []batonv1.PhaseAttempt) *batonv1.PhaseAttempt {
	for i := len(attempts) - 1; i >= 0; i-- {
		if attempts[i].State == batonv1.StateFailed {
			return &attempts[i]
		}
	}
	return nil
}

// terminated is the phase container's end, once it ended.
func terminated(pod corev1.Pod) *corev1.ContainerStateTerminated {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == dispatcher.MainContainer && cs.State.Terminated != nil {
			return cs.State.Terminated
		}
	}
	return nil
}
