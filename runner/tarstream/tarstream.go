// Package tarstream moves directory trees as tar streams: the runner's
// `tar create|extract` subcommands (exec'd in data pods) and the rewriting
// of a stream read out of an application container, whose entries are
// re-rooted under the path they came from so that a restore to "/" puts
// them back where they were (as Kanister's restic restores do).
//
// Extraction is confined to its directory (os.Root): absolute names, ".."
// and symlinks leading out of it are refused, whatever the archive holds.
package tarstream

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Create writes the tree under dir to w, names relative to dir ("./x").
// Numeric owners, modes and mtimes are recorded; sockets and devices are
// skipped (reported on skipped, may be nil).
func Create(dir string, w io.Writer, skipped io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		switch mode := info.Mode(); {
		case mode&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		case mode.IsDir(), mode.IsRegular():
		default:
			if skipped != nil {
				fmt.Fprintf(skipped, "tar: skipping %s (%s)\n", p, mode.Type())
			}
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = "./" + filepath.ToSlash(rel)
		if rel == "." {
			hdr.Name = "./"
		} else if info.IsDir() {
			hdr.Name += "/"
		}
		// Numeric owners only: names differ between images.
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return fmt.Errorf("%s: %w (did it change while being read?)", p, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// cleanName returns an entry's name relative to the archive root, or an
// error when it would leave it. "" is the root itself.
func cleanName(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("tar entry %q: absolute names are refused", name)
	}
	clean := path.Clean("/" + name)
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("tar entry %q: names with .. are refused", name)
		}
	}
	return strings.TrimPrefix(clean, "/"), nil
}

// Rewrite copies the archive r to w with every entry re-rooted under
// prefix (a path such as /var/lib/data; "/" or "" leaves names as they
// are), checking each name. It returns the number of regular files. The
// whole archive is read, so a truncated stream is an error here.
func Rewrite(r io.Reader, w io.Writer, prefix string) (files int64, err error) {
	prefix = strings.Trim(path.Clean("/"+prefix), "/")
	tail := &trailerReader{r: r}
	tr := tar.NewReader(tail)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, fmt.Errorf("read tar stream: %w", err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return files, err
		}
		// The root entry is kept under a prefix: its mode and owner are the
		// data directory's own (PostgreSQL insists on 0700).
		name = path.Join(prefix, name)
		if name == "" {
			continue
		}
		if hdr.Typeflag == tar.TypeDir {
			name += "/"
		}
		hdr.Name = name
		if hdr.Typeflag == tar.TypeLink {
			target, err := cleanName(hdr.Linkname)
			if err != nil {
				return files, err
			}
			hdr.Linkname = path.Join(prefix, target)
		}
		if hdr.Typeflag == tar.TypeReg {
			files++
		}
		// PAX keeps long names and sub-second mtimes whatever the source used.
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return files, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return files, fmt.Errorf("read tar stream: %w", err)
		}
	}
	if !tail.ended() {
		return files, errTruncated
	}
	return files, tw.Close()
}

var errTruncated = errors.New("read tar stream: it ended without its end-of-archive marker (truncated)")

// trailerReader remembers whether the last block read was zeros: archive/tar
// takes a stream cut at an entry boundary for a complete one, the missing
// end-of-archive marker is what tells them apart.
type trailerReader struct {
	r    io.Reader
	last [512]byte
	n    int64
}

func (t *trailerReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n >= len(t.last) {
		copy(t.last[:], p[n-len(t.last):n])
	} else if n > 0 {
		copy(t.last[:], t.last[n:])
		copy(t.last[len(t.last)-n:], p[:n])
	}
	t.n += int64(n)
	return n, err
}

func (t *trailerReader) ended() bool {
	if t.n < 1024 {
		return false
	}
	for _, b := range t.last {
		if b != 0 {
			return false
		}
	}
	return true
}

// Options tune Extract.
type Options struct {
	// Chown restores numeric owners (only root may; default: when running
	// as root).
	Chown bool
	// Warn receives notes on entries not restored (devices, fifos).
	Warn io.Writer
}

// Extract restores the archive r under dir, creating dir if needed.
// Existing files are replaced; directories are merged.
func Extract(r io.Reader, dir string, opts Options) (files int64, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	type dirTime struct {
		name  string
		mtime time.Time
	}
	var dirs []dirTime
	tail := &trailerReader{r: r}
	tr := tar.NewReader(tail)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, fmt.Errorf("read tar stream: %w", err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return files, err
		}
		if name == "" {
			name = "."
		}
		mode := hdr.FileInfo().Mode()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o700); err != nil {
				return files, fmt.Errorf("%s: %w", name, err)
			}
			dirs = append(dirs, dirTime{name, hdr.ModTime})
		case tar.TypeReg:
			if err := mkParent(root, name); err != nil {
				return files, err
			}
			removeNonDir(root, name)
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return files, fmt.Errorf("%s: %w", name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return files, fmt.Errorf("%s: %w", name, err)
			}
			files++
		case tar.TypeSymlink:
			if err := mkParent(root, name); err != nil {
				return files, err
			}
			removeNonDir(root, name)
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return files, fmt.Errorf("%s: %w", name, err)
			}
		case tar.TypeLink:
			target, err := cleanName(hdr.Linkname)
			if err != nil {
				return files, err
			}
			if err := mkParent(root, name); err != nil {
				return files, err
			}
			removeNonDir(root, name)
			if err := root.Link(target, name); err != nil {
				return files, fmt.Errorf("%s: %w", name, err)
			}
			continue // shares the target's metadata
		default:
			if opts.Warn != nil {
				fmt.Fprintf(opts.Warn, "tar: not restoring %s (type %q)\n", name, hdr.Typeflag)
			}
			continue
		}
		if opts.Chown {
			if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
				return files, fmt.Errorf("%s: %w", name, err)
			}
		}
		if hdr.Typeflag == tar.TypeSymlink {
			continue // modes and times of links themselves do not matter
		}
		// After chown, which clears setuid bits.
		if err := root.Chmod(name, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return files, fmt.Errorf("%s: %w", name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
				return files, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	if !tail.ended() {
		return files, errTruncated
	}
	// Directories last, deepest first: creating their entries changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = root.Chtimes(dirs[i].name, dirs[i].mtime, dirs[i].mtime)
	}
	return files, nil
}

func mkParent(root *os.Root, name string) error {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	return nil
}

// removeNonDir makes room for an entry, replacing a file or link but never
// a directory.
func removeNonDir(root *os.Root, name string) {
	if fi, err := root.Lstat(name); err == nil && !fi.IsDir() {
		_ = root.Remove(name)
	}
}

// IsRoot reports whether this process may restore owners.
func IsRoot() bool { return syscall.Geteuid() == 0 }
