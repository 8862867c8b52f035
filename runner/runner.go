// Package runner executes one rendered phase inside its Job's pod and
// reports the result: outputs (runner/outputs) or a failure message, through
// the container's termination message.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// Function is a Blueprint function the runner can execute (KubeExec,
// ScaleWorkload, ...). Implementations live in runner/functions.
type Function interface {
	Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error)
}

// Registry maps function names, as Blueprints spell them, to functions.
type Registry map[string]Function

// Result is what a phase produced.
type Result struct {
	Outputs outputs.Outputs
	Err     error
}

// Functions whose pods run the user's images: the runner, copied into each
// container, runs that container's command argument itself.
const (
	KubeTask          = "KubeTask"
	MultiContainerRun = "MultiContainerRun"
)

// Part names a container of a phase pod that runs a user's command:
// MultiContainerRun has an output (main), a background and an init
// container, each running its own command argument.
type Part string

// The parts of a phase pod.
const (
	PartMain       Part = ""
	PartBackground Part = "background"
	PartInit       Part = "init"
)

// commandArg is the argument holding the command part runs for function,
// or "" when the part runs the function itself.
func commandArg(function string, part Part) string {
	switch {
	case function == KubeTask && part == PartMain:
		return "command"
	case function == MultiContainerRun && part == PartMain:
		return "outputCommand"
	case function == MultiContainerRun && part == PartBackground:
		return "backgroundCommand"
	case function == MultiContainerRun && part == PartInit:
		return "initCommand"
	}
	return ""
}

// Run executes spec's function from registry, or a user's command: the
// command given, or the phase's command argument for this part of its pod
// (KubeTask's "command", MultiContainerRun's "outputCommand", ...). Those
// commands are read from the phase document rather than passed on the
// command line so that rendered values (which may hold secrets) stay out of
// the Job and pod specs.
func Run(ctx context.Context, spec phase.Spec, registry Registry, part Part, command []string, toolsDir string, stdout, stderr io.Writer) Result {
	if arg := commandArg(spec.Function, part); len(command) == 0 && arg != "" {
		var err error
		if command, err = stringList(spec.Args[arg]); err != nil {
			return Result{Err: wrap(spec, fmt.Errorf("argument %q: %w", arg, err))}
		}
	}
	if part != PartMain && len(command) == 0 {
		return Result{Err: wrap(spec, fmt.Errorf("%s has no %s container", spec.Function, part))}
	}
	if len(command) > 0 {
		out, err := RunCommand(ctx, command, toolsDir, stdout, stderr)
		return Result{Outputs: out, Err: wrap(spec, err)}
	}
	fn, ok := registry[spec.Function]
	if !ok {
		return Result{Err: wrap(spec, fmt.Errorf("function %q is not available in this runner (known: %s)", spec.Function, registry.names()))}
	}
	out, err := fn.Run(ctx, spec, stdout, stderr)
	return Result{Outputs: out, Err: wrap(spec, err)}
}

func wrap(spec phase.Spec, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", spec.Describe(), err)
}

func (r Registry) names() string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// RunCommand runs a user's command with toolsDir first on PATH (so `kando
// output` and `baton-runner output` resolve to the runner), passes its
// output through and collects the output lines it prints.
func RunCommand(ctx context.Context, command []string, toolsDir string, stdout, stderr io.Writer) (outputs.Outputs, error) {
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Env = os.Environ()
	if toolsDir != "" {
		cmd.Env = append(cmd.Env, "PATH="+toolsDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", command[0], err)
	}
	// Read stdout to its end before Wait, which closes the pipe.
	collected, collectErr := outputs.Collect(pipe, stdout)
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return collected, fmt.Errorf("command %s exited with code %d", command[0], exit.ExitCode())
		}
		return collected, err
	}
	return collected, collectErr
}

// Finish reports a result: it writes the termination message to
// terminationPath and, for large outputs, prints their log line to stdout.
func Finish(res Result, terminationPath string, stdout io.Writer) error {
	var msg, logLine string
	if res.Err != nil {
		msg = outputs.ReportFailure(res.Err)
	} else {
		var err error
		if msg, logLine, err = outputs.Report(res.Outputs); err != nil {
			msg = outputs.ReportFailure(fmt.Errorf("encode outputs: %w", err))
			res.Err = err
		}
	}
	if logLine != "" {
		fmt.Fprintln(stdout, logLine)
	}
	if terminationPath != "" && msg != "" {
		if err := os.WriteFile(terminationPath, []byte(msg), 0o644); err != nil {
			return fmt.Errorf("write termination message: %w", err)
		}
	}
	return res.Err
}

// Install copies the running executable into dir as baton-runner, and links
// kando to it there, so user images can call both.
func Install(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	src, err := os.Open(self)
	if err != nil {
		return err
	}
	defer src.Close()
	target := filepath.Join(dir, "baton-runner")
	dst, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	link := filepath.Join(dir, "kando")
	_ = os.Remove(link)
	return os.Symlink("baton-runner", link)
}

// stringList reads a non-empty list of strings from a rendered argument.
func stringList(v any) ([]string, error) {
	raw, ok := v.([]any)
	if !ok || len(raw) == 0 {
		return nil, errors.New("must be a non-empty list of strings")
	}
	out := make([]string, len(raw))
	for i, e := range raw {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("element %d is not a string", i)
		}
		out[i] = s
	}
	return out, nil
}
