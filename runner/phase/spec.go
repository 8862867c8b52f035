// Package phase defines the rendered phase a runner executes: the document
// the controller writes into the phase's Secret and the runner reads from
// the mounted directory.
package phase

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Keys of the phase Secret, and so file names in the mounted directory.
const (
	// SpecFile holds the rendered phase document.
	SpecFile = "phase.json"
	// ProfileFile holds the action's Profile with its credentials, in the
	// JSON shape of {{ toJson .Profile }}; absent when the action has none.
	ProfileFile = "profile.json"
)

// ObjectRef names a Kubernetes object a phase acts on.
type ObjectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Group      string `json:"group,omitempty"`
	Resource   string `json:"resource,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
}

// Spec is one rendered phase: every template already expanded.
type Spec struct {
	// ActionSet, Action and Phase name where this phase comes from, for
	// messages and logs.
	ActionSet string `json:"actionSet"`
	Namespace string `json:"namespace"`
	// ActionSetUID labels what a phase creates outside its own Job (data
	// pods in the app's namespace), so it can be found and cleaned up.
	ActionSetUID string `json:"actionSetUID,omitempty"`
	Action       string `json:"action"`
	Phase        string `json:"phase"`
	// Function is the registered function to run (KubeExec, KubeTask, ...).
	Function string `json:"func"`
	// Args are the function's rendered arguments.
	Args map[string]any `json:"args,omitempty"`
	// Object is the object the action runs on.
	Object ObjectRef `json:"object"`
	// Objects are the phase's named object references, rendered.
	Objects map[string]ObjectRef `json:"objects,omitempty"`
	// Profile is the content of ProfileFile, nil when the action names no
	// Profile. Kept apart from the document so that credentials are read
	// only by the functions that move data.
	Profile []byte `json:"-"`
}

// Describe names the phase for messages.
func (s Spec) Describe() string {
	return fmt.Sprintf("phase %q (%s) of action %q", s.Phase, s.Function, s.Action)
}

// Load reads and checks the phase document in dir.
func Load(dir string) (Spec, error) {
	raw, err := os.ReadFile(filepath.Join(dir, SpecFile))
	if err != nil {
		return Spec{}, fmt.Errorf("read phase: %w", err)
	}
	var s Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return Spec{}, fmt.Errorf("phase document %s is not valid: %w", filepath.Join(dir, SpecFile), err)
	}
	if s.Function == "" {
		return Spec{}, errors.New("phase document names no function")
	}
	s.Profile, err = os.ReadFile(filepath.Join(dir, ProfileFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Spec{}, fmt.Errorf("read profile: %w", err)
	}
	return s, nil
}
