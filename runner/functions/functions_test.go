package functions

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/batonhq/baton/runner"
	"github.com/batonhq/baton/runner/phase"
)

func TestNewRegistersNames(t *testing.T) {
	// Building the clients does not contact the server.
	reg, err := New(&rest.Config{Host: "https://api.invalid:6443"})
	require.NoError(t, err)
	assert.ElementsMatch(t, Names(), slices.Collect(maps.Keys(reg)))
	for name, fn := range reg {
		assert.NotNil(t, fn, name)
	}
	var _ runner.Function = reg[WaitV2Name]
}

func TestLazyBuildsOnFirstRunOnly(t *testing.T) {
	calls := 0
	reg := Lazy(func() (*rest.Config, error) {
		calls++
		return nil, errors.New("not in a cluster")
	})
	assert.ElementsMatch(t, Names(), slices.Collect(maps.Keys(reg)))
	assert.Zero(t, calls, "listing the registry needs no configuration")

	_, err := reg[KubeExecName].Run(context.Background(), phase.Spec{}, io.Discard, io.Discard)
	require.EqualError(t, err, "KubeExec: cluster configuration: not in a cluster")
	_, err = reg[WaitName].Run(context.Background(), phase.Spec{}, io.Discard, io.Discard)
	require.EqualError(t, err, "Wait: cluster configuration: not in a cluster")
	assert.Equal(t, 1, calls, "the configuration is read once")
}

func TestLazyRunsTheBuiltFunction(t *testing.T) {
	reg := Lazy(func() (*rest.Config, error) { return &rest.Config{Host: "https://api.invalid:6443"}, nil })
	// Argument checks come before any request, so this reaches the real
	// function without a server.
	_, err := reg[ScaleWorkloadName].Run(context.Background(), phase.Spec{Args: map[string]any{}}, io.Discard, io.Discard)
	require.EqualError(t, err, `ScaleWorkload: argument "replicas" is required`)
}
