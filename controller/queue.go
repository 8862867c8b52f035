package controller

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// Limits caps how many ActionSets run at once; zero means no cap.
type Limits struct {
	// Total is the most ActionSets the controller runs at once.
	Total int
	// PerNamespace is the most it runs at once in any one namespace.
	PerNamespace int
}

func (l Limits) enabled() bool { return l.Total > 0 || l.PerNamespace > 0 }

// admissionQueue decides which ActionSets may start when the controller
// runs a limited number at once. Those over the limit wait, queued, and are
// started in creation order as running ones end.
//
// The decision is made from the ActionSets the cache holds, plus the ones
// this process admitted that the cache does not show started yet: between
// a reconcile's status write and the watch event bringing it back, the
// cache still shows an admitted ActionSet as new, and two reconciles must
// not both take the last slot. Nothing else is kept, so a new leader
// rebuilds the same picture from the ActionSets' statuses.
type admissionQueue struct {
	limits Limits
	mu     sync.Mutex
	// admitted are UIDs let in and not yet seen running or ended.
	admitted map[types.UID]bool
}

func newAdmissionQueue(l Limits) *admissionQueue {
	return &admissionQueue{limits: l, admitted: map[types.UID]bool{}}
}

// queueEntry is what the queue needs to know of an ActionSet.
type queueEntry struct {
	uid       types.UID
	namespace string
	name      string
	created   int64 // creation time, Unix seconds
	// started: its phases are listed in its status (it is running, or
	// failed its start-up checks and is ended).
	started bool
	ended   bool
}

func entryOf(as *batonv1.ActionSet) queueEntry {
	return queueEntry{
		uid: as.UID, namespace: as.Namespace, name: as.Name, created: as.CreationTimestamp.Unix(),
		started: len(as.Status.Actions) > 0 || as.Status.State.IsTerminal(),
		ended:   as.Status.State.IsTerminal(),
	}
}

// decision is the queue's answer for one ActionSet.
type decision struct {
	admit bool
	// reason says which limit holds it back, for its status.
	reason string
}

// decide says whether candidate may start now, given every ActionSet the
// controller knows of (candidate among them or not). Admitting records it.
func (q *admissionQueue) decide(candidate queueEntry, all []queueEntry) decision {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.admitted[candidate.uid] {
		return decision{admit: true}
	}
	admitted := q.plan(all, &candidate)
	if admitted[candidate.uid] {
		q.admitted[candidate.uid] = true
		return decision{admit: true}
	}
	return decision{reason: q.blockedBy(candidate, all)}
}

// next lists the waiting ActionSets that may start now, oldest first: the
// ones to wake when a slot frees.
func (q *admissionQueue) next(all []queueEntry) []types.UID {
	q.mu.Lock()
	defer q.mu.Unlock()
	admissible := q.plan(all, nil)
	var uids []types.UID
	for _, e := range waitingInOrder(all, q.admitted) {
		if admissible[e.uid] {
			uids = append(uids, e.uid)
		}
	}
	return uids
}

// plan walks the waiting ActionSets oldest first, handing out the free
// slots, and returns those that get one. One waiting in a full namespace
// does not hold back a younger one in another namespace. The candidate is
// included even when the cache does not hold it yet. Admitted UIDs the
// cache shows started, or no longer holds, are forgotten here.
func (q *admissionQueue) plan(all []queueEntry, candidate *queueEntry) map[types.UID]bool {
	known := map[types.UID]bool{}
	running, runningIn := 0, map[string]int{}
	for _, e := range all {
		known[e.uid] = true
		if e.started && q.admitted[e.uid] {
			delete(q.admitted, e.uid)
		}
		if (e.started && !e.ended) || q.admitted[e.uid] {
			running++
			runningIn[e.namespace]++
		}
	}
	for uid := range q.admitted {
		if !known[uid] {
			delete(q.admitted, uid)
		}
	}
	if candidate != nil && !known[candidate.uid] {
		all = append(slices.Clip(all), *candidate)
	}
	free := func(ns string) bool {
		return (q.limits.Total <= 0 || running < q.limits.Total) &&
			(q.limits.PerNamespace <= 0 || runningIn[ns] < q.limits.PerNamespace)
	}
	admissible := map[types.UID]bool{}
	for _, e := range waitingInOrder(all, q.admitted) {
		if free(e.namespace) {
			admissible[e.uid] = true
			running++
			runningIn[e.namespace]++
		}
	}
	return admissible
}

// waitingInOrder lists the ActionSets not started, ended or admitted, in
// creation order (the API's timestamps have whole seconds: ties go by
// namespace and name).
func waitingInOrder(all []queueEntry, admitted map[types.UID]bool) []queueEntry {
	var waiting []queueEntry
	for _, e := range all {
		if !e.started && !e.ended && !admitted[e.uid] {
			waiting = append(waiting, e)
		}
	}
	slices.SortFunc(waiting, func(a, b queueEntry) int {
		return cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
	})
	return waiting
}

// blockedBy names the limit that keeps candidate waiting.
func (q *admissionQueue) blockedBy(candidate queueEntry, all []queueEntry) string {
	running, runningIn := 0, 0
	for _, e := range all {
		if (e.started && !e.ended) || q.admitted[e.uid] {
			running++
			if e.namespace == candidate.namespace {
				runningIn++
			}
		}
	}
	if q.limits.PerNamespace > 0 && runningIn >= q.limits.PerNamespace {
		return fmt.Sprintf("queued: %d ActionSets run in namespace %s, the most the controller runs at once in one namespace (--max-running-actionsets-per-namespace=%d)",
			runningIn, candidate.namespace, q.limits.PerNamespace)
	}
	if q.limits.Total > 0 && running >= q.limits.Total {
		return fmt.Sprintf("queued: %d ActionSets run, the most the controller runs at once (--max-running-actionsets=%d)", running, q.limits.Total)
	}
	return "queued: older ActionSets are waiting for the free slots"
}
