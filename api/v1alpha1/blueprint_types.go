package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Blueprint is an application expert's recipe: named actions (backup,
// restore, delete, ...), each an ordered list of phases calling functions
// with templated arguments. Like Kanister's, a Blueprint has no spec: its
// actions sit at the top level.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=bp,categories=baton
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
type Blueprint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Actions maps an action's name (what an ActionSet's action names) to
	// the action.
	// +optional
	Actions map[string]BlueprintAction `json:"actions,omitempty"`
}

// BlueprintAction is one action of a Blueprint: the phases it runs in order,
// what it needs and what it leaves behind.
type BlueprintAction struct {
	// Name of the action; informational, the key in the Blueprint's actions
	// map is what ActionSets refer to.
	// +optional
	Name string `json:"name,omitempty"`
	// Kind of object the action runs against, e.g. Deployment, StatefulSet,
	// Namespace.
	// +optional
	Kind string `json:"kind,omitempty"`
	// ConfigMapNames are the ConfigMaps an ActionSet must supply (in its
	// configMaps) for the phases' templates.
	// +optional
	ConfigMapNames []string `json:"configMapNames,omitempty"`
	// SecretNames are the Secrets an ActionSet must supply (in its secrets)
	// for the phases' templates.
	// +optional
	SecretNames []string `json:"secretNames,omitempty"`
	// InputArtifactNames are the artifacts, produced by an earlier action,
	// that an ActionSet must supply (in its artifacts).
	// +optional
	InputArtifactNames []string `json:"inputArtifactNames,omitempty"`
	// OutputArtifacts are rendered after the phases ran and recorded in the
	// ActionSet's status for later actions.
	// +optional
	OutputArtifacts map[string]Artifact `json:"outputArtifacts,omitempty"`
	// Phases run one after another; the first failure stops the action.
	// +optional
	Phases []BlueprintPhase `json:"phases,omitempty"`
	// DeferPhase runs after the phases whether they succeeded or not, e.g.
	// to clean up.
	// +optional
	DeferPhase *BlueprintPhase `json:"deferPhase,omitempty"`
}

// BlueprintPhase is one step of an action: a function and its arguments.
type BlueprintPhase struct {
	// Func names the function the phase calls, e.g. KubeExec.
	// +kubebuilder:validation:MinLength=1
	Func string `json:"func"`
	// Name of the phase; later phases and output artifacts refer to its
	// output by this name.
	// +optional
	Name string `json:"name,omitempty"`
	// Objects names further Kubernetes objects the args' templates can use.
	// +optional
	Objects map[string]ObjectReference `json:"objects,omitempty"`
	// Args are the function's named arguments: any JSON, with Go templates in
	// its strings rendered before the function runs.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Args JSONMap `json:"args,omitempty"`
	// Timeout bounds the phase's run (its Job's activeDeadlineSeconds), e.g.
	// "10m"; unset, the controller's --phase-deadline applies. A phase that
	// runs out of time fails with a message saying so. Baton's addition to
	// Kanister's schema.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Retries is how many times a failed attempt of the phase is run again
	// before the phase fails (its Job's backoffLimit; the Job controller
	// waits 10 s, 20 s, 40 s, … up to 6 min between attempts). Unset: the
	// controller's --phase-retries (default 0). The phase's timeout bounds
	// all its attempts together. A pod evicted or preempted (a disruption,
	// not a failure of the phase) is replaced without counting. Baton's
	// addition to Kanister's schema.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=20
	// +optional
	Retries *int32 `json:"retries,omitempty"`
	// NonRetryableExitCodes fail the phase at once, whatever Retries says,
	// when its main container exits with one of them (the Job's
	// podFailurePolicy), e.g. a backup tool's "bad configuration" code.
	// Baton's addition to Kanister's schema.
	// +kubebuilder:validation:MaxItems=255
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=255
	// +listType=set
	// +optional
	NonRetryableExitCodes []int32 `json:"nonRetryableExitCodes,omitempty"`
}

// BlueprintList is a list of Blueprints.
//
// +kubebuilder:object:root=true
type BlueprintList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Blueprint `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Blueprint{}, &BlueprintList{})
}
