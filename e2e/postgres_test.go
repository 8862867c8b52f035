//go:build e2e

package e2e

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

var postgresImage = envOr("BATON_POSTGRES_IMAGE", "baton.local/postgres:15")

// postgres is examples/postgres/app.yaml running in a test's namespace: the
// StatefulSet pg-postgresql with one pod and its volume.
type postgres struct {
	e  *engine
	ns string
}

const (
	postgresStatefulSet = "pg-postgresql"
	postgresPod         = "pg-postgresql-0"
	// seedRows is enough rows that a partial restore cannot pass for a
	// whole one.
	seedRows = "5000"
	// checksumSQL sums up the table's content in one line.
	checksumSQL = `SELECT count(*) || ' ' || md5(string_agg(id || ':' || name, ',' ORDER BY id)) FROM items`
)

func (e *engine) deployPostgres(t *testing.T, ns string) *postgres {
	t.Helper()
	raw, err := os.ReadFile("../examples/postgres/app.yaml")
	require.NoError(t, err)
	manifest := strings.ReplaceAll(string(raw), "image: baton.local/postgres:15", "image: "+postgresImage)
	e.kubectlStdin(t, manifest, "apply", "-n", ns, "-f", "-")
	pg := &postgres{e: e, ns: ns}
	pg.waitReady(t)
	return pg
}

func (pg *postgres) waitReady(t *testing.T) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		sts, err := pg.e.client.AppsV1().StatefulSets(pg.ns).Get(ctx, postgresStatefulSet, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return sts.Status.ReadyReplicas == 1 && sts.Status.ObservedGeneration == sts.Generation, nil
	})
	if err != nil {
		pg.e.dumpNamespace(t, pg.ns)
	}
	require.NoError(t, err, "PostgreSQL in %s did not become ready", pg.ns)
}

// sql runs statements with psql in the database's pod and returns the
// unaligned, tuples-only output.
func (pg *postgres) sql(t *testing.T, statements string) string {
	t.Helper()
	out := pg.e.kubectlStdin(t, statements, "exec", "-i", "-n", pg.ns, postgresPod, "-c", "postgresql", "--",
		"psql", "-v", "ON_ERROR_STOP=1", "-q", "-At", "-U", "postgres")
	return strings.TrimSpace(out)
}

func (pg *postgres) seed(t *testing.T) (checksum string) {
	t.Helper()
	pg.sql(t, `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, `+seedRows+`) AS i;`)
	checksum = pg.sql(t, checksumSQL)
	require.True(t, strings.HasPrefix(checksum, seedRows+" "), "seeded: %q", checksum)
	return checksum
}

// kanisterPostgresBlueprint is e2e/testdata/kanister-postgres.yaml with the
// two edits a Kanister user makes: the apiVersion, and the image of every
// phase (Kanister's tools image is not on this cluster).
func (e *engine) kanisterPostgresBlueprint(t *testing.T, name string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/kanister-postgres.yaml")
	require.NoError(t, err)
	doc := strings.ReplaceAll(string(raw), "apiVersion: cr.kanister.io/v1alpha1", "apiVersion: baton.dev/v1alpha1")
	kanisterImage := regexp.MustCompile(`(?m)^(\s+image:) ghcr\.io/kanisterio/postgres-kanister-tools:\S+$`)
	require.Len(t, kanisterImage.FindAllString(doc, -1), 3, "one image per phase")
	doc = kanisterImage.ReplaceAllString(doc, "${1} "+postgresImage)
	require.NotRegexp(t, `(?m)^\s+image: ghcr`, doc, "every image was replaced")
	// The test's own name, so parallel tests do not share a Blueprint.
	doc = strings.Replace(doc, "name: postgres-bp", "name: "+name, 1)
	e.kubectlStdin(t, doc, "apply", "-n", batonNamespace, "--server-side", "--field-manager=e2e", "-f", "-")
	t.Cleanup(func() {
		_ = e.c.Delete(context.Background(), &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: batonNamespace}})
	})
}

// runAction runs one action of blueprint on object and waits for the end.
func (e *engine) runAction(t *testing.T, blueprint, action, profile string, object batonv1.ObjectReference, artifacts map[string]batonv1.Artifact) batonv1.ActionSet {
	t.Helper()
	name := uniqueName(action)
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{
		Name: action, Blueprint: blueprint, Object: object, Artifacts: artifacts,
		Profile: &batonv1.ObjectReference{Name: profile, Namespace: batonNamespace},
	}}}}
	e.create(t, as)
	return e.waitFinished(t, name)
}

func requireComplete(t *testing.T, as batonv1.ActionSet) {
	t.Helper()
	msg := ""
	if as.Status.Error != nil {
		msg = as.Status.Error.Message
	}
	require.Equal(t, batonv1.StateComplete, as.Status.State, "ActionSet %s: %s", as.Name, msg)
}

// A Kanister-style pg_dumpall blueprint, edited only in apiVersion and
// image, backs a real PostgreSQL up to a real S3 server, restores it after
// the table is dropped, and deletes the dump.
func TestKanisterPostgresDumpBackupRestoreDelete(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	s3 := e.s3ForPods(t)
	pg := e.deployPostgres(t, ns)
	want := pg.seed(t)

	bp, profile := uniqueName("pg-dump"), uniqueName("store")
	e.kanisterPostgresBlueprint(t, bp)
	e.profileFor(t, s3, profile, "e2e", "")
	sts := batonv1.ObjectReference{Kind: "StatefulSet", Name: postgresStatefulSet, Namespace: ns}

	backup := e.runAction(t, bp, "backup", profile, sts, nil)
	requireComplete(t, backup)
	artifacts := backup.Status.Actions[0].Artifacts
	location := artifacts["cloudObject"].KeyValue["backupLocation"]
	require.Regexp(t, `^postgres-dumps/`+ns+`/`+postgresStatefulSet+`/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d/dumpall.sql.gz$`, location)
	key := "e2e/" + location
	info, err := s3.Client(t).StatObject(context.Background(), s3.Bucket, key, minio.StatObjectOptions{})
	require.NoError(t, err, "the dump is in the bucket under the Profile's prefix")
	assert.Positive(t, info.Size)

	pg.sql(t, "DROP TABLE items;")
	restore := e.runAction(t, bp, "restore", profile, sts, artifacts)
	requireComplete(t, restore)
	assert.Equal(t, want, pg.sql(t, checksumSQL), "every row is back, unchanged")

	del := e.runAction(t, bp, "delete", profile, batonv1.ObjectReference{Kind: "Namespace", Name: ns}, artifacts)
	requireComplete(t, del)
	_, err = s3.Client(t).StatObject(context.Background(), s3.Bucket, key, minio.StatObjectOptions{})
	assert.Equal(t, "NoSuchKey", minio.ToErrorResponse(err).Code, "the dump is gone: %v", err)
}

// A Profile whose credentials the store refuses fails the ActionSet before
// any phase runs, with a message naming the Profile and no credential.
func TestWrongCredentialsFailWithAClearMessage(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	s3 := e.s3ForPods(t)
	bp, profile := uniqueName("pg-dump"), uniqueName("bad-store")
	e.kanisterPostgresBlueprint(t, bp)
	e.profileFor(t, s3, profile, "e2e", "wrong-secret-canary")

	got := e.runAction(t, bp, "delete", profile, batonv1.ObjectReference{Kind: "Namespace", Name: ns},
		map[string]batonv1.Artifact{"cloudObject": {KeyValue: map[string]string{"backupLocation": "x"}}})
	require.Equal(t, batonv1.StateFailed, got.Status.State)
	assert.Contains(t, got.Status.Error.Message, "profile "+batonNamespace+"/"+profile)
	assert.Regexp(t, `credentials were refused|access denied`, got.Status.Error.Message)
	assert.NotContains(t, got.Status.Error.Message, "wrong-secret-canary")
	assert.Empty(t, e.phaseJobs(t, got.Name), "no phase ran")
}
