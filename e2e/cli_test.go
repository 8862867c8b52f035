//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

var batonctlBinary = envOr("BATON_CLI", "../_output/bin/batonctl")

// batonctl runs the CLI binary as a user would and returns its stdout,
// stderr and exit code.
func batonctl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(batonctlBinary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), exit.ExitCode()
	}
	require.NoError(t, err, "run %s", batonctlBinary)
	return out.String(), errOut.String(), 0
}

// userNamespace is a namespace of the user's own for ActionSets, set up
// the way docs/install.md says: the runner ServiceAccount, bound to the
// baton-runner ClusterRole.
func (e *engine) userNamespace(t *testing.T) string {
	t.Helper()
	ns := e.namespace(t)
	_, err := e.client.CoreV1().ServiceAccounts(ns).Create(context.Background(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "baton-runner"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "baton-runner-" + ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "baton-runner"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "baton-runner", Namespace: ns}},
	}
	_, err = e.client.RbacV1().ClusterRoleBindings().Create(context.Background(), binding, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = e.client.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
	})
	return ns
}

// From nothing to a backup and a restore chained with --from, with only
// batonctl and kubectl: validate, create --wait (progress on stderr, exit
// code = outcome), get, describe, logs, a dry run, a failing ActionSet's
// exit code, and delete --older-than.
func TestBatonctlBackupThenRestoreFrom(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(batonctlBinary); err != nil {
		t.Fatalf("batonctl binary %s: %v (make e2e builds it)", batonctlBinary, err)
	}
	e := connectEngine(t)
	appNS, userNS := e.namespace(t), e.userNamespace(t)
	s3 := e.s3ForPods(t)
	pg := e.deployPostgres(t, appNS)
	want := pg.seed(t)

	// The user's own copies: Blueprint and Profile in their namespace.
	raw, err := os.ReadFile("../examples/postgres/blueprint.yaml")
	require.NoError(t, err)
	blueprint := strings.ReplaceAll(string(raw), "image: baton.local/postgres:15", "image: "+postgresImage)
	blueprint = strings.Replace(blueprint, "namespace: baton\n", "namespace: "+userNS+"\n", 1)
	file := t.TempDir() + "/blueprint.yaml"
	require.NoError(t, os.WriteFile(file, []byte(blueprint), 0o600))
	out, errOut, code := batonctl(t, "validate", "blueprint", file)
	require.Equal(t, 0, code, "validate: %s%s", out, errOut)
	e.kubectl(t, "apply", "-f", file)

	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: userNS},
		StringData: map[string]string{"id": s3.AccessKey, "secret": s3.SecretKey}}
	prof := &batonv1.Profile{
		ObjectMeta: metav1.ObjectMeta{Name: "store", Namespace: userNS},
		Location:   batonv1.Location{Type: batonv1.LocationTypeS3Compliant, Bucket: s3.Bucket, Endpoint: s3.Endpoint, Prefix: "cli"},
		Credential: batonv1.Credential{Type: batonv1.CredentialTypeKeyPair, KeyPair: &batonv1.KeyPair{
			IDField: "id", SecretField: "secret", Secret: batonv1.ObjectReference{Name: "s3", Namespace: userNS}}},
	}
	e.create(t, creds, prof)
	out, errOut, code = batonctl(t, "validate", "profile", "store", "-n", userNS)
	require.Equal(t, 0, code, "validate profile: %s%s", out, errOut)

	sts := "--statefulset=" + appNS + "/" + postgresStatefulSet
	out, errOut, code = batonctl(t, "create", "actionset", "-n", userNS, "--action", "backup", "--blueprint", "postgres-bp", sts, "--profile", "store", "--dry-run")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "kind: ActionSet")
	// --render: the Jobs the controller would create, secrets redacted (the
	// rendered command holds the database password and the S3 key).
	out, errOut, code = batonctl(t, "create", "actionset", "-n", userNS, "--action", "backup", "--blueprint", "postgres-bp", sts, "--profile", "store", "--render")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "kind: Job")
	assert.Contains(t, out, "<redacted>")
	assert.NotContains(t, out, s3.SecretKey)
	assert.NotContains(t, out, "change-me-example-only", "the database password of examples/postgres/app.yaml")
	list, _, _ := batonctl(t, "get", "actionsets", "-n", userNS)
	assert.NotContains(t, list, "backup", "neither a dry run nor a render creates anything")

	out, errOut, code = batonctl(t, "create", "actionset", "-n", userNS, "--action", "backup", "--blueprint", "postgres-bp", sts, "--profile", "store", "--wait", "--timeout", "4m")
	require.Equal(t, 0, code, "backup: %s%s", out, errOut)
	backup := strings.TrimSpace(out)
	require.NotEmpty(t, backup)
	assert.Contains(t, errOut, "pgDump", "progress names the phase")

	pg.sql(t, "DROP TABLE items;")
	// As docs/getting-started.md shows it: --from also brings the backup's
	// Blueprint, object and Profile.
	// With limits of its own (the Blueprint's phases set no timeout).
	out, errOut, code = batonctl(t, "create", "actionset", "-n", userNS, "--action", "restore", "--from", backup,
		"--phase-timeout", "10m", "--ttl", "24h", "--wait", "--timeout", "4m")
	require.Equal(t, 0, code, "restore: %s%s", out, errOut)
	restore := strings.TrimSpace(out)
	assert.Equal(t, want, pg.sql(t, checksumSQL), "restored through --from")
	jobs, err := e.client.BatchV1().Jobs(userNS).List(context.Background(),
		metav1.ListOptions{LabelSelector: dispatcher.LabelActionSet + "=" + restore})
	require.NoError(t, err)
	require.NotEmpty(t, jobs.Items)
	for _, j := range jobs.Items {
		assert.Equal(t, int64(600), ptr.Deref(j.Spec.ActiveDeadlineSeconds, 0), "--phase-timeout bounds job %s", j.Name)
		assert.Equal(t, dispatcher.TimeoutFromActionSet, j.Annotations[dispatcher.AnnotationTimeoutFrom], "job %s", j.Name)
	}

	out, _, code = batonctl(t, "get", "actionset", restore, "-n", userNS, "-o", "json")
	require.Equal(t, 0, code)
	var got batonv1.ActionSet
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, batonv1.StateComplete, got.Status.State)
	assert.Equal(t, ptr.To[int32](86400), got.Spec.TTLSecondsAfterFinished, "--ttl")
	artifacts := got.Spec.Actions[0].Artifacts
	assert.NotEmpty(t, artifacts["cloudObject"].KeyValue["backupLocation"], "--from gave the backup's artifacts")

	out, _, code = batonctl(t, "describe", "actionset", backup, "-n", userNS)
	require.Equal(t, 0, code)
	for _, s := range []string{"pgDump", "complete", "backupLocation", "PhaseCompleted"} {
		assert.Contains(t, out, s, "describe shows %s", s)
	}
	out, _, code = batonctl(t, "logs", backup, "-n", userNS)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "[backup/pgDump] pushed", "logs are prefixed with action/phase")
	// And the controller's metrics saw them (other tests add to the same
	// counters, so only a lower bound holds here; TestMetricsCountWhatRan
	// checks exact counts).
	metrics := e.scrapeMetrics(t)
	assert.GreaterOrEqual(t, metrics[`baton_phases_total{function="KubeTask",state="complete"}`], 2.0)
	assert.GreaterOrEqual(t, metrics[`baton_actionsets{state="complete"}`], 2.0)

	// A failing ActionSet: --wait exits non-zero and says why on stderr.
	_, errOut, code = batonctl(t, "create", "actionset", "-n", userNS, "--action", "restore", "--blueprint", "postgres-bp", sts, "--profile", "store",
		"--wait", "--timeout", "4m")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "cloudObject", "the missing input artifact is named")

	_, errOut, code = batonctl(t, "delete", "actionsets", "-n", userNS, "--older-than", "0s", "--state", "complete")
	require.Equal(t, 0, code, errOut)
	list, _, _ = batonctl(t, "get", "actionsets", "-n", userNS)
	assert.NotContains(t, list, backup)
	assert.NotContains(t, list, restore)
}

// batonctl cancel: the running phase's pod is deleted, the next phase never
// starts, the deferPhase runs, and the ActionSet ends cancelled with the
// reason, in its status and an Event.
func TestBatonctlCancelStopsAndRunsDeferPhase(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	bp := stoppableBlueprint("cancel", kubeTask("long", "echo started; sleep 300"))
	as := namespaceActionSet(uniqueName("cancel"), bp.Name, "backup")
	e.create(t, bp, as)
	jobs := func() map[string]string { return e.phaseJobs(t, as.Name) }
	// kubectl wait fails at once while no pod matches: poll for the pod.
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := e.client.CoreV1().Pods(batonNamespace).List(ctx, metav1.ListOptions{
			LabelSelector: "baton.dev/actionset=" + as.Name + ",baton.dev/phase=long"})
		return err == nil && len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning, err
	})
	require.NoError(t, err, "the long phase's pod runs")
	longJob := jobs()["long"]
	require.NotEmpty(t, longJob)

	out, errOut, code := batonctl(t, "cancel", as.Name, "--reason", "maintenance window", "--wait")
	require.Equal(t, 0, code, "cancel: %s%s", out, errOut)
	got := e.waitFinished(t, as.Name)
	require.Equal(t, batonv1.StateCancelled, got.Status.State)
	assert.Equal(t, "cancelled: maintenance window", got.Status.Error.Message)
	assert.Equal(t, batonv1.StateCancelled, got.Status.Actions[0].Phases[0].State)
	assert.Equal(t, batonv1.StatePending, got.Status.Actions[0].Phases[1].State, "the next phase never started")
	assert.Equal(t, batonv1.StateComplete, got.Status.Actions[0].DeferPhase.State, "the deferPhase ran")
	assert.NotContains(t, jobs(), "never")
	err = wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := e.client.CoreV1().Pods(batonNamespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + longJob})
		return err == nil && len(pods.Items) == 0, err
	})
	require.NoError(t, err, "the stopped phase's pod is gone")

	events := e.kubectl(t, "get", "events", "-n", batonNamespace, "--field-selector", "involvedObject.name="+as.Name, "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}")
	assert.Contains(t, strings.Fields(events), "Cancelled")
	_, errOut, code = batonctl(t, "cancel", as.Name)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "already ended (cancelled)")
}
