package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Paths of a root filesystem that are mounted at run time; whatever a build
// left in them is not part of an image.
var runtimeMounts = map[string]bool{"proc": true, "sys": true, "dev": true}

// writeTree appends the tree at root to tw under prefix ("" for the image
// root). Ownership, modes and symlinks are kept; times are zeroed.
func writeTree(tw *tar.Writer, root, prefix string, skipRuntimeMounts bool) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		if rel == "." {
			if prefix == "" {
				return nil
			}
			name = prefix
		}
		if skipRuntimeMounts && d.IsDir() && rel != "." {
			if top, _, _ := strings.Cut(filepath.ToSlash(rel), "/"); runtimeMounts[top] && top != filepath.ToSlash(rel) {
				return filepath.SkipDir
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return writeEntry(tw, p, name, info)
	})
}

func writeEntry(tw *tar.Writer, src, name string, info fs.FileInfo) error {
	var link string
	if info.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(src); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	hdr.Name = strings.TrimPrefix(name, "/")
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
	hdr.Uname, hdr.Gname = "", ""
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// writeFiles appends each mapping: a directory as its whole tree, a file as
// itself. Parent directories are created (mode 0755) so runtimes that do not
// create them implicitly still unpack the layer.
func writeFiles(tw *tar.Writer, files []fileMapping) error {
	madeDirs := map[string]bool{}
	for _, f := range files {
		if err := writeParents(tw, f.dst, madeDirs); err != nil {
			return err
		}
		info, err := os.Stat(f.src)
		if err != nil {
			return err
		}
		if info.IsDir() {
			if err := writeTree(tw, f.src, f.dst, false); err != nil {
				return err
			}
			continue
		}
		if err := writeEntry(tw, f.src, f.dst, info); err != nil {
			return err
		}
	}
	return nil
}

func writeParents(tw *tar.Writer, dst string, made map[string]bool) error {
	var parents []string
	for dir := path.Dir(path.Clean(dst)); dir != "/" && dir != "."; dir = path.Dir(dir) {
		parents = append([]string{dir}, parents...)
	}
	for _, dir := range parents {
		if made[dir] {
			continue
		}
		made[dir] = true
		hdr := &tar.Header{
			Typeflag: tar.TypeDir, Name: strings.TrimPrefix(dir, "/") + "/", Mode: 0o755,
			ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	return nil
}
