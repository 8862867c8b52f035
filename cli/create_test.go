package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

func deployment(ns, name string) batonv1.ObjectReference {
	return batonv1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name}
}

// runCLI runs batonctl with args and no cluster.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCommand(IOStreams{In: strings.NewReader(stdin), Out: &out, Err: &errOut}, "batonctl")
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// createDryRun runs `create actionset --dry-run` with args. With wantErr
// it checks the command failed saying so (ok false); otherwise it decodes
// the ActionSet printed, also returning the output.
func createDryRun(t *testing.T, wantErr string, args ...string) (as batonv1.ActionSet, out string, ok bool) {
	t.Helper()
	out, _, err := runCLI(t, "", append([]string{"create", "actionset", "--dry-run"}, args...)...)
	if wantErr != "" {
		require.Error(t, err)
		assert.Contains(t, err.Error(), wantErr)
		return as, out, false
	}
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict([]byte(out), &as), out)
	return as, out, true
}

// TestCreateActionSetFlags parses the flags of `create actionset
// --dry-run` and checks the ActionSet printed.
func TestCreateActionSetFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []batonv1.ActionSpec
		wantGen string
		wantNS  string
		wantErr string
	}{{
		name:    "deployment",
		args:    []string{"--action", "backup", "--blueprint", "bp", "--deployment", "app/web"},
		want:    []batonv1.ActionSpec{{Name: "backup", Blueprint: "bp", Object: deployment("app", "web")}},
		wantGen: "backup-", wantNS: "baton",
	}, {
		name: "everything",
		args: []string{"-n", "backups", "--name", "nightly", "--action", "backup", "--blueprint", "bp",
			"--statefulset", "db/pg", "--profile", "s3", "--options", "a=1", "--options", "b=x=y",
			"--secrets", "key=db/pg-key", "--secrets", "other=local", "--config-maps", "cfg=db/settings"},
		want: []batonv1.ActionSpec{{
			Name: "backup", Blueprint: "bp",
			Object:  batonv1.ObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "db", Name: "pg"},
			Profile: &batonv1.ObjectReference{Name: "s3", Namespace: "backups"},
			Options: map[string]string{"a": "1", "b": "x=y"},
			Secrets: map[string]batonv1.ObjectReference{
				"key": {Namespace: "db", Name: "pg-key"}, "other": {Namespace: "backups", Name: "local"}},
			ConfigMaps: map[string]batonv1.ObjectReference{"cfg": {Namespace: "db", Name: "settings"}},
		}},
		wantNS: "backups",
	}, {
		name: "actions repeated and comma-separated",
		args: []string{"--action", "backup,check", "--action", "report", "--blueprint", "bp", "--pvc", "db/data", "--profile", "other/s3"},
		want: []batonv1.ActionSpec{
			{Name: "backup", Blueprint: "bp", Object: batonv1.ObjectReference{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespace: "db", Name: "data"}, Profile: &batonv1.ObjectReference{Namespace: "other", Name: "s3"}},
			{Name: "check", Blueprint: "bp", Object: batonv1.ObjectReference{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespace: "db", Name: "data"}, Profile: &batonv1.ObjectReference{Namespace: "other", Name: "s3"}},
			{Name: "report", Blueprint: "bp", Object: batonv1.ObjectReference{APIVersion: "v1", Kind: "PersistentVolumeClaim", Namespace: "db", Name: "data"}, Profile: &batonv1.ObjectReference{Namespace: "other", Name: "s3"}},
		},
		wantGen: "backup-check-report-", wantNS: "baton",
	}, {
		name:    "namespace target",
		args:    []string{"--action", "delete", "--blueprint", "bp", "--namespace-target", "db"},
		want:    []batonv1.ActionSpec{{Name: "delete", Blueprint: "bp", Object: batonv1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: "db"}}},
		wantGen: "delete-", wantNS: "baton",
	}, {
		name: "objects, one action each",
		args: []string{"--action", "backup", "--blueprint", "bp", "--objects", "deployment/a/web", "--objects", "StatefulSet/b/db",
			"--objects", "namespace/c", "--objects", "Cluster.postgresql.cnpg.io/d/pg"},
		want: []batonv1.ActionSpec{
			{Name: "backup", Blueprint: "bp", Object: deployment("a", "web")},
			{Name: "backup", Blueprint: "bp", Object: batonv1.ObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "b", Name: "db"}},
			{Name: "backup", Blueprint: "bp", Object: batonv1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: "c"}},
			{Name: "backup", Blueprint: "bp", Object: batonv1.ObjectReference{Kind: "Cluster", Group: "postgresql.cnpg.io", Namespace: "d", Name: "pg"}},
		},
		wantGen: "backup-", wantNS: "baton",
	}, {
		name:    "no action",
		args:    []string{"--blueprint", "bp", "--deployment", "a/b"},
		wantErr: "--action is required",
	}, {
		name:    "no blueprint",
		args:    []string{"--action", "backup", "--deployment", "a/b"},
		wantErr: "--blueprint is required",
	}, {
		name:    "no object",
		args:    []string{"--action", "backup", "--blueprint", "bp"},
		wantErr: "an object is required",
	}, {
		name:    "two object flags",
		args:    []string{"--action", "backup", "--blueprint", "bp", "--deployment", "a/b", "--pvc", "a/c"},
		wantErr: "give only one of --deployment, --statefulset, --pvc, --namespace-target and --objects (got --deployment, --pvc)",
	}, {
		name:    "deployment without namespace",
		args:    []string{"--action", "backup", "--blueprint", "bp", "--deployment", "web"},
		wantErr: `--deployment "web": want NAMESPACE/NAME`,
	}, {
		name:    "bad objects",
		args:    []string{"--action", "backup", "--blueprint", "bp", "--objects", "deployment/web"},
		wantErr: `--objects "deployment/web": want KIND/NAMESPACE/NAME`,
	}, {
		name:    "bad option",
		args:    []string{"--action", "backup", "--blueprint", "bp", "--deployment", "a/b", "--options", "novalue"},
		wantErr: `--options "novalue": want KEY=VALUE`,
	}, {
		name:    "duplicate option",
		args:    []string{"--action", "backup", "--blueprint", "bp", "--deployment", "a/b", "--options", "a=1", "--options", "a=2"},
		wantErr: `--options: key "a" given twice`,
	}, {
		name:    "bad secret",
		args:    []string{"--action", "backup", "--blueprint", "bp", "--deployment", "a/b", "--secrets", "k=a/b/c"},
		wantErr: `--secrets k "a/b/c": want [NAMESPACE/]NAME`,
	}, {
		name:    "bad profile",
		args:    []string{"--action", "backup", "--blueprint", "bp", "--deployment", "a/b", "--profile", "/x"},
		wantErr: `--profile "/x": want [NAMESPACE/]NAME`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as, out, ok := createDryRun(t, tt.wantErr, tt.args...)
			if !ok {
				return
			}
			assert.Equal(t, "baton.dev/v1alpha1", as.APIVersion)
			assert.Equal(t, "ActionSet", as.Kind)
			assert.Equal(t, tt.wantNS, as.Namespace)
			assert.Equal(t, tt.wantGen, as.GenerateName)
			assert.Equal(t, tt.want, as.Spec.Actions)
			assert.NotContains(t, out, "status", "a new ActionSet has no status")
		})
	}
}

// The ActionSet's own limits: set from their flags, unset without them,
// refused with the flag's name when they cannot be.
func TestCreateActionSetLimits(t *testing.T) {
	base := []string{"--action", "backup", "--blueprint", "bp", "--deployment", "app/web"}
	tests := []struct {
		name        string
		args        []string
		wantTimeout *metav1.Duration
		wantPhase   *metav1.Duration
		wantTTL     *int32
		wantErr     string
	}{
		{name: "none"},
		{name: "all three", args: []string{"--actionset-timeout", "2h", "--phase-timeout", "30m", "--ttl", "24h"},
			wantTimeout: &metav1.Duration{Duration: 2 * time.Hour}, wantPhase: &metav1.Duration{Duration: 30 * time.Minute}, wantTTL: ptr.To[int32](86400)},
		{name: "negative", args: []string{"--phase-timeout", "-1m"}, wantErr: "--phase-timeout -1m0s: must be positive"},
		{name: "a ttl of part of a second", args: []string{"--ttl", "1500ms"}, wantErr: "--ttl 1.5s: must be whole seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as, _, ok := createDryRun(t, tt.wantErr, append(base, tt.args...)...)
			if !ok {
				return
			}
			assert.Equal(t, tt.wantTimeout, as.Spec.Timeout)
			assert.Equal(t, tt.wantPhase, as.Spec.PhaseTimeout)
			assert.Equal(t, tt.wantTTL, as.Spec.TTLSecondsAfterFinished)
		})
	}
}

func completeBackup() *batonv1.ActionSet {
	return &batonv1.ActionSet{
		ObjectMeta: metav1.ObjectMeta{Name: "backup-abc", Namespace: "baton"},
		Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{
			Name: "backup", Blueprint: "pg-bp", Object: batonv1.ObjectReference{Kind: "StatefulSet", Namespace: "db", Name: "pg"},
			Profile:    &batonv1.ObjectReference{Namespace: "baton", Name: "s3"},
			Secrets:    map[string]batonv1.ObjectReference{"backupKey": {Namespace: "baton", Name: "key"}},
			Options:    map[string]string{"retention": "7d"},
			ConfigMaps: map[string]batonv1.ObjectReference{"cfg": {Namespace: "db", Name: "c"}},
		}}},
		Status: batonv1.ActionSetStatus{State: batonv1.StateComplete, Actions: []batonv1.ActionStatus{{
			Name: "backup",
			Artifacts: map[string]batonv1.Artifact{
				"cloudObject": {KeyValue: map[string]string{"backupLocation": "dumps/pg.sql.gz"}},
				"snap":        {KopiaSnapshot: `{"id":"k1"}`},
			},
		}}},
	}
}

func TestBuildActionSetFrom(t *testing.T) {
	from := completeBackup()
	as, err := buildActionSet(createFlags{actions: []string{"restore"}, from: "backup-abc"}, "baton", from)
	require.NoError(t, err)
	assert.Equal(t, "restore-backup-abc-", as.GenerateName)
	require.Len(t, as.Spec.Actions, 1)
	got := as.Spec.Actions[0]
	assert.Equal(t, "restore", got.Name)
	assert.Equal(t, "pg-bp", got.Blueprint, "the source's blueprint by default")
	assert.Equal(t, from.Spec.Actions[0].Object, got.Object, "the source's object by default")
	assert.Equal(t, from.Spec.Actions[0].Profile, got.Profile)
	assert.Equal(t, from.Spec.Actions[0].Secrets, got.Secrets)
	assert.Equal(t, from.Spec.Actions[0].Options, got.Options)
	assert.Equal(t, from.Status.Actions[0].Artifacts, got.Artifacts, "output artifacts become input artifacts")
	// A copy: the new ActionSet shares nothing with the source.
	got.Artifacts["cloudObject"].KeyValue["backupLocation"] = "changed"
	assert.Equal(t, "dumps/pg.sql.gz", from.Status.Actions[0].Artifacts["cloudObject"].KeyValue["backupLocation"])

	// Flags override the source's values; options and secrets merge.
	as, err = buildActionSet(createFlags{actions: []string{"restore"}, from: "backup-abc", blueprint: "other-bp",
		statefulset: "db2/pg2", profile: "s3b", options: []string{"target=x"}, secrets: []string{"backupKey=baton/key2"}}, "baton", from)
	require.NoError(t, err)
	got = as.Spec.Actions[0]
	assert.Equal(t, "other-bp", got.Blueprint)
	assert.Equal(t, batonv1.ObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "db2", Name: "pg2"}, got.Object)
	assert.Equal(t, &batonv1.ObjectReference{Namespace: "baton", Name: "s3b"}, got.Profile)
	assert.Equal(t, map[string]string{"retention": "7d", "target": "x"}, got.Options)
	assert.Equal(t, map[string]batonv1.ObjectReference{"backupKey": {Namespace: "baton", Name: "key2"}}, got.Secrets)
	assert.Equal(t, from.Status.Actions[0].Artifacts, got.Artifacts)
}

func TestArtifactsFrom(t *testing.T) {
	twoActions := completeBackup()
	twoActions.Spec.Actions = append(twoActions.Spec.Actions, batonv1.ActionSpec{Name: "backup", Blueprint: "pg-bp"})
	twoActions.Status.Actions = append(twoActions.Status.Actions, batonv1.ActionStatus{Name: "backup"})

	failed := completeBackup()
	failed.Status.State = batonv1.StateFailed
	failed.Status.Error = &batonv1.ActionSetError{Message: "phase dump:\nexit 1"}
	running := completeBackup()
	running.Status.State = batonv1.StateRunning
	fresh := completeBackup()
	fresh.Status = batonv1.ActionSetStatus{}
	empty := completeBackup()
	empty.Status.Actions[0].Artifacts = nil

	tests := []struct {
		name    string
		from    *batonv1.ActionSet
		want    []map[string]batonv1.Artifact
		wantErr string
	}{
		{name: "complete", from: completeBackup(), want: []map[string]batonv1.Artifact{completeBackup().Status.Actions[0].Artifacts}},
		{name: "an action without artifacts", from: twoActions, want: []map[string]batonv1.Artifact{completeBackup().Status.Actions[0].Artifacts, nil}},
		{name: "failed", from: failed, wantErr: "--from: actionset backup-abc is failed, not complete: only a complete ActionSet's output artifacts can be used (its error: phase dump: exit 1)"},
		{name: "running", from: running, wantErr: "actionset backup-abc is running, not complete"},
		{name: "not started", from: fresh, wantErr: "actionset backup-abc is not started, not complete"},
		{name: "no artifacts", from: empty, wantErr: "--from: actionset backup-abc produced no output artifacts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := artifactsFrom(tt.from)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "\n")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	// Every action of the source gives one action per --action name.
	as, err := buildActionSet(createFlags{actions: []string{"restore", "verify"}, from: "backup-abc"}, "baton", twoActions)
	require.NoError(t, err)
	var names []string
	for _, a := range as.Spec.Actions {
		names = append(names, a.Name)
	}
	assert.Equal(t, []string{"restore", "restore", "verify", "verify"}, names)
	assert.NotEmpty(t, as.Spec.Actions[0].Artifacts)
	assert.Empty(t, as.Spec.Actions[1].Artifacts)
}

func TestGenerateName(t *testing.T) {
	assert.Equal(t, "backup-", generateName([]string{"backup"}, ""))
	assert.Equal(t, "restore-backup-x7k2p-", generateName([]string{"restore"}, "backup-x7k2p"))
	assert.Equal(t, "pre-backup-", generateName([]string{"Pre_Backup"}, ""))
	long := generateName([]string{strings.Repeat("a", 80)}, "")
	assert.LessOrEqual(t, len(long), 53)
}
