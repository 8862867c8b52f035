package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sync"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// image is accepted for Kanister compatibility and not used: data pods run
// the runner image, which carries what a restore needs.
var restoreDataArgs = append([]string{"namespace", "image", "backupArtifactPrefix", "backupIdentifier", "backupTag", "restorePath", "pod", "volumes", "encryptionKey", "insecureTLS"}, podArgs...)

// restoreData is RestoreData: a data pod mounting the PVCs of pod (at that
// pod's mount paths) or the volumes map, into which the snapshot is
// streamed and extracted under restorePath ("/" by default, which puts
// BackupData's files back where they were).
func (e *dataEnv) restoreData(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(RestoreDataName, spec.Args, restoreDataArgs...)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", true)
	if err != nil {
		return nil, err
	}
	if _, err := a.str("image", false); err != nil {
		return nil, err
	}
	prefix, err := a.str("backupArtifactPrefix", true)
	if err != nil {
		return nil, err
	}
	id, err := a.str("backupIdentifier", false)
	if err != nil {
		return nil, err
	}
	tag, err := a.str("backupTag", false)
	if err != nil {
		return nil, err
	}
	if (id == "") == (tag == "") {
		return nil, fmt.Errorf("%s: exactly one of the arguments %q and %q is required", RestoreDataName, "backupIdentifier", "backupTag")
	}
	restorePath, err := restorePathArg(a)
	if err != nil {
		return nil, err
	}
	pod, err := a.str("pod", false)
	if err != nil {
		return nil, err
	}
	var vols map[string]string
	if _, err := a.object("volumes", false, false, &vols); err != nil {
		return nil, err
	}
	if (pod == "") == (len(vols) == 0) {
		return nil, fmt.Errorf("%s: exactly one of the arguments %q and %q is required", RestoreDataName, "pod", "volumes")
	}
	ra, err := readRepoArgs(a)
	if err != nil {
		return nil, err
	}
	labels, annotations, override, err := podMeta(a)
	if err != nil {
		return nil, err
	}
	repo, err := e.open(RestoreDataName, spec, prefix, ra)
	if err != nil {
		return nil, err
	}
	mounts, err := e.mountsFor(ctx, namespace, pod, vols)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RestoreDataName, err)
	}
	req := dataPodSpec{Function: RestoreDataName, Namespace: namespace, Volumes: mounts, Labels: labels, Annotations: annotations, Override: override}
	if err := e.restore(ctx, repo, id, tag, req, restorePath, stderr); err != nil {
		return nil, fmt.Errorf("%s: %w", RestoreDataName, err)
	}
	return nil, nil
}

func restorePathArg(a arguments) (string, error) {
	p, err := a.str("restorePath", false)
	if err != nil || p == "" {
		return "/", err
	}
	if !path.IsAbs(p) {
		return "", fmt.Errorf("%s: argument %q must be an absolute path", a.fn, "restorePath")
	}
	return p, nil
}

func (e *dataEnv) mountsFor(ctx context.Context, namespace, pod string, vols map[string]string) ([]volumeMount, error) {
	if pod != "" {
		return podVolumes(ctx, e.Client, namespace, pod)
	}
	return volumesArg(ctx, e.Client, namespace, vols)
}

// restore finds the snapshot before starting the data pod, so a wrong ID,
// key or store fails without touching the volumes.
func (e *dataEnv) restore(ctx context.Context, repo repository, id, tag string, req dataPodSpec, restorePath string, log io.Writer) error {
	if err := repo.CheckStore(ctx); err != nil {
		return err
	}
	snap, err := repo.Find(ctx, id, tag, log)
	if err != nil {
		return err
	}
	return e.Pods.run(ctx, req, func(pod *dataPod) error {
		fmt.Fprintf(log, "restoring snapshot %s of %s into %s under %s\n", snap.ShortID, repo.Location(), pod.Name, restorePath)
		return e.restoreStream(ctx, repo, snap, pod, restorePath, log)
	})
}

var restoreDataAllArgs = append([]string{"namespace", "image", "backupArtifactPrefix", "backupInfo", "restorePath", "pods", "encryptionKey", "insecureTLS"}, podArgs...)

// restoreDataAll is RestoreDataAll: RestoreData of every pod of backupInfo
// (BackupDataAll's output) side by side, from backupArtifactPrefix/<pod>
// into a data pod mounting that pod's PVCs.
func (e *dataEnv) restoreDataAll(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(RestoreDataAllName, spec.Args, restoreDataAllArgs...)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", true)
	if err != nil {
		return nil, err
	}
	if _, err := a.str("image", false); err != nil {
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
	restorePath, err := restorePathArg(a)
	if err != nil {
		return nil, err
	}
	pods, err := a.fieldList("pods", false)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		pods = slices.Sorted(maps.Keys(info))
	}
	for _, p := range pods {
		if _, ok := info[p]; !ok {
			return nil, fmt.Errorf("%s: argument %q has no backup of pod %q", RestoreDataAllName, "backupInfo", p)
		}
	}
	ra, err := readRepoArgs(a)
	if err != nil {
		return nil, err
	}
	labels, annotations, override, err := podMeta(a)
	if err != nil {
		return nil, err
	}
	if _, err := profile(RestoreDataAllName, spec); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	err = forEach(pods, func(pod string) error {
		log := prefixedWriter(&mu, stderr, "["+pod+"] ")
		defer log.Flush()
		repo, err := e.open(RestoreDataAllName, spec, path.Join(prefix, pod), ra)
		if err != nil {
			return err
		}
		mounts, err := podVolumes(ctx, e.Client, namespace, pod)
		if err != nil {
			return err
		}
		req := dataPodSpec{Function: RestoreDataAllName, Namespace: namespace, Volumes: mounts, Labels: labels, Annotations: annotations, Override: override}
		if err := e.restore(ctx, repo, info[pod].BackupID, info[pod].BackupTag, req, restorePath, log); err != nil {
			return fmt.Errorf("pod %s: %w", pod, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RestoreDataAllName, err)
	}
	return nil, nil
}

// backupInfoArg decodes BackupDataAll's BackupAllInfo, passed as
// backupInfo.
func backupInfoArg(a arguments) (map[string]backupInfo, error) {
	raw, err := a.str("backupInfo", true)
	if err != nil {
		return nil, err
	}
	var info map[string]backupInfo
	if err := json.Unmarshal([]byte(raw), &info); err != nil || len(info) == 0 {
		return nil, fmt.Errorf("%s: argument %q must be BackupDataAll's BackupAllInfo output (a JSON map of pods to backups)", a.fn, "backupInfo")
	}
	for pod, b := range info {
		if b.BackupID == "" && b.BackupTag == "" {
			return nil, fmt.Errorf("%s: argument %q: pod %q has neither BackupID nor BackupTag", a.fn, "backupInfo", pod)
		}
	}
	return info, nil
}
