package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/batonhq/baton/runner/location"
	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
	"github.com/batonhq/baton/runner/restic"
)

// The functions below start no pod: restic runs in the phase pod. The pod
// arguments Kanister's versions take are accepted and unused.

var deleteDataArgs = append([]string{"namespace", "backupArtifactPrefix", "backupID", "backupTag", "encryptionKey", "reclaimSpace", "insecureTLS"}, podArgs...)

// deleteData is DeleteData: forget the snapshots named by backupID or
// backupTag (space-separated lists, the i-th in the i-th prefix, or all in
// one prefix), pruning their data when reclaimSpace. Output: spaceFreed.
func (e *dataEnv) deleteData(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(DeleteDataName, spec.Args, deleteDataArgs...)
	if err != nil {
		return nil, err
	}
	if _, err := a.str("namespace", true); err != nil {
		return nil, err
	}
	prefixes, err := a.fieldList("backupArtifactPrefix", true)
	if err != nil {
		return nil, err
	}
	ids, err := a.fieldList("backupID", false)
	if err != nil {
		return nil, err
	}
	tags, err := a.fieldList("backupTag", false)
	if err != nil {
		return nil, err
	}
	if (len(ids) == 0) == (len(tags) == 0) {
		return nil, fmt.Errorf("%s: exactly one of the arguments %q and %q is required", DeleteDataName, "backupID", "backupTag")
	}
	n := max(len(ids), len(tags))
	if len(prefixes) == 0 || (len(prefixes) != 1 && len(prefixes) != n) {
		return nil, fmt.Errorf("%s: argument %q must name one prefix, or one per backup (%d)", DeleteDataName, "backupArtifactPrefix", n)
	}
	reclaim, err := a.boolean("reclaimSpace", false)
	if err != nil {
		return nil, err
	}
	ra, err := readRepoArgs(a)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := podMeta(a); err != nil {
		return nil, err
	}
	var freed uint64
	for i := range n {
		prefix := prefixes[min(i, len(prefixes)-1)]
		var id, tag string
		if len(ids) > 0 {
			id = ids[i]
		} else {
			tag = tags[i]
		}
		f, err := e.forget(ctx, spec, DeleteDataName, prefix, id, tag, reclaim, ra, stderr)
		if err != nil {
			return nil, err
		}
		freed += f
	}
	return outputs.Outputs{"spaceFreed": fmt.Sprintf("%d B", freed)}, nil
}

func (e *dataEnv) forget(ctx context.Context, spec phase.Spec, fn, prefix, id, tag string, reclaim bool, ra repoArgs, log io.Writer) (uint64, error) {
	repo, err := e.open(fn, spec, prefix, ra)
	if err != nil {
		return 0, err
	}
	if err := repo.CheckStore(ctx); err != nil {
		return 0, fmt.Errorf("%s: %w", fn, err)
	}
	snap, err := repo.Find(ctx, id, tag, log)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", fn, err)
	}
	freed, err := repo.Forget(ctx, []string{snap.ID}, reclaim, log)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", fn, err)
	}
	fmt.Fprintf(log, "%s: snapshot %s removed from %s\n", fn, snap.ShortID, repo.Location())
	return freed, nil
}

var deleteDataAllArgs = append([]string{"namespace", "backupArtifactPrefix", "backupInfo", "encryptionKey", "reclaimSpace", "insecureTLS"}, podArgs...)

// deleteDataAll is DeleteDataAll: DeleteData of every pod of backupInfo
// (BackupDataAll's output), each in backupArtifactPrefix/<pod>. Output:
// spaceFreed.
func (e *dataEnv) deleteDataAll(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(DeleteDataAllName, spec.Args, deleteDataAllArgs...)
	if err != nil {
		return nil, err
	}
	if _, err := a.str("namespace", true); err != nil {
		return nil, err
	}
	prefix, err := a.str("backupArtifactPrefix", true)
	if err != nil {
		return nil, err
	}
	info, err := backupInfoArg(a)
	if err != nil {
		return nil, err
	}
	reclaim, err := a.boolean("reclaimSpace", false)
	if err != nil {
		return nil, err
	}
	ra, err := readRepoArgs(a)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := podMeta(a); err != nil {
		return nil, err
	}
	var freed uint64
	var errs []error
	for _, pod := range slices.Sorted(maps.Keys(info)) {
		f, err := e.forget(ctx, spec, DeleteDataAllName, path.Join(prefix, pod), info[pod].BackupID, info[pod].BackupTag, reclaim, ra, stderr)
		if err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", pod, err))
		}
		freed += f
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return outputs.Outputs{"spaceFreed": fmt.Sprintf("%d B", freed)}, nil
}

var backupDataStatsArgs = append([]string{"namespace", "backupArtifactPrefix", "backupID", "mode", "encryptionKey", "insecureTLS"}, podArgs...)

var statsModes = []string{"restore-size", "files-by-contents", "blobs-per-file", "raw-data"}

// backupDataStats is BackupDataStats: `restic stats` of one snapshot.
// Outputs: mode, fileCount, size.
func (e *dataEnv) backupDataStats(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(BackupDataStatsName, spec.Args, backupDataStatsArgs...)
	if err != nil {
		return nil, err
	}
	if _, err := a.str("namespace", true); err != nil {
		return nil, err
	}
	prefix, err := a.str("backupArtifactPrefix", true)
	if err != nil {
		return nil, err
	}
	id, err := a.str("backupID", true)
	if err != nil {
		return nil, err
	}
	mode, err := a.str("mode", false)
	if err != nil {
		return nil, err
	}
	if mode == "" {
		mode = "restore-size"
	}
	if !slices.Contains(statsModes, mode) {
		return nil, fmt.Errorf("%s: argument %q must be one of %s, got %q", BackupDataStatsName, "mode", strings.Join(statsModes, ", "), mode)
	}
	ra, err := readRepoArgs(a)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := podMeta(a); err != nil {
		return nil, err
	}
	repo, err := e.open(BackupDataStatsName, spec, prefix, ra)
	if err != nil {
		return nil, err
	}
	if err := repo.CheckStore(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", BackupDataStatsName, err)
	}
	snap, err := repo.Find(ctx, id, "", stderr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", BackupDataStatsName, err)
	}
	st, err := repo.SnapshotStats(ctx, snap.ID, mode, stderr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", BackupDataStatsName, err)
	}
	count := st.TotalFileCount
	if mode == "raw-data" {
		count = st.TotalBlobCount // what Kanister reports in this mode
	}
	return outputs.Outputs{"mode": mode, "fileCount": fmt.Sprint(count), "size": restic.FormatBytes(st.TotalSize)}, nil
}

var checkRepositoryArgs = append([]string{"backupArtifactPrefix", "encryptionKey", "insecureTLS"}, podArgs...)

// checkRepository is CheckRepository. Outputs passwordIncorrect and
// repoUnavailable ("true"/"false"); an unreachable store is an error.
func (e *dataEnv) checkRepository(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(CheckRepositoryName, spec.Args, checkRepositoryArgs...)
	if err != nil {
		return nil, err
	}
	prefix, err := a.str("backupArtifactPrefix", true)
	if err != nil {
		return nil, err
	}
	ra, err := readRepoArgs(a)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := podMeta(a); err != nil {
		return nil, err
	}
	repo, err := e.open(CheckRepositoryName, spec, prefix, ra)
	if err != nil {
		return nil, err
	}
	if err := repo.CheckStore(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", CheckRepositoryName, err)
	}
	err = repo.Probe(ctx, stderr)
	wrong, missing := errors.Is(err, restic.ErrWrongPassword), errors.Is(err, restic.ErrNoRepository)
	if err != nil && !wrong && !missing {
		return nil, fmt.Errorf("%s: %w", CheckRepositoryName, err)
	}
	return outputs.Outputs{"passwordIncorrect": fmt.Sprint(wrong), "repoUnavailable": fmt.Sprint(missing)}, nil
}

// locationDelete is LocationDelete: delete artifact (an object or a
// prefix) from the Profile's bucket, as `kando location delete` does. A
// leading s3:// and the bucket name are stripped, as Kanister strips the
// bucket.
func (e *dataEnv) locationDelete(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(LocationDeleteName, spec.Args, "artifact")
	if err != nil {
		return nil, err
	}
	artifact, err := a.str("artifact", true)
	if err != nil {
		return nil, err
	}
	p, err := profile(LocationDeleteName, spec)
	if err != nil {
		return nil, err
	}
	// Kanister passes s3://bucket/path or bucket/path; a path that merely
	// starts with the bucket's letters ("b" and "backups/x") keeps them.
	key := strings.TrimPrefix(artifact, "s3://")
	if key == p.Location.Bucket || strings.HasPrefix(key, p.Location.Bucket+"/") {
		key = strings.TrimPrefix(key, p.Location.Bucket)
	}
	key = strings.TrimPrefix(key, "/")
	if strings.Trim(key, "/") == "" {
		return nil, fmt.Errorf("%s: argument %q names the whole bucket; refusing to delete it", LocationDeleteName, "artifact")
	}
	store, err := location.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", LocationDeleteName, err)
	}
	if err := store.Delete(ctx, key); err != nil {
		return nil, fmt.Errorf("%s: %w", LocationDeleteName, err)
	}
	fmt.Fprintf(stderr, "%s: deleted s3://%s/%s\n", LocationDeleteName, p.Location.Bucket, store.Key(key))
	return nil, nil
}
