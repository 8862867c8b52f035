package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

// builtJob is a phase Job as the controller creates it, with the status
// and managedFields the API server and the Job controller add.
func builtJob(t *testing.T) *batchv1.Job {
	t.Helper()
	job, err := dispatcher.Build(dispatcher.Phase{
		ActionSet: dispatcher.ActionSetRef{Name: "backup-x7k2p", Namespace: "app", UID: "0b6e5c1a-uid"},
		Action:    "backup", Name: "dump", Function: "KubeTask", SpecSecret: "backup-x7k2p-backup-dump",
		User: &dispatcher.UserContainer{Image: "postgres:16"},
	}, dispatcher.Settings{RunnerImage: "baton.local/runner:dev", ServiceAccount: "baton-runner", ActiveDeadline: time.Hour})
	require.NoError(t, err)
	now := metav1.Now()
	job.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "baton-controller", Operation: metav1.ManagedFieldsOperationUpdate}}
	job.Status = batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1,
		Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	return job
}

func jobCache(t *testing.T) (labels.Selector, toolscache.TransformFunc) {
	t.Helper()
	for obj, by := range CacheOptions().ByObject {
		if _, ok := obj.(*batchv1.Job); ok {
			return by.Label, by.Transform
		}
	}
	t.Fatal("CacheOptions has no Job settings")
	return nil, nil
}

// The Job cache is label-selected: a Job the dispatcher builds must be in
// it, or the controller would never see its phases end.
func TestCacheKeepsEveryJobTheDispatcherBuilds(t *testing.T) {
	selector, _ := jobCache(t)
	job := builtJob(t)
	assert.True(t, selector.Matches(labels.Set(job.Labels)), "selector %s, Job labels %v", selector, job.Labels)
	assert.False(t, selector.Matches(labels.Set{"app": "ci"}), "other Jobs stay out")
}

func TestJobTransformKeepsWhatTheReconcilerReads(t *testing.T) {
	_, transform := jobCache(t)
	job := builtJob(t)
	want := job.DeepCopy()

	out, err := transform(job)
	require.NoError(t, err)
	got := out.(*batchv1.Job)
	assert.Empty(t, got.ManagedFields)
	assert.Empty(t, got.Spec.Template.Spec.Containers, "the pod template is dropped")
	assert.Empty(t, got.Spec.Template.Labels)

	assert.Equal(t, want.Name, got.Name)
	assert.Equal(t, want.Namespace, got.Namespace)
	assert.Equal(t, want.Labels, got.Labels, "loadJobs lists by label")
	assert.Equal(t, want.Annotations, got.Annotations, "metrics read the function annotation")
	assert.Equal(t, want.OwnerReferences, got.OwnerReferences, "Job events reach their ActionSet by owner")
	assert.Equal(t, want.Spec.ActiveDeadlineSeconds, got.Spec.ActiveDeadlineSeconds, "timeouts are explained with it")
	assert.Equal(t, want.Status, got.Status)
}

func TestJobTransformLeavesOtherObjectsAlone(t *testing.T) {
	_, transform := jobCache(t)
	tombstone := toolscache.DeletedFinalStateUnknown{Key: "app/job"}
	out, err := transform(tombstone)
	require.NoError(t, err)
	assert.Equal(t, tombstone, out)
}

func TestDefaultTransformStripsManagedFields(t *testing.T) {
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"k": "v"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "baton-controller", Subresource: "status"}}}}
	out, err := CacheOptions().DefaultTransform(as)
	require.NoError(t, err)
	assert.Empty(t, out.(*batonv1.ActionSet).ManagedFields)
	assert.Equal(t, map[string]string{"k": "v"}, out.(*batonv1.ActionSet).Labels)
}

func TestJobsAreIndexedByTheirActionSet(t *testing.T) {
	assert.Equal(t, []string{"0b6e5c1a-uid"}, actionSetUIDOf(builtJob(t)))
	assert.Empty(t, actionSetUIDOf(&batchv1.Job{}), "a Job without the label is not indexed")
}
