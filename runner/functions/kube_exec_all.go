package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"k8s.io/client-go/kubernetes"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// KubeExecAll runs a command in every listed container of every listed pod,
// all at once. Arguments (Kanister's):
//
//	namespace   required  the pods' namespace
//	pods        required  pod names: a list, or one space-separated string
//	containers  optional  container names, the same way; by default each
//	                      pod's default container (Kanister requires it)
//	command     required  the command and its arguments, a list
//
// Each line a command prints is passed through prefixed with its pod and
// container. The outputs of all commands are merged; when several print the
// same key, the one listed last (pods, then containers, in argument order)
// wins. Every execution runs to its end; if any fails, the phase fails with
// every failure listed. An empty pods list runs nothing and succeeds, as in
// Kanister.
type KubeExecAll struct {
	Client   kubernetes.Interface
	Executor Executor
}

var kubeExecAllArgs = []string{"namespace", "pods", "containers", "command"}

// Run implements runner.Function.
func (f *KubeExecAll) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(KubeExecAllName, spec.Args, kubeExecAllArgs...)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", true)
	if err != nil {
		return nil, err
	}
	pods, err := a.fieldList("pods", true)
	if err != nil {
		return nil, err
	}
	containers, err := a.fieldList("containers", false)
	if err != nil {
		return nil, err
	}
	command, err := a.stringList("command", true)
	if err != nil {
		return nil, err
	}
	if len(command) == 0 {
		return nil, fmt.Errorf("%s: argument %q must not be empty", KubeExecAllName, "command")
	}
	if len(pods) == 0 {
		fmt.Fprintf(stderr, "%s: no pods given, nothing to run\n", KubeExecAllName)
		return outputs.Outputs{}, nil
	}

	type target struct{ pod, container string }
	var targets []target
	for _, p := range pods {
		if len(containers) == 0 {
			targets = append(targets, target{pod: p}) // default container, resolved below
			continue
		}
		for _, c := range containers {
			targets = append(targets, target{pod: p, container: c})
		}
	}

	type result struct {
		out outputs.Outputs
		err error
	}
	results := make([]result, len(targets))
	var outMu, errMu sync.Mutex
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			container := t.container
			if container == "" {
				c, err := defaultContainer(ctx, f.Client, namespace, t.pod)
				if err != nil {
					results[i].err = err
					return
				}
				container = c
			}
			prefix := t.pod + "/" + container + ": "
			o := &lineWriter{mu: &outMu, w: stdout, prefix: prefix}
			e := &lineWriter{mu: &errMu, w: stderr, prefix: prefix}
			out, err := execCollect(ctx, f.Executor, namespace, t.pod, container, command, o, e)
			_ = o.Flush()
			_ = e.Flush()
			results[i] = result{out: out, err: err}
		})
	}
	wg.Wait()

	merged := outputs.Outputs{}
	var errs []error
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		for k, v := range r.out {
			merged[k] = v
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %d of %d executions failed:\n%w", KubeExecAllName, len(errs), len(targets), errors.Join(errs...))
	}
	return merged, nil
}
