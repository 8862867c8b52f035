package functions

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

var backupDataArgs = []string{"namespace", "pod", "container", "includePath", "backupArtifactPrefix", "encryptionKey", "insecureTLS"}

// backupData is BackupData: the tree at includePath in a container of a
// running pod, read out through the API (`tar -cf - -C includePath .`,
// so the container needs a tar), stored by restic running in the phase
// pod. Outputs: backupTag, backupID, fileCount, size, phySize.
func (e *dataEnv) backupData(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(BackupDataName, spec.Args, backupDataArgs...)
	if err != nil {
		return nil, err
	}
	var namespace, pod, container, includePath, prefix string
	for _, arg := range []struct {
		name string
		to   *string
	}{{"namespace", &namespace}, {"pod", &pod}, {"container", &container}, {"includePath", &includePath}, {"backupArtifactPrefix", &prefix}} {
		if *arg.to, err = a.str(arg.name, true); err != nil {
			return nil, err
		}
	}
	ra, err := readRepoArgs(a)
	if err != nil {
		return nil, err
	}
	repo, err := e.open(BackupDataName, spec, prefix, ra)
	if err != nil {
		return nil, err
	}
	return e.backupPod(ctx, repo, namespace, pod, container, includePath, stderr)
}

func (e *dataEnv) backupPod(ctx context.Context, repo repository, namespace, pod, container, includePath string, log io.Writer) (outputs.Outputs, error) {
	if err := repo.Ensure(ctx, log); err != nil {
		return nil, fmt.Errorf("%s: %w", BackupDataName, err)
	}
	tag := newTag()
	sum, files, err := backupStream(ctx, repo, tag, includePath, func(ctx context.Context, w io.Writer) error {
		return e.Executor.ExecStream(ctx, namespace, pod, container, []string{"tar", "-cf", "-", "-C", includePath, "."}, nil, w, log)
	}, log)
	if err != nil {
		return nil, fmt.Errorf("%s: back up %s of pod %s/%s: %w", BackupDataName, includePath, namespace, pod, err)
	}
	fmt.Fprintf(log, "%s: %s of pod %s/%s stored as snapshot %s in %s\n", BackupDataName, includePath, namespace, pod, sum.SnapshotID, repo.Location())
	return backupOutputs(sum, tag, files), nil
}

var backupDataAllArgs = []string{"namespace", "pods", "container", "includePath", "backupArtifactPrefix", "encryptionKey", "insecureTLS"}

// backupInfo is one pod's entry of BackupDataAll's BackupAllInfo output
// (Kanister's field names).
type backupInfo struct {
	PodName   string
	BackupID  string
	BackupTag string
}

// backupDataAll is BackupDataAll: BackupData of every pod side by side,
// each to backupArtifactPrefix/<pod>. Output: BackupAllInfo, a JSON map of
// pod name to backupInfo.
func (e *dataEnv) backupDataAll(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(BackupDataAllName, spec.Args, backupDataAllArgs...)
	if err != nil {
		return nil, err
	}
	var namespace, container, includePath, prefix string
	for _, arg := range []struct {
		name string
		to   *string
	}{{"namespace", &namespace}, {"container", &container}, {"includePath", &includePath}, {"backupArtifactPrefix", &prefix}} {
		if *arg.to, err = a.str(arg.name, true); err != nil {
			return nil, err
		}
	}
	pods, err := a.fieldList("pods", false)
	if err != nil {
		return nil, err
	}
	ra, err := readRepoArgs(a)
	if err != nil {
		return nil, err
	}
	if _, err := profile(BackupDataAllName, spec); err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		if pods, err = e.objectPods(ctx, BackupDataAllName, spec, namespace); err != nil {
			return nil, err
		}
	}
	var mu sync.Mutex
	info := map[string]backupInfo{}
	err = forEach(pods, func(pod string) error {
		log := prefixedWriter(&mu, stderr, "["+pod+"] ")
		defer log.Flush()
		repo, err := e.open(BackupDataAllName, spec, path.Join(prefix, pod), ra)
		if err != nil {
			return err
		}
		out, err := e.backupPod(ctx, repo, namespace, pod, container, includePath, log)
		if err != nil {
			return fmt.Errorf("pod %s: %w", pod, err)
		}
		mu.Lock()
		info[pod] = backupInfo{PodName: pod, BackupID: out["backupID"].(string), BackupTag: out["backupTag"].(string)}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", BackupDataAllName, err)
	}
	raw, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	return outputs.Outputs{"BackupAllInfo": string(raw)}, nil
}

var copyVolumeDataArgs = append([]string{"namespace", "volume", "dataArtifactPrefix", "encryptionKey", "insecureTLS"}, podArgs...)

// copyVolumeDataMount is where CopyVolumeData mounts the volume (Kanister's
// path, returned as backupRoot).
const copyVolumeDataMount = "/mnt/vol_data/"

// copyVolumeData is CopyVolumeData: a PVC not in use, mounted read-only in
// a data pod and read out as a tar stream. Outputs: backupID, backupRoot,
// backupArtifactLocation, backupTag, fileCount, size, phySize.
func (e *dataEnv) copyVolumeData(ctx context.Context, spec phase.Spec, _, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(CopyVolumeDataName, spec.Args, copyVolumeDataArgs...)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", true)
	if err != nil {
		return nil, err
	}
	volume, err := a.str("volume", true)
	if err != nil {
		return nil, err
	}
	prefix, err := a.str("dataArtifactPrefix", true)
	if err != nil {
		return nil, err
	}
	ra, err := readRepoArgs(a)
	if err != nil {
		return nil, err
	}
	labels, annotations, override, err := podMeta(a)
	if err != nil {
		return nil, err
	}
	repo, err := e.open(CopyVolumeDataName, spec, prefix, ra)
	if err != nil {
		return nil, err
	}
	if _, err := e.Client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, volume, metav1.GetOptions{}); err != nil {
		return nil, fmt.Errorf("%s: PersistentVolumeClaim %s/%s: %w", CopyVolumeDataName, namespace, volume, err)
	}
	if err := repo.Ensure(ctx, stderr); err != nil {
		return nil, fmt.Errorf("%s: %w", CopyVolumeDataName, err)
	}
	mount := copyVolumeDataMount + volume
	var out outputs.Outputs
	err = e.Pods.run(ctx, dataPodSpec{
		Function: CopyVolumeDataName, Namespace: namespace,
		Volumes: []volumeMount{{PVC: volume, MountPath: mount, ReadOnly: true}},
		Labels:  labels, Annotations: annotations, Override: override,
	}, func(pod *dataPod) error {
		tag := newTag()
		sum, files, err := backupStream(ctx, repo, tag, mount, func(ctx context.Context, w io.Writer) error {
			return e.Executor.ExecStream(ctx, pod.Namespace, pod.Name, dataContainer, pod.runnerCommand("tar", "create", mount), nil, w, stderr)
		}, stderr)
		if err != nil {
			return err
		}
		out = backupOutputs(sum, tag, files)
		out["backupRoot"] = mount
		out["backupArtifactLocation"] = repo.Location()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: copy volume %s/%s: %w", CopyVolumeDataName, namespace, volume, err)
	}
	return out, nil
}
