package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

func TestEveryCommandHasHelpWithExample(t *testing.T) {
	root := NewRootCommand(IOStreams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, "batonctl")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() != "help" && c.Name() != "completion" && !c.Hidden {
			assert.NotEmpty(t, c.Example, "%s has no Example", c.CommandPath())
			assert.NotEmpty(t, c.Short, "%s has no Short", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	out, _, err := runCLI(t, "", "create", "actionset", "--help")
	require.NoError(t, err)
	assert.Contains(t, out, "Examples:")
	assert.Contains(t, out, "--from")
}

func TestDisplayName(t *testing.T) {
	assert.Equal(t, "kubectl baton", DisplayName("/usr/local/bin/kubectl-baton"))
	assert.Equal(t, "kubectl baton", DisplayName(`C:\bin\kubectl-baton.exe`))
	assert.Equal(t, "batonctl", DisplayName("./batonctl"))

	var out bytes.Buffer
	root := NewRootCommand(IOStreams{Out: &out, Err: &out}, "kubectl baton")
	root.SetArgs([]string{"get", "--help"})
	require.NoError(t, root.Execute())
	assert.Contains(t, out.String(), "kubectl baton get")
}

func TestRequestCancel(t *testing.T) {
	running := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: "backup-abc", Namespace: "baton"},
		Status: batonv1.ActionSetStatus{State: batonv1.StateRunning}}
	done := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: "backup-old", Namespace: "baton"},
		Status: batonv1.ActionSetStatus{State: batonv1.StateComplete}}
	c := fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(running, done).Build()
	ctx := context.Background()

	require.NoError(t, requestCancel(ctx, c, client.ObjectKeyFromObject(running), "maintenance"))
	var got batonv1.ActionSet
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(running), &got))
	assert.Equal(t, &batonv1.CancelRequest{Reason: "maintenance"}, got.Spec.Cancel)

	assert.ErrorContains(t, requestCancel(ctx, c, client.ObjectKeyFromObject(done), "x"), "already ended (complete): nothing to cancel")
	assert.ErrorContains(t, requestCancel(ctx, c, client.ObjectKey{Namespace: "baton", Name: "nope"}, "x"), "actionset baton/nope")
}

func TestUnknownCommandIsOneLine(t *testing.T) {
	_, _, err := runCLI(t, "", "frobnicate")
	require.Error(t, err)
	assert.NotContains(t, OneLine(err.Error()), "\n")
}

func withCreated(as *batonv1.ActionSet, t time.Time) *batonv1.ActionSet {
	as.CreationTimestamp = metav1.NewTime(t)
	return as
}

func TestActionSetTable(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	a := withCreated(run(C, C, C, C), now.Add(-13*time.Second))
	a.Status.Progress = &batonv1.ActionProgress{PercentCompleted: "100"}
	b := withCreated(run("", "", "", ""), now.Add(-3*time.Hour))
	b.Name, b.Namespace = "restore-x", "other"
	var out bytes.Buffer
	require.NoError(t, printActionSetTable(&out, []batonv1.ActionSet{*a, *b}, false, now))
	assert.Equal(t, `NAME         STATE      PROGRESS   AGE
backup-abc   complete   100%       13s
restore-x    <none>     -          3h
`, out.String())
	out.Reset()
	require.NoError(t, printActionSetTable(&out, []batonv1.ActionSet{*b}, true, now))
	assert.Equal(t, "NAMESPACE   NAME        STATE    PROGRESS   AGE\nother       restore-x   <none>   -          3h\n", out.String())
}

func TestDescribeActionSet(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	as := withCreated(run(F, C, F, C), now.Add(-time.Minute))
	as.UID = "uid-1"
	as.Status.Error = &batonv1.ActionSetError{Message: "upload: exit 1"}
	as.Status.Progress = &batonv1.ActionProgress{PercentCompleted: "50"}
	as.Status.Actions[0].Blueprint = "bp"
	as.Status.Actions[0].Object = batonv1.ObjectReference{Kind: "Deployment", Namespace: "app", Name: "web"}
	as.Status.Actions[0].Phases[0].Output = batonv1.JSONMap{"path": "a/b", "long": strings.Repeat("x", 300), "multi": "one\ntwo"}
	as.Status.Actions[0].Artifacts = map[string]batonv1.Artifact{"snap": {KeyValue: map[string]string{"id": "42"}}}

	started := metav1.NewTime(now.Add(-50 * time.Second))
	done := metav1.NewTime(now.Add(-46 * time.Second))
	dumpJob := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: phaseJobName(as, phaseRuns(as)[0])},
		Status: batchv1.JobStatus{StartTime: &started, CompletionTime: &done}}
	uploadJob := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: phaseJobName(as, phaseRuns(as)[1])},
		Status: batchv1.JobStatus{StartTime: &done, Conditions: []batchv1.JobCondition{{
			Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-40 * time.Second))}}}}
	events := []corev1.Event{
		{Type: "Warning", Reason: "Failed", Message: "upload:\nexit 1", LastTimestamp: metav1.NewTime(now.Add(-39 * time.Second))},
		{Type: "Normal", Reason: "Started", Message: "running 1 action(s)", LastTimestamp: metav1.NewTime(now.Add(-59 * time.Second))},
	}
	var out bytes.Buffer
	describeActionSet(&out, as, []batchv1.Job{dumpJob, uploadJob}, events, now)
	got := out.String()
	for _, want := range []string{
		"Name:        backup-abc\n",
		"State:       failed\n",
		"Progress:    50%\n",
		"Error:       upload: exit 1\n",
		"  backup (blueprint bp, Deployment app/web)\n",
		"    dump             complete  4s        " + dumpJob.Name,
		"    upload           failed    6s        " + uploadJob.Name,
		"    cleanup (defer)  complete  -         -",
		"        path: a/b\n",
		"        multi: one …\n",
		"        long: " + strings.Repeat("x", 200) + " …\n",
		"    Artifacts:\n      snap:\n        id: 42\n",
		"  Normal   Started  59s  running 1 action(s)\n  Warning  Failed   39s  upload: exit 1\n",
	} {
		assert.Contains(t, got, want)
	}
}

func TestDeleteSelection(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	old := func(name string, state batonv1.State, age time.Duration) batonv1.ActionSet {
		as := withCreated(run(state, "", "", ""), now.Add(-age))
		as.Name = name
		return *as
	}
	items := []batonv1.ActionSet{
		old("done-old", C, 8*24*time.Hour), old("failed-old", F, 8*24*time.Hour), old("running-old", R, 8*24*time.Hour),
		old("pending-old", "", 8*24*time.Hour), old("done-new", C, time.Hour),
	}
	names := func(l []batonv1.ActionSet) []string {
		var n []string
		for _, as := range l {
			n = append(n, as.Name)
		}
		return n
	}
	tests := []struct {
		flags   deleteFlags
		want    []string
		wantErr string
	}{
		{flags: deleteFlags{olderThan: "7d"}, want: []string{"done-old", "failed-old"}},
		{flags: deleteFlags{olderThan: "7d", state: "failed"}, want: []string{"failed-old"}},
		{flags: deleteFlags{olderThan: "30m", state: "complete"}, want: []string{"done-old", "done-new"}},
		{flags: deleteFlags{olderThan: "9d"}, want: nil},
		{flags: deleteFlags{}, wantErr: "--older-than is required"},
		{flags: deleteFlags{olderThan: "0s", state: "complete"}, want: []string{"done-old", "done-new"}},
		{flags: deleteFlags{olderThan: "7days"}, wantErr: `--older-than "7days": want a duration`},
		{flags: deleteFlags{olderThan: "-1h"}, wantErr: `--older-than "-1h": want a duration`},
		{flags: deleteFlags{olderThan: "1h", state: "running"}, wantErr: `--state "running": want complete or failed`},
	}
	for _, tt := range tests {
		older, states, err := parseDeleteFlags(tt.flags)
		if tt.wantErr != "" {
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tt.want, names(selectForDeletion(items, older, states, now)), "%+v", tt.flags)
	}
}

func TestLogsHelpers(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, copyPrefixed(&out, strings.NewReader("one\ntwo\n\nlast"), "[backup/dump] "))
	assert.Equal(t, "[backup/dump] one\n[backup/dump] two\n[backup/dump] \n[backup/dump] last\n", out.String())

	as := run(R, C, R, P)
	runs, err := selectRuns(as, "", "")
	require.NoError(t, err)
	assert.Len(t, runs, 3)
	runs, err = selectRuns(as, "backup", "upload")
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, "backup/upload", runs[0].label)
	assert.Equal(t, 1, runs[0].index)
	runs, err = selectRuns(as, "", "cleanup")
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.True(t, runs[0].deferred)
	_, err = selectRuns(as, "restore", "")
	require.EqualError(t, err, `actionset backup-abc has no action "restore"`)
	_, err = selectRuns(as, "backup", "nope")
	require.EqualError(t, err, `actionset backup-abc has no phase "nope"`)
}
