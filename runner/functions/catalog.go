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

	// Summary says what the function does, in one line.
	Summary string
	// Outputs are the keys of the function's outputs; OutputsFromCommand
	// marks functions whose outputs are what their commands print with
	// `kando output`.
	Outputs            []string
	OutputsFromCommand bool
	// NeedsProfile: the function reads or writes the action's Profile
	// (the controller refuses to start it without one).
	NeedsProfile bool
}

// NeedsEncryptionKey reports whether the function opens an encrypted restic
// repository: it takes a required encryptionKey, for which Baton has no
// default.
func (s ArgSpec) NeedsEncryptionKey() bool { return slices.Contains(s.Required, "encryptionKey") }

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
		Summary:            "run a command in a pod of any image, with kando on PATH",
		OutputsFromCommand: true,
		Required:           []string{"image", "command"},
		Optional:           []string{"namespace", "podOverride", "podLabels", "podAnnotations"},
	},
	runner.MultiContainerRun: {
		Summary:            "init, background and output containers sharing a volume; outputs from the output container",
		OutputsFromCommand: true,
		Required:           []string{"backgroundImage", "backgroundCommand", "outputImage", "outputCommand"},
		Optional: []string{"initImage", "initCommand", "sharedVolumeDir", "sharedVolumeMedium", "sharedVolumeSizeLimit",
			"namespace", "podOverride", "podLabels", "podAnnotations"},
		Together: [][]string{{"initImage", "initCommand"}},
	},

	KubeExecName: {
		Summary:            "run a command in a container of a running pod (pods/exec)",
		OutputsFromCommand: true,
		Required:           []string{"namespace", "pod", "command"},
		Optional:           []string{"container"},
	},
	KubeExecAllName: {
		Summary:            "run a command in several pods and containers at once",
		OutputsFromCommand: true,
		Required:           []string{"namespace", "pods", "command"},
		Optional:           []string{"containers"},
	},
	ScaleWorkloadName: {
		Summary:  "scale a Deployment or StatefulSet and wait until it settles",
		Outputs:  []string{"originalReplicaCount"},
		Required: []string{"replicas"},
		Optional: []string{"namespace", "name", "kind", "waitForReady"},
	},
	WaitName: {
		Summary:  "wait until conditions on objects hold (Go templates on the live objects)",
		Required: []string{"timeout", "conditions"},
	},
	WaitV2Name: {
		Summary:  "Wait, with conditions evaluated against the objects as unstructured JSON",
		Required: []string{"timeout", "conditions"},
	},
	// spec is required for operation create, objectReference for delete.
	KubeOpsName: {
		Summary:  "create the objects of a manifest, or delete one object",
		Outputs:  []string{"apiVersion", "group", "resource", "kind", "name", "namespace"},
		Required: []string{"operation"},
		Optional: []string{"namespace", "spec", "objectReference"},
	},

	CreateCSISnapshotName: {
		Summary:  "take a VolumeSnapshot of a PVC and wait until it is ready",
		Outputs:  []string{"name", "pvc", "namespace", "restoreSize", "snapshotContent"},
		Required: []string{"pvc", "namespace", "snapshotClass"},
		Optional: []string{"name", "labels"},
	},
	// Kanister's code says snapshotHandle, its documentation handle.
	CreateCSISnapshotStaticName: {
		Summary:  "register an existing snapshot (a VolumeSnapshotContent and its VolumeSnapshot)",
		Outputs:  []string{"name", "namespace", "restoreSize", "snapshotContent"},
		Required: []string{"name", "namespace", "driver", "snapshotClass"},
		OneOf:    [][]string{{"snapshotHandle", "handle"}},
	},
	RestoreCSISnapshotName: {
		Summary:  "create a PVC from a VolumeSnapshot",
		Required: []string{"name", "pvc", "namespace", "storageClass", "restoreSize"},
		Optional: []string{"accessModes", "volumeMode", "labels"},
	},
	DeleteCSISnapshotName: {
		Summary:  "delete a VolumeSnapshot and wait until it is gone",
		Required: []string{"name", "namespace"},
	},

	BackupDataName: {
		Summary:      "back up a directory of a running container into a restic repository",
		Outputs:      []string{"backupTag", "backupID", "fileCount", "size", "phySize"},
		NeedsProfile: true,
		Required:     []string{"namespace", "pod", "container", "includePath", "backupArtifactPrefix", "encryptionKey"},
		Optional:     []string{"insecureTLS"},
	},
	BackupDataAllName: {
		Summary:      "BackupData of every pod of the workload, one snapshot per pod",
		Outputs:      []string{"BackupAllInfo"},
		NeedsProfile: true,
		Required:     []string{"namespace", "container", "includePath", "backupArtifactPrefix", "encryptionKey"},
		Optional:     []string{"pods", "insecureTLS"},
	},
	RestoreDataName: {
		Summary:      "restore a snapshot into the volumes of a pod, or given PVCs, through a data pod",
		NeedsProfile: true,
		Required:     []string{"namespace", "backupArtifactPrefix", "encryptionKey"},
		Optional:     withPodArgs("image", "restorePath", "insecureTLS"),
		OneOf:        [][]string{{"backupIdentifier", "backupTag"}, {"pod", "volumes"}},
	},
	RestoreDataAllName: {
		Summary:      "RestoreData of each pod's snapshot (BackupDataAll's BackupAllInfo)",
		NeedsProfile: true,
		Required:     []string{"namespace", "backupArtifactPrefix", "backupInfo", "encryptionKey"},
		Optional:     withPodArgs("image", "restorePath", "pods", "insecureTLS"),
	},
	CopyVolumeDataName: {
		Summary:      "back up a PVC nothing mounts (a data pod mounts it)",
		Outputs:      []string{"backupID", "backupTag", "backupRoot", "backupArtifactLocation", "fileCount", "size", "phySize"},
		NeedsProfile: true,
		Required:     []string{"namespace", "volume", "dataArtifactPrefix", "encryptionKey"},
		Optional:     withPodArgs("insecureTLS"),
	},
	DeleteDataName: {
		Summary:      "forget snapshots, and prune their data with reclaimSpace",
		Outputs:      []string{"spaceFreed"},
		NeedsProfile: true,
		Required:     []string{"namespace", "backupArtifactPrefix", "encryptionKey"},
		Optional:     withPodArgs("reclaimSpace", "insecureTLS"),
		OneOf:        [][]string{{"backupID", "backupTag"}},
	},
	DeleteDataAllName: {
		Summary:      "DeleteData of each pod's snapshot",
		Outputs:      []string{"spaceFreed"},
		NeedsProfile: true,
		Required:     []string{"namespace", "backupArtifactPrefix", "backupInfo", "encryptionKey"},
		Optional:     withPodArgs("reclaimSpace", "insecureTLS"),
	},
	BackupDataStatsName: {
		Summary:      "sizes and file counts of a snapshot",
		Outputs:      []string{"mode", "fileCount", "size"},
		NeedsProfile: true,
		Required:     []string{"namespace", "backupArtifactPrefix", "backupID", "encryptionKey"},
		Optional:     withPodArgs("mode", "insecureTLS"),
	},
	CheckRepositoryName: {
		Summary:      "check that a repository exists and opens with the key",
		Outputs:      []string{"passwordIncorrect", "repoUnavailable"},
		NeedsProfile: true,
		Required:     []string{"backupArtifactPrefix", "encryptionKey"},
		Optional:     withPodArgs("insecureTLS"),
	},
	LocationDeleteName: {
		Summary:      "delete an object or a prefix of the Profile's bucket",
		NeedsProfile: true,
		Required:     []string{"artifact"},
	},
	PrepareDataName: {
		Summary:            "run a command in a pod of any image mounting given PVCs",
		OutputsFromCommand: true,
		Required:           []string{"namespace", "image", "command"},
		Optional:           withPodArgs("volumes", "serviceaccount"),
	},
}
