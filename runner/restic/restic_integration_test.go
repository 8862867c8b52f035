//go:build integration

package restic

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batonhq/baton/internal/testenv"
	"github.com/batonhq/baton/runner/location"
)

func resticBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(BinaryEnv)
	if bin == "" {
		t.Skipf("%s is not set: run with `make test-integration`, which builds restic", BinaryEnv)
	}
	return bin
}

func repoFor(t *testing.T, s3 *testenv.S3, prefix, password string, edit func(*location.Profile)) *Repo {
	t.Helper()
	p, err := location.ParseProfile([]byte(s3.ProfileJSON("ignored-by-restic")))
	require.NoError(t, err)
	if edit != nil {
		edit(&p)
	}
	r, err := New(Config{Profile: p, ArtifactPrefix: prefix, Password: password, Binary: resticBinary(t), StallTimeout: 10 * time.Second})
	require.NoError(t, err)
	return r
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func TestIntegrationBackupDumpStatsForget(t *testing.T) {
	resticBinary(t)
	s3 := testenv.StartS3(t)
	ctx := context.Background()
	var log bytes.Buffer
	const password = "correct horse battery staple"
	repo := repoFor(t, s3, "app/data", password, nil)
	require.Equal(t, "s3:"+s3.Endpoint+"/"+s3.Bucket+"/app/data", repo.URL())

	require.NoError(t, repo.Ensure(ctx, &log))
	require.NoError(t, repo.Ensure(ctx, &log), "an existing repository is opened, not re-created")

	first := randomBytes(t, 64<<20)
	start := time.Now()
	sum1, err := repo.Backup(ctx, bytes.NewReader(first), "data.tar", []string{"tag-one"}, &log)
	elapsed := time.Since(start)
	require.NoError(t, err)
	t.Logf("first backup: 64 MiB in %v (%.1f MiB/s), added %s", elapsed, 64/elapsed.Seconds(), FormatBytes(sum1.DataAdded))
	assert.Equal(t, uint64(len(first)), sum1.BytesProcessed)
	assert.GreaterOrEqual(t, sum1.DataAdded, uint64(60<<20))

	// The second backup shares the first's content: only the tail is new.
	second := append(append([]byte{}, first...), randomBytes(t, 1<<20)...)
	sum2, err := repo.Backup(ctx, bytes.NewReader(second), "data.tar", []string{"tag-two"}, &log)
	require.NoError(t, err)
	t.Logf("second backup: added %s", FormatBytes(sum2.DataAdded))
	assert.Less(t, sum2.DataAdded, uint64(8<<20), "incremental: only new chunks are stored")

	snap, err := repo.Find(ctx, "", "tag-two", &log)
	require.NoError(t, err)
	assert.Equal(t, sum2.SnapshotID, snap.ID)
	assert.Contains(t, snap.Tags, TarTag)
	byID, err := repo.Find(ctx, sum1.SnapshotID[:8], "", &log)
	require.NoError(t, err, "a short ID finds the snapshot")
	assert.Equal(t, sum1.SnapshotID, byID.ID)

	var dumped bytes.Buffer
	require.NoError(t, repo.Dump(ctx, snap, &dumped, &log))
	assert.True(t, bytes.Equal(second, dumped.Bytes()), "dump returns what was backed up")

	stats, err := repo.SnapshotStats(ctx, snap.ID, "restore-size", &log)
	require.NoError(t, err)
	assert.Equal(t, uint64(len(second)), stats.TotalSize)

	freed, err := repo.Forget(ctx, []string{sum2.SnapshotID}, true, &log)
	require.NoError(t, err)
	t.Logf("forget + prune freed %s", FormatBytes(freed))
	assert.Positive(t, freed, "the second snapshot's own chunks are pruned")
	_, err = repo.Find(ctx, sum2.SnapshotID, "", &log)
	require.ErrorContains(t, err, "no snapshot")
	_, err = repo.Find(ctx, "", "no-such-tag", &log)
	require.ErrorContains(t, err, `no snapshot tagged "no-such-tag"`)

	assert.NotContains(t, log.String(), password)
	assert.NotContains(t, log.String(), s3.SecretKey)
}

func TestIntegrationBrokenInputMakesNoSnapshot(t *testing.T) {
	resticBinary(t)
	s3 := testenv.StartS3(t)
	ctx := context.Background()
	repo := repoFor(t, s3, "broken", "pw", nil)
	require.NoError(t, repo.Ensure(ctx, io.Discard))

	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(randomBytes(t, 4<<20))
		pw.CloseWithError(errors.New("tar in the app container exited with code 2"))
	}()
	_, err := repo.Backup(ctx, pr, "data.tar", nil, io.Discard)
	require.ErrorContains(t, err, "tar in the app container exited with code 2")
	_, err = repo.Find(ctx, "", TarTag, io.Discard)
	require.ErrorContains(t, err, "no snapshot", "a broken stream never becomes a snapshot")
}

func TestIntegrationWrongPasswordAndCredentials(t *testing.T) {
	resticBinary(t)
	s3 := testenv.StartS3(t)
	ctx := context.Background()
	require.NoError(t, repoFor(t, s3, "p", "right", nil).Ensure(ctx, io.Discard))

	err := repoFor(t, s3, "p", "wrong", nil).Ensure(ctx, io.Discard)
	require.ErrorIs(t, err, ErrWrongPassword)
	assert.Contains(t, err.Error(), "the encryptionKey does not open the repository at s3:")
	assert.NotContains(t, err.Error(), "wrong")

	err = repoFor(t, s3, "elsewhere", "right", nil).Probe(ctx, io.Discard)
	require.ErrorIs(t, err, ErrNoRepository)

	bad := repoFor(t, s3, "p", "right", func(p *location.Profile) { p.Credential.KeyPair.Secret = "not-the-secret" })
	start := time.Now()
	err = bad.Ensure(ctx, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "credentials were refused")
	assert.NotContains(t, err.Error(), "not-the-secret")
	assert.Less(t, time.Since(start), 10*time.Second, "refused credentials are not retried")
}

func TestIntegrationDeadStoreFailsInBoundedTime(t *testing.T) {
	resticBinary(t)
	s3 := testenv.StartS3(t)
	ctx := context.Background()
	repo := repoFor(t, s3, "dead", "pw", nil)
	require.NoError(t, repo.Ensure(ctx, io.Discard))

	// The store dies while a backup streams: the watchdog stops restic.
	pr, pw := io.Pipe()
	go func() {
		chunk := randomBytes(t, 1<<20)
		for i := 0; i < 512; i++ {
			if i == 8 {
				s3.Stop()
			}
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	var log strings.Builder
	start := time.Now()
	_, err := repo.Backup(ctx, pr, "data.tar", nil, &log)
	took := time.Since(start)
	t.Logf("backup against a dead store failed after %v: %v", took, err)
	require.ErrorIs(t, err, ErrStalled)
	assert.Less(t, took, 90*time.Second)

	// Later calls fail at the bucket check, within its 30 s bound.
	start = time.Now()
	err = repo.Ensure(ctx, io.Discard)
	took = time.Since(start)
	t.Logf("ensure against a dead store failed after %v: %v", took, err)
	require.Error(t, err)
	assert.Less(t, took, 45*time.Second)
}
