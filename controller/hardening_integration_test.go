//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/controller"
	"github.com/batonhq/baton/dispatcher"
)

// onePhaseBlueprint has one action "backup" of one KubeTask phase "only",
// changed by edit.
func onePhaseBlueprint(name string, edit func(*batonv1.BlueprintPhase)) *batonv1.Blueprint {
	p := batonv1.BlueprintPhase{Name: "only", Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"true"}}}
	if edit != nil {
		edit(&p)
	}
	return &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: name},
		Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{p}}}}
}

// failAttempt plays kubelet and the Job controller for one failed attempt
// of a Job that will retry: a pod of the Job ends with exitCode and msg,
// the Job counts it and, when retry is set, starts the next pod.
func (e *env) failAttempt(t *testing.T, job *batchv1.Job, pod string, exitCode int32, msg string, retry bool) {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: e.ns, Labels: job.Spec.Template.Labels},
		Spec:       job.Spec.Template.Spec,
	}
	p.Labels[batchv1.JobNameLabel] = job.Name
	require.NoError(t, e.c.Create(ctx, p))
	p.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: dispatcher.MainContainer, Image: "busybox",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Message: msg, Reason: "Error"}},
	}}}
	require.NoError(t, e.c.Status().Update(ctx, p))
	require.NoError(t, e.c.Get(ctx, client.ObjectKeyFromObject(job), job))
	now := metav1.Now()
	job.Status.StartTime = &now
	job.Status.Failed++
	job.Status.Active = 0
	if retry {
		job.Status.Active = 1
		next := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: pod + "-next", Namespace: e.ns, Labels: p.Labels},
			Spec:       job.Spec.Template.Spec,
		}
		require.NoError(t, e.c.Create(ctx, next))
	}
	require.NoError(t, e.c.Status().Update(ctx, job))
}

func TestIntegrationRetriedPhaseRecordsEveryAttempt(t *testing.T) {
	e := start(t)
	bp := onePhaseBlueprint("retrying", func(p *batonv1.BlueprintPhase) {
		p.Retries = ptr.To[int32](2)
		p.NonRetryableExitCodes = []int32{3}
	})
	e.create(t, deployment("db"), bp, actionSetFor("retry", "retrying", "backup", "db", e.ns))

	job := e.waitJob(t, "retry", "only")
	assert.Equal(t, int32(2), *job.Spec.BackoffLimit, "the phase's retries are the Job's backoffLimit")
	require.NotNil(t, job.Spec.PodFailurePolicy, "accepted by the real API server")
	require.Len(t, job.Spec.PodFailurePolicy.Rules, 2)
	assert.Equal(t, []int32{3}, job.Spec.PodFailurePolicy.Rules[1].OnExitCodes.Values)

	e.failAttempt(t, &job, "retry-pod-1", 1, `{"error":"connection refused"}`, true)
	var as batonv1.ActionSet
	eventually(t, "the failed attempt and its retry in status", func() (bool, error) {
		as = e.actionSet(t, "retry")
		return len(as.Status.Actions[0].Phases[0].Attempts) == 2, nil
	})
	attempts := as.Status.Actions[0].Phases[0].Attempts
	assert.Equal(t, batonv1.StateRunning, as.Status.State, "a failed attempt with retries left does not fail the phase")
	assert.Equal(t, "retry-pod-1", attempts[0].Pod)
	assert.Equal(t, batonv1.StateFailed, attempts[0].State)
	assert.Equal(t, "connection refused", attempts[0].Message)
	assert.Equal(t, ptr.To[int32](1), attempts[0].ExitCode)
	assert.Equal(t, "retry-pod-1-next", attempts[1].Pod)
	assert.Equal(t, batonv1.StateRunning, attempts[1].State)

	// The retry succeeds: the Job completes with its second pod.
	require.NoError(t, e.c.Get(context.Background(), client.ObjectKeyFromObject(&job), &job))
	var next corev1.Pod
	require.NoError(t, e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: "retry-pod-1-next"}, &next))
	next.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
		Name: dispatcher.MainContainer, Image: "busybox",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}},
	}}}
	require.NoError(t, e.c.Status().Update(context.Background(), &next))
	now := metav1.Now()
	job.Status.Active, job.Status.Succeeded, job.Status.CompletionTime = 0, 1, &now
	job.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	require.NoError(t, e.c.Status().Update(context.Background(), &job))
	as = e.waitState(t, "retry", batonv1.StateComplete)
	attempts = as.Status.Actions[0].Phases[0].Attempts
	require.Len(t, attempts, 2)
	assert.Equal(t, []batonv1.State{batonv1.StateFailed, batonv1.StateComplete}, []batonv1.State{attempts[0].State, attempts[1].State})
	assert.Len(t, e.jobs(t, "retry"), 1, "retries are pods of one Job")
}

func TestIntegrationNonRetryableExitCodeFailsAtOnce(t *testing.T) {
	e := start(t)
	bp := onePhaseBlueprint("strict", func(p *batonv1.BlueprintPhase) {
		p.Retries = ptr.To[int32](5)
		p.NonRetryableExitCodes = []int32{3, 4}
	})
	e.create(t, deployment("db"), bp, actionSetFor("strict", "strict", "backup", "db", e.ns))
	job := e.waitJob(t, "strict", "only")
	e.failAttempt(t, &job, "strict-pod-1", 3, `{"error":"bad configuration"}`, false)
	now := metav1.Now()
	job.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonPodFailurePolicy, LastTransitionTime: now},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonPodFailurePolicy,
			Message: "Container phase for pod strict-pod-1 failed with exit code 3 matching FailJob rule at index 1", LastTransitionTime: now},
	}
	require.NoError(t, e.c.Status().Update(context.Background(), &job))
	as := e.waitState(t, "strict", batonv1.StateFailed)
	assert.Contains(t, as.Status.Error.Message, `phase "only" failed: exit code 3 is declared non-retryable, no retry: bad configuration`)
	assert.Len(t, as.Status.Actions[0].Phases[0].Attempts, 1)
}

// A running phase's Job deleted by someone else fails the phase saying so,
// instead of leaving the ActionSet running for ever.
func TestIntegrationDeletedJobFailsItsPhase(t *testing.T) {
	e := start(t)
	e.create(t, deployment("db"), onePhaseBlueprint("lost", nil), actionSetFor("lost", "lost", "backup", "db", e.ns))
	job := e.waitJob(t, "lost", "only")
	require.NoError(t, e.c.Delete(context.Background(), &job, client.PropagationPolicy(metav1.DeletePropagationBackground)))
	as := e.waitState(t, "lost", batonv1.StateFailed)
	assert.Contains(t, as.Status.Error.Message, fmt.Sprintf(`phase "only" failed: its job %s was deleted before it finished`, job.Name))
}

func TestIntegrationQueueRunsAtMostNInCreationOrder(t *testing.T) {
	e := start(t, func(r *controller.Reconciler) { r.Limits = controller.Limits{Total: 1} })
	e.create(t, deployment("db"), onePhaseBlueprint("one", nil))
	names := []string{"q-1", "q-2", "q-3"}
	for _, n := range names {
		e.create(t, actionSetFor(n, "one", "backup", "db", e.ns))
	}
	runningNow := func() []string {
		var list batonv1.ActionSetList
		require.NoError(t, e.c.List(context.Background(), &list, client.InNamespace(e.ns)))
		var running []string
		for _, as := range list.Items {
			if as.Status.State == batonv1.StateRunning {
				running = append(running, as.Name)
			}
		}
		return running
	}
	for i, n := range names {
		e.waitState(t, n, batonv1.StateRunning)
		assert.Equal(t, []string{n}, runningNow(), "one at a time, in creation order")
		for _, later := range names[i+1:] {
			as := e.waitState(t, later, batonv1.StateQueued)
			c := meta.FindStatusCondition(as.Status.Conditions, controller.ConditionComplete)
			require.NotNil(t, c)
			assert.Equal(t, "Queued", c.Reason)
			assert.Contains(t, c.Message, "--max-running-actionsets=1")
			assert.Empty(t, e.jobs(t, later), "a queued ActionSet creates no Job")
		}
		e.finish(t, e.waitJob(t, n, "only"), 0, "")
		e.waitState(t, n, batonv1.StateComplete)
	}
}

func TestIntegrationQueuedActionSetCanBeCancelled(t *testing.T) {
	e := start(t, func(r *controller.Reconciler) { r.Limits = controller.Limits{PerNamespace: 1} })
	e.create(t, deployment("db"), onePhaseBlueprint("one", nil), actionSetFor("first", "one", "backup", "db", e.ns))
	e.waitState(t, "first", batonv1.StateRunning)
	e.create(t, actionSetFor("second", "one", "backup", "db", e.ns))
	e.waitState(t, "second", batonv1.StateQueued)
	as := e.actionSet(t, "second")
	as.Spec.Cancel = &batonv1.CancelRequest{Reason: "not needed"}
	require.NoError(t, e.c.Update(context.Background(), &as))
	as = e.waitState(t, "second", batonv1.StateCancelled)
	assert.Equal(t, "cancelled before it started: not needed", as.Status.Error.Message)
	assert.Empty(t, e.jobs(t, "second"))
}

func TestIntegrationHistoryLimitKeepsTheNewestEnded(t *testing.T) {
	e := start(t, func(r *controller.Reconciler) { r.HistoryLimit = 2 })
	e.create(t, deployment("db"), onePhaseBlueprint("one", nil))
	var names []string
	for i := range 4 {
		n := fmt.Sprintf("h-%d", i)
		names = append(names, n)
		e.create(t, actionSetFor(n, "one", "backup", "db", e.ns))
		e.finish(t, e.waitJob(t, n, "only"), 0, "")
		e.waitState(t, n, batonv1.StateComplete)
	}
	for _, n := range names[:2] {
		eventually(t, n+" to be deleted", func() (bool, error) {
			err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: n}, &batonv1.ActionSet{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
	}
	for _, n := range names[2:] {
		assert.Equal(t, batonv1.StateComplete, e.actionSet(t, n).Status.State, "the newest two are kept")
	}
}
