package functions

import (
	"slices"

	"github.com/batonhq/baton/runner"
)

// ArgSpec is what a function accepts as arguments: the one place tools that
// check Blueprints (batonctl validate) learn it. It mirrors what each
// function parses (parseArgs and the checks after it, and, for KubeTask and
// MultiContainerRun, controller/containers.go); catalog_test.go holds the
// two in step.
type ArgSpec struct {
	// Required arguments must be given.
	Required []string
	// Optional arguments may be given.
	Optional []string
	// OneOf lists groups of which exactly one argument must be given (e.g.
	// RestoreData's backupIdentifier or backupTag).
	OneOf [][]string
	// Together lists groups given all together or not at all (e.g.
	// MultiContainerRun's initImage and initCommand). Their members are
	// also listed in Optional.
	Together [][]string
}

// Known reports whether name is one of the spec's arguments.
func (s ArgSpec) Known(name string) bool {
	if slices.Contains(s.Required, name) || slices.Contains(s.Optional, name) {
		return true
	}
	for _, g := range s.OneOf {
		if slices.Contains(g, name) {
			return true
		}
	}
	return false
}

// All lists every argument of the spec, sorted.
func (s ArgSpec) All() []string {
	all := slices.Concat(s.Required, s.Optional)
	for _, g := range s.OneOf {
		all = append(all, g...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// Arguments the data functions that start a pod accept for Kanister
// compatibility (podArgs), spelled out for the catalogue.
var catalogPodArgs = []string{"podOverride", "podAnnotations", "podLabels"}

func withPodArgs(optional ...string) []string { return slices.Concat(optional, catalogPodArgs) }

// Catalog maps every function a Blueprint may name, spelled as Kanister
// spells it, to its arguments: the functions the runner registers (Names)
// and the two whose pods run the user's images (runner.KubeTask,
// runner.MultiContainerRun).
var Catalog = map[string]ArgSpec{
	runner.KubeTask: {
		Required: []string{"image", "command"},
		Optional: []string{"namespace", "podOverride", "podLabels", "podAnnotations"},
	},
	runner.MultiContainerRun: {
		Required: []string{"backgroundImage", "backgroundCommand", "outputImage", "outputCommand"},
		Optional: []string{"initImage", "initCommand", "sharedVolumeDir", "sharedVolumeMedium", "sharedVolumeSizeLimit",
			"namespace", "podOverride", "podLabels", "podAnnotations"},
		Together: [][]string{{"initImage", "initCommand"}},
	},

	KubeExecName: {
		Required: []string{"namespace", "pod", "command"},
		Optional: []string{"container"},
	},
	KubeExecAllName: {
		Required: []string{"namespace", "pods", "command"},
		Optional: []string{"containers"},
	},
	ScaleWorkloadName: {
		Required: []string{"replicas"},
		Optional: []string{"namespace", "name", "kind", "waitForReady"},
	},
	WaitName: {
		Required: []string{"timeout", "conditions"},
	},
	WaitV2Name: {
		Required: []string{"timeout", "conditions"},
	},
	// spec is required for operation create, objectReference for delete.
	KubeOpsName: {
		Required: []string{"operation"},
		Optional: []string{"namespace", "spec", "objectReference"},
	},

	CreateCSISnapshotName: {
		Required: []string{"pvc", "namespace", "snapshotClass"},
		Optional: []string{"name", "labels"},
	},
	// Kanister's code says snapshotHandle, its documentation handle.
	CreateCSISnapshotStaticName: {
		Required: []string{"name", "namespace", "driver", "snapshotClass"},
		OneOf:    [][]string{{"snapshotHandle", "handle"}},
	},
	RestoreCSISnapshotName: {
		Required: []string{"name", "pvc", "namespace", "storageClass", "restoreSize"},
		Optional: []string{"accessModes", "volumeMode", "labels"},
	},
	DeleteCSISnapshotName: {
		Required: []string{"name", "namespace"},
	},

	BackupDataName: {
		Required: []string{"namespace", "pod", "container", "includePath", "backupArtifactPrefix", "encryptionKey"},
		Optional: []string{"insecureTLS"},
	},
	BackupDataAllName: {
		Required: []string{"namespace", "container", "includePath", "backupArtifactPrefix", "encryptionKey"},
		Optional: []string{"pods", "insecureTLS"},
	},
	RestoreDataName: {
		Required: []string{"namespace", "backupArtifactPrefix", "encryptionKey"},
		Optional: withPodArgs("image", "restorePath", "insecureTLS"),
		OneOf:    [][]string{{"backupIdentifier", "backupTag"}, {"pod", "volumes"}},
	},
	RestoreDataAllName: {
		Required: []string{"namespace", "backupArtifactPrefix", "backupInfo", "encryptionKey"},
		Optional: withPodArgs("image", "restorePath", "pods", "insecureTLS"),
	},
	CopyVolumeDataName: {
		Required: []string{"namespace", "volume", "dataArtifactPrefix", "encryptionKey"},
		Optional: withPodArgs("insecureTLS"),
	},
	DeleteDataName: {
		Required: []string{"namespace", "backupArtifactPrefix", "encryptionKey"},
		Optional: withPodArgs("reclaimSpace", "insecureTLS"),
		OneOf:    [][]string{{"backupID", "backupTag"}},
	},
	DeleteDataAllName: {
		Required: []string{"namespace", "backupArtifactPrefix", "backupInfo", "encryptionKey"},
		Optional: withPodArgs("reclaimSpace", "insecureTLS"),
	},
	BackupDataStatsName: {
		Required: []string{"namespace", "backupArtifactPrefix", "backupID", "encryptionKey"},
		Optional: withPodArgs("mode", "insecureTLS"),
	},
	CheckRepositoryName: {
		Required: []string{"backupArtifactPrefix", "encryptionKey"},
		Optional: withPodArgs("insecureTLS"),
	},
	LocationDeleteName: {
		Required: []string{"artifact"},
	},
	PrepareDataName: {
		Required: []string{"namespace", "image", "command"},
		Optional: withPodArgs("volumes", "serviceaccount"),
	},
}
