package main

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func build(s imageSpec) error {
	tmp, err := os.MkdirTemp(filepath.Dir(s.out), ".imgtool-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var layers []v1.Layer
	for i, dir := range s.layerDirs {
		layer, err := layerFromWriter(filepath.Join(tmp, fmt.Sprintf("dir-%d.tar", i)), func(tw *tar.Writer) error {
			return writeTree(tw, dir, "", true)
		})
		if err != nil {
			return fmt.Errorf("layer from %s: %w", dir, err)
		}
		layers = append(layers, layer)
	}
	if len(s.files) > 0 {
		layer, err := layerFromWriter(filepath.Join(tmp, "files.tar"), func(tw *tar.Writer) error {
			return writeFiles(tw, s.files)
		})
		if err != nil {
			return fmt.Errorf("files layer: %w", err)
		}
		layers = append(layers, layer)
	}

	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return err
	}
	cfgFile, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg := cfgFile.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Entrypoint = s.entrypoint
	cfg.Config.Cmd = s.cmd
	cfg.Config.Env = s.env
	cfg.Config.User = s.user
	cfg.Config.WorkingDir = s.workdir
	cfg.Config.Labels = s.labels
	cfg.Config.StopSignal = s.stopSignal
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}

	refs := make(map[name.Reference]v1.Image, len(s.tags))
	for _, t := range s.tags {
		tag, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("--tag %q: %w", t, err)
		}
		refs[tag] = img
	}
	// Write next to the destination and rename, so an interrupted build
	// never leaves a truncated archive that looks complete.
	partial := filepath.Join(tmp, "image.tar")
	if err := tarball.MultiRefWriteToFile(partial, refs); err != nil {
		return err
	}
	return os.Rename(partial, s.out)
}

// layerFromWriter writes an uncompressed layer tarball to path with fill and
// returns it as a layer; go-containerregistry compresses it on write.
func layerFromWriter(path string, fill func(*tar.Writer) error) (v1.Layer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(f)
	if err := fill(tw); err != nil {
		f.Close()
		return nil, err
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return tarball.LayerFromFile(path)
}
