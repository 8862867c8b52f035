package controller

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batonhq/baton/dispatcher"
)

// managedBy is the value dispatcher.Build gives dispatcher.LabelManagedBy
// on every Job (the dispatcher keeps it unexported; TestCacheKeepsEveryJobTheDispatcherBuilds
// fails if the two drift apart).
const managedBy = "baton"

// CacheOptions trims the manager's informer cache to what the controller
// reads, which is what bounds its memory with many ActionSets alive
// (docs/performance.md, "Scale"):
//
//   - managedFields are dropped from every cached object: the controller
//     never reads them, and on an ActionSet whose status is rewritten each
//     phase they are a large part of the object;
//   - only Jobs labelled app.kubernetes.io/managed-by=baton are listed and
//     watched, so a cluster's other Jobs (CronJobs, CI, …) cost nothing;
//   - cached Jobs lose their pod template (see trimJob).
//
// Pods are deliberately absent: nothing in the controller reads them from
// the cache (a finished phase's pod is listed from the API server by its
// job-name label; referents go through the API reader), so no pod informer
// is ever started. Callers may add namespaces (DefaultNamespaces) to the
// result.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&batchv1.Job{}: {
				Label:     labels.SelectorFromSet(labels.Set{dispatcher.LabelManagedBy: managedBy}),
				Transform: trimJob,
			},
		},
	}
}

// trimJob is the Job cache's transform (a ByObject transform replaces the
// default one, so it strips managedFields too). Of a cached Job the
// controller reads its metadata (name, namespace, labels, annotations,
// owner references, which route its events to its ActionSet), its status
// (conditions, start and completion time) and spec.activeDeadlineSeconds;
// it deletes Jobs, which needs only name and namespace. The pod template,
// most of a Job's size, is never read back: it is dropped. A cached Job
// must therefore never be sent back in an Update.
func trimJob(obj any) (any, error) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		// A tombstone of a deleted Job or anything else: left as it is.
		return obj, nil
	}
	job.ManagedFields = nil
	job.Spec.Template = corev1.PodTemplateSpec{}
	return job, nil
}

// jobsByActionSet names the cache index of Jobs by the UID of the
// ActionSet they belong to (their dispatcher.LabelActionSetUID label).
// Every reconcile lists its ActionSet's Jobs; by label selector alone that
// is a match against every cached Job of the namespace, which grew with
// the ActionSets kept there (docs/performance.md, "Scale").
const jobsByActionSet = "baton.dev/actionset-uid"

// actionSetUIDOf is the jobsByActionSet index function.
func actionSetUIDOf(obj client.Object) []string {
	if uid := obj.GetLabels()[dispatcher.LabelActionSetUID]; uid != "" {
		return []string{uid}
	}
	return nil
}

// indexJobs registers the jobsByActionSet index with the manager's cache.
func indexJobs(ctx context.Context, indexer client.FieldIndexer) error {
	return indexer.IndexField(ctx, &batchv1.Job{}, jobsByActionSet, actionSetUIDOf)
}
