package controller

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

// countingReader counts the Gets that reach the API reader, by kind, and
// tells onObjectGet when one for the object acted on starts.
type countingReader struct {
	client.Reader
	mu          sync.Mutex
	gets        map[string]int
	onObjectGet func()
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.mu.Lock()
	kind := kindOf(obj)
	c.gets[kind]++
	hook := c.onObjectGet
	c.mu.Unlock()
	if hook != nil && kind == "object" {
		hook()
	}
	return c.Reader.Get(ctx, key, obj, opts...)
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *batonv1.Blueprint:
		return "Blueprint"
	case *corev1.ServiceAccount:
		return "ServiceAccount"
	}
	return "object"
}

// twoActionFixture is a Blueprint of two actions of two KubeTask phases
// each, and an ActionSet running both on a Namespace.
func twoActionFixture() (*batonv1.ActionSet, []client.Object) {
	phases := []batonv1.BlueprintPhase{
		{Name: "first", Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"true"}}},
		{Name: "second", Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"echo", "{{ .Phases.first.Output.word }}"}}},
	}
	bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: "two"},
		Actions: map[string]batonv1.BlueprintAction{"a": {Phases: phases}, "b": {Phases: phases}}}
	target := batonv1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: "app"}
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: "both", UID: "1f0e2d3c-0000-4000-8000-000000000001"},
		Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{
			{Name: "a", Blueprint: "two", Object: target},
			{Name: "b", Blueprint: "two", Object: target},
		}}}
	return as, []client.Object{bp,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: "baton-runner"}}}
}

// succeededPod is the finished pod of job, its runner having reported
// output word=value.
func succeededPod(job *batchv1.Job, value string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, Name: job.Name + "-x1",
			Labels: map[string]string{batchv1.JobNameLabel: job.Name}},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
			Name: dispatcher.MainContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Message: `{"outputs":{"word":"` + value + `"}}`}}}}},
	}
}

// Two actions whose first phases finished together move on in one
// reconcile. The finished Jobs' pods and the referents of the phases to
// start are read at once (each pod list waits, up to a deadline, for a read
// of the object to be under way: read one after the other, it never is),
// and not again by the steps that use them: one pod list per finished Job,
// one read of the object per action; the Blueprint from the API server at
// the first reconcile, from the cache after.
func TestHandoffReadsEachThingOnce(t *testing.T) {
	ctx := context.Background()
	as, objs := twoActionFixture()
	c := fake.NewClientBuilder().WithScheme(planScheme(t)).WithObjects(append(objs, as)...).
		WithStatusSubresource(&batonv1.ActionSet{}, &batchv1.Job{}).WithIndex(&batchv1.Job{}, jobsByActionSet, actionSetUIDOf).Build()
	kube := kubefake.NewClientset()
	reader := &countingReader{Reader: c, gets: map[string]int{}}
	r := &Reconciler{Client: c, APIReader: reader, Blueprints: c, Kube: kube, Scheme: c.Scheme(),
		Recorder: record.NewFakeRecorder(100), Settings: planSettings}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(as)}

	_, err := r.Reconcile(ctx, req)
	require.NoError(t, err)
	var jobs batchv1.JobList
	require.NoError(t, c.List(ctx, &jobs))
	require.Len(t, jobs.Items, 2, "the first phase of each action")
	completeJobs(t, c, kube)
	assert.Equal(t, map[string]int{"ServiceAccount": 1, "Blueprint": 1, "object": 2}, reader.gets,
		"the first reconcile reads the Blueprint from the API server, once")
	kube.ClearActions()
	reader.gets = map[string]int{}
	objectRead := make(chan struct{})
	var once sync.Once
	reader.onObjectGet = func() { once.Do(func() { close(objectRead) }) }
	var overlapped atomic.Int32
	kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		select {
		case <-objectRead:
			overlapped.Add(1)
		case <-time.After(2 * time.Second):
		}
		return false, nil, nil // on to the fake's own objects
	})

	_, err = r.Reconcile(ctx, req)
	require.NoError(t, err)
	require.NoError(t, c.List(ctx, &jobs))
	assert.Len(t, jobs.Items, 4, "the second phase of each action started")

	podLists := 0
	for _, a := range kube.Actions() {
		if a.GetVerb() == "list" && a.GetResource().Resource == "pods" {
			podLists++
		}
	}
	assert.Equal(t, 2, podLists, "one pod list per finished Job")
	assert.Equal(t, int32(2), overlapped.Load(), "each pod list ran while the object was being read")
	assert.Equal(t, map[string]int{"object": 2}, reader.gets, "one read of the object per action, the Blueprint from the cache")

	var got batonv1.ActionSet
	require.NoError(t, c.Get(ctx, req.NamespacedName, &got))
	for _, a := range got.Status.Actions {
		assert.Equal(t, batonv1.StateComplete, a.Phases[0].State, "action %s: %+v", a.Name, got.Status.Error)
		assert.Equal(t, "w"+a.Name, a.Phases[0].Output["word"], "action %s", a.Name)
		assert.Equal(t, batonv1.StateRunning, a.Phases[1].State, "action %s", a.Name)
	}
}

func TestNeedsPods(t *testing.T) {
	job := func(failed, active int32, conds ...batchv1.JobConditionType) *batchv1.Job {
		j := &batchv1.Job{Status: batchv1.JobStatus{Failed: failed, Active: active}}
		for _, c := range conds {
			j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: c, Status: corev1.ConditionTrue})
		}
		return j
	}
	one := []batonv1.PhaseAttempt{{}}
	tests := []struct {
		name     string
		job      *batchv1.Job
		recorded []batonv1.PhaseAttempt
		want     bool
	}{
		{"running, first try", job(0, 1), nil, false},
		{"complete", job(0, 0, batchv1.JobComplete), nil, true},
		{"failed", job(1, 0, batchv1.JobFailed), one, true},
		{"a failure not recorded yet, retrying", job(1, 1), one, true},
		{"the failure and the retry recorded", job(1, 1), append(one, batonv1.PhaseAttempt{}), false},
		{"suspended condition only", job(0, 0, batchv1.JobSuspended), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, needsPods(tt.job, tt.recorded))
		})
	}
}

// A Job whose creation met an API error is created by the next reconcile:
// its phase was left pending, not recorded as running without a Job (which
// nothing would ever have created).
func TestTransientJobCreateErrorIsRetried(t *testing.T) {
	ctx := context.Background()
	as, objs := twoActionFixture()
	failures := 1
	c := fake.NewClientBuilder().WithScheme(planScheme(t)).WithObjects(append(objs, as)...).
		WithStatusSubresource(&batonv1.ActionSet{}, &batchv1.Job{}).WithIndex(&batchv1.Job{}, jobsByActionSet, actionSetUIDOf).
		WithInterceptorFuncs(interceptor.Funcs{Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*batchv1.Job); ok && failures > 0 {
				failures--
				return apierrors.NewInternalError(errors.New("etcd timeout"))
			}
			return cl.Create(ctx, obj, opts...)
		}}).Build()
	r := &Reconciler{Client: c, APIReader: c, Blueprints: c, Kube: kubefake.NewClientset(), Scheme: c.Scheme(),
		Recorder: record.NewFakeRecorder(100), Settings: planSettings}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(as)}
	_, err := r.Reconcile(ctx, req)
	require.Error(t, err)
	_, err = r.Reconcile(ctx, req)
	require.NoError(t, err)
	var jobs batchv1.JobList
	require.NoError(t, c.List(ctx, &jobs))
	assert.Len(t, jobs.Items, 2)
}

// A running phase whose Job the cache does not hold: still running while
// the API server has the Job (the cache is behind), failed once it is gone
// — unless a cancellation or the ActionSet's timeout removed it (advance
// then records it as such); a deferPhase, which neither stops, fails.
func TestMissingJob(t *testing.T) {
	as, _ := twoActionFixture()
	as.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Hour))
	as.Status.Actions = []batonv1.ActionStatus{{Name: "a", Phases: []batonv1.Phase{{Name: "first", State: batonv1.StateRunning}},
		DeferPhase: &batonv1.Phase{Name: "cleanup", State: batonv1.StateRunning}}}
	main, cleanup := phaseKey{action: 0, phase: 0}, phaseKey{action: 0, deferred: true}
	deleted := func(k phaseKey) string {
		return "its job " + (&actionSetRun{as: as}).jobName(k) + " was deleted before it finished"
	}
	tests := []struct {
		name      string
		key       phaseKey
		apiHasJob bool
		cancelled bool
		expired   bool
		want      batonv1.State
		message   string
	}{
		{name: "the cache is behind", key: main, apiHasJob: true, want: batonv1.StateRunning},
		{name: "deleted", key: main, want: batonv1.StateFailed, message: deleted(main)},
		{name: "stopped by a cancellation", key: main, cancelled: true, want: batonv1.StateRunning},
		{name: "stopped by the timeout", key: main, expired: true, want: batonv1.StateRunning},
		{name: "a deferPhase deleted under a cancellation", key: cleanup, cancelled: true, want: batonv1.StateFailed, message: deleted(cleanup)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := as.DeepCopy()
			b := fake.NewClientBuilder().WithScheme(planScheme(t))
			if tt.apiHasJob {
				b = b.WithObjects(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: as.Namespace, Name: (&actionSetRun{as: as}).jobName(tt.key)}})
			}
			if tt.cancelled {
				as.Spec.Cancel = &batonv1.CancelRequest{}
			}
			if tt.expired {
				as.Spec.Timeout = &metav1.Duration{Duration: time.Minute}
			}
			run := &actionSetRun{r: &Reconciler{APIReader: b.Build()}, ctx: context.Background(), as: as, jobs: map[string]*batchv1.Job{}}
			res, ok := run.observe(tt.key)
			require.True(t, ok)
			assert.Equal(t, tt.want, res.state)
			assert.Equal(t, tt.message, res.message)
			assert.Equal(t, tt.message != "", res.lost)
			assert.NoError(t, run.transient)
		})
	}
}

// A phase's time limit: the Blueprint phase's own timeout, else the
// ActionSet's phaseTimeout, else the controller's; the Job says which.
func TestPhaseTimeoutPrecedence(t *testing.T) {
	tests := []struct {
		name        string
		blueprint   time.Duration
		actionSet   time.Duration
		wantSeconds int64
		wantFrom    string
	}{
		{"the controller's", 0, 0, 3600, dispatcher.TimeoutFromController},
		{"the ActionSet's", 0, 10 * time.Minute, 600, dispatcher.TimeoutFromActionSet},
		{"the Blueprint phase's wins", 90 * time.Second, 10 * time.Minute, 90, dispatcher.TimeoutFromBlueprint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as, objs := twoActionFixture()
			bp := objs[0].(*batonv1.Blueprint)
			if tt.blueprint > 0 {
				a := bp.Actions["a"]
				a.Phases = slices.Clone(a.Phases)
				a.Phases[0].Timeout = &metav1.Duration{Duration: tt.blueprint}
				bp.Actions["a"] = a
			}
			if tt.actionSet > 0 {
				as.Spec.PhaseTimeout = &metav1.Duration{Duration: tt.actionSet}
			}
			c := fake.NewClientBuilder().WithScheme(planScheme(t)).WithObjects(objs...).Build()
			planned, err := Plan(context.Background(), c, c.RESTMapper(), planSettings, as)
			require.NoError(t, err)
			require.Equal(t, "first", planned[0].Phase)
			job := planned[0].Job
			require.NotNil(t, job)
			assert.Equal(t, tt.wantSeconds, *job.Spec.ActiveDeadlineSeconds)
			assert.Equal(t, tt.wantFrom, job.Annotations[dispatcher.AnnotationTimeoutFrom])
		})
	}
}

// A reconcile that met an API error still records, with its Events, what
// moved before it: here the first phases completed, the second ones could
// not start.
func TestTransientErrorKeepsTheEventsOfWhatMoved(t *testing.T) {
	ctx := context.Background()
	as, objs := twoActionFixture()
	failCreates := false
	c := fake.NewClientBuilder().WithScheme(planScheme(t)).WithObjects(append(objs, as)...).
		WithStatusSubresource(&batonv1.ActionSet{}, &batchv1.Job{}).WithIndex(&batchv1.Job{}, jobsByActionSet, actionSetUIDOf).
		WithInterceptorFuncs(interceptor.Funcs{Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*batchv1.Job); ok && failCreates {
				return apierrors.NewServiceUnavailable("the API server is restarting")
			}
			return cl.Create(ctx, obj, opts...)
		}}).Build()
	kube := kubefake.NewClientset()
	recorder := record.NewFakeRecorder(100)
	r := &Reconciler{Client: c, APIReader: c, Blueprints: c, Kube: kube, Scheme: c.Scheme(), Recorder: recorder, Settings: planSettings}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(as)}
	_, err := r.Reconcile(ctx, req)
	require.NoError(t, err)
	completeJobs(t, c, kube)
	for len(recorder.Events) > 0 {
		<-recorder.Events
	}

	failCreates = true
	_, err = r.Reconcile(ctx, req)
	require.Error(t, err, "retried with backoff")
	var got batonv1.ActionSet
	require.NoError(t, c.Get(ctx, req.NamespacedName, &got))
	var events []string
	for len(recorder.Events) > 0 {
		events = append(events, <-recorder.Events)
	}
	for _, a := range got.Status.Actions {
		assert.Equal(t, batonv1.StateComplete, a.Phases[0].State, "action %s", a.Name)
		assert.Equal(t, batonv1.StatePending, a.Phases[1].State, "action %s: not started, to be retried", a.Name)
		assert.Contains(t, events, fmt.Sprintf(`Normal PhaseCompleted action %q phase "first" completed`, a.Name))
	}
}

// An ended ActionSet whose stop of a phase did not land (the Job delete
// met an API error) has that Job deleted when it is next reconciled;
// finished Jobs stay, for their logs.
func TestEndedActionSetStopsJobsLeftRunning(t *testing.T) {
	ctx := context.Background()
	as, _ := twoActionFixture()
	as.Status.State = batonv1.StateFailed
	job := func(name string, finished bool) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: as.Namespace, Name: name,
			Labels: map[string]string{dispatcher.LabelActionSetUID: string(as.UID)}}}
		if finished {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
		}
		return j
	}
	c := fake.NewClientBuilder().WithScheme(planScheme(t)).WithObjects(as, job("left-running", false), job("failed", true)).
		WithStatusSubresource(&batonv1.ActionSet{}).WithIndex(&batchv1.Job{}, jobsByActionSet, actionSetUIDOf).Build()
	r := &Reconciler{Client: c, APIReader: c, Scheme: c.Scheme(), Recorder: record.NewFakeRecorder(10), Settings: planSettings}
	_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(as)})
	require.NoError(t, err)
	var jobs batchv1.JobList
	require.NoError(t, c.List(ctx, &jobs))
	require.Len(t, jobs.Items, 1)
	assert.Equal(t, "failed", jobs.Items[0].Name)
}

// completeJobs plays kubelet and the Job controller: every Job completes,
// its pod having reported output word=w<action>.
func completeJobs(t *testing.T, c client.Client, kube *kubefake.Clientset) {
	t.Helper()
	ctx := context.Background()
	var jobs batchv1.JobList
	require.NoError(t, c.List(ctx, &jobs))
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if finishedCondition(job) != nil {
			continue
		}
		job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		job.Status.Succeeded = 1
		require.NoError(t, c.Status().Update(ctx, job))
		_, err := kube.CoreV1().Pods(job.Namespace).Create(ctx, succeededPod(job, "w"+job.Labels[dispatcher.LabelAction]), metav1.CreateOptions{})
		require.NoError(t, err)
	}
}

func TestRetryable(t *testing.T) {
	gr := batchv1.Resource("jobs")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"none", nil, false},
		{"not found", apierrors.NewNotFound(gr, "x"), false},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("RBAC")), false},
		{"invalid", apierrors.NewInvalid(batchv1.SchemeGroupVersion.WithKind("Job").GroupKind(), "x", nil), false},
		{"the controller's own words", fmt.Errorf("secret %q lacks key %q", "s", "k"), false},
		{"unavailable", apierrors.NewServiceUnavailable("restarting"), true},
		{"throttled", apierrors.NewTooManyRequests("slow down", 1), true},
		{"server timeout", apierrors.NewTimeoutError("etcd", 1), true},
		{"internal", apierrors.NewInternalError(errors.New("etcd")), true},
		{"connection refused", &url.Error{Op: "Get", URL: "https://10.96.0.1", Err: errors.New("connection refused")}, true},
		{"deadline, wrapped", fmt.Errorf("read object: %w", context.DeadlineExceeded), true},
		{"stopping", fmt.Errorf("client rate limiter Wait returned an error: %w", context.Canceled), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, retryable(tt.err))
		})
	}
}
