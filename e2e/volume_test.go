//go:build e2e

package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/internal/testenv"
)

// volumeBlueprint applies examples/postgres/volume-blueprint.yaml under the
// test's own name.
func (e *engine) volumeBlueprint(t *testing.T, name string) {
	t.Helper()
	raw, err := os.ReadFile("../examples/postgres/volume-blueprint.yaml")
	require.NoError(t, err)
	doc := strings.Replace(string(raw), "name: postgres-volume-bp", "name: "+name, 1)
	doc = strings.ReplaceAll(doc, "image: baton.local/runner:dev", "image: "+runnerImage)
	e.kubectlStdin(t, doc, "apply", "--server-side", "--field-manager=e2e", "-f", "-")
	t.Cleanup(func() {
		_ = e.c.Delete(context.Background(), &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: batonNamespace}})
	})
}

// encryptionKeySecret stores a backup encryption key for ActionSets to name.
func (e *engine) encryptionKeySecret(t testing.TB, key string) batonv1.ObjectReference {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("backup-key")}, StringData: map[string]string{"key": key}}
	e.create(t, s)
	return batonv1.ObjectReference{Name: s.Name, Namespace: batonNamespace}
}

// runActionWith is runAction with the ActionSet's secrets.
func (e *engine) runActionWith(t *testing.T, blueprint, action, profile string, object batonv1.ObjectReference,
	artifacts map[string]batonv1.Artifact, secrets map[string]batonv1.ObjectReference) batonv1.ActionSet {
	t.Helper()
	name := uniqueName(action)
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{
		Name: action, Blueprint: blueprint, Object: object, Artifacts: artifacts, Secrets: secrets,
		Profile: &batonv1.ObjectReference{Name: profile, Namespace: batonNamespace},
	}}}}
	e.create(t, as)
	return e.waitFinished(t, name)
}

// wipeVolume scales the database to zero and deletes everything on its
// volume, with a Job of our own: the data is really gone before a restore.
func (pg *postgres) wipeVolume(t *testing.T) {
	t.Helper()
	pg.e.kubectl(t, "scale", "-n", pg.ns, "statefulset/"+postgresStatefulSet, "--replicas=0")
	pg.e.kubectl(t, "wait", "-n", pg.ns, "--for=delete", "pod/"+postgresPod, "--timeout=120s")
	job := newJob(pg.ns, "wipe-"+rand.String(4), e2eToolsImage, "sh", "-c", "rm -rf /data/* && ls -A /data | wc -l").
		volume("data-"+postgresPod, "/data").obj()
	require.Equal(t, "Complete", string(pg.e.run(t, job)))
	assert.Equal(t, "0", strings.TrimSpace(pg.e.logs(t, pg.ns, job.Name)), "the volume is empty")
}

// snapshotsUnder counts the restic snapshots of the repository at prefix
// (under the bucket), straight from the bucket.
func snapshotsUnder(t *testing.T, s3 *testenv.S3, prefix string) int {
	t.Helper()
	return objectsUnder(t, s3, prefix+"/snapshots/")
}

// objectsUnder counts the objects whose key starts with prefix.
func objectsUnder(t *testing.T, s3 *testenv.S3, prefix string) int {
	t.Helper()
	n := 0
	for obj := range s3.Client(t).ListObjects(context.Background(), s3.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		require.NoError(t, obj.Err)
		n++
	}
	return n
}

// The volume of a running PostgreSQL is backed up with BackupData (a tar
// stream exec'd out of the database container into restic in the phase
// pod), the data is wiped, RestoreData writes it back through a data pod
// mounting the claim while the database is scaled down, and DeleteData
// forgets the snapshot.
func TestPostgresVolumeBackupRestoreDelete(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	s3 := e.s3ForPods(t)
	pg := e.deployPostgres(t, ns)
	want := pg.seed(t)
	pg.sql(t, "CHECKPOINT;")

	bp, profile := uniqueName("pg-volume"), uniqueName("store")
	e.volumeBlueprint(t, bp)
	e.profileFor(t, s3, profile, "", "")
	encryptionKey := "key-" + rand.String(28)
	secrets := map[string]batonv1.ObjectReference{"backupKey": e.encryptionKeySecret(t, encryptionKey)}
	sts := batonv1.ObjectReference{Kind: "StatefulSet", Name: postgresStatefulSet, Namespace: ns}

	backup := e.runActionWith(t, bp, "backup", profile, sts, nil, secrets)
	requireComplete(t, backup)
	art := backup.Status.Actions[0].Artifacts["pgVolume"].KeyValue
	require.NotEmpty(t, art["backupID"])
	assert.Equal(t, "data-"+postgresPod, art["pvc"], "the claim, from .StatefulSet.PersistentVolumeClaims")
	repo := strings.TrimPrefix(art["backupArtifactPrefix"], s3.Bucket+"/")
	assert.Equal(t, 1, snapshotsUnder(t, s3, repo))
	assert.Positive(t, objectsUnder(t, s3, repo+"/data/"), "the volume's data is in the bucket")
	out := backup.Status.Actions[0].Phases[0].Output
	t.Logf("BackupData outputs: %v", out)

	pg.wipeVolume(t)
	restore := e.runActionWith(t, bp, "restore", profile, sts, backup.Status.Actions[0].Artifacts, secrets)
	requireComplete(t, restore)
	pg.waitReady(t)
	assert.Equal(t, want, pg.sql(t, checksumSQL), "every row is back from the restored files")

	del := e.runActionWith(t, bp, "delete", profile, batonv1.ObjectReference{Kind: "Namespace", Name: ns},
		backup.Status.Actions[0].Artifacts, secrets)
	requireComplete(t, del)
	assert.Equal(t, 0, snapshotsUnder(t, s3, repo), "the snapshot is forgotten")
	assert.Zero(t, objectsUnder(t, s3, repo+"/data/"), "and its data pruned from the bucket")

	e.assertNothingLeaks(t, []string{s3.SecretKey, encryptionKey}, backup.Name, restore.Name, del.Name)
}

// assertNothingLeaks checks that no secret appears in any Job, Pod or Event
// of the cluster, in the ActionSets, or in the logs of their phases.
func (e *engine) assertNothingLeaks(t *testing.T, secrets []string, actionSets ...string) {
	t.Helper()
	var seen []string
	for _, kind := range []string{"jobs", "pods", "events"} {
		seen = append(seen, kind+": "+e.kubectl(t, "get", kind, "--all-namespaces", "-o", "yaml"))
	}
	for _, as := range actionSets {
		seen = append(seen, "ActionSet "+as+": "+e.kubectl(t, "get", "actionset", as, "-n", batonNamespace, "-o", "yaml"))
		seen = append(seen, "logs of "+as+": "+e.kubectl(t, "logs", "-n", batonNamespace, "-l", "baton.dev/actionset="+as, "--all-containers", "--tail=-1"))
	}
	for _, secret := range secrets {
		for _, text := range seen {
			name, _, _ := strings.Cut(text, ":")
			assert.NotContains(t, text, secret, "a secret leaked into %s", name)
		}
	}
}

// An encryption key that renders empty fails the ActionSet before any Job
// runs: Baton has no default key.
func TestMissingEncryptionKeyFailsBeforeAnyJob(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	s3 := e.s3ForPods(t)
	bp, profile := uniqueName("pg-volume"), uniqueName("store")
	e.volumeBlueprint(t, bp)
	e.profileFor(t, s3, profile, "", "")
	secrets := map[string]batonv1.ObjectReference{"backupKey": e.encryptionKeySecret(t, "")}

	got := e.runActionWith(t, bp, "delete", profile, batonv1.ObjectReference{Kind: "Namespace", Name: ns},
		map[string]batonv1.Artifact{"pgVolume": {KeyValue: map[string]string{"backupArtifactPrefix": "b/p", "backupID": "x"}}}, secrets)
	require.Equal(t, batonv1.StateFailed, got.Status.State)
	assert.Contains(t, got.Status.Error.Message, `argument "encryptionKey" rendered empty`)
	assert.Empty(t, e.phaseJobs(t, got.Name), "no phase ran")
}

// treeChecksum lists every file of the volume with its content hash, mode
// and link target: equal listings mean an equal tree.
const treeChecksum = `cd /data && find . -type f -exec md5sum {} + | sort && find . -exec stat -c '%a %s %n' {} + | sort && (readlink link || echo no link)`

// checksumVolume runs treeChecksum over claim in a Job and returns its output.
func (c *cluster) checksumVolume(t *testing.T, ns, claim string) string {
	t.Helper()
	job := newJob(ns, "sum-"+rand.String(4), e2eToolsImage, "sh", "-c", treeChecksum).volume(claim, "/data").obj()
	require.Equal(t, "Complete", string(c.run(t, job)))
	return c.logs(t, ns, job.Name)
}

// copyBlueprint backs a claim up with CopyVolumeData (nothing mounts it: the
// app is scaled down) and restores it with RestoreData into the same claim.
func copyBlueprint(name string) *batonv1.Blueprint {
	key := "{{ .Secrets.backupKey.Data.key | toString }}"
	return &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Actions: map[string]batonv1.BlueprintAction{
			"copy": {
				SecretNames: []string{"backupKey"},
				Phases: []batonv1.BlueprintPhase{{Name: "copy", Func: "CopyVolumeData", Args: batonv1.JSONMap{
					"namespace": "{{ .PVC.Namespace }}", "volume": "{{ .PVC.Name }}",
					"dataArtifactPrefix": "{{ .Profile.Location.Bucket }}/copies/{{ .PVC.Namespace }}/{{ .PVC.Name }}", "encryptionKey": key,
				}}},
				OutputArtifacts: map[string]batonv1.Artifact{"copy": {KeyValue: map[string]string{
					"id": "{{ .Phases.copy.Output.backupID }}", "root": "{{ .Phases.copy.Output.backupRoot }}",
					"location": "{{ .Phases.copy.Output.backupArtifactLocation }}",
				}}},
			},
			"restore": {
				SecretNames:        []string{"backupKey"},
				InputArtifactNames: []string{"copy"},
				Phases: []batonv1.BlueprintPhase{{Name: "restore", Func: "RestoreData", Args: batonv1.JSONMap{
					"namespace": "{{ .PVC.Namespace }}", "image": runnerImage,
					"backupArtifactPrefix": "{{ .ArtifactsIn.copy.KeyValue.location }}", "backupIdentifier": "{{ .ArtifactsIn.copy.KeyValue.id }}",
					"volumes": map[string]any{"{{ .PVC.Name }}": "{{ .ArtifactsIn.copy.KeyValue.root }}"}, "restorePath": "/", "encryptionKey": key,
				}}},
			},
		},
	}
}

// A volume no pod mounts (a scaled-down app) is copied with CopyVolumeData
// through a data pod, wiped, and restored with RestoreData: files, modes
// and links come back equal.
func TestCopyVolumeDataOfAScaledDownApp(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	s3 := e.s3ForPods(t)
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}}},
	}
	_, err := e.client.CoreV1().PersistentVolumeClaims(ns).Create(context.Background(), claim, metav1.CreateOptions{})
	require.NoError(t, err)
	fill := newJob(ns, "fill", e2eToolsImage, "sh", "-c",
		`mkdir -p /data/dir/deep && echo hello > /data/dir/a && chmod 640 /data/dir/a && ln -s dir/a /data/link && head -c 3000000 /dev/urandom > /data/dir/deep/blob && touch /data/empty`).
		volume("data", "/data").obj()
	require.Equal(t, "Complete", string(e.run(t, fill)))
	want := e.checksumVolume(t, ns, "data")

	bp, profile := copyBlueprint(uniqueName("copy")), uniqueName("store")
	e.create(t, bp)
	e.profileFor(t, s3, profile, "", "")
	secrets := map[string]batonv1.ObjectReference{"backupKey": e.encryptionKeySecret(t, rand.String(32))}
	pvc := batonv1.ObjectReference{Kind: "PersistentVolumeClaim", Name: "data", Namespace: ns}

	copied := e.runActionWith(t, bp.Name, "copy", profile, pvc, nil, secrets)
	requireComplete(t, copied)
	t.Logf("CopyVolumeData outputs: %v", copied.Status.Actions[0].Phases[0].Output)

	wipe := newJob(ns, "wipe", e2eToolsImage, "sh", "-c", "rm -rf /data/*").volume("data", "/data").obj()
	require.Equal(t, "Complete", string(e.run(t, wipe)))
	require.NotEqual(t, want, e.checksumVolume(t, ns, "data"))

	restored := e.runActionWith(t, bp.Name, "restore", profile, pvc, copied.Status.Actions[0].Artifacts, secrets)
	requireComplete(t, restored)
	assert.Equal(t, want, e.checksumVolume(t, ns, "data"), "the tree is back: contents, modes, sizes, links")
}

// The object store goes away in the middle of a backup: the ActionSet fails
// with a message saying so, in bounded time, and once the store is back the
// next backup succeeds.
func TestObjectStoreDownMidBackupFailsAndTheNextBackupSucceeds(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	s3 := e.s3ForPods(t)
	// An app whose tar takes a while after writing its archive: the store
	// is stopped while the backup waits for the end of the stream, so
	// restic meets a dead store when it uploads.
	app := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: e2eToolsImage, ImagePullPolicy: corev1.PullIfNotPresent,
			Env: []corev1.EnvVar{{Name: "PATH", Value: "/slow:/bin"}},
			Command: []string{"sh", "-c", `mkdir -p /slow /data && head -c 4000000 /dev/urandom > /data/blob &&
printf '#!/bin/sh\n/bin/tar "$@"\nif [ -f /slow/delay ]; then touch /slow/started; sleep 20; fi\n' > /slow/tar && chmod +x /slow/tar && touch /slow/delay && exec sleep 3600`},
		}}},
	}
	_, err := e.client.CoreV1().Pods(ns).Create(context.Background(), app, metav1.CreateOptions{})
	require.NoError(t, err)
	e.kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "pod/app", "--timeout=120s")

	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("backup")},
		Actions: map[string]batonv1.BlueprintAction{"backup": {SecretNames: []string{"backupKey"}, Phases: []batonv1.BlueprintPhase{{
			Name: "backup", Func: "BackupData", Args: batonv1.JSONMap{
				"namespace": ns, "pod": "app", "container": "app", "includePath": "/data",
				"backupArtifactPrefix": "{{ .Profile.Location.Bucket }}/outage", "encryptionKey": "{{ .Secrets.backupKey.Data.key | toString }}",
			}}}}},
	}
	e.create(t, bp)
	profile := uniqueName("store")
	e.profileFor(t, s3, profile, "", "")
	secrets := map[string]batonv1.ObjectReference{"backupKey": e.encryptionKeySecret(t, rand.String(32))}
	object := batonv1.ObjectReference{Kind: "Namespace", Name: ns}

	name := uniqueName("outage")
	e.create(t, &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{
		Name: "backup", Blueprint: bp.Name, Object: object, Secrets: secrets,
		Profile: &batonv1.ObjectReference{Name: profile, Namespace: batonNamespace},
	}}}})
	// The archive is written and the fake tar is sleeping: take the store
	// away now.
	e.kubectl(t, "exec", "-n", ns, "app", "--", "sh", "-c", "until [ -f /slow/started ]; do sleep 0.2; done")
	s3.Stop()
	failed := e.waitFinished(t, name)
	require.Equal(t, batonv1.StateFailed, failed.Status.State)
	t.Logf("failure: %s", failed.Status.Error.Message)
	assert.Regexp(t, `(?i)object store|unreachable|retrying|connection refused|stopped answering`, failed.Status.Error.Message)

	s3.Restart(t)
	e.kubectl(t, "exec", "-n", ns, "app", "--", "rm", "/slow/delay")
	again := e.runActionWith(t, bp.Name, "backup", profile, object, nil, secrets)
	requireComplete(t, again)
	assert.NotEmpty(t, again.Status.Actions[0].Phases[0].Output["backupID"])
}
