package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// runCreate runs `create actionset ARGS` against c.
func runCreate(t *testing.T, c client.Client, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	o := &Options{IOStreams: IOStreams{Out: &out, Err: &bytes.Buffer{}}, clients: func() (*Clients, error) {
		return &Clients{Client: c}, nil
	}}
	cmd := newCreateActionSetCommand(o)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func renderObjects() []client.Object {
	labels := map[string]string{"app": "notes"}
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: "my-runner"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "notes"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "notes-abcde", Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "notes", Image: "notes"}}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: "backup-key"},
			Data: map[string][]byte{"key": []byte("very-secret-key")}},
		&batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: "notes-bp"},
			Actions: map[string]batonv1.BlueprintAction{"backup": {
				SecretNames: []string{"backupKey"},
				Phases: []batonv1.BlueprintPhase{{
					Name: "dump", Func: "KubeTask",
					Args: batonv1.JSONMap{"image": "busybox:1.36", "command": []any{"sh", "-c",
						`dump {{ index .Deployment.Pods 0 }} --key {{ index .Secrets.backupKey.Data "key" | toString }}`}},
				}, {
					Name: "report", Func: "KubeTask",
					Args: batonv1.JSONMap{"image": "busybox:1.36", "command": []any{"echo", "{{ .Phases.dump.Output.size }}"}},
				}},
			}}},
	}
}

func TestCreateActionSetRender(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(renderObjects()...).Build()
	out, err := runCreate(t, c, "--action", "backup", "--blueprint", "notes-bp", "--deployment", "demo/notes",
		"--secrets", "backupKey=backup-key", "--render", "--runner-image", "example.com/runner:v1", "--runner-service-account", "my-runner")
	require.NoError(t, err)

	assert.NotContains(t, out, "very-secret-key")
	assert.Contains(t, out, "# ActionSet baton/backup-xxxxx (name placeholder")
	assert.Contains(t, out, "UID placeholder 00000000-0000-0000-0000-000000000000")
	assert.Contains(t, out, "image example.com/runner:v1, serviceAccount my-runner")
	docs := strings.Split(out, "\n---\n")
	require.Len(t, docs, 3, out)
	assert.Contains(t, docs[1], `# action/phase: backup/dump
# function: KubeTask
# args:
#   command:
#   - sh
#   - -c
#   - dump notes-abcde --key <redacted>
#   image: busybox:1.36
`)
	var job batchv1.Job
	require.NoError(t, yaml.UnmarshalStrict([]byte(docs[1]), &job))
	assert.Equal(t, "Job", job.Kind)
	assert.Equal(t, "baton", job.Namespace)
	assert.Equal(t, "my-runner", job.Spec.Template.Spec.ServiceAccountName)
	assert.Equal(t, "example.com/runner:v1", job.Spec.Template.Spec.InitContainers[0].Image)
	assert.Equal(t, "busybox:1.36", job.Spec.Template.Spec.Containers[0].Image)
	assert.NotContains(t, docs[1], "creationTimestamp")
	assert.NotRegexp(t, `(?m)^status:`, docs[1], "a Job to be created has no status")

	assert.Equal(t, `# action/phase: backup/report
# function: KubeTask
# note: rendered at run time: reads outputs of dump
`, docs[2])

	// Nothing was created.
	var list batonv1.ActionSetList
	require.NoError(t, c.List(context.Background(), &list))
	assert.Empty(t, list.Items)
	var jobs batchv1.JobList
	require.NoError(t, c.List(context.Background(), &jobs))
	assert.Empty(t, jobs.Items)
}

func TestCreateActionSetRenderFails(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(renderObjects()...).Build()
	base := []string{"--action", "backup", "--deployment", "demo/notes", "--secrets", "backupKey=backup-key", "--render", "--runner-service-account", "my-runner"}

	_, err := runCreate(t, c, append(base, "--blueprint", "nope")...)
	require.ErrorContains(t, err, `render actionset: action "backup": blueprint baton/nope`)

	_, err = runCreate(t, c, append(base, "--blueprint", "notes-bp", "--profile", "s3")...)
	require.ErrorContains(t, err, "profile baton/s3")

	_, err = runCreate(t, c, "--action", "backup", "--blueprint", "notes-bp", "--deployment", "demo/notes", "--render")
	require.ErrorContains(t, err, "ServiceAccount baton/baton-runner")

	_, err = runCreate(t, c, append(base, "--blueprint", "notes-bp", "--dry-run")...)
	require.ErrorContains(t, err, "--render creates nothing")
}
