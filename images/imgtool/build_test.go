package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFile creates path (and parents) with content and mode.
func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
}

// imageFiles lists every entry of every layer of img: name -> content
// (symlinks as "-> target").
func imageFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	files := map[string]string{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			switch hdr.Typeflag {
			case tar.TypeSymlink:
				files[hdr.Name] = "-> " + hdr.Linkname
			case tar.TypeReg:
				b, err := io.ReadAll(tr)
				require.NoError(t, err)
				files[hdr.Name] = string(b)
			default:
				files[hdr.Name] = ""
			}
		}
		rc.Close()
	}
	return files
}

func TestBuildWritesLoadableImage(t *testing.T) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	writeFile(t, filepath.Join(rootfs, "etc/os-release"), "ID=test\n", 0o644)
	writeFile(t, filepath.Join(rootfs, "proc/self/junk"), "left by a build", 0o644)
	require.NoError(t, os.Symlink("os-release", filepath.Join(rootfs, "etc/link")))
	binary := filepath.Join(dir, "tool")
	writeFile(t, binary, "#!binary", 0o755)

	spec := imageSpec{
		tags:       []string{"baton.local/test:v1", "baton.local/test:latest"},
		out:        filepath.Join(dir, "image.tar"),
		layerDirs:  []string{rootfs},
		files:      []fileMapping{{src: binary, dst: "/usr/local/bin/tool"}},
		entrypoint: []string{"/usr/local/bin/tool"},
		env:        []string{"PATH=/usr/local/bin"},
		user:       "65532:65532",
		labels:     map[string]string{"k": "v"},
		stopSignal: "SIGINT",
	}
	require.NoError(t, build(spec))

	for _, ref := range spec.tags {
		tag, err := name.NewTag(ref)
		require.NoError(t, err)
		img, err := tarball.ImageFromPath(spec.out, &tag)
		require.NoError(t, err, ref)

		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, []string{"/usr/local/bin/tool"}, cfg.Config.Entrypoint)
		assert.Equal(t, "65532:65532", cfg.Config.User)
		assert.Equal(t, []string{"PATH=/usr/local/bin"}, cfg.Config.Env)
		assert.Equal(t, "v", cfg.Config.Labels["k"])
		assert.Equal(t, "SIGINT", cfg.Config.StopSignal)
		assert.Equal(t, "linux", cfg.OS)

		files := imageFiles(t, img)
		assert.Equal(t, "ID=test\n", files["etc/os-release"])
		assert.Equal(t, "-> os-release", files["etc/link"])
		assert.Equal(t, "#!binary", files["usr/local/bin/tool"])
		assert.Contains(t, files, "usr/local/", "parent directories are in the layer")
		assert.Contains(t, files, "proc/", "runtime mount points stay")
		assert.NotContains(t, files, "proc/self/junk", "but not what a build left in them")
	}
}

func TestBuildIsReproducible(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(dir, "tool")
	writeFile(t, binary, "same bytes", 0o755)
	digest := func(out string) v1.Hash {
		spec := imageSpec{tags: []string{"baton.local/test:v1"}, out: out,
			files: []fileMapping{{src: binary, dst: "/tool"}}}
		require.NoError(t, build(spec))
		img, err := tarball.ImageFromPath(out, nil)
		require.NoError(t, err)
		d, err := img.Digest()
		require.NoError(t, err)
		return d
	}
	first := digest(filepath.Join(dir, "a.tar"))
	require.NoError(t, os.Chtimes(binary, time0(), time0()))
	assert.Equal(t, first, digest(filepath.Join(dir, "b.tar")), "mtimes do not change the digest")
}

func TestSpecValidation(t *testing.T) {
	tests := []struct {
		name    string
		spec    imageSpec
		wantErr string
	}{
		{"complete", imageSpec{tags: []string{"a:b"}, out: "x.tar", files: []fileMapping{{"a", "/a"}}}, ""},
		{"no tag", imageSpec{out: "x.tar", files: []fileMapping{{"a", "/a"}}}, "--tag"},
		{"no out", imageSpec{tags: []string{"a:b"}, files: []fileMapping{{"a", "/a"}}}, "--out"},
		{"empty image", imageSpec{tags: []string{"a:b"}, out: "x.tar"}, "nothing to put"},
		{"bad env", imageSpec{tags: []string{"a:b"}, out: "x.tar", files: []fileMapping{{"a", "/a"}}, env: []string{"NOVALUE"}}, "K=V"},
		{"stop signal name", imageSpec{tags: []string{"a:b"}, out: "x.tar", files: []fileMapping{{"a", "/a"}}, stopSignal: "SIGRTMIN+3"}, ""},
		{"stop signal number", imageSpec{tags: []string{"a:b"}, out: "x.tar", files: []fileMapping{{"a", "/a"}}, stopSignal: "2"}, ""},
		{"bad stop signal", imageSpec{tags: []string{"a:b"}, out: "x.tar", files: []fileMapping{{"a", "/a"}}, stopSignal: "SIG INT"}, "--stop-signal"},
		{"stop signal out of range", imageSpec{tags: []string{"a:b"}, out: "x.tar", files: []fileMapping{{"a", "/a"}}, stopSignal: "0"}, "--stop-signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
}

func TestParseFileMappings(t *testing.T) {
	got, err := parseFileMappings([]string{"bin/x=/usr/bin/x"})
	require.NoError(t, err)
	assert.Equal(t, []fileMapping{{src: "bin/x", dst: "/usr/bin/x"}}, got)
	for _, bad := range []string{"nodst", "=/x", "src=relative"} {
		_, err := parseFileMappings([]string{bad})
		assert.Error(t, err, bad)
	}
}

func time0() time.Time { return time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) }
