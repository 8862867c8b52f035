//go:build e2e

// Package e2e holds the end-to-end suite. It runs against whatever cluster
// KUBECONFIG names (the local kind cluster under `make test`), using images
// named by BATON_RUNNER_IMAGE and BATON_E2E_TOOLS_IMAGE that must already be
// in that cluster (`make images` loads them into kind).
package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

var (
	runnerImage   = envOr("BATON_RUNNER_IMAGE", "baton.local/runner:dev")
	e2eToolsImage = envOr("BATON_E2E_TOOLS_IMAGE", "baton.local/e2e-tools:dev")
)

// jobTimeout bounds how long any Job of the suite may take to finish. Pods
// start in seconds on a warm cluster; the margin is for a loaded CI machine.
const jobTimeout = 3 * time.Minute

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// cluster is the suite's handle on the cluster under test.
type cluster struct {
	client     kubernetes.Interface
	kubeconfig string
}

func connect(t testing.TB) *cluster {
	t.Helper()
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	require.NoError(t, err, "load kubeconfig (KUBECONFIG=%q)", os.Getenv("KUBECONFIG"))
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return &cluster{client: client, kubeconfig: os.Getenv("KUBECONFIG")}
}

// namespace creates a namespace for one test and deletes it afterwards.
func (c *cluster) namespace(t testing.TB) string {
	t.Helper()
	name := "baton-e2e-" + rand.String(6)
	_, err := c.client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"baton.dev/e2e": "true"}}},
		metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpNamespace(t, name)
		}
		_ = c.client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// jobBuilder makes the Jobs the suite runs: one container, never restarted.
type jobBuilder struct{ job *batchv1.Job }

func newJob(namespace, name, image string, command ...string) *jobBuilder {
	return &jobBuilder{job: &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To[int32](0),
			TTLSecondsAfterFinished: ptr.To[int32](600),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "main", Image: image, Command: command,
					// Images are loaded into the cluster, never pulled.
					ImagePullPolicy: corev1.PullIfNotPresent,
				}},
			}},
		},
	}}
}

func (b *jobBuilder) args(args ...string) *jobBuilder {
	b.job.Spec.Template.Spec.Containers[0].Args = args
	return b
}

func (b *jobBuilder) volume(claim, mountPath string) *jobBuilder {
	spec := &b.job.Spec.Template.Spec
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: mountPath})
	return b
}

func (b *jobBuilder) obj() *batchv1.Job { return b.job }

// run creates the Job and waits until it has a terminal condition, which it
// returns (Complete or Failed).
func (c *cluster) run(t testing.TB, job *batchv1.Job) batchv1.JobConditionType {
	t.Helper()
	ctx := context.Background()
	_, err := c.client.BatchV1().Jobs(job.Namespace).Create(ctx, job, metav1.CreateOptions{})
	require.NoError(t, err)
	var terminal batchv1.JobConditionType
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, jobTimeout, true, func(ctx context.Context) (bool, error) {
		got, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range got.Status.Conditions {
			if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
				terminal = cond.Type
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err, "job %s/%s did not finish within %s", job.Namespace, job.Name, jobTimeout)
	return terminal
}

// logs reads a Job's logs the way a user would: kubectl logs -l job-name=NAME.
func (c *cluster) logs(t testing.TB, namespace, jobName string) string {
	t.Helper()
	return c.kubectl(t, "logs", "-n", namespace, "-l", "job-name="+jobName, "--tail=-1")
}

func (c *cluster) kubectl(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("kubectl", args...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kubectl %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// jobPod returns the single pod of a Job.
func (c *cluster) jobPod(t *testing.T, namespace, jobName string) corev1.Pod {
	t.Helper()
	pods, err := c.client.CoreV1().Pods(namespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: "job-name=" + jobName})
	require.NoError(t, err)
	require.Len(t, pods.Items, 1, "pods of job %s", jobName)
	return pods.Items[0]
}

// dumpNamespace prints what a failed test left behind, for the CI log.
func (c *cluster) dumpNamespace(t testing.TB, namespace string) {
	for _, args := range [][]string{
		{"get", "all,pvc,events", "-n", namespace, "-o", "wide"},
		{"describe", "pods", "-n", namespace},
	} {
		out, err := exec.Command("kubectl", args...).CombinedOutput()
		t.Logf("kubectl %s (err=%v):\n%s", strings.Join(args, " "), err, out)
	}
}

// kubectlStdin runs kubectl with input on stdin and returns its stdout.
func (c *cluster) kubectlStdin(t testing.TB, input string, args ...string) string {
	t.Helper()
	cmd := exec.Command("kubectl", args...)
	cmd.Stdin = strings.NewReader(input)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "kubectl %s: %s", strings.Join(args, " "), stderr.String())
	return string(out)
}
