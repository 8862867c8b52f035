package functions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

func TestKubeExecAllArguments(t *testing.T) {
	tests := []struct {
		name string
		args map[string]any
		err  string
	}{
		{name: "no namespace", args: map[string]any{"pods": "a", "command": []any{"true"}}, err: `KubeExecAll: argument "namespace" is required`},
		{name: "no pods", args: map[string]any{"namespace": "ns", "command": []any{"true"}}, err: `KubeExecAll: argument "pods" is required`},
		{name: "no command", args: map[string]any{"namespace": "ns", "pods": "a"}, err: `KubeExecAll: argument "command" is required`},
		{name: "pods a map", args: map[string]any{"namespace": "ns", "pods": map[string]any{}, "command": []any{"true"}}, err: `KubeExecAll: argument "pods" must be a list of strings, got a map`},
		{name: "singular pod", args: map[string]any{"namespace": "ns", "pod": "a", "command": []any{"true"}}, err: `KubeExecAll: unknown argument "pod" (supported: "namespace", "pods", "containers", "command")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &fakeExecutor{}
			f := &KubeExecAll{Client: fake.NewClientset(), Executor: ex}
			_, err := f.Run(context.Background(), phase.Spec{Args: tt.args}, io.Discard, io.Discard)
			require.EqualError(t, err, tt.err)
			assert.Empty(t, ex.calls)
		})
	}
}

func TestKubeExecAllFansOutConcurrently(t *testing.T) {
	tests := []struct {
		name       string
		pods       any
		containers any
	}{
		{name: "space-separated strings, as Kanister takes them", pods: "a  b", containers: "c1 c2"},
		{name: "lists", pods: []any{"a", "b"}, containers: []any{"c1", "c2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every execution waits until all four have started: they only
			// finish if they run side by side.
			var started sync.WaitGroup
			started.Add(4)
			allStarted := make(chan struct{})
			go func() { started.Wait(); close(allStarted) }()
			ex := &fakeExecutor{script: func(ctx context.Context, c execCall, stdout, _ io.Writer) error {
				started.Done()
				select {
				case <-allStarted:
				case <-ctx.Done():
					return errors.New("executions did not run concurrently")
				}
				fmt.Fprintf(stdout, "hello from %s\n", c.Container)
				fmt.Fprintln(stdout, outputLine(t, c.Pod+"-"+c.Container, "done"))
				fmt.Fprintln(stdout, outputLine(t, "shared", c.Pod+"/"+c.Container))
				return nil
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout bytes.Buffer
			f := &KubeExecAll{Client: fake.NewClientset(), Executor: ex}
			out, err := f.Run(ctx, phase.Spec{Args: map[string]any{
				"namespace": "ns", "pods": tt.pods, "containers": tt.containers, "command": []any{"sh", "-c", "x"},
			}}, &stdout, io.Discard)
			require.NoError(t, err)
			assert.Equal(t, []execCall{
				{"ns", "a", "c1", []string{"sh", "-c", "x"}},
				{"ns", "a", "c2", []string{"sh", "-c", "x"}},
				{"ns", "b", "c1", []string{"sh", "-c", "x"}},
				{"ns", "b", "c2", []string{"sh", "-c", "x"}},
			}, ex.sortedCalls())
			assert.Equal(t, outputs.Outputs{
				"a-c1": "done", "a-c2": "done", "b-c1": "done", "b-c2": "done",
				// The pair listed last wins a key several print.
				"shared": "b/c2",
			}, out)
			assert.Contains(t, stdout.String(), "a/c1: hello from c1\n")
			assert.Contains(t, stdout.String(), "b/c2: hello from c2\n")
		})
	}
}

func TestKubeExecAllListsEveryFailure(t *testing.T) {
	ex := &fakeExecutor{script: func(_ context.Context, c execCall, stdout, stderr io.Writer) error {
		fmt.Fprintln(stdout, outputLine(t, "k", "v"))
		switch c.Pod {
		case "a":
			fmt.Fprint(stderr, "disk full") // no final newline: still printed
			return &ExitError{Namespace: c.Namespace, Pod: c.Pod, Container: c.Container, Code: 1}
		case "c":
			return errors.New("exec in pod ns/c: connection refused")
		}
		return nil
	}}
	var stderr bytes.Buffer
	f := &KubeExecAll{Client: fake.NewClientset(), Executor: ex}
	out, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{
		"namespace": "ns", "pods": "a b c", "containers": "main", "command": []any{"backup"},
	}}, io.Discard, &stderr)
	require.Error(t, err)
	assert.Nil(t, out)
	assert.Equal(t, "KubeExecAll: 2 of 3 executions failed:\n"+
		"command in pod ns/a, container \"main\", exited with code 1\n"+
		"exec in pod ns/c: connection refused", err.Error())
	assert.Len(t, ex.calls, 3, "every execution runs to its end")
	assert.Equal(t, "a/main: disk full\n", stderr.String())
}

func TestKubeExecAllDefaultContainers(t *testing.T) {
	ex := &fakeExecutor{}
	client := fake.NewClientset(testPod("a", nil, "app", "sidecar"), testPod("b", nil, "web"))
	f := &KubeExecAll{Client: client, Executor: ex}
	_, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{
		"namespace": "ns", "pods": "a b missing", "command": []any{"true"},
	}}, io.Discard, io.Discard)
	require.EqualError(t, err, "KubeExecAll: 1 of 3 executions failed:\n"+
		`get pod ns/missing to choose its container: pods "missing" not found`)
	assert.Equal(t, []execCall{
		{"ns", "a", "app", []string{"true"}},
		{"ns", "b", "web", []string{"true"}},
	}, ex.sortedCalls())
}

func TestKubeExecAllNoPods(t *testing.T) {
	ex := &fakeExecutor{}
	var stderr bytes.Buffer
	f := &KubeExecAll{Client: fake.NewClientset(), Executor: ex}
	out, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{
		"namespace": "ns", "pods": " ", "containers": "c", "command": []any{"true"},
	}}, io.Discard, &stderr)
	require.NoError(t, err)
	assert.Empty(t, out)
	assert.Empty(t, ex.calls)
	assert.True(t, strings.Contains(stderr.String(), "no pods given"))
}

func TestLineWriterKeepsLinesWhole(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	a := &lineWriter{mu: &mu, w: &out, prefix: "a: "}
	b := &lineWriter{mu: &mu, w: &out, prefix: "b: "}
	_, _ = a.Write([]byte("one "))
	_, _ = b.Write([]byte("x\ny"))
	_, _ = a.Write([]byte("line\ntwo"))
	require.NoError(t, a.Flush())
	require.NoError(t, b.Flush())
	assert.Equal(t, "b: x\na: one line\na: two\nb: y\n", out.String())
}
