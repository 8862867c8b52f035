//go:build integration

package location

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batonhq/baton/internal/testenv"
)

func openStore(t *testing.T, profileJSON string) *Store {
	t.Helper()
	p, err := ParseProfile([]byte(profileJSON))
	require.NoError(t, err)
	s, err := Open(p)
	require.NoError(t, err)
	// Keep failure tests quick; production retries for 30 s.
	s.retry = func() backoff.BackOff {
		return backoff.WithMaxRetries(backoff.NewConstantBackOff(50*time.Millisecond), 3)
	}
	return s
}

// randomStream is size bytes of reproducible noise, generated as read: the
// test never holds the whole payload either.
func randomStream(size int64) io.Reader {
	r := rand.New(rand.NewPCG(1, 2))
	return io.LimitReader(readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return len(p), nil
	}), size)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func digest(r io.Reader) []byte {
	h := sha256.New()
	_, _ = io.Copy(h, r)
	return h.Sum(nil)
}

func TestIntegrationLocationAgainstRealS3(t *testing.T) {
	s3 := testenv.StartS3(t)
	ctx := context.Background()
	store := openStore(t, s3.ProfileJSON("backups"))

	t.Run("push and pull stream 64 MiB intact", func(t *testing.T) {
		const size = 64 << 20
		n, err := store.Push(ctx, "db/dump", randomStream(size))
		require.NoError(t, err)
		assert.EqualValues(t, size, n)

		info, err := s3.Client(t).StatObject(ctx, s3.Bucket, "backups/db/dump", minio.StatObjectOptions{})
		require.NoError(t, err, "the object lands under the profile's prefix")
		assert.EqualValues(t, size, info.Size)

		pr, pw := io.Pipe()
		go func() {
			_, err := store.Pull(ctx, "db/dump", pw)
			pw.CloseWithError(err)
		}()
		assert.Equal(t, digest(randomStream(size)), digest(pr))
	})

	t.Run("delete removes a prefix and nothing beside it", func(t *testing.T) {
		for _, p := range []string{"set/a", "set/b", "settings"} {
			_, err := store.Push(ctx, p, strings.NewReader(p))
			require.NoError(t, err)
		}
		require.NoError(t, store.Delete(ctx, "set"))
		var left []string
		for obj := range s3.Client(t).ListObjects(ctx, s3.Bucket, minio.ListObjectsOptions{Prefix: "backups/set", Recursive: true}) {
			require.NoError(t, obj.Err)
			left = append(left, obj.Key)
		}
		assert.Equal(t, []string{"backups/settings"}, left)
		assert.NoError(t, store.Delete(ctx, "never-existed"), "deleting what is not there succeeds")
	})

	t.Run("clear errors", func(t *testing.T) {
		_, err := store.Pull(ctx, "no/such/object", io.Discard)
		assert.ErrorContains(t, err, "no such object")

		wrongKey := openStore(t, strings.Replace(s3.ProfileJSON(""), s3.SecretKey, "not-the-secret", 1))
		_, err = wrongKey.Push(ctx, "x", strings.NewReader("x"))
		assert.ErrorContains(t, err, "credentials were refused")
		assert.NotContains(t, err.Error(), "not-the-secret")

		noBucket := openStore(t, strings.Replace(s3.ProfileJSON(""), s3.Bucket, "no-such-bucket", 1))
		input := strings.NewReader("must not be consumed")
		_, err = noBucket.Push(ctx, "x", input)
		assert.ErrorContains(t, err, `bucket "no-such-bucket" does not exist`)
		assert.Equal(t, int64(len("must not be consumed")), int64(input.Len()), "a bad bucket fails before reading the input")
	})

	t.Run("a store that goes away fails the call", func(t *testing.T) {
		s3.Stop()
		_, err := store.Push(ctx, "late", bytes.NewReader([]byte("x")))
		assert.Error(t, err)
	})
}
