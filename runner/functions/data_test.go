package functions

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
	"github.com/batonhq/baton/runner/restic"
	"github.com/batonhq/baton/runner/tarstream"
)

const testProfile = `{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://s3:9000"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"id","Secret":"secret"}}}`

// fakeRepo is a repository in memory: one stored stream per snapshot.
type fakeRepo struct {
	mu        sync.Mutex
	prefix    string
	snapshots map[string][]byte
	tags      map[string]string
	forgotten []string
	probeErr  error
	backupErr error
}

func (r *fakeRepo) CheckStore(context.Context) error        { return nil }
func (r *fakeRepo) Ensure(context.Context, io.Writer) error { return nil }
func (r *fakeRepo) Probe(context.Context, io.Writer) error  { return r.probeErr }
func (r *fakeRepo) Location() string                        { return "b/" + r.prefix }

func (r *fakeRepo) Backup(_ context.Context, in io.Reader, _ string, tags []string, _ io.Writer) (restic.Summary, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return restic.Summary{}, err
	}
	if r.backupErr != nil {
		return restic.Summary{}, r.backupErr
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := fmt.Sprintf("snap%04d", len(r.snapshots))
	r.snapshots[id] = data
	r.tags[tags[0]] = id
	return restic.Summary{SnapshotID: id, BytesProcessed: uint64(len(data)), DataAdded: 10}, nil
}

func (r *fakeRepo) Find(_ context.Context, id, tag string, _ io.Writer) (restic.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == "" {
		id = r.tags[tag]
	}
	if _, ok := r.snapshots[id]; !ok {
		return restic.Snapshot{}, errors.New("no such snapshot")
	}
	return restic.Snapshot{ID: id, ShortID: id}, nil
}

func (r *fakeRepo) Dump(_ context.Context, s restic.Snapshot, w io.Writer, _ io.Writer) error {
	_, err := w.Write(r.snapshots[s.ID])
	return err
}

func (r *fakeRepo) Forget(_ context.Context, ids []string, _ bool, _ io.Writer) (uint64, error) {
	r.forgotten = append(r.forgotten, ids...)
	return 100, nil
}

func (r *fakeRepo) SnapshotStats(_ context.Context, id, _ string, _ io.Writer) (restic.Stats, error) {
	return restic.Stats{TotalSize: uint64(len(r.snapshots[id])), TotalFileCount: 1}, nil
}

// localExecutor runs the data commands on this machine: tar in an "app
// container" is a directory, tar extract in a data pod another.
type localExecutor struct {
	appDir, restoreDir string
	failTar            bool
	mu                 sync.Mutex
	commands           [][]string
}

func (l *localExecutor) Exec(ctx context.Context, ns, pod, c string, cmd []string, stdout, stderr io.Writer) error {
	return l.ExecStream(ctx, ns, pod, c, cmd, nil, stdout, stderr)
}

func (l *localExecutor) ExecStream(_ context.Context, ns, pod, container string, cmd []string, stdin io.Reader, stdout, _ io.Writer) error {
	l.mu.Lock()
	l.commands = append(l.commands, cmd)
	l.mu.Unlock()
	switch {
	case cmd[0] == "tar" && l.failTar:
		_, _ = stdout.Write([]byte("partial"))
		return &ExitError{Namespace: ns, Pod: pod, Container: container, Code: 2}
	case cmd[0] == "tar":
		return tarstream.Create(cmd[4], stdout, nil)
	case slices.Contains(cmd, "create"):
		return tarstream.Create(l.appDir, stdout, nil)
	case slices.Contains(cmd, "extract"):
		_, err := tarstream.Extract(stdin, filepath.Join(l.restoreDir, cmd[len(cmd)-1]), tarstream.Options{})
		return err
	case slices.Contains(cmd, "with-tools"):
		fmt.Fprintln(stdout, `###Phase-output###: {"key":"prepared","value":"yes"}`)
		return nil
	}
	return fmt.Errorf("unexpected command %q", cmd)
}

// testEnv is a dataEnv on a fake cluster whose pods run as soon as they
// are created.
func testEnv(t *testing.T, ex StreamExecutor, objects ...runtime.Object) (*dataEnv, *fake.Clientset, map[string]*fakeRepo) {
	t.Helper()
	client := fake.NewClientset(objects...)
	n := 0
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		n++
		p.Name = fmt.Sprintf("%s%d", p.GenerateName, n)
		p.Status.Phase = corev1.PodRunning
		return false, nil, nil
	})
	repos := map[string]*fakeRepo{}
	var mu sync.Mutex
	env := newDataEnv(client, ex)
	env.Pods.Getenv = func(name string) string {
		return map[string]string{dispatcher.RunnerImageEnv: "baton.local/runner:test", podNameEnv: "phase-pod", podNamespaceEnv: "ns"}[name]
	}
	env.OpenRepo = func(c restic.Config) (repository, error) {
		if c.Password == "" {
			return nil, errors.New("encryptionKey is required")
		}
		mu.Lock()
		defer mu.Unlock()
		if repos[c.ArtifactPrefix] == nil {
			repos[c.ArtifactPrefix] = &fakeRepo{prefix: c.ArtifactPrefix, snapshots: map[string][]byte{}, tags: map[string]string{}}
		}
		return repos[c.ArtifactPrefix], nil
	}
	return env, client, repos
}

func phaseWith(fn string, args map[string]any) phase.Spec {
	return phase.Spec{Function: fn, Args: args, Profile: []byte(testProfile)}
}

func appPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: corev1.PodSpec{
			Volumes:    []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-" + name}}}},
			Containers: []corev1.Container{{Name: "app", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/app"}}}},
		},
	}
}

func phasePod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "phase-pod", Namespace: "ns", UID: "uid-1",
		Labels: map[string]string{dispatcher.LabelActionSetUID: "as-uid", dispatcher.LabelPhase: "restore", "other": "x"}}}
}

func TestDataFunctionArguments(t *testing.T) {
	base := map[string]map[string]any{
		BackupDataName:      {"namespace": "ns", "pod": "p", "container": "c", "includePath": "/d", "backupArtifactPrefix": "x", "encryptionKey": "k"},
		RestoreDataName:     {"namespace": "ns", "backupArtifactPrefix": "x", "backupTag": "t", "pod": "p", "encryptionKey": "k"},
		DeleteDataName:      {"namespace": "ns", "backupArtifactPrefix": "x", "backupID": "i", "encryptionKey": "k"},
		BackupDataStatsName: {"namespace": "ns", "backupArtifactPrefix": "x", "backupID": "i", "encryptionKey": "k"},
		CheckRepositoryName: {"backupArtifactPrefix": "x", "encryptionKey": "k"},
		CopyVolumeDataName:  {"namespace": "ns", "volume": "v", "dataArtifactPrefix": "x", "encryptionKey": "k"},
		PrepareDataName:     {"namespace": "ns", "image": "busybox", "command": []any{"true"}},
	}
	with := func(fn string, set map[string]any, drop ...string) map[string]any {
		out := map[string]any{}
		for k, v := range base[fn] {
			if !slices.Contains(drop, k) {
				out[k] = v
			}
		}
		for k, v := range set {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		fn        string
		args      map[string]any
		noProfile bool
		err       string
	}{
		{BackupDataName, with(BackupDataName, nil, "encryptionKey"), false, `BackupData: argument "encryptionKey" is required (Baton has no default encryption key)`},
		{BackupDataName, with(BackupDataName, map[string]any{"encryptionKey": ""}), false, `BackupData: argument "encryptionKey" must not be empty`},
		{BackupDataName, with(BackupDataName, nil, "includePath"), false, `BackupData: argument "includePath" is required`},
		{BackupDataName, with(BackupDataName, map[string]any{"insecureTLS": "maybe"}), false, `BackupData: insecureTLS must be true or false, got "maybe"`},
		{BackupDataName, with(BackupDataName, map[string]any{"image": "x"}), false, `BackupData: unknown argument "image"`},
		{BackupDataName, base[BackupDataName], true, `BackupData: the action names no Profile; BackupData needs one for its object store`},
		{RestoreDataName, with(RestoreDataName, map[string]any{"backupIdentifier": "i"}), false, `RestoreData: exactly one of the arguments "backupIdentifier" and "backupTag" is required`},
		{RestoreDataName, with(RestoreDataName, map[string]any{"volumes": map[string]any{"pvc": "/d"}}), false, `RestoreData: exactly one of the arguments "pod" and "volumes" is required`},
		{RestoreDataName, with(RestoreDataName, map[string]any{"restorePath": "rel"}), false, `RestoreData: argument "restorePath" must be an absolute path`},
		{RestoreDataName, with(RestoreDataName, map[string]any{"podLabels": "x"}), false, `RestoreData: argument "podLabels" must be a map, got a string`},
		{DeleteDataName, with(DeleteDataName, map[string]any{"backupTag": "t"}), false, `DeleteData: exactly one of the arguments "backupID" and "backupTag" is required`},
		{DeleteDataName, with(DeleteDataName, map[string]any{"backupID": "a b c", "backupArtifactPrefix": "x y"}), false, `DeleteData: argument "backupArtifactPrefix" must name one prefix, or one per backup (3)`},
		{BackupDataStatsName, with(BackupDataStatsName, map[string]any{"mode": "all"}), false, `BackupDataStats: argument "mode" must be one of restore-size, files-by-contents, blobs-per-file, raw-data, got "all"`},
		{CheckRepositoryName, with(CheckRepositoryName, nil, "backupArtifactPrefix"), false, `CheckRepository: argument "backupArtifactPrefix" is required`},
		{CopyVolumeDataName, with(CopyVolumeDataName, nil, "volume"), false, `CopyVolumeData: argument "volume" is required`},
		{PrepareDataName, with(PrepareDataName, nil, "image"), false, `PrepareData: argument "image" is required`},
		{PrepareDataName, with(PrepareDataName, map[string]any{"volumes": []any{"x"}}), false, `PrepareData: argument "volumes" must be a map, got a list`},
		{LocationDeleteName, map[string]any{"artifact": "b"}, false, `LocationDelete: argument "artifact" names the whole bucket; refusing to delete it`},
		{RestoreDataAllName, map[string]any{"namespace": "ns", "backupArtifactPrefix": "x", "backupInfo": "nope", "encryptionKey": "k"}, false, `RestoreDataAll: argument "backupInfo" must be BackupDataAll's BackupAllInfo output (a JSON map of pods to backups)`},
	}
	for _, tt := range tests {
		t.Run(tt.fn+": "+tt.err, func(t *testing.T) {
			ex := &localExecutor{}
			env, client, _ := testEnv(t, ex)
			spec := phaseWith(tt.fn, tt.args)
			if tt.noProfile {
				spec.Profile = nil
			}
			_, err := dataFunctions(env)[tt.fn].Run(context.Background(), spec, io.Discard, io.Discard)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.err), "got %q", err)
			assert.Empty(t, ex.commands, "nothing runs when arguments are wrong")
			pods, _ := client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
			assert.Empty(t, pods.Items)
		})
	}
}

func writeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub/a.txt"), []byte("alpha"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.txt"), []byte("beta"), 0o600))
	return dir
}

func TestBackupDataThenRestoreData(t *testing.T) {
	app := writeTree(t)
	ex := &localExecutor{appDir: app, restoreDir: t.TempDir()}
	env, client, repos := testEnv(t, ex, appPod("db-0"), phasePod())
	ctx := context.Background()

	out, err := dataFunctions(env)[BackupDataName].Run(ctx, phaseWith(BackupDataName, map[string]any{
		"namespace": "ns", "pod": "db-0", "container": "app", "includePath": app, "backupArtifactPrefix": "apps/db", "encryptionKey": "k",
	}), io.Discard, io.Discard)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"backupID", "backupTag", "fileCount", "size", "phySize"}, keys(out))
	assert.Equal(t, "2", out["fileCount"])
	assert.Len(t, out["backupTag"], 10)
	assert.Equal(t, []string{"tar", "-cf", "-", "-C", app, "."}, ex.commands[0])

	// The stored stream is re-rooted under includePath.
	names := tarNames(t, repos["apps/db"].snapshots[out["backupID"].(string)])
	assert.Contains(t, names, strings.TrimPrefix(app, "/")+"/sub/a.txt")

	_, err = dataFunctions(env)[RestoreDataName].Run(ctx, phaseWith(RestoreDataName, map[string]any{
		"namespace": "ns", "image": "ghcr.io/kanisterio/kanister-tools:0.110.0", "backupArtifactPrefix": "apps/db",
		"backupTag": out["backupTag"], "pod": "db-0", "encryptionKey": "k",
	}), io.Discard, io.Discard)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(ex.restoreDir, app, "sub/a.txt"))
	require.NoError(t, err)
	assert.Equal(t, "alpha", string(b), "restorePath / puts files back at includePath")
	last := ex.commands[len(ex.commands)-1]
	assert.Equal(t, []string{dispatcher.RunnerPath, "tar", "extract", "/"}, last)

	// The data pod was built as promised and is gone.
	var created *corev1.Pod
	for _, a := range client.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok && a.GetResource().Resource == "pods" {
			created = c.GetObject().(*corev1.Pod)
		}
	}
	require.NotNil(t, created)
	assert.Equal(t, "baton.local/runner:test", created.Spec.Containers[0].Image)
	assert.Equal(t, []string{dispatcher.RunnerPath, "idle"}, created.Spec.Containers[0].Command)
	assert.Equal(t, int64(0), *created.Spec.SecurityContext.RunAsUser)
	assert.NotNil(t, created.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, "data-db-0", created.Spec.Volumes[0].PersistentVolumeClaim.ClaimName)
	assert.Equal(t, "/var/lib/app", created.Spec.Containers[0].VolumeMounts[0].MountPath)
	assert.Equal(t, map[string]string{dispatcher.LabelActionSetUID: "as-uid", dispatcher.LabelPhase: "restore",
		dispatcher.LabelManagedBy: "baton", dispatcher.LabelComponent: dispatcher.ComponentDataPod}, created.Labels)
	require.Len(t, created.OwnerReferences, 1)
	assert.Equal(t, "phase-pod", created.OwnerReferences[0].Name)
	_, err = client.CoreV1().Pods("ns").Get(ctx, created.Name, metav1.GetOptions{})
	assert.True(t, err != nil, "the data pod is deleted")
}

func TestBackupDataFailingTarMakesNoSnapshot(t *testing.T) {
	ex := &localExecutor{failTar: true}
	env, _, repos := testEnv(t, ex)
	_, err := dataFunctions(env)[BackupDataName].Run(context.Background(), phaseWith(BackupDataName, map[string]any{
		"namespace": "ns", "pod": "db-0", "container": "app", "includePath": "/d", "backupArtifactPrefix": "x", "encryptionKey": "k",
	}), io.Discard, io.Discard)
	require.ErrorContains(t, err, `BackupData: back up /d of pod ns/db-0: command in pod ns/db-0, container "app", exited with code 2`)
	assert.Empty(t, repos["x"].snapshots)
}

func TestDataPodDeletedWhenTheRestoreFails(t *testing.T) {
	ex := &localExecutor{restoreDir: t.TempDir()}
	env, client, repos := testEnv(t, ex, phasePod(), &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "pvc", Namespace: "ns"}})
	repo, _ := env.OpenRepo(restic.Config{ArtifactPrefix: "x", Password: "k"})
	repo.(*fakeRepo).snapshots["s1"] = []byte("not a tar stream")
	_, err := dataFunctions(env)[RestoreDataName].Run(context.Background(), phaseWith(RestoreDataName, map[string]any{
		"namespace": "ns", "backupArtifactPrefix": "x", "backupIdentifier": "s1", "volumes": map[string]any{"pvc": "/data"}, "encryptionKey": "k",
	}), io.Discard, io.Discard)
	require.ErrorContains(t, err, "read tar stream")
	pods, _ := client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	require.Len(t, pods.Items, 1)
	assert.Equal(t, "phase-pod", pods.Items[0].Name, "the data pod is deleted on failure too")
	assert.NotNil(t, repos["x"])
}

func TestPrepareDataRunsTheCommandInTheUsersImage(t *testing.T) {
	ex := &localExecutor{}
	env, client, _ := testEnv(t, ex, phasePod(), &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "pvc", Namespace: "ns"}})
	out, err := dataFunctions(env)[PrepareDataName].Run(context.Background(), phaseWith(PrepareDataName, map[string]any{
		"namespace": "ns", "image": "busybox", "volumes": map[string]any{"pvc": "/data"}, "command": []any{"sh", "-c", "secret-stuff"},
		"podOverride": map[string]any{"nodeSelector": map[string]any{"disk": "ssd"}},
	}), io.Discard, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, outputs.Outputs{"prepared": "yes"}, out)
	assert.Equal(t, []string{dispatcher.ToolsDir + "/baton-runner", "with-tools", "--", "sh", "-c", "secret-stuff"}, ex.commands[0])
	var created *corev1.Pod
	for _, a := range client.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok {
			created = c.GetObject().(*corev1.Pod)
		}
	}
	require.NotNil(t, created)
	assert.Equal(t, "busybox", created.Spec.Containers[0].Image)
	assert.Equal(t, "baton.local/runner:test", created.Spec.InitContainers[0].Image)
	assert.Equal(t, map[string]string{"disk": "ssd"}, created.Spec.NodeSelector)
	assert.NotContains(t, fmt.Sprint(created.Spec), "secret-stuff", "the command is never in the pod spec")
}

func TestCheckRepositoryOutputs(t *testing.T) {
	for _, tt := range []struct {
		probe          error
		wrong, missing string
	}{{nil, "false", "false"}, {restic.ErrWrongPassword, "true", "false"}, {restic.ErrNoRepository, "false", "true"}} {
		env, _, _ := testEnv(t, &localExecutor{})
		repo, _ := env.OpenRepo(restic.Config{ArtifactPrefix: "x", Password: "k"})
		repo.(*fakeRepo).probeErr = tt.probe
		out, err := dataFunctions(env)[CheckRepositoryName].Run(context.Background(), phaseWith(CheckRepositoryName, map[string]any{"backupArtifactPrefix": "x", "encryptionKey": "k"}), io.Discard, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, outputs.Outputs{"passwordIncorrect": tt.wrong, "repoUnavailable": tt.missing}, out)
	}
}

func TestDataPodNeedsTheRunnerImage(t *testing.T) {
	env, _, _ := testEnv(t, &localExecutor{})
	env.Pods.Getenv = func(string) string { return "" }
	err := env.Pods.run(context.Background(), dataPodSpec{Function: "X", Namespace: "ns"}, func(*dataPod) error { return nil })
	require.EqualError(t, err, "BATON_RUNNER_IMAGE is not set: the runner needs its own image to start data pods")
}

func keys(o outputs.Outputs) []string {
	var out []string
	for k := range o {
		out = append(out, k)
	}
	return out
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		require.NoError(t, err)
		names = append(names, h.Name)
	}
}

// deadStoreRepo's backups fail without reading their input, as restic does
// when the store is gone before the data arrives.
type deadStoreRepo struct{ *fakeRepo }

func (deadStoreRepo) Backup(context.Context, io.Reader, string, []string, io.Writer) (restic.Summary, error) {
	return restic.Summary{}, errors.New("the object store stopped answering")
}

// When restic fails first (the store is gone), the producer is cancelled
// for it: the phase reports restic's error, not the cancellation.
func TestBackupStreamReportsResticsFailureOverTheCancelledProducer(t *testing.T) {
	repo := deadStoreRepo{&fakeRepo{snapshots: map[string][]byte{}}}
	produce := func(ctx context.Context, w io.Writer) error {
		<-ctx.Done()
		return fmt.Errorf("exec: %w", ctx.Err())
	}
	_, _, err := backupStream(context.Background(), repo, "tag", "/data", produce, io.Discard)
	assert.ErrorContains(t, err, "the object store stopped answering")

	// A producer failing on its own is still the cause.
	failing := func(context.Context, io.Writer) error { return errors.New("tar exited with code 2") }
	_, _, err = backupStream(context.Background(), &fakeRepo{snapshots: map[string][]byte{}}, "tag", "/data", failing, io.Discard)
	assert.ErrorContains(t, err, "tar exited with code 2")
}
