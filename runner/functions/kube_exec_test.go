package functions

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

type execCall struct {
	Namespace, Pod, Container string
	Command                   []string
}

// fakeExecutor records executions and answers them with script.
type fakeExecutor struct {
	mu     sync.Mutex
	calls  []execCall
	script func(ctx context.Context, c execCall, stdout, stderr io.Writer) error
}

func (f *fakeExecutor) Exec(ctx context.Context, namespace, pod, container string, command []string, stdout, stderr io.Writer) error {
	c := execCall{namespace, pod, container, command}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	if f.script == nil {
		return nil
	}
	return f.script(ctx, c, stdout, stderr)
}

func (f *fakeExecutor) sortedCalls() []execCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.calls)
	slices.SortFunc(out, func(a, b execCall) int { return strings.Compare(a.Pod+"/"+a.Container, b.Pod+"/"+b.Container) })
	return out
}

func outputLine(t *testing.T, key string, value any) string {
	t.Helper()
	l, err := outputs.FormatLine(key, value)
	require.NoError(t, err)
	return l
}

func testPod(name string, annotations map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Annotations: annotations}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	return p
}

func TestKubeExecArguments(t *testing.T) {
	tests := []struct {
		name string
		args map[string]any
		err  string
	}{
		{name: "no namespace", args: map[string]any{"pod": "p", "command": []any{"true"}}, err: `KubeExec: argument "namespace" is required`},
		{name: "no pod", args: map[string]any{"namespace": "ns", "command": []any{"true"}}, err: `KubeExec: argument "pod" is required`},
		{name: "no command", args: map[string]any{"namespace": "ns", "pod": "p"}, err: `KubeExec: argument "command" is required`},
		{name: "empty command", args: map[string]any{"namespace": "ns", "pod": "p", "command": []any{}}, err: `KubeExec: argument "command" must not be empty`},
		{name: "unknown argument", args: map[string]any{"namespace": "ns", "pod": "p", "command": []any{"true"}, "containers": "c"}, err: `KubeExec: unknown argument "containers" (supported: "namespace", "pod", "container", "command")`},
		{name: "container not a string", args: map[string]any{"namespace": "ns", "pod": "p", "container": []any{"c"}, "command": []any{"true"}}, err: `KubeExec: argument "container" must be a string, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &fakeExecutor{}
			f := &KubeExec{Client: fake.NewClientset(), Executor: ex}
			_, err := f.Run(context.Background(), phase.Spec{Args: tt.args}, io.Discard, io.Discard)
			require.EqualError(t, err, tt.err)
			assert.Empty(t, ex.calls, "nothing runs when arguments are wrong")
		})
	}
}

func TestKubeExecCollectsOutputsAndStreams(t *testing.T) {
	ex := &fakeExecutor{script: func(_ context.Context, c execCall, stdout, stderr io.Writer) error {
		fmt.Fprintln(stdout, "dumping")
		fmt.Fprintln(stdout, outputLine(t, "version", "16.2"))
		fmt.Fprint(stderr, "a warning\n")
		// Kanister's spelling has a space after the marker; kando prints it.
		fmt.Fprintln(stdout, `###Phase-output###: {"key":"size","value":1024}`)
		return nil
	}}
	f := &KubeExec{Client: fake.NewClientset(), Executor: ex}
	var stdout, stderr bytes.Buffer
	out, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{
		"namespace": "ns", "pod": "db-0", "container": "postgres", "command": []any{"sh", "-c", "dump"},
	}}, &stdout, &stderr)
	require.NoError(t, err)
	assert.Equal(t, outputs.Outputs{"version": "16.2", "size": float64(1024)}, out)
	assert.Equal(t, []execCall{{"ns", "db-0", "postgres", []string{"sh", "-c", "dump"}}}, ex.calls)
	assert.Contains(t, stdout.String(), "dumping\n")
	assert.Contains(t, stdout.String(), `###Phase-output###: {"key":"version","value":"16.2"}`)
	assert.Equal(t, "a warning\n", stderr.String())
}

func TestKubeExecDefaultContainer(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
		err  string
	}{
		{name: "first container", pod: testPod("p", nil, "app", "sidecar"), want: "app"},
		{name: "kubectl's default-container annotation", pod: testPod("p", map[string]string{"kubectl.kubernetes.io/default-container": "sidecar"}, "app", "sidecar"), want: "sidecar"},
		{name: "annotation naming no container", pod: testPod("p", map[string]string{"kubectl.kubernetes.io/default-container": "gone"}, "app"), want: "app"},
		{name: "pod missing", pod: testPod("other", nil, "app"), err: `KubeExec: get pod ns/p to choose its container: pods "p" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &fakeExecutor{}
			f := &KubeExec{Client: fake.NewClientset(tt.pod), Executor: ex}
			_, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{"namespace": "ns", "pod": "p", "command": []any{"true"}}}, io.Discard, io.Discard)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, ex.calls, 1)
			assert.Equal(t, tt.want, ex.calls[0].Container)
		})
	}
}

func TestKubeExecFailures(t *testing.T) {
	args := map[string]any{"namespace": "ns", "pod": "db-0", "container": "pg", "command": []any{"false"}}
	tests := []struct {
		name   string
		script func(ctx context.Context, c execCall, stdout, stderr io.Writer) error
		err    string
	}{
		{
			name: "non-zero exit",
			script: func(_ context.Context, c execCall, stdout, _ io.Writer) error {
				fmt.Fprintln(stdout, `###Phase-output###: {"key":"k","value":"v"}`)
				return &ExitError{Namespace: c.Namespace, Pod: c.Pod, Container: c.Container, Code: 3}
			},
			err: `KubeExec: command in pod ns/db-0, container "pg", exited with code 3`,
		},
		{
			name: "malformed output line",
			script: func(_ context.Context, _ execCall, stdout, _ io.Writer) error {
				fmt.Fprintln(stdout, `###Phase-output###: {"key":`)
				return nil
			},
			err: `KubeExec: outputs of the command in pod ns/db-0, container "pg": malformed output line "###Phase-output###: {\"key\":"`,
		},
		{
			name: "cancelled",
			script: func(ctx context.Context, _ execCall, _, _ io.Writer) error {
				<-ctx.Done()
				return ctx.Err()
			},
			err: `KubeExec: context canceled`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if tt.name == "cancelled" {
				cancel()
			}
			defer cancel()
			f := &KubeExec{Client: fake.NewClientset(), Executor: &fakeExecutor{script: tt.script}}
			out, err := f.Run(ctx, phase.Spec{Args: args}, io.Discard, io.Discard)
			require.EqualError(t, err, tt.err)
			assert.Nil(t, out)
		})
	}
}

func TestExecCollectDrainsAfterAnUnreadableLine(t *testing.T) {
	// A line longer than Collect accepts stops it; the executor must still
	// be able to write everything and finish.
	ex := &fakeExecutor{script: func(_ context.Context, _ execCall, stdout, _ io.Writer) error {
		long := strings.Repeat("x", 9<<20)
		if _, err := io.WriteString(stdout, long+"\nmore\n"); err != nil {
			return err
		}
		return nil
	}}
	_, err := execCollect(context.Background(), ex, "ns", "p", "c", []string{"cat"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "token too long")
}
