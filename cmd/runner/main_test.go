package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	builtin "github.com/batonhq/baton/runner/functions"
	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

func writePhase(t *testing.T, spec phase.Spec) string {
	t.Helper()
	dir := t.TempDir()
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, phase.SpecFile), raw, 0o600))
	return dir
}

func runRunner(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	return out.String(), root.Execute()
}

// notInCluster makes rest.InClusterConfig fail, as outside a pod.
func notInCluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
}

func TestRunUserCommandNeedsNoCluster(t *testing.T) {
	notInCluster(t)
	dir := writePhase(t, phase.Spec{Phase: "dump", Action: "backup", Function: "KubeTask"})
	term := filepath.Join(t.TempDir(), "termination-log")
	_, err := runRunner(t, "run", "--phase-dir", dir, "--termination-log", term, "--", "true")
	require.NoError(t, err)
}

func TestRunFunctionOutsideAClusterFailsClearly(t *testing.T) {
	notInCluster(t)
	dir := writePhase(t, phase.Spec{Phase: "quiesce", Action: "backup", Function: "ScaleWorkload",
		Args: map[string]any{"replicas": 0}})
	term := filepath.Join(t.TempDir(), "termination-log")
	_, err := runRunner(t, "run", "--phase-dir", dir, "--termination-log", term)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `phase "quiesce" (ScaleWorkload) of action "backup": ScaleWorkload: cluster configuration: unable to load in-cluster configuration`)
	msg, err := os.ReadFile(term)
	require.NoError(t, err)
	assert.Contains(t, outputs.FailureMessage(string(msg)), "ScaleWorkload: cluster configuration")
}

func TestRunUnknownFunctionListsTheRegistry(t *testing.T) {
	notInCluster(t)
	dir := writePhase(t, phase.Spec{Phase: "p", Action: "a", Function: "NoSuchFunction"})
	_, err := runRunner(t, "run", "--phase-dir", dir, "--termination-log", filepath.Join(t.TempDir(), "t"))
	known := slices.Sorted(slices.Values(builtin.Names()))
	require.EqualError(t, err, `phase "p" (NoSuchFunction) of action "a": function "NoSuchFunction" is not available in this runner (known: `+strings.Join(known, ", ")+`)`)
}
