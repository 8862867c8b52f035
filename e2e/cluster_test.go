//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The cluster suite proves the cluster itself can carry Baton: Jobs of
// locally built images run, their logs are readable by label, pods reach the
// API server and cluster DNS, failures surface as Job Failed, and volumes
// bind and hold data.

func TestJobWithLocallyBuiltImageCompletes(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ns := c.namespace(t)

	job := newJob(ns, "runner-version", runnerImage).args("version").obj()
	require.Equal(t, batchv1.JobComplete, c.run(t, job))

	logs := c.logs(t, ns, job.Name)
	assert.Contains(t, logs, "baton-runner ", "logs read with kubectl logs -l job-name=%s", job.Name)
}

func TestPodReachesAPIServerAndClusterDNS(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ns := c.namespace(t)
	serverVersion, err := c.client.Discovery().ServerVersion()
	require.NoError(t, err)

	job := newJob(ns, "runner-doctor", runnerImage).args("doctor").obj()
	result := c.run(t, job)
	logs := c.logs(t, ns, job.Name)
	require.Equal(t, batchv1.JobComplete, result, "doctor output:\n%s", logs)

	// In-cluster config dials the `kubernetes` Service's ClusterIP.
	svc, err := c.client.CoreV1().Services("default").Get(context.Background(), "kubernetes", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, logs, "ok   api server "+serverVersion.GitVersion+" answers at https://"+svc.Spec.ClusterIP)
	assert.Contains(t, logs, "ok   cluster DNS resolves kubernetes.default.svc.cluster.local to ["+svc.Spec.ClusterIP+"]")
}

func TestNonZeroExitFailsJob(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ns := c.namespace(t)

	job := newJob(ns, "exit-three", e2eToolsImage, "sh", "-c", "echo about to fail; exit 3").obj()
	require.Equal(t, batchv1.JobFailed, c.run(t, job))

	pod := c.jobPod(t, ns, job.Name)
	require.Len(t, pod.Status.ContainerStatuses, 1)
	terminated := pod.Status.ContainerStatuses[0].State.Terminated
	require.NotNil(t, terminated, "container state: %+v", pod.Status.ContainerStatuses[0].State)
	assert.EqualValues(t, 3, terminated.ExitCode)
	assert.Contains(t, c.logs(t, ns, job.Name), "about to fail")
}

func TestVolumeBindsAndKeepsData(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ns := c.namespace(t)
	ctx := context.Background()

	// No storageClassName: the cluster's default StorageClass must serve it.
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("16Mi")}},
		},
	}
	_, err := c.client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{})
	require.NoError(t, err)

	marker := "written-by-" + ns
	writer := newJob(ns, "writer", e2eToolsImage, "sh", "-c", "echo "+marker+" > /data/marker && sync").volume("data", "/data").obj()
	require.Equal(t, batchv1.JobComplete, c.run(t, writer))

	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := c.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		return err == nil && got.Status.Phase == corev1.ClaimBound, err
	})
	require.NoError(t, err, "claim never Bound")

	// A second pod sees what the first wrote: the data is on the volume.
	reader := newJob(ns, "reader", e2eToolsImage, "cat", "/data/marker").volume("data", "/data").obj()
	require.Equal(t, batchv1.JobComplete, c.run(t, reader))
	assert.Equal(t, marker, strings.TrimSpace(c.logs(t, ns, reader.Name)))
}
