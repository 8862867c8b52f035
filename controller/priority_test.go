package controller

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	crevent "sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// phaseJob is a Job owned by ActionSet owner, finished or not, at
// resourceVersion rv.
func phaseJob(owner, rv string, finished bool) *batchv1.Job {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: owner + "-step", Namespace: "baton", ResourceVersion: rv,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "baton.dev/v1alpha1", Kind: "ActionSet", Name: owner, UID: types.UID(owner), Controller: ptr.To(true)}}}}
	if finished {
		job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	}
	return job
}

func finishedFirstHandler(t *testing.T) handler.EventHandler {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, batonv1.AddToScheme(scheme))
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(batonv1.GroupVersion.WithKind("ActionSet"), meta.RESTScopeNamespace)
	return finishedJobsFirst{owner: handler.EnqueueRequestForOwner(scheme, mapper, &batonv1.ActionSet{}, handler.OnlyControllerOwner())}
}

func request(name string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "baton", Name: name}}
}

func TestAFinishedJobsActionSetIsServedFirst(t *testing.T) {
	h := finishedFirstHandler(t)
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	ctx := context.Background()

	q.Add(request("new")) // an ActionSet just created, queued first
	h.Update(ctx, crevent.UpdateEvent{ObjectOld: phaseJob("running", "1", false), ObjectNew: phaseJob("running", "2", false)}, q)
	h.Update(ctx, crevent.UpdateEvent{ObjectOld: phaseJob("done", "1", false), ObjectNew: phaseJob("done", "2", true)}, q)
	h.Create(ctx, crevent.CreateEvent{Object: phaseJob("created", "1", false)}, q)

	got := map[string]int{}
	var order []string
	for q.Len() > 0 {
		item, priority, _ := q.GetWithPriority()
		q.Done(item)
		got[item.Name] = priority
		order = append(order, item.Name)
	}
	assert.Equal(t, "done", order[0], "the ActionSet whose phase finished goes first")
	assert.Equal(t, map[string]int{"new": 0, "running": 0, "done": finishedJobPriority, "created": 0}, got)
}

func TestResyncsAndInitialListsAreNotRaised(t *testing.T) {
	h := finishedFirstHandler(t)
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	ctx := context.Background()

	h.Update(ctx, crevent.UpdateEvent{ObjectOld: phaseJob("resync", "2", true), ObjectNew: phaseJob("resync", "2", true)}, q)
	h.Create(ctx, crevent.CreateEvent{Object: phaseJob("listed", "2", true), IsInInitialList: true}, q)
	h.Create(ctx, crevent.CreateEvent{Object: phaseJob("seen-finished", "2", true)}, q)
	got := map[string]int{}
	for q.Len() > 0 {
		item, priority, _ := q.GetWithPriority()
		q.Done(item)
		got[item.Name] = priority
	}
	assert.Equal(t, map[string]int{"resync": handler.LowPriority, "listed": handler.LowPriority, "seen-finished": finishedJobPriority}, got)
}
