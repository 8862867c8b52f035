package tarstream

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateRewriteExtractRoundTrip(t *testing.T) {
	src := t.TempDir()
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	require.NoError(t, os.MkdirAll(filepath.Join(src, "sub/deep"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(src, "sub/deep/f.txt"), []byte("hello"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(src, "exec.sh"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.Symlink("sub/deep/f.txt", filepath.Join(src, "link")))
	require.NoError(t, os.Chtimes(filepath.Join(src, "sub/deep/f.txt"), mtime, mtime))
	require.NoError(t, os.Chmod(src, 0o700))

	var archive, rewritten bytes.Buffer
	require.NoError(t, Create(src, &archive, nil))
	files, err := Rewrite(&archive, &rewritten, "/var/lib/app")
	require.NoError(t, err)
	assert.Equal(t, int64(2), files)

	dst := t.TempDir()
	n, err := Extract(&rewritten, dst, Options{Chown: IsRoot()})
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)

	root := filepath.Join(dst, "var/lib/app")
	b, err := os.ReadFile(filepath.Join(root, "sub/deep/f.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	fi, err := os.Stat(filepath.Join(root, "sub/deep/f.txt"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	assert.True(t, fi.ModTime().Equal(mtime), "mtime kept: %v", fi.ModTime())
	fi, err = os.Stat(filepath.Join(root, "exec.sh"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	fi, err = os.Stat(filepath.Join(root, "sub"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o750), fi.Mode().Perm())
	fi, err = os.Stat(root)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the data directory's own mode is restored")
	target, err := os.Readlink(filepath.Join(root, "link"))
	require.NoError(t, err)
	assert.Equal(t, "sub/deep/f.txt", target)

	// Extracting again replaces files instead of failing.
	var again bytes.Buffer
	require.NoError(t, Create(src, &again, nil))
	_, err = Extract(&again, root, Options{})
	require.NoError(t, err)
}

func archiveOf(t *testing.T, entries ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len("x"))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte("x"))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return &buf
}

func TestExtractRefusesToLeaveItsDirectory(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		entries []*tar.Header
		err     string
	}{
		{"absolute", []*tar.Header{{Name: "/etc/evil", Typeflag: tar.TypeReg}}, "absolute names are refused"},
		{"dot-dot", []*tar.Header{{Name: "a/../../evil", Typeflag: tar.TypeReg}}, "names with .. are refused"},
		{"through a symlink", []*tar.Header{
			{Name: "l", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "l/evil", Typeflag: tar.TypeReg},
		}, "escapes"},
		{"hard link out", []*tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}}, "names with .. are refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Extract(archiveOf(t, tt.entries...), t.TempDir(), Options{})
			require.ErrorContains(t, err, tt.err)
			_, statErr := os.Stat(filepath.Join(outside, "evil"))
			assert.True(t, os.IsNotExist(statErr), "nothing written outside")
		})
	}
}

func TestRewriteRejectsTruncatedAndUnsafeStreams(t *testing.T) {
	full := archiveOf(t, &tar.Header{Name: "./a", Typeflag: tar.TypeReg}).Bytes()
	for _, cut := range []int{600, 1024} {
		_, err := Rewrite(bytes.NewReader(full[:cut]), &bytes.Buffer{}, "/data")
		require.ErrorContains(t, err, "read tar stream", "cut at %d", cut)
		_, err = Extract(bytes.NewReader(full[:cut]), t.TempDir(), Options{})
		require.ErrorContains(t, err, "read tar stream", "cut at %d", cut)
	}
	_, err := Rewrite(bytes.NewReader(full), &bytes.Buffer{}, "/data")
	require.NoError(t, err)
	_, err = Rewrite(archiveOf(t, &tar.Header{Name: "../a", Typeflag: tar.TypeReg}), &bytes.Buffer{}, "/data")
	require.ErrorContains(t, err, "names with .. are refused")
}
