package controller

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crevent "sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// holdBack deals with an ActionSet that has not started: one cancelled or
// out of time before it started ends at once; one over the controller's
// limits is queued. wait says the reconcile is over.
func (r *Reconciler) holdBack(ctx context.Context, as *batonv1.ActionSet, before *batonv1.ActionSetStatus) (wait bool, result ctrl.Result, err error) {
	var ended, reason, message string
	switch {
	case as.Spec.Cancel != nil:
		ended, reason, message = string(batonv1.StateCancelled), "Cancelled", "cancelled before it started"
		if as.Spec.Cancel.Reason != "" {
			message += ": " + as.Spec.Cancel.Reason
		}
	case r.queue != nil && as.Status.State == batonv1.StateQueued:
		run := actionSetRun{as: as}
		if msg, expired := run.expired(); expired {
			ended, reason, message = string(batonv1.StateFailed), "Failed", msg+", waiting in the queue"
		}
	}
	if ended != "" {
		as.Status.State = batonv1.State(ended)
		as.Status.Error = &batonv1.ActionSetError{Message: message}
		if err := r.writeStatus(ctx, as, before); err != nil {
			return true, ctrl.Result{}, err
		}
		kind := corev1.EventTypeNormal
		if as.Status.State == batonv1.StateFailed {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Event(as, kind, reason, message)
		r.wakeQueued(ctx, as)
		return true, ctrl.Result{}, nil
	}
	if r.queue == nil {
		return false, ctrl.Result{}, nil
	}
	all, err := r.queueEntries(ctx)
	if err != nil {
		return true, ctrl.Result{}, err
	}
	d := r.queue.decide(entryOf(as), all)
	if d.admit {
		return false, ctrl.Result{}, nil
	}
	wasQueued := as.Status.State == batonv1.StateQueued
	as.Status.State = batonv1.StateQueued
	meta.SetStatusCondition(&as.Status.Conditions, metav1.Condition{
		Type: ConditionComplete, Status: metav1.ConditionUnknown, Reason: "Queued", Message: d.reason, ObservedGeneration: as.Generation,
	})
	if err := r.writeStatus(ctx, as, before); err != nil {
		return true, ctrl.Result{}, err
	}
	if !wasQueued {
		r.Recorder.Event(as, corev1.EventTypeNormal, "Queued", d.reason)
		log.FromContext(ctx).Info("queued", "reason", d.reason)
	}
	return true, ctrl.Result{RequeueAfter: untilExpiry(as)}, nil
}

// queueEntries lists every ActionSet the controller runs, from the cache.
// No deep copies: only a few fields are read, and 1000s may be listed.
func (r *Reconciler) queueEntries(ctx context.Context) ([]queueEntry, error) {
	var list batonv1.ActionSetList
	if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list ActionSets for the queue: %w", err)
	}
	entries := make([]queueEntry, 0, len(list.Items))
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			entries = append(entries, entryOf(&list.Items[i]))
		}
	}
	return entries, nil
}

// wakeQueued enqueues the queued ActionSets that may start now that a slot
// freed. freed names an ActionSet known to have ended that the cache may
// still show running. They are sent from a goroutine: the reconcile that
// freed the slot must not wait for the work queue to take them.
func (r *Reconciler) wakeQueued(ctx context.Context, freed ...*batonv1.ActionSet) {
	if r.queue == nil {
		return
	}
	var list batonv1.ActionSetList
	if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "list ActionSets to wake")
		return
	}
	entries := make([]queueEntry, 0, len(list.Items))
	byUID := map[string]*batonv1.ActionSet{}
	for i := range list.Items {
		as := &list.Items[i]
		if as.DeletionTimestamp.IsZero() {
			entries = append(entries, entryOf(as))
			byUID[string(as.UID)] = as
		}
	}
	for _, f := range freed {
		for i := range entries {
			if entries[i].uid == f.UID {
				entries[i].started, entries[i].ended = true, true
			}
		}
	}
	var wake []crevent.GenericEvent
	for _, uid := range r.queue.next(entries) {
		wake = append(wake, crevent.GenericEvent{Object: byUID[string(uid)].DeepCopy()})
	}
	if len(wake) == 0 {
		return
	}
	go func() {
		for _, e := range wake {
			select {
			case r.wake <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// pruneHistory deletes the oldest ended ActionSets of a namespace beyond
// the history limit, newest kept, with Background propagation so their
// Jobs, pods and phase Secrets go too.
func (r *Reconciler) pruneHistory(ctx context.Context, namespace string) {
	if r.HistoryLimit <= 0 {
		return
	}
	var list batonv1.ActionSetList
	if err := r.List(ctx, &list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "list ActionSets for the history limit")
		return
	}
	var ended []*batonv1.ActionSet
	for i := range list.Items {
		as := &list.Items[i]
		if as.Status.State.IsTerminal() && as.DeletionTimestamp.IsZero() {
			ended = append(ended, as)
		}
	}
	if len(ended) <= r.HistoryLimit {
		return
	}
	// Newest first; the API's timestamps have whole seconds, so ties go by
	// creation, then name, for the same answer on every replica.
	slices.SortFunc(ended, func(a, b *batonv1.ActionSet) int {
		return cmp.Or(endedAt(b).Compare(endedAt(a)), b.CreationTimestamp.Compare(a.CreationTimestamp.Time), cmp.Compare(b.Name, a.Name))
	})
	for _, as := range ended[r.HistoryLimit:] {
		victim := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: as.Name, Namespace: as.Namespace, UID: as.UID}}
		err := r.Delete(ctx, victim, client.PropagationPolicy(metav1.DeletePropagationBackground),
			client.Preconditions{UID: &victim.UID})
		if client.IgnoreNotFound(err) != nil {
			log.FromContext(ctx).Error(err, "delete ActionSet beyond the history limit", "deleted", as.Name)
			continue
		}
		log.FromContext(ctx).Info("deleted an ended ActionSet beyond the namespace's history limit", "deleted", as.Name, "limit", r.HistoryLimit)
	}
}
