package v1alpha1

// ObjectReference names a Kubernetes object of any API, custom resources
// included.
type ObjectReference struct {
	// APIVersion of the referent, e.g. "v1" or "apps/v1".
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Group of the referent; empty for the core group.
	// +optional
	Group string `json:"group,omitempty"`
	// Resource is the plural resource name of the referent, e.g.
	// "deployments". Needed for kinds Baton does not know by name.
	// +optional
	Resource string `json:"resource,omitempty"`
	// Kind of the referent, e.g. "Deployment".
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name of the referent.
	// +optional
	Name string `json:"name,omitempty"`
	// Namespace of the referent; empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// Artifact is what an action hands to a later action: typically where a
// backup was written and how to find it again.
type Artifact struct {
	// KeyValue holds the artifact as string pairs, rendered from the
	// templates a Blueprint's outputArtifacts declare.
	// +optional
	KeyValue map[string]string `json:"keyValue,omitempty"`
	// KopiaSnapshot is a Kopia snapshot description, a JSON document kept as
	// a string.
	// +optional
	KopiaSnapshot string `json:"kopiaSnapshot,omitempty"`
}

// State is where an ActionSet, or one of its phases, is in its run.
// +kubebuilder:validation:Enum=pending;queued;running;failed;complete;cancelled
type State string

const (
	// StatePending: not started yet.
	StatePending State = "pending"
	// StateQueued: an ActionSet waiting for the controller to run fewer
	// ActionSets (its --max-running-actionsets limits); it starts, in
	// creation order, when one ends. Baton only.
	StateQueued State = "queued"
	// StateRunning: started and not finished.
	StateRunning State = "running"
	// StateFailed: finished unsuccessfully.
	StateFailed State = "failed"
	// StateComplete: finished successfully.
	StateComplete State = "complete"
	// StateCancelled: stopped on request (an ActionSet whose spec.cancel is
	// set, or a phase it stopped) — not a failure of what ran.
	StateCancelled State = "cancelled"
)

// IsTerminal reports whether s is a state nothing moves on from (failed,
// complete or cancelled).
func (s State) IsTerminal() bool {
	return s == StateFailed || s == StateComplete || s == StateCancelled
}
