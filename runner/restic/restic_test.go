package restic

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batonhq/baton/runner/location"
)

func testProfile(t *testing.T) location.Profile {
	t.Helper()
	p, err := location.ParseProfile([]byte(`{"Location":{"type":"s3Compliant","bucket":"bkt","endpoint":"http://minio:9000/"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"AKID","Secret":"SECRETKEY"}}}`))
	require.NoError(t, err)
	return p
}

// fakeRestic writes a shell script standing in for restic.
func fakeRestic(t *testing.T, script string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "restic")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"+script), 0o755))
	return bin
}

func TestRepositoryURLLikeKanister(t *testing.T) {
	assert.Equal(t, "bkt/app/db", ResolvePrefix("app/db", "bkt"))
	assert.Equal(t, "bkt/app/db", ResolvePrefix("bkt/app/db", "bkt"), "a prefix naming the bucket is kept")
	assert.Equal(t, "bkt/bktx/db", ResolvePrefix("/bktx/db/", "bkt"))

	r, err := New(Config{Profile: testProfile(t), ArtifactPrefix: "app/db", Password: "pw"})
	require.NoError(t, err)
	assert.Equal(t, "s3:http://minio:9000/bkt/app/db", r.URL())

	p := testProfile(t)
	p.Location.Endpoint = ""
	r, err = New(Config{Profile: p, ArtifactPrefix: "x", Password: "pw"})
	require.NoError(t, err)
	assert.Equal(t, "s3:s3.amazonaws.com/bkt/x", r.URL())

	_, err = New(Config{Profile: testProfile(t), ArtifactPrefix: "x"})
	require.EqualError(t, err, "encryptionKey is required (Baton has no default encryption key)")
}

func TestCredentialsOnlyInTheEnvironmentAndScrubbed(t *testing.T) {
	bin := fakeRestic(t, `echo "args: $*"
echo "leak: $AWS_SECRET_ACCESS_KEY $RESTIC_PASSWORD" >&2
exit 12`)
	r, err := New(Config{Profile: testProfile(t), ArtifactPrefix: "x", Password: "hunter2", Binary: bin})
	require.NoError(t, err)
	var log bytes.Buffer
	_, err = r.run(context.Background(), call{args: []string{"cat", "config"}, log: &log})
	require.ErrorIs(t, err, ErrWrongPassword)
	assert.Equal(t, "restic cat: the encryptionKey does not open the repository at s3:http://minio:9000/bkt/x: leak: *** ***", err.Error())
	assert.Equal(t, "restic: leak: *** ***\n", log.String())

	out, err := New(Config{Profile: testProfile(t), ArtifactPrefix: "x", Password: "hunter2", Binary: fakeRestic(t, `echo "args: $*"`)})
	require.NoError(t, err)
	stdout, err := out.run(context.Background(), call{args: []string{"snapshots"}})
	require.NoError(t, err)
	assert.Equal(t, "args: --no-cache snapshots\n", string(stdout), "nothing secret on argv")
	assert.NotContains(t, string(stdout), "hunter2")
}

func TestWatchdogStopsAStoreThatStoppedAnswering(t *testing.T) {
	bin := fakeRestic(t, `trap 'echo "signal terminated received, cleaning up" >&2; exit 130' TERM
while :; do echo "Save(<data/ab>) returned error, retrying after 1s: connection refused" >&2; sleep 0.2; done`)
	r, err := New(Config{Profile: testProfile(t), ArtifactPrefix: "x", Password: "pw", Binary: bin, StallTimeout: 2 * time.Second})
	require.NoError(t, err)
	start := time.Now()
	_, err = r.run(context.Background(), call{args: []string{"backup"}})
	require.ErrorIs(t, err, ErrStalled)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.True(t, strings.HasPrefix(err.Error(), "restic backup: the object store of s3:http://minio:9000/bkt/x stopped answering"), err.Error())
}

// A restic stopped before it read its input must not leave the backup
// waiting on a full pipe: the producer gets an error and the call returns.
func TestStalledResticWithUnreadInputReturns(t *testing.T) {
	bin := fakeRestic(t, `trap 'exit 130' TERM
while :; do echo "Load(<config/0>) returned error, retrying after 1s: connection refused" >&2; sleep 0.2; done`)
	r, err := New(Config{Profile: testProfile(t), ArtifactPrefix: "x", Password: "pw", Binary: bin, StallTimeout: time.Second})
	require.NoError(t, err)
	// An endless producer, as a tar stream from a pod is to restic.
	in, producer := io.Pipe()
	go func() {
		chunk := make([]byte, 1<<20)
		for {
			if _, err := producer.Write(chunk); err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := r.run(context.Background(), call{args: []string{"backup"}, stdin: in})
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrStalled)
	case <-time.After(30 * time.Second):
		t.Fatal("the backup hung after restic was stopped")
	}
}

func TestCancelledContextStopsRestic(t *testing.T) {
	r, err := New(Config{Profile: testProfile(t), ArtifactPrefix: "x", Password: "pw", Binary: fakeRestic(t, `exec sleep 60`)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = r.run(ctx, call{args: []string{"prune"}})
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestFormatBytesLikeRestic(t *testing.T) {
	assert.Equal(t, "512 B", FormatBytes(512))
	assert.Equal(t, "1.500 KiB", FormatBytes(1536))
	assert.Equal(t, "64.003 MiB", FormatBytes(64<<20+3<<10+100))
}
