package controller

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	crevent "sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// finishedJobPriority is the work-queue priority of an ActionSet whose
// phase Job just finished, above the default (0) of everything else.
//
// Why: the work queue is first come, first served. When many ActionSets
// are created at once, the reconcile that starts a running ActionSet's next
// phase waited behind the first reconcile of every ActionSet created
// before that phase ended: with 1000 created at once, about a minute per
// phase, while the workload may sit quiesced (scaled down, locked) between
// phases. Served first, a running ActionSet moves on within a reconcile or
// two; new ActionSets start as soon as no phase is waiting
// (docs/performance.md, "Scale"). Throughput is the same: the same
// reconciles run, in another order.
const finishedJobPriority = 10

// jobEvents enqueues the ActionSet owning a Job (as Owns does), with
// finishedJobPriority when the event is the Job finishing.
func jobEvents(mgr ctrl.Manager) handler.EventHandler {
	return finishedJobsFirst{owner: handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(),
		&batonv1.ActionSet{}, handler.OnlyControllerOwner())}
}

type finishedJobsFirst struct{ owner handler.EventHandler }

func (f finishedJobsFirst) Create(ctx context.Context, e crevent.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	// A Job seen for the first time already finished: a controller
	// restarted, or the Job ended before its watch event was sent. Not
	// in the informer's initial list, which is served last as usual.
	if !e.IsInInitialList && jobFinished(e.Object) {
		q = withPriority(q, finishedJobPriority)
	}
	f.owner.Create(ctx, e, q)
}

func (f finishedJobsFirst) Update(ctx context.Context, e crevent.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	// Resyncs (same resourceVersion) keep the low priority the owner
	// handler gives them.
	if e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion() &&
		!jobFinished(e.ObjectOld) && jobFinished(e.ObjectNew) {
		q = withPriority(q, finishedJobPriority)
	}
	f.owner.Update(ctx, e, q)
}

func (f finishedJobsFirst) Delete(ctx context.Context, e crevent.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	f.owner.Delete(ctx, e, q)
}

func (f finishedJobsFirst) Generic(ctx context.Context, e crevent.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	f.owner.Generic(ctx, e, q)
}

// jobFinished says whether obj is a Job with a terminal condition.
func jobFinished(obj client.Object) bool {
	job, ok := obj.(*batchv1.Job)
	return ok && finishedCondition(job) != nil
}

// withPriority makes q's adds default to priority, when q is
// controller-runtime's priority queue (the default since v0.23); any other
// queue is returned as it is.
func withPriority(q workqueue.TypedRateLimitingInterface[reconcile.Request], priority int) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request])
	if !ok {
		return q
	}
	return prioritisedQueue{PriorityQueue: pq, priority: priority}
}

type prioritisedQueue struct {
	priorityqueue.PriorityQueue[reconcile.Request]
	priority int
}

func (p prioritisedQueue) Add(item reconcile.Request) {
	p.AddWithOpts(priorityqueue.AddOpts{}, item)
}

func (p prioritisedQueue) AddAfter(item reconcile.Request, after time.Duration) {
	p.AddWithOpts(priorityqueue.AddOpts{After: after}, item)
}

func (p prioritisedQueue) AddRateLimited(item reconcile.Request) {
	p.AddWithOpts(priorityqueue.AddOpts{RateLimited: true}, item)
}

// AddWithOpts keeps a priority the caller chose.
func (p prioritisedQueue) AddWithOpts(o priorityqueue.AddOpts, items ...reconcile.Request) {
	if o.Priority == nil {
		o.Priority = &p.priority
	}
	p.PriorityQueue.AddWithOpts(o, items...)
}
