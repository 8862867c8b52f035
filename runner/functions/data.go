package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"

	"github.com/batonhq/baton/runner/location"
	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
	"github.com/batonhq/baton/runner/restic"
	"github.com/batonhq/baton/runner/tarstream"
)

// Names of the data functions (Kanister's), see docs/functions-data.md.
const (
	BackupDataName      = "BackupData"
	BackupDataAllName   = "BackupDataAll"
	RestoreDataName     = "RestoreData"
	RestoreDataAllName  = "RestoreDataAll"
	CopyVolumeDataName  = "CopyVolumeData"
	DeleteDataName      = "DeleteData"
	DeleteDataAllName   = "DeleteDataAll"
	BackupDataStatsName = "BackupDataStats"
	CheckRepositoryName = "CheckRepository"
	LocationDeleteName  = "LocationDelete"
	PrepareDataName     = "PrepareData"
)

// snapshotFile is the name the tar stream gets inside restic snapshots.
const snapshotFile = "baton-data.tar"

// repository is what the data functions need of a restic repository
// (*restic.Repo; tests substitute a fake).
type repository interface {
	CheckStore(ctx context.Context) error
	Ensure(ctx context.Context, log io.Writer) error
	Probe(ctx context.Context, log io.Writer) error
	Backup(ctx context.Context, in io.Reader, filename string, tags []string, log io.Writer) (restic.Summary, error)
	Find(ctx context.Context, id, tag string, log io.Writer) (restic.Snapshot, error)
	Dump(ctx context.Context, s restic.Snapshot, w io.Writer, log io.Writer) error
	Forget(ctx context.Context, ids []string, prune bool, log io.Writer) (uint64, error)
	SnapshotStats(ctx context.Context, id, mode string, log io.Writer) (restic.Stats, error)
	Location() string
}

// dataEnv is what the data functions share.
type dataEnv struct {
	Client   kubernetes.Interface
	Executor StreamExecutor
	Pods     *dataPods
	// OpenRepo opens a repository (restic.New by default).
	OpenRepo func(restic.Config) (repository, error)
}

func newDataEnv(client kubernetes.Interface, ex StreamExecutor) *dataEnv {
	return &dataEnv{
		Client: client, Executor: ex, Pods: &dataPods{Client: client},
		OpenRepo: func(c restic.Config) (repository, error) { return restic.New(c) },
	}
}

// dataFunction adapts one data function to runner.Function.
type dataFunction struct {
	env *dataEnv
	run func(e *dataEnv, ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error)
}

func (f dataFunction) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	return f.run(f.env, ctx, spec, stdout, stderr)
}

// dataFunctions lists the data functions by name.
func dataFunctions(e *dataEnv) map[string]dataFunction {
	return map[string]dataFunction{
		BackupDataName:      {e, (*dataEnv).backupData},
		BackupDataAllName:   {e, (*dataEnv).backupDataAll},
		CopyVolumeDataName:  {e, (*dataEnv).copyVolumeData},
		RestoreDataName:     {e, (*dataEnv).restoreData},
		RestoreDataAllName:  {e, (*dataEnv).restoreDataAll},
		DeleteDataName:      {e, (*dataEnv).deleteData},
		DeleteDataAllName:   {e, (*dataEnv).deleteDataAll},
		BackupDataStatsName: {e, (*dataEnv).backupDataStats},
		CheckRepositoryName: {e, (*dataEnv).checkRepository},
		LocationDeleteName:  {e, (*dataEnv).locationDelete},
		PrepareDataName:     {e, (*dataEnv).prepareData},
	}
}

// Arguments the pod-starting functions accept for Kanister compatibility.
var podArgs = []string{"podOverride", "podAnnotations", "podLabels"}

// repoArgs are what every restic-backed function reads besides its prefix.
type repoArgs struct {
	key      string
	insecure bool
}

// readRepoArgs reads encryptionKey (required, no default) and insecureTLS.
func readRepoArgs(a arguments) (repoArgs, error) {
	if !a.has("encryptionKey") {
		return repoArgs{}, fmt.Errorf("%s: argument %q is required (Baton has no default encryption key)", a.fn, "encryptionKey")
	}
	key, err := a.str("encryptionKey", true)
	if err != nil {
		return repoArgs{}, err
	}
	insecure, err := a.boolean("insecureTLS", false)
	return repoArgs{key: key, insecure: insecure}, err
}

// profile reads the action's Profile from the phase.
func profile(fn string, spec phase.Spec) (location.Profile, error) {
	if len(spec.Profile) == 0 {
		return location.Profile{}, fmt.Errorf("%s: the action names no Profile; %s needs one for its object store", fn, fn)
	}
	p, err := location.ParseProfile(spec.Profile)
	if err != nil {
		return p, fmt.Errorf("%s: %w", fn, err)
	}
	return p, nil
}

// open opens the repository at prefix with the Profile of spec.
func (e *dataEnv) open(fn string, spec phase.Spec, prefix string, ra repoArgs) (repository, error) {
	p, err := profile(fn, spec)
	if err != nil {
		return nil, err
	}
	repo, err := e.OpenRepo(restic.Config{Profile: p, ArtifactPrefix: prefix, Password: ra.key, InsecureTLS: ra.insecure})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	return repo, nil
}

// podMeta reads podLabels and podAnnotations for data pods.
func podMeta(a arguments) (labels, annotations map[string]string, override map[string]any, err error) {
	if _, err = a.object("podLabels", false, false, &labels); err != nil {
		return
	}
	if _, err = a.object("podAnnotations", false, false, &annotations); err != nil {
		return
	}
	_, err = a.object("podOverride", false, false, &override)
	return
}

// backupStream stores the tar stream produce writes as a new snapshot
// tagged tag, with its entries re-rooted under root. A failing producer
// (the tar in the pod exits non-zero, the exec breaks) means no snapshot.
func backupStream(parent context.Context, repo repository, tag, root string, produce func(ctx context.Context, w io.Writer) error, log io.Writer) (restic.Summary, int64, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	rawR, rawW := io.Pipe()
	outR, outW := io.Pipe()
	produced := make(chan error, 1)
	go func() {
		err := produce(ctx, rawW)
		rawW.CloseWithError(err)
		produced <- err
	}()
	counted := make(chan int64, 1)
	go func() {
		n, err := tarstream.Rewrite(rawR, outW, root)
		if err == nil {
			// The archive is complete; the snapshot is committed only if
			// the producer also ends well (its error arrives here).
			_, err = io.Copy(io.Discard, rawR)
		}
		rawR.CloseWithError(errors.New("backup stopped"))
		outW.CloseWithError(err)
		counted <- n
	}()
	sum, err := repo.Backup(ctx, outR, snapshotFile, []string{tag}, log)
	outR.CloseWithError(errors.New("backup ended"))
	cancel()
	files := <-counted
	perr := <-produced
	if err != nil && errors.Is(perr, context.Canceled) && parent.Err() == nil {
		// restic failed first and the producer was cancelled for it:
		// restic's error is the cause.
		return sum, files, err
	}
	if perr != nil {
		// The producer's failure is the cause; restic was stopped by it.
		return sum, files, perr
	}
	return sum, files, err
}

// backupOutputs are BackupData's and CopyVolumeData's outputs (Kanister's
// keys; sizes as restic prints them).
func backupOutputs(sum restic.Summary, tag string, files int64) outputs.Outputs {
	return outputs.Outputs{
		"backupID":  sum.SnapshotID,
		"backupTag": tag,
		"fileCount": fmt.Sprint(files),
		"size":      restic.FormatBytes(sum.BytesProcessed),
		"phySize":   restic.FormatBytes(sum.DataAdded),
	}
}

// newTag is a backup's unique tag, as Kanister makes them.
func newTag() string { return rand.String(10) }

// restoreStream dumps snapshot s into the data pod, extracting under
// restorePath.
func (e *dataEnv) restoreStream(ctx context.Context, repo repository, s restic.Snapshot, pod *dataPod, restorePath string, log io.Writer) error {
	pr, pw := io.Pipe()
	dumped := make(chan error, 1)
	go func() {
		err := repo.Dump(ctx, s, pw, log)
		pw.CloseWithError(err)
		dumped <- err
	}()
	execErr := e.Executor.ExecStream(ctx, pod.Namespace, pod.Name, dataContainer, pod.runnerCommand("tar", "extract", restorePath), pr, log, log)
	pr.CloseWithError(errors.New("restore stopped"))
	if err := <-dumped; err != nil {
		return err
	}
	return execErr
}

// objectPods lists the running pods of the phase's object when it is a
// Deployment or StatefulSet (BackupDataAll without pods).
func (e *dataEnv) objectPods(ctx context.Context, fn string, spec phase.Spec, namespace string) ([]string, error) {
	o := spec.Object
	kind := strings.ToLower(o.Kind + o.Resource)
	var sel *metav1.LabelSelector
	switch {
	case strings.HasPrefix(kind, "deployment"):
		d, err := e.Client.AppsV1().Deployments(namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		sel = d.Spec.Selector
	case strings.HasPrefix(kind, "statefulset"):
		s, err := e.Client.AppsV1().StatefulSets(namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		sel = s.Spec.Selector
	default:
		return nil, fmt.Errorf("%s: argument %q is required when the action's object is not a Deployment or StatefulSet", fn, "pods")
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	list, err := e.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	var names []string
	for _, p := range list.Items {
		if p.Status.Phase == "Running" && p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: %s %s/%s has no running pods", fn, o.Kind, namespace, o.Name)
	}
	slices.Sort(names)
	return names, nil
}

// forEach runs fn for every item side by side and joins the errors.
func forEach(items []string, fn func(item string) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(item)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// prefixedWriter is a lineWriter for one of several parallel streams.
func prefixedWriter(mu *sync.Mutex, w io.Writer, prefix string) *lineWriter {
	return &lineWriter{mu: mu, w: w, prefix: prefix}
}
