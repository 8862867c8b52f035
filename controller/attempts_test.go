package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// podBuilder makes phase pods: created at t0+offset, running until told.
type podBuilder struct{ pod corev1.Pod }

func aPod(name string, createdAfter time.Duration) *podBuilder {
	return &podBuilder{pod: corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(createdAfter))},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}}
}

func (b *podBuilder) exited(code int32, message string) *podBuilder {
	b.pod.Status.Phase = corev1.PodFailed
	if code == 0 {
		b.pod.Status.Phase = corev1.PodSucceeded
	}
	b.pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: dispatcher.MainContainer, State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error", Message: message, FinishedAt: metav1.NewTime(t0.Add(time.Minute))},
	}}}
	return b
}

func (b *podBuilder) disrupted(reason string) *podBuilder {
	b.pod.Status.Conditions = append(b.pod.Status.Conditions, corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reason, Message: "node drained",
	})
	return b
}

func (b *podBuilder) obj() corev1.Pod { return b.pod }

func attempt(pod string, state batonv1.State) batonv1.PhaseAttempt {
	return batonv1.PhaseAttempt{Pod: pod, State: state}
}

// summary keeps what the table compares: pod, state, exit code, message.
type summary struct {
	Pod       string
	State     batonv1.State
	ExitCode  int32
	Message   string
	Disrupted bool
}

func summarize(attempts []batonv1.PhaseAttempt) []summary {
	var out []summary
	for _, a := range attempts {
		s := summary{Pod: a.Pod, State: a.State, Message: a.Message, Disrupted: a.Disrupted, ExitCode: -1}
		if a.ExitCode != nil {
			s.ExitCode = *a.ExitCode
		}
		out = append(out, s)
	}
	return out
}

func TestMergeAttempts(t *testing.T) {
	tests := []struct {
		name      string
		recorded  []batonv1.PhaseAttempt
		pods      []corev1.Pod
		jobFailed int32
		want      []summary
	}{
		{
			name: "first attempt succeeded",
			pods: []corev1.Pod{aPod("p-1", 0).exited(0, "").obj()},
			want: []summary{{Pod: "p-1", State: complete, ExitCode: 0}},
		},
		{
			name: "a failure with the runner's message, then a retry running, in creation order",
			pods: []corev1.Pod{
				aPod("p-b", 20*time.Second).obj(),
				aPod("p-a", 0).exited(1, `{"error":"dump failed: connection refused"}`).obj(),
			},
			jobFailed: 1,
			want: []summary{
				{Pod: "p-a", State: failed, ExitCode: 1, Message: "dump failed: connection refused"},
				{Pod: "p-b", State: running, ExitCode: -1},
			},
		},
		{
			name:      "without a runner message the exit code explains",
			pods:      []corev1.Pod{aPod("p-a", 0).exited(137, "").obj()},
			jobFailed: 1,
			want:      []summary{{Pod: "p-a", State: failed, ExitCode: 137, Message: "container exited with code 137 (Error)"}},
		},
		{
			name:      "a recorded attempt whose pod was deleted stays, failed",
			recorded:  []batonv1.PhaseAttempt{attempt("p-a", running)},
			pods:      []corev1.Pod{aPod("p-b", time.Minute).obj()},
			jobFailed: 1,
			want: []summary{
				{Pod: "p-a", State: failed, ExitCode: -1, Message: podGoneMessage},
				{Pod: "p-b", State: running, ExitCode: -1},
			},
		},
		{
			name:      "failures the Job counted but no pod tells of",
			pods:      []corev1.Pod{aPod("p-c", time.Minute).obj()},
			jobFailed: 2,
			want: []summary{
				{Pod: "p-c", State: running, ExitCode: -1},
				{State: failed, ExitCode: -1, Message: podGoneMessage},
				{State: failed, ExitCode: -1, Message: podGoneMessage},
			},
		},
		{
			name: "a disrupted pod is not a counted failure",
			pods: []corev1.Pod{
				aPod("p-a", 0).exited(143, "").disrupted("EvictionByEvictionAPI").obj(),
				aPod("p-b", time.Second).exited(0, "").obj(),
			},
			want: []summary{
				{Pod: "p-a", State: failed, ExitCode: 143, Disrupted: true,
					Message: "disrupted (EvictionByEvictionAPI: node drained), not counted as a retry: container exited with code 143 (Error)"},
				{Pod: "p-b", State: complete, ExitCode: 0},
			},
		},
		{
			name:     "a recorded attempt is updated from its pod, not duplicated",
			recorded: []batonv1.PhaseAttempt{attempt("p-a", running)},
			pods:     []corev1.Pod{aPod("p-a", 0).exited(0, "").obj()},
			want:     []summary{{Pod: "p-a", State: complete, ExitCode: 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeAttempts(tt.recorded, tt.pods, tt.jobFailed)
			assert.Equal(t, tt.want, summarize(got))
		})
	}
}

func TestFailureOf(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "bk-backup-dump", Namespace: "app"}}
	withDeadline := job.DeepCopy()
	withDeadline.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
	deadlineFrom := func(from string) *batchv1.Job {
		j := withDeadline.DeepCopy()
		j.Annotations = map[string]string{dispatcher.AnnotationTimeoutFrom: from}
		return j
	}
	failedAttempt := func(pod string, code int32, msg string) batonv1.PhaseAttempt {
		return batonv1.PhaseAttempt{Pod: pod, State: failed, ExitCode: ptr.To(code), Message: msg}
	}
	cond := func(reason string) batchv1.JobCondition {
		return batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason, Message: "Job has reached the specified backoff limit"}
	}
	tests := []struct {
		name     string
		job      *batchv1.Job
		cond     batchv1.JobCondition
		attempts []batonv1.PhaseAttempt
		want     string
	}{
		{"one attempt, the runner's words", job, cond(batchv1.JobReasonBackoffLimitExceeded),
			[]batonv1.PhaseAttempt{failedAttempt("p1", 1, "dump failed")}, "dump failed"},
		{"a bare exit points at the log", job, cond(batchv1.JobReasonBackoffLimitExceeded),
			[]batonv1.PhaseAttempt{failedAttempt("p1", 2, "container exited with code 2 (Error)")},
			"container exited with code 2 (Error); logs: kubectl logs -n app p1"},
		{"retries used up", job, cond(batchv1.JobReasonBackoffLimitExceeded),
			[]batonv1.PhaseAttempt{failedAttempt("p1", 1, "first"), failedAttempt("p2", 1, "second"), failedAttempt("p3", 1, "third")},
			"failed 3 attempts, the last: third"},
		{"a non-retryable exit code", job, cond(batchv1.JobReasonPodFailurePolicy),
			[]batonv1.PhaseAttempt{failedAttempt("p1", 3, "bad configuration")},
			"exit code 3 is declared non-retryable, no retry: bad configuration"},
		{"out of time", withDeadline, cond(batchv1.JobReasonDeadlineExceeded), nil,
			"timed out: the phase ran longer than its timeout of 30s (job bk-backup-dump)"},
		{"out of the Blueprint phase's time", deadlineFrom(dispatcher.TimeoutFromBlueprint), cond(batchv1.JobReasonDeadlineExceeded), nil,
			"timed out: the phase ran longer than its timeout of 30s (set by the Blueprint phase's timeout; job bk-backup-dump)"},
		{"out of the ActionSet's phase time", deadlineFrom(dispatcher.TimeoutFromActionSet), cond(batchv1.JobReasonDeadlineExceeded), nil,
			"timed out: the phase ran longer than its timeout of 30s (set by the ActionSet's spec.phaseTimeout; job bk-backup-dump)"},
		{"out of the controller's phase time", deadlineFrom(dispatcher.TimeoutFromController), cond(batchv1.JobReasonDeadlineExceeded), nil,
			"timed out: the phase ran longer than its timeout of 30s (set by the controller's --phase-deadline; job bk-backup-dump)"},
		{"no attempt seen: the Job's own words", job, cond(batchv1.JobReasonBackoffLimitExceeded), nil,
			"job bk-backup-dump: BackoffLimitExceeded: Job has reached the specified backoff limit"},
		{"its pod deleted", job, cond(batchv1.JobReasonBackoffLimitExceeded),
			[]batonv1.PhaseAttempt{{State: failed, Message: podGoneMessage}}, podGoneMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, failureOf(tt.job, tt.cond, tt.attempts))
		})
	}
}
