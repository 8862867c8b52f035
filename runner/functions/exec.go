package functions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/batonhq/baton/runner/outputs"
)

// Executor runs a command in a container of a running pod, streaming the
// command's stdout and stderr to the writers, and returns an *ExitError when
// the command ran and failed.
type Executor interface {
	Exec(ctx context.Context, namespace, pod, container string, command []string, stdout, stderr io.Writer) error
}

// StreamExecutor is an Executor that can also feed a command's stdin, for
// the data functions that stream a tar archive into a pod.
type StreamExecutor interface {
	Executor
	// ExecStream is Exec with stdin (nil: none) fed to the command.
	ExecStream(ctx context.Context, namespace, pod, container string, command []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// ExitError reports a command that ran in a container and exited non-zero.
type ExitError struct {
	Namespace, Pod, Container string
	Code                      int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("command in pod %s/%s, container %q, exited with code %d", e.Namespace, e.Pod, e.Container, e.Code)
}

// APIExecutor execs through the API server's pods/exec subresource, like
// kubectl exec: over WebSocket, falling back to SPDY when the server or a
// proxy on the way does not upgrade to WebSocket.
type APIExecutor struct {
	Config *rest.Config
	Client kubernetes.Interface
}

// Exec implements Executor.
func (e *APIExecutor) Exec(ctx context.Context, namespace, pod, container string, command []string, stdout, stderr io.Writer) error {
	return e.ExecStream(ctx, namespace, pod, container, command, nil, stdout, stderr)
}

// ExecStream implements StreamExecutor.
func (e *APIExecutor) ExecStream(ctx context.Context, namespace, pod, container string, command []string, stdin io.Reader, stdout, stderr io.Writer) error {
	req := e.Client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   command,
			Stdin:     stdin != nil,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(e.Config, "GET", req.URL().String())
	if err != nil {
		return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(e.Config, "POST", req.URL())
	if err != nil {
		return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	err = streamUntilDone(ctx, exec, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	var exit utilexec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		return &ExitError{Namespace: namespace, Pod: pod, Container: container, Code: exit.ExitStatus()}
	}
	if err != nil {
		return fmt.Errorf("exec in pod %s/%s, container %q: %w", namespace, pod, container, err)
	}
	return nil
}

// streamUntilDone streams an exec session and returns when it ends or ctx
// is done, whichever comes first. client-go's executors do not always
// return on cancellation: once a writer of ours fails (restic, reading a
// tar stream, was stopped) they stop reading the connection, the server
// blocks sending the rest and the session never ends. The abandoned stream
// goroutine ends when the connection does (at the latest when the runner
// exits).
func streamUntilDone(ctx context.Context, exec remotecommand.Executor, opts remotecommand.StreamOptions) error {
	done := make(chan error, 1)
	go func() { done <- exec.StreamWithContext(ctx, opts) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// execCollect runs command through ex, passing its stdout through to stdout
// while collecting the output lines it prints, and its stderr to stderr.
func execCollect(ctx context.Context, ex Executor, namespace, pod, container string, command []string, stdout, stderr io.Writer) (outputs.Outputs, error) {
	pr, pw := io.Pipe()
	type collected struct {
		out outputs.Outputs
		err error
	}
	done := make(chan collected, 1)
	go func() {
		out, err := outputs.Collect(pr, stdout)
		// Collect stops at a line it can not read; keep draining so the
		// executor never blocks writing.
		_, _ = io.Copy(io.Discard, pr)
		done <- collected{out, err}
	}()
	execErr := ex.Exec(ctx, namespace, pod, container, command, pw, stderr)
	_ = pw.Close()
	res := <-done
	if execErr != nil {
		return nil, execErr
	}
	if res.err != nil {
		return nil, fmt.Errorf("outputs of the command in pod %s/%s, container %q: %w", namespace, pod, container, res.err)
	}
	return res.out, nil
}

// defaultContainer returns the container kubectl would choose in pod: the
// one its kubectl.kubernetes.io/default-container annotation names, else
// the first.
func defaultContainer(ctx context.Context, client kubernetes.Interface, namespace, pod string) (string, error) {
	p, err := client.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get pod %s/%s to choose its container: %w", namespace, pod, err)
	}
	if name := p.Annotations["kubectl.kubernetes.io/default-container"]; name != "" {
		for _, c := range p.Spec.Containers {
			if c.Name == name {
				return name, nil
			}
		}
	}
	if len(p.Spec.Containers) == 0 {
		return "", fmt.Errorf("pod %s/%s has no containers", namespace, pod)
	}
	return p.Spec.Containers[0].Name, nil
}

// lineWriter writes whole lines to a shared writer, each prefixed, so that
// the output of commands running side by side interleaves by line and stays
// attributable. Flush writes a last unterminated line.
type lineWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if err := l.emit(l.buf[:i+1]); err != nil {
			return len(p), err
		}
		l.buf = l.buf[i+1:]
	}
}

func (l *lineWriter) Flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	line := append(l.buf, '\n')
	l.buf = nil
	return l.emit(line)
}

func (l *lineWriter) emit(line []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := io.WriteString(l.w, l.prefix+string(line))
	return err
}
