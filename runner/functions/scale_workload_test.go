package functions

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

var (
	deploymentsGVR  = appsv1.SchemeGroupVersion.WithResource("deployments")
	statefulSetsGVR = appsv1.SchemeGroupVersion.WithResource("statefulsets")
	podsGVR         = corev1.SchemeGroupVersion.WithResource("pods")
)

func ptr[T any](v T) *T { return &v }

func testDeployment(name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid"), Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
		},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 1, Replicas: replicas, UpdatedReplicas: replicas,
			ReadyReplicas: replicas, AvailableReplicas: replicas,
		},
	}
}

func testStatefulSet(name string, replicas int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid"), Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
		},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: replicas, ReadyReplicas: replicas},
	}
}

func controlledBy(uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Owner", Name: "owner", UID: uid, Controller: ptr(true)}}
}

func testReplicaSet(app string, owner types.UID) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Name: app + "-rs", Namespace: "ns", UID: types.UID(app + "-rs-uid"),
		Labels: map[string]string{"app": app}, OwnerReferences: controlledBy(owner),
	}}
}

func workloadPod(name, app string, owner types.UID, phase corev1.PodPhase, terminating bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": app}, OwnerReferences: controlledBy(owner)},
		Status:     corev1.PodStatus{Phase: phase},
	}
	if terminating {
		p.DeletionTimestamp = ptr(metav1.Now())
		p.Finalizers = []string{"test/keep"}
	}
	return p
}

// withScaleSubresource makes the fake clientset serve the scale
// subresource of Deployments and StatefulSets from the objects it holds, as
// the API server does.
func withScaleSubresource(t *testing.T, c *fake.Clientset) *fake.Clientset {
	for _, gvr := range []schema.GroupVersionResource{deploymentsGVR, statefulSetsGVR} {
		c.PrependReactor("get", gvr.Resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != "scale" {
				return false, nil, nil
			}
			obj, err := c.Tracker().Get(gvr, a.GetNamespace(), a.(k8stesting.GetAction).GetName())
			if err != nil {
				return true, nil, err
			}
			s := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: a.(k8stesting.GetAction).GetName(), Namespace: a.GetNamespace()}}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				s.Spec.Replicas = *o.Spec.Replicas
			case *appsv1.StatefulSet:
				s.Spec.Replicas = *o.Spec.Replicas
			}
			return true, s, nil
		})
		c.PrependReactor("update", gvr.Resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != "scale" {
				return false, nil, nil
			}
			s := a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
			obj, err := c.Tracker().Get(gvr, a.GetNamespace(), s.Name)
			if err != nil {
				return true, nil, err
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				o.Spec.Replicas = ptr(s.Spec.Replicas)
				o.Generation++
			case *appsv1.StatefulSet:
				o.Spec.Replicas = ptr(s.Spec.Replicas)
				o.Generation++
			}
			require.NoError(t, c.Tracker().Update(gvr, obj, a.GetNamespace()))
			return true, s, nil
		})
	}
	return c
}

// converge makes the fake act as the workload's controller once the
// workload has been read `after` times: its status then reports spec.
func converge(t *testing.T, c *fake.Clientset, gvr schema.GroupVersionResource, after int32) *atomic.Int32 {
	var gets atomic.Int32
	c.PrependReactor("get", gvr.Resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "" || gets.Add(1) < after {
			return false, nil, nil
		}
		obj, err := c.Tracker().Get(gvr, a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		require.NoError(t, err)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			r := *o.Spec.Replicas
			o.Status = appsv1.DeploymentStatus{ObservedGeneration: o.Generation, Replicas: r, UpdatedReplicas: r, ReadyReplicas: r, AvailableReplicas: r}
		case *appsv1.StatefulSet:
			r := *o.Spec.Replicas
			o.Status = appsv1.StatefulSetStatus{ObservedGeneration: o.Generation, Replicas: r, ReadyReplicas: r}
		}
		require.NoError(t, c.Tracker().Update(gvr, obj, a.GetNamespace()))
		return false, nil, nil
	})
	return &gets
}

func scaleActions(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		if a.GetSubresource() == "scale" {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource+"/scale")
		}
	}
	return out
}

func TestScaleWorkloadArguments(t *testing.T) {
	deploy := phase.ObjectRef{Kind: "Deployment", Name: "web", Namespace: "ns"}
	tests := []struct {
		name   string
		object phase.ObjectRef
		args   map[string]any
		err    string
	}{
		{name: "no replicas", object: deploy, args: map[string]any{}, err: `ScaleWorkload: argument "replicas" is required`},
		{name: "replicas a word", object: deploy, args: map[string]any{"replicas": "x"}, err: `ScaleWorkload: replicas must be a non-negative integer, got "x"`},
		{name: "negative replicas", object: deploy, args: map[string]any{"replicas": float64(-2)}, err: `ScaleWorkload: replicas must be a non-negative integer, got "-2"`},
		{name: "huge replicas", object: deploy, args: map[string]any{"replicas": "3000000000"}, err: `ScaleWorkload: replicas must be at most 2147483647, got 3000000000`},
		{name: "waitForReady a word", object: deploy, args: map[string]any{"replicas": 1, "waitForReady": "soon"}, err: `ScaleWorkload: waitForReady must be true or false, got "soon"`},
		{name: "unknown argument", object: deploy, args: map[string]any{"replicas": 1, "wait": true}, err: `ScaleWorkload: unknown argument "wait" (supported: "namespace", "name", "kind", "replicas", "waitForReady")`},
		{name: "unknown kind", object: deploy, args: map[string]any{"replicas": 1, "kind": "DaemonSet"}, err: `ScaleWorkload: kind must be deployment or statefulset, got "DaemonSet"`},
		{name: "DeploymentConfig", object: deploy, args: map[string]any{"replicas": 1, "kind": "deploymentconfig"}, err: `ScaleWorkload: kind DeploymentConfig (OpenShift) is not supported by Baton; supported kinds: deployment, statefulset`},
		{name: "object a DeploymentConfig", object: phase.ObjectRef{Kind: "DeploymentConfig", Name: "dc", Namespace: "ns"}, args: map[string]any{"replicas": 1}, err: `ScaleWorkload: kind DeploymentConfig (OpenShift) is not supported by Baton; supported kinds: deployment, statefulset`},
		{name: "object not a workload", object: phase.ObjectRef{Kind: "Namespace", Name: "ns"}, args: map[string]any{"replicas": 1, "kind": "deployment"},
			err: `ScaleWorkload: the action's object is not a Deployment or StatefulSet, so the workload must be named by arguments "namespace", "name" and "kind" (missing: "namespace", "name")`},
		{name: "not found", object: phase.ObjectRef{Kind: "Deployment", Name: "gone", Namespace: "ns"}, args: map[string]any{"replicas": 1}, err: `ScaleWorkload: Deployment ns/gone not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := withScaleSubresource(t, fake.NewClientset(testDeployment("web", 1)))
			f := &ScaleWorkload{Client: c, PollInterval: time.Millisecond}
			_, err := f.Run(context.Background(), phase.Spec{Object: tt.object, Args: tt.args}, io.Discard, io.Discard)
			require.EqualError(t, err, tt.err)
			for _, a := range c.Actions() {
				assert.NotEqual(t, "update", a.GetVerb(), "nothing is scaled when arguments are wrong")
			}
		})
	}
}

func TestScaleWorkloadTargetsAndOutput(t *testing.T) {
	tests := []struct {
		name     string
		object   phase.ObjectRef
		args     map[string]any
		gvr      schema.GroupVersionResource
		target   string
		original int32
	}{
		{name: "defaults from a Deployment object", object: phase.ObjectRef{Kind: "Deployment", Name: "web", Namespace: "ns"},
			args: map[string]any{"replicas": float64(0)}, gvr: deploymentsGVR, target: "web", original: 3},
		{name: "Kanister's lower-case kind", object: phase.ObjectRef{Kind: "deployment", Name: "web", Namespace: "ns"},
			args: map[string]any{"replicas": "0"}, gvr: deploymentsGVR, target: "web", original: 3},
		{name: "object named by resource", object: phase.ObjectRef{Group: "apps", Resource: "statefulsets", Name: "db", Namespace: "ns"},
			args: map[string]any{"replicas": 0}, gvr: statefulSetsGVR, target: "db", original: 2},
		{name: "arguments win over the object", object: phase.ObjectRef{Kind: "Deployment", Name: "web", Namespace: "ns"},
			args: map[string]any{"replicas": 0, "name": "db", "kind": "StatefulSet"}, gvr: statefulSetsGVR, target: "db", original: 2},
		{name: "all given, object unrelated", object: phase.ObjectRef{Kind: "Namespace", Name: "ns"},
			args: map[string]any{"replicas": 0, "namespace": "ns", "name": "web", "kind": "deployment"}, gvr: deploymentsGVR, target: "web", original: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := withScaleSubresource(t, fake.NewClientset(testDeployment("web", 3), testStatefulSet("db", 2)))
			tt.args["waitForReady"] = false
			var stdout bytes.Buffer
			f := &ScaleWorkload{Client: c, PollInterval: time.Millisecond}
			out, err := f.Run(context.Background(), phase.Spec{Object: tt.object, Args: tt.args}, &stdout, io.Discard)
			require.NoError(t, err)
			assert.Equal(t, outputs.Outputs{"originalReplicaCount": tt.original}, out)
			assert.Equal(t, []string{"get " + tt.gvr.Resource + "/scale", "update " + tt.gvr.Resource + "/scale"}, scaleActions(c))
			obj, err := c.Tracker().Get(tt.gvr, "ns", tt.target)
			require.NoError(t, err)
			switch o := obj.(type) {
			case *appsv1.Deployment:
				assert.Equal(t, int32(0), *o.Spec.Replicas)
			case *appsv1.StatefulSet:
				assert.Equal(t, int32(0), *o.Spec.Replicas)
			}
			for _, a := range c.Actions() {
				assert.NotEqual(t, "list", a.GetVerb(), "waitForReady false does not wait")
			}
			assert.Contains(t, stdout.String(), "scaled from")
		})
	}
}

func TestScaleWorkloadUnchangedCountIsNotUpdated(t *testing.T) {
	c := withScaleSubresource(t, fake.NewClientset(testDeployment("web", 2), testReplicaSet("web", "web-uid"),
		workloadPod("web-1", "web", "web-rs-uid", corev1.PodRunning, false),
		workloadPod("web-2", "web", "web-rs-uid", corev1.PodRunning, false)))
	f := &ScaleWorkload{Client: c, PollInterval: time.Millisecond}
	out, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{"namespace": "ns", "name": "web", "kind": "Deployment", "replicas": 2}}, io.Discard, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, outputs.Outputs{"originalReplicaCount": int32(2)}, out)
	assert.Equal(t, []string{"get deployments/scale"}, scaleActions(c))
}

func TestScaleWorkloadWaitsForReady(t *testing.T) {
	c := withScaleSubresource(t, fake.NewClientset(testDeployment("web", 0), testReplicaSet("web", "web-uid"),
		workloadPod("web-1", "web", "web-rs-uid", corev1.PodRunning, false),
		workloadPod("web-2", "web", "web-rs-uid", corev1.PodRunning, false),
		// Not the deployment's: a pod with the same labels owned elsewhere,
		// and a pod of it that has finished.
		workloadPod("stray", "web", "other-uid", corev1.PodRunning, false),
		workloadPod("web-old", "web", "web-rs-uid", corev1.PodFailed, false)))
	gets := converge(t, c, deploymentsGVR, 3)
	f := &ScaleWorkload{Client: c, PollInterval: time.Millisecond}
	out, err := f.Run(context.Background(), phase.Spec{
		Object: phase.ObjectRef{Kind: "Deployment", Name: "web", Namespace: "ns"},
		Args:   map[string]any{"replicas": 2},
	}, io.Discard, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, outputs.Outputs{"originalReplicaCount": int32(0)}, out)
	assert.Equal(t, int32(3), gets.Load(), "polled until the controller reported the new count")
}

func TestScaleWorkloadToZeroWaitsUntilPodsAreGone(t *testing.T) {
	c := withScaleSubresource(t, fake.NewClientset(testStatefulSet("db", 2),
		workloadPod("db-0", "db", "db-uid", corev1.PodRunning, true),
		workloadPod("db-1", "db", "db-uid", corev1.PodRunning, true)))
	converge(t, c, statefulSetsGVR, 1)
	// The kubelet finishes the pods while the function polls.
	var lists atomic.Int32
	c.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		switch lists.Add(1) {
		case 2:
			require.NoError(t, c.Tracker().Delete(podsGVR, "ns", "db-0"))
		case 4:
			require.NoError(t, c.Tracker().Delete(podsGVR, "ns", "db-1"))
		}
		return false, nil, nil
	})
	f := &ScaleWorkload{Client: c, PollInterval: time.Millisecond}
	out, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{"namespace": "ns", "name": "db", "kind": "statefulset", "replicas": 0}}, io.Discard, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, outputs.Outputs{"originalReplicaCount": int32(2)}, out)
	assert.Equal(t, int32(4), lists.Load())
}

func TestScaleWorkloadReportsWhatItWaitedFor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := withScaleSubresource(t, fake.NewClientset(testDeployment("web", 1)))
	// The phase's deadline passes during the third check; the controller
	// never catches up.
	var gets atomic.Int32
	c.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "" && gets.Add(1) == 3 {
			cancel()
		}
		return false, nil, nil
	})
	f := &ScaleWorkload{Client: c, PollInterval: time.Millisecond}
	_, err := f.Run(ctx, phase.Spec{Args: map[string]any{"namespace": "ns", "name": "web", "kind": "deployment", "replicas": 3}}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ScaleWorkload: Deployment ns/web did not settle at 3 replicas before the phase's deadline: its controller has not yet seen generation 2 (observed 1)")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestScaleWorkloadFailsFastWhenForbidden(t *testing.T) {
	c := withScaleSubresource(t, fake.NewClientset(testDeployment("web", 1), testReplicaSet("web", "web-uid")))
	converge(t, c, deploymentsGVR, 1)
	c.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(podsGVR.GroupResource(), "", nil)
	})
	f := &ScaleWorkload{Client: c, PollInterval: time.Millisecond}
	_, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{"namespace": "ns", "name": "web", "kind": "deployment", "replicas": 2}}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ScaleWorkload: wait for Deployment ns/web: pods is forbidden")
}

func TestDeploymentPending(t *testing.T) {
	settled := func() *appsv1.Deployment { return testDeployment("web", 2) }
	running := func(name string) *corev1.Pod { return workloadPod(name, "web", "web-rs-uid", corev1.PodRunning, false) }
	tests := []struct {
		name    string
		deploy  func(d *appsv1.Deployment)
		pods    []*corev1.Pod
		want    int32
		pending string
	}{
		{name: "settled", pods: []*corev1.Pod{running("a"), running("b")}, want: 2},
		{name: "generation not observed", deploy: func(d *appsv1.Deployment) { d.Generation = 2 }, want: 2,
			pending: "its controller has not yet seen generation 2 (observed 1)"},
		{name: "spec changed by someone else", want: 3,
			pending: "its spec asks for 2 replicas now (changed by something else, an autoscaler?)"},
		{name: "not all ready", deploy: func(d *appsv1.Deployment) { d.Status.ReadyReplicas, d.Status.AvailableReplicas = 1, 1 }, want: 2,
			pending: "status reports ready 1, available 1, want 2"},
		{name: "a pod terminating", pods: []*corev1.Pod{running("a"), running("b"), workloadPod("c", "web", "web-rs-uid", corev1.PodRunning, true)}, want: 2,
			pending: "3 of its pods still exist (1 terminating), want 2"},
		{name: "finished pods do not count", pods: []*corev1.Pod{running("a"), running("b"), workloadPod("c", "web", "web-rs-uid", corev1.PodSucceeded, false)}, want: 2},
		{name: "other owners' pods do not count", pods: []*corev1.Pod{running("a"), running("b"), workloadPod("c", "web", "x-uid", corev1.PodRunning, false)}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := settled()
			if tt.deploy != nil {
				tt.deploy(d)
			}
			objs := []runtime.Object{d, testReplicaSet("web", "web-uid")}
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			f := &ScaleWorkload{Client: fake.NewClientset(objs...)}
			pending, err := f.deploymentPending(context.Background(), "ns", "web", tt.want)
			require.NoError(t, err)
			assert.Equal(t, tt.pending, pending)
		})
	}
}
