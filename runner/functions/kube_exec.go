package functions

import (
	"context"
	"fmt"
	"io"

	"k8s.io/client-go/kubernetes"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// KubeExec runs a command in a container of a running pod, like
// `kubectl exec`. Arguments (Kanister's):
//
//	namespace  required  the pod's namespace
//	pod        required  the pod's name
//	container  optional  the container; by default the pod's default
//	                     container (kubectl's annotation), else its first
//	command    required  the command and its arguments, a list
//
// The command's stdout goes to the runner's stdout and its stderr to the
// runner's stderr; the output lines it prints (`kando output KEY VALUE`,
// or any `###Phase-output###: {...}` line) become the phase's outputs. A
// non-zero exit fails the phase, naming the pod, container and exit code.
type KubeExec struct {
	Client   kubernetes.Interface
	Executor Executor
}

var kubeExecArgs = []string{"namespace", "pod", "container", "command"}

// Run implements runner.Function.
func (f *KubeExec) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(KubeExecName, spec.Args, kubeExecArgs...)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", true)
	if err != nil {
		return nil, err
	}
	pod, err := a.str("pod", true)
	if err != nil {
		return nil, err
	}
	container, err := a.str("container", false)
	if err != nil {
		return nil, err
	}
	command, err := a.stringList("command", true)
	if err != nil {
		return nil, err
	}
	if len(command) == 0 {
		return nil, fmt.Errorf("%s: argument %q must not be empty", KubeExecName, "command")
	}
	if container == "" {
		if container, err = defaultContainer(ctx, f.Client, namespace, pod); err != nil {
			return nil, fmt.Errorf("%s: %w", KubeExecName, err)
		}
	}
	out, err := execCollect(ctx, f.Executor, namespace, pod, container, command, stdout, stderr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KubeExecName, err)
	}
	return out, nil
}
