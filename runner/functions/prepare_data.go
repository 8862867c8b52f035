package functions

import (
	"context"
	"fmt"
	"io"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

var prepareDataArgs = append([]string{"namespace", "image", "volumes", "command", "serviceaccount"}, podArgs...)

// prepareData is PrepareData: the user's image in a data pod mounting the
// volumes map (PVC → mount path), the runner copied in by an init
// container. The command is exec'd in it rather than written in the pod
// spec, so rendered secrets in it never reach the API's pod objects; it
// runs with kando on PATH and its `kando output` lines become outputs.
// Unlike Kanister, no volume is mounted when volumes is not given.
func (e *dataEnv) prepareData(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(PrepareDataName, spec.Args, prepareDataArgs...)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", true)
	if err != nil {
		return nil, err
	}
	image, err := a.str("image", true)
	if err != nil {
		return nil, err
	}
	command, err := a.stringList("command", true)
	if err != nil {
		return nil, err
	}
	if len(command) == 0 {
		return nil, fmt.Errorf("%s: argument %q must not be empty", PrepareDataName, "command")
	}
	var vols map[string]string
	if _, err := a.object("volumes", false, false, &vols); err != nil {
		return nil, err
	}
	sa, err := a.str("serviceaccount", false)
	if err != nil {
		return nil, err
	}
	labels, annotations, override, err := podMeta(a)
	if err != nil {
		return nil, err
	}
	mounts, err := volumesArg(ctx, e.Client, namespace, vols)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PrepareDataName, err)
	}
	var out outputs.Outputs
	err = e.Pods.run(ctx, dataPodSpec{
		Function: PrepareDataName, Namespace: namespace, Volumes: mounts, UserImage: image,
		ServiceAccount: sa, Labels: labels, Annotations: annotations, Override: override,
	}, func(pod *dataPod) error {
		var err error
		out, err = execCollect(ctx, e.Executor, pod.Namespace, pod.Name, dataContainer, pod.runnerCommand(append([]string{"with-tools", "--"}, command...)...), stdout, stderr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PrepareDataName, err)
	}
	return out, nil
}
