//go:build integration

package testenv_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/batonhq/baton/internal/testenv"
)

func job(name string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "baton.local/runner:dev"}},
		}}},
	}
}

// The harness is a real API server: it reports the version the local
// cluster runs, applies batch/v1 defaulting and enforces validation, none of
// which a fake client does.
func TestIntegrationControlPlane(t *testing.T) {
	cfg := testenv.Start(t, testenv.Options{})
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ctx := context.Background()

	t.Run("version matches the local cluster", func(t *testing.T) {
		want := os.Getenv("BATON_KUBERNETES_VERSION")
		if want == "" {
			t.Skip("BATON_KUBERNETES_VERSION not set (make test-integration sets it)")
		}
		info, err := client.Discovery().ServerVersion()
		require.NoError(t, err)
		assert.Equal(t, want, info.GitVersion)
	})

	t.Run("jobs are defaulted by the server", func(t *testing.T) {
		created, err := client.BatchV1().Jobs("default").Create(ctx, job("defaults"), metav1.CreateOptions{})
		require.NoError(t, err)
		require.NotNil(t, created.Spec.BackoffLimit)
		assert.EqualValues(t, 6, *created.Spec.BackoffLimit)
		assert.Equal(t, "defaults", created.Spec.Template.Labels["batch.kubernetes.io/job-name"])
		assert.NotEmpty(t, created.Spec.Selector, "server generates the selector")
	})

	t.Run("a job name must fit in a label value", func(t *testing.T) {
		_, err := client.BatchV1().Jobs("default").Create(ctx, job(strings.Repeat("a", 64)), metav1.CreateOptions{})
		require.Error(t, err)
		assert.True(t, apierrors.IsInvalid(err), "got %v", err)

		_, err = client.BatchV1().Jobs("default").Create(ctx, job(strings.Repeat("a", 63)), metav1.CreateOptions{})
		assert.NoError(t, err)
	})
}
