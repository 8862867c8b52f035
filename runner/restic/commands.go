package restic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// TarTag marks snapshots whose one file is a tar stream written by Baton
// (BackupData, CopyVolumeData); snapshots without it are directory trees
// (as Kanister's restic backups are) and are restored as an archive of the
// whole snapshot.
const TarTag = "baton-tar"

// Host is recorded as the snapshots' host so that snapshots of one prefix
// group together whatever pod made them.
const Host = "baton"

// CheckStore checks that the Profile's bucket answers and accepts the
// credentials (bounded to 30 s of retries).
func (r *Repo) CheckStore(ctx context.Context) error {
	if err := r.store.CheckBucket(ctx); err != nil {
		return fmt.Errorf("object store of %s: %w", r.url, err)
	}
	return nil
}

// Ensure checks the store and initialises the repository if there is none
// yet (the first backup to a prefix).
func (r *Repo) Ensure(ctx context.Context, log io.Writer) error {
	if err := r.CheckStore(ctx); err != nil {
		return err
	}
	err := r.Probe(ctx, log)
	if !errors.Is(err, ErrNoRepository) {
		return err
	}
	if _, err := r.run(ctx, call{args: []string{"init"}, log: log}); err != nil {
		// A backup running beside this one may have created it first.
		if r.Probe(ctx, log) == nil {
			return nil
		}
		return err
	}
	return nil
}

// Probe opens the repository: nil, ErrNoRepository or ErrWrongPassword
// (errors.Is), or another failure.
func (r *Repo) Probe(ctx context.Context, log io.Writer) error {
	_, err := r.run(ctx, call{args: []string{"cat", "config"}, log: log})
	return err
}

// Summary is what a backup reports.
type Summary struct {
	SnapshotID string `json:"snapshot_id"`
	// DataAdded is what the snapshot added to the repository before
	// compression; DataAddedPacked after (restic ≥ 0.17).
	DataAdded       uint64 `json:"data_added"`
	DataAddedPacked uint64 `json:"data_added_packed"`
	BytesProcessed  uint64 `json:"total_bytes_processed"`
	FilesProcessed  uint64 `json:"total_files_processed"`
}

// Backup stores in as one file, filename, of a new snapshot tagged with
// tags and TarTag. If reading in fails, no snapshot is made.
func (r *Repo) Backup(ctx context.Context, in io.Reader, filename string, tags []string, log io.Writer) (Summary, error) {
	args := []string{"backup", "--json", "--quiet", "--host", Host, "--stdin", "--stdin-filename", filename, "--tag", TarTag}
	for _, t := range tags {
		args = append(args, "--tag", t)
	}
	out, err := r.run(ctx, call{args: args, stdin: in, log: log, statusOnStdout: true})
	if err != nil {
		return Summary{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var msg struct {
			Type string `json:"message_type"`
			Summary
		}
		if json.Unmarshal(sc.Bytes(), &msg) == nil && msg.Type == "summary" && msg.SnapshotID != "" {
			return msg.Summary, nil
		}
	}
	return Summary{}, fmt.Errorf("restic backup on %s printed no summary", r.url)
}

// Snapshot is a snapshot as `restic snapshots --json` lists it.
type Snapshot struct {
	ID      string    `json:"id"`
	ShortID string    `json:"short_id"`
	Time    time.Time `json:"time"`
	Paths   []string  `json:"paths"`
	Tags    []string  `json:"tags"`
}

// Find returns the snapshot id names (a full or short ID), or, when id is
// empty, the latest snapshot tagged tag.
func (r *Repo) Find(ctx context.Context, id, tag string, log io.Writer) (Snapshot, error) {
	args := []string{"snapshots", "--json"}
	what := fmt.Sprintf("snapshot %q", id)
	if id != "" {
		args = append(args, id)
	} else {
		args = append(args, "--tag", tag)
		what = fmt.Sprintf("snapshot tagged %q", tag)
	}
	out, err := r.run(ctx, call{args: args, log: log})
	if err != nil {
		var e *Error
		// restic exits non-zero when an ID matches nothing.
		if id != "" && errors.As(err, &e) && e.kind == nil && strings.Contains(e.Stderr, "no matching ID") {
			return Snapshot{}, fmt.Errorf("no %s in %s", what, r.url)
		}
		return Snapshot{}, err
	}
	var snaps []Snapshot
	if err := json.Unmarshal(out, &snaps); err != nil {
		return Snapshot{}, fmt.Errorf("restic snapshots on %s: unreadable output: %w", r.url, err)
	}
	if len(snaps) == 0 {
		return Snapshot{}, fmt.Errorf("no %s in %s", what, r.url)
	}
	slices.SortFunc(snaps, func(a, b Snapshot) int { return a.Time.Compare(b.Time) })
	return snaps[len(snaps)-1], nil
}

// Dump writes a snapshot's data to w as a tar stream: the stored stream
// itself for Baton's snapshots, or an archive of the whole tree (paths
// relative to /) for directory snapshots.
func (r *Repo) Dump(ctx context.Context, s Snapshot, w io.Writer, log io.Writer) error {
	args := []string{"dump", s.ID, "/"}
	if slices.Contains(s.Tags, TarTag) {
		if len(s.Paths) != 1 {
			return fmt.Errorf("snapshot %s in %s is tagged %s but holds %d paths", s.ShortID, r.url, TarTag, len(s.Paths))
		}
		args = []string{"dump", s.ID, s.Paths[0]}
	} else {
		args = append(args, "--archive", "tar")
	}
	_, err := r.run(ctx, call{args: args, stdout: w, log: log})
	return err
}

// Forget removes snapshots and, with prune, the data only they used;
// freed is what the repository shrank by (0 without prune).
func (r *Repo) Forget(ctx context.Context, ids []string, prune bool, log io.Writer) (freed uint64, err error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var before Stats
	if prune {
		if before, err = r.stats(ctx, []string{"--mode", "raw-data"}, log); err != nil {
			return 0, err
		}
	}
	if _, err := r.run(ctx, call{args: append([]string{"forget"}, ids...), log: log}); err != nil {
		return 0, err
	}
	if !prune {
		return 0, nil
	}
	if _, err := r.run(ctx, call{args: []string{"prune"}, log: log}); err != nil {
		return 0, err
	}
	after, err := r.stats(ctx, []string{"--mode", "raw-data"}, log)
	if err != nil {
		return 0, err
	}
	if after.TotalSize < before.TotalSize {
		freed = before.TotalSize - after.TotalSize
	}
	return freed, nil
}

// Stats is `restic stats --json`.
type Stats struct {
	TotalSize      uint64 `json:"total_size"`
	TotalFileCount uint64 `json:"total_file_count"`
	TotalBlobCount uint64 `json:"total_blob_count"`
}

// SnapshotStats counts one snapshot in mode (restore-size,
// files-by-contents, blobs-per-file or raw-data).
func (r *Repo) SnapshotStats(ctx context.Context, id, mode string, log io.Writer) (Stats, error) {
	return r.stats(ctx, []string{"--mode", mode, id}, log)
}

func (r *Repo) stats(ctx context.Context, args []string, log io.Writer) (Stats, error) {
	out, err := r.run(ctx, call{args: append([]string{"stats", "--json"}, args...), log: log})
	if err != nil {
		return Stats{}, err
	}
	var s Stats
	if err := json.Unmarshal(bytes.TrimSpace(lastLine(out)), &s); err != nil {
		return Stats{}, fmt.Errorf("restic stats on %s: unreadable output: %w", r.url, err)
	}
	return s, nil
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}
