package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ActionSet asks Baton to run actions of Blueprints: each names an action,
// the object it acts on, the Blueprint that defines it and what it is given
// (a Profile, artifacts, ConfigMaps, Secrets, options). The controller
// records progress in its status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=as,categories=baton
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=".status.state",description="State of the ActionSet"
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=".status.progress.percentCompleted",description="Percentage of phases completed"
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=".status.progress.runningPhase",description="Phase running now",priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
type ActionSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec lists the actions to run.
	// +optional
	Spec ActionSetSpec `json:"spec,omitzero"`
	// Status is written by the controller.
	// +optional
	Status ActionSetStatus `json:"status,omitzero"`
}

// ActionSetSpec lists the actions an ActionSet runs.
type ActionSetSpec struct {
	// Actions to run.
	// +optional
	Actions []ActionSpec `json:"actions,omitempty"`
	// Cancel, once set, stops the ActionSet (`batonctl cancel`): running
	// phases are stopped (their pods deleted), pending ones never start, the
	// deferPhase of every action that started still runs, and the ActionSet
	// ends cancelled with this reason. Baton's addition to Kanister's schema.
	// +optional
	Cancel *CancelRequest `json:"cancel,omitempty"`
	// TTLSecondsAfterFinished deletes the ActionSet — and with it its Jobs,
	// their pods and its phase Secrets — this long after it ended (complete,
	// failed or cancelled). Unset: the controller's --actionset-ttl (default
	// none: kept until deleted). Baton's addition to Kanister's schema.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// Timeout bounds the whole ActionSet, from its creation, e.g. "2h": once
	// it has passed, running phases are stopped and fail with a message
	// saying so, pending ones never start, and deferPhases still run.
	// Baton's addition to Kanister's schema.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// PhaseTimeout bounds each phase of the ActionSet whose Blueprint phase
	// sets no timeout of its own, e.g. "30m", instead of the controller's
	// --phase-deadline; a phase that runs out of it fails with a message
	// saying which limit it was. A change applies to phases started after
	// it. Baton's addition to Kanister's schema.
	// +optional
	PhaseTimeout *metav1.Duration `json:"phaseTimeout,omitempty"`
}

// CancelRequest asks for an ActionSet to be stopped.
type CancelRequest struct {
	// Reason is recorded in the ActionSet's status and its Cancelled Event.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ActionSpec is one action to run: which, on what, with what.
type ActionSpec struct {
	// Name of the action in the Blueprint, e.g. "backup".
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Object the action runs against.
	// +optional
	Object ObjectReference `json:"object,omitzero"`
	// Blueprint is the name of the Blueprint, in the ActionSet's namespace,
	// that defines the action.
	// +optional
	Blueprint string `json:"blueprint,omitempty"`
	// Artifacts are the action's input artifacts (the Blueprint action's
	// inputArtifactNames), usually output artifacts of an earlier action.
	// +optional
	Artifacts map[string]Artifact `json:"artifacts,omitempty"`
	// ConfigMaps supply the Blueprint action's configMapNames.
	// +optional
	ConfigMaps map[string]ObjectReference `json:"configMaps,omitempty"`
	// Secrets supply the Blueprint action's secretNames.
	// +optional
	Secrets map[string]ObjectReference `json:"secrets,omitempty"`
	// Profile is where the action's data goes and the credentials for it.
	// +optional
	Profile *ObjectReference `json:"profile,omitempty"`
	// RepositoryServer refers to a Kopia repository server resource. Kanister
	// accepts it; Baton keeps it for compatibility.
	// +optional
	RepositoryServer *ObjectReference `json:"repositoryServer,omitempty"`
	// PodOverride is merged into the spec of every pod the action's phases
	// create (a partial PodSpec).
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	PodOverride JSONMap `json:"podOverride,omitempty"`
	// Options are free-form values the Blueprint's templates can read.
	// +optional
	Options map[string]string `json:"options,omitempty"`
	// PreferredVersion selects a version of the functions the phases call.
	// +optional
	PreferredVersion string `json:"preferredVersion,omitempty"`
	// PodLabels are added to every pod the action's phases create.
	// +optional
	PodLabels map[string]string `json:"podLabels,omitempty"`
	// PodAnnotations are added to every pod the action's phases create.
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`
}

// ActionSetStatus is the controller's record of an ActionSet's run.
type ActionSetStatus struct {
	// State of the ActionSet as a whole.
	// +optional
	State State `json:"state,omitempty"`
	// Actions mirror the spec's actions, in order, with their phases' states
	// and the artifacts they produced.
	// +optional
	Actions []ActionStatus `json:"actions,omitempty"`
	// Error is why the ActionSet failed.
	// +optional
	Error *ActionSetError `json:"error,omitempty"`
	// Progress summarises how far the run is.
	// +optional
	Progress *ActionProgress `json:"progress,omitempty"`

	// ObservedGeneration is the metadata.generation this status describes
	// (Baton only).
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions are the standard Kubernetes conditions (Baton only).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// ActionStatus is the run of one action.
type ActionStatus struct {
	// Name of the action.
	// +optional
	Name string `json:"name,omitempty"`
	// Object the action runs against.
	// +optional
	Object ObjectReference `json:"object,omitzero"`
	// Blueprint that defines the action.
	// +optional
	Blueprint string `json:"blueprint,omitempty"`
	// Phases of the action, in order.
	// +optional
	Phases []Phase `json:"phases,omitempty"`
	// Artifacts the action produced (its Blueprint's outputArtifacts,
	// rendered).
	// +optional
	Artifacts map[string]Artifact `json:"artifacts,omitempty"`
	// DeferPhase is the run of the Blueprint action's deferPhase.
	// +optional
	DeferPhase *Phase `json:"deferPhase,omitempty"`
	// Workload is the action's Deployment or StatefulSet as it was when the
	// action started. Templates see these pods, containers and claims for
	// the whole action, as in Kanister, so a phase that runs after the
	// workload was scaled to zero still knows what it had.
	// +optional
	Workload *WorkloadSnapshot `json:"workload,omitempty"`
}

// WorkloadSnapshot records a workload's pods when its action started.
type WorkloadSnapshot struct {
	// Pods are the pod names, oldest first.
	// +optional
	Pods []string `json:"pods,omitempty"`
	// Containers lists each pod's container names, in Pods' order.
	// +optional
	Containers [][]string `json:"containers,omitempty"`
	// PersistentVolumeClaims maps a pod name to its claims, each with the
	// path it is mounted at.
	// +optional
	PersistentVolumeClaims map[string]map[string]string `json:"persistentVolumeClaims,omitempty"`
}

// ActionSetError describes why an ActionSet failed.
type ActionSetError struct {
	// Message is the error, for people.
	// +optional
	Message string `json:"message,omitempty"`
}

// ActionProgress is the progress of an ActionSet's run.
type ActionProgress struct {
	// RunningPhase is the name of the phase running now; empty once done.
	// +optional
	RunningPhase string `json:"runningPhase,omitempty"`
	// PercentCompleted is the share of phases completed, as a decimal
	// string such as "50.00".
	// +optional
	PercentCompleted string `json:"percentCompleted,omitempty"`
	// SizeDownloadedB is the number of bytes downloaded so far, for actions
	// that move data.
	// +optional
	SizeDownloadedB int64 `json:"sizeDownloadedB,omitempty"`
	// SizeUploadedB is the number of bytes uploaded so far, for actions that
	// move data.
	// +optional
	SizeUploadedB int64 `json:"sizeUploadedB,omitempty"`
	// EstimatedDownloadSizeB is the number of bytes the action is expected
	// to download.
	// +optional
	EstimatedDownloadSizeB int64 `json:"estimatedDownloadSizeB,omitempty"`
	// EstimatedUploadSizeB is the number of bytes the action is expected to
	// upload.
	// +optional
	EstimatedUploadSizeB int64 `json:"estimatedUploadSizeB,omitempty"`
	// LastTransitionTime is when this progress was last updated.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
}

// Phase is the run of one phase of an action.
type Phase struct {
	// Name of the Blueprint phase.
	// +optional
	Name string `json:"name,omitempty"`
	// State of the phase.
	// +optional
	State State `json:"state,omitempty"`
	// Output is what the phase's function returned; later phases and output
	// artifacts read it by the phase's name.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Output JSONMap `json:"output,omitempty"`
	// Progress of the phase.
	// +optional
	Progress *PhaseProgress `json:"progress,omitempty"`
	// Attempts are the phase's pods, oldest first: one per try when the
	// phase is retried. Recorded when an attempt fails and when the phase
	// ends (Baton only).
	// +optional
	Attempts []PhaseAttempt `json:"attempts,omitempty"`
}

// PhaseAttempt is one try of a phase: one pod of its Job.
type PhaseAttempt struct {
	// Pod that ran the attempt; empty when the pod was gone before its end
	// was recorded (deleted or evicted).
	// +optional
	Pod string `json:"pod,omitempty"`
	// State of the attempt: running, complete or failed.
	// +optional
	State State `json:"state,omitempty"`
	// ExitCode of the phase's main container, once it exited.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// Message says why the attempt failed.
	// +optional
	Message string `json:"message,omitempty"`
	// Disrupted is set when the pod was evicted, preempted or lost with its
	// node: the attempt was replaced without counting against the retries.
	// +optional
	Disrupted bool `json:"disrupted,omitempty"`
	// StartTime is when the attempt's pod was created.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// FinishTime is when its main container exited.
	// +optional
	FinishTime *metav1.Time `json:"finishTime,omitempty"`
}

// PhaseProgress is the progress of one phase.
type PhaseProgress struct {
	// ProgressPercent is the phase's completion, as a decimal string.
	// +optional
	ProgressPercent string `json:"progressPercent,omitempty"`
	// SizeDownloadedB is the number of bytes downloaded so far.
	// +optional
	SizeDownloadedB int64 `json:"sizeDownloadedB,omitempty"`
	// SizeUploadedB is the number of bytes uploaded so far.
	// +optional
	SizeUploadedB int64 `json:"sizeUploadedB,omitempty"`
	// EstimatedDownloadSizeB is the number of bytes the phase is expected to
	// download.
	// +optional
	EstimatedDownloadSizeB int64 `json:"estimatedDownloadSizeB,omitempty"`
	// EstimatedUploadSizeB is the number of bytes the phase is expected to
	// upload.
	// +optional
	EstimatedUploadSizeB int64 `json:"estimatedUploadSizeB,omitempty"`
	// EstimatedTimeSeconds is the expected time left for the transfer. The
	// key is spelled as in Kanister's CRD schema (its Go type misspells it,
	// so Kanister's API server never stored that spelling).
	// +optional
	EstimatedTimeSeconds int64 `json:"estimatedTimeSeconds,omitempty"`
	// LastTransitionTime is when this progress was last updated.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
}

// ActionSetList is a list of ActionSets.
//
// +kubebuilder:object:root=true
type ActionSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ActionSet `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ActionSet{}, &ActionSetList{})
}
