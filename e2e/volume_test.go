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
func (e *engine) encryptionKeySecret(t *testing.T, key string) batonv1.ObjectReference {
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
	n := 0
	for obj := range s3.Client(t).ListObjects(context.Background(), s3.Bucket, minio.ListObjectsOptions{Prefix: prefix + "/snapshots/", Recursive: true}) {
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
	secrets := map[string]batonv1.ObjectReference{"backupKey": e.encryptionKeySecret(t, rand.String(32))}
	sts := batonv1.ObjectReference{Kind: "StatefulSet", Name: postgresStatefulSet, Namespace: ns}

	backup := e.runActionWith(t, bp, "backup", profile, sts, nil, secrets)
	requireComplete(t, backup)
	art := backup.Status.Actions[0].Artifacts["pgVolume"].KeyValue
	require.NotEmpty(t, art["backupID"])
	assert.Equal(t, "data-"+postgresPod, art["pvc"], "the claim, from .StatefulSet.PersistentVolumeClaims")
	repo := strings.TrimPrefix(art["backupArtifactPrefix"], s3.Bucket+"/")
	assert.Equal(t, 1, snapshotsUnder(t, s3, repo))
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
