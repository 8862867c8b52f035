// Package functions implements the Blueprint functions the runner executes
// itself, under Kanister's names and with Kanister's arguments, so that a
// Kanister blueprint's phase means the same thing in Baton:
//
//   - KubeExec: run a command in a container of a running pod;
//   - KubeExecAll: the same in several pods and containers at once;
//   - ScaleWorkload: scale a Deployment or StatefulSet and wait for it;
//   - Wait and WaitV2: wait for conditions on any objects;
//   - CreateCSISnapshot, CreateCSISnapshotStatic, RestoreCSISnapshot and
//     DeleteCSISnapshot: CSI volume snapshots through the
//     snapshot.storage.k8s.io/v1 API (docs/functions-csi.md);
//   - KubeOps: create objects from a manifest, or delete one.
//
// Each function validates its arguments before touching the cluster and
// names the argument at fault. Arguments arrive rendered by the controller,
// except the conditions of Wait and WaitV2, which Kanister evaluates itself
// against the objects they wait for (see Wait).
package functions

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/batonhq/baton/runner"
	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// Function names, as Blueprints spell them.
const (
	KubeExecName      = "KubeExec"
	KubeExecAllName   = "KubeExecAll"
	ScaleWorkloadName = "ScaleWorkload"
	WaitName          = "Wait"
	WaitV2Name        = "WaitV2"
	KubeOpsName       = "KubeOps"
)

// defaultPollInterval is how often functions that wait look at the cluster
// again.
const defaultPollInterval = 2 * time.Second

// Names lists the functions New registers.
func Names() []string {
	return []string{KubeExecName, KubeExecAllName, ScaleWorkloadName, WaitName, WaitV2Name, KubeOpsName,
		CreateCSISnapshotName, CreateCSISnapshotStaticName, RestoreCSISnapshotName, DeleteCSISnapshotName,
		BackupDataName, BackupDataAllName, RestoreDataName, RestoreDataAllName, CopyVolumeDataName,
		DeleteDataName, DeleteDataAllName, BackupDataStatsName, CheckRepositoryName, LocationDeleteName, PrepareDataName,
	}
}

// New builds the clients the functions share, once, and returns the
// registry. Building them does not contact the API server.
func New(cfg *rest.Config) (runner.Registry, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))
	exec := &APIExecutor{Config: cfg, Client: kube}
	data := dataFunctions(newDataEnv(kube, exec))
	return runner.Registry{
		KubeExecName:      &KubeExec{Client: kube, Executor: exec},
		KubeExecAllName:   &KubeExecAll{Client: kube, Executor: exec},
		ScaleWorkloadName: &ScaleWorkload{Client: kube},
		WaitName:          &Wait{Client: dyn},
		WaitV2Name:        &Wait{Client: dyn, V2: true},
		KubeOpsName:       &KubeOps{Client: dyn, Mapper: mapper},

		CreateCSISnapshotName:       &CreateCSISnapshot{Client: dyn},
		CreateCSISnapshotStaticName: &CreateCSISnapshotStatic{Client: dyn},
		RestoreCSISnapshotName:      &RestoreCSISnapshot{Client: dyn},
		DeleteCSISnapshotName:       &DeleteCSISnapshot{Client: dyn},

		BackupDataName:      data[BackupDataName],
		BackupDataAllName:   data[BackupDataAllName],
		RestoreDataName:     data[RestoreDataName],
		RestoreDataAllName:  data[RestoreDataAllName],
		CopyVolumeDataName:  data[CopyVolumeDataName],
		DeleteDataName:      data[DeleteDataName],
		DeleteDataAllName:   data[DeleteDataAllName],
		BackupDataStatsName: data[BackupDataStatsName],
		CheckRepositoryName: data[CheckRepositoryName],
		LocationDeleteName:  data[LocationDeleteName],
		PrepareDataName:     data[PrepareDataName],
	}, nil
}

// Lazy returns the registry New returns, but obtains the cluster
// configuration and builds the clients only when one of its functions first
// runs, so a runner that runs a user's command (KubeTask) or fails earlier
// never needs cluster access.
func Lazy(config func() (*rest.Config, error)) runner.Registry {
	l := &lazyRegistry{config: config}
	reg := runner.Registry{}
	for _, name := range Names() {
		reg[name] = lazyFunction{registry: l, name: name}
	}
	return reg
}

type lazyRegistry struct {
	config func() (*rest.Config, error)
	once   sync.Once
	built  runner.Registry
	err    error
}

func (l *lazyRegistry) get() (runner.Registry, error) {
	l.once.Do(func() {
		cfg, err := l.config()
		if err != nil {
			l.err = fmt.Errorf("cluster configuration: %w", err)
			return
		}
		l.built, l.err = New(cfg)
	})
	return l.built, l.err
}

type lazyFunction struct {
	registry *lazyRegistry
	name     string
}

func (f lazyFunction) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	reg, err := f.registry.get()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	fn, ok := reg[f.name]
	if !ok {
		// Names and New disagree: a bug, caught by the package's tests.
		return nil, fmt.Errorf("%s: not built (known: %v)", f.name, slices.Sorted(maps.Keys(reg)))
	}
	return fn.Run(ctx, spec, stdout, stderr)
}
