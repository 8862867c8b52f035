package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

type fakeFunction struct {
	out outputs.Outputs
	err error
}

func (f fakeFunction) Run(_ context.Context, _ phase.Spec, stdout, _ io.Writer) (outputs.Outputs, error) {
	io.WriteString(stdout, "working\n")
	return f.out, f.err
}

func spec(fn string) phase.Spec {
	return phase.Spec{Action: "backup", Phase: "dump", Function: fn}
}

func multiContainer() phase.Spec {
	return phase.Spec{Function: "MultiContainerRun", Args: map[string]any{
		"backgroundCommand": []any{"sh", "-c", "echo data > /dev/null"},
		"outputCommand":     []any{"sh", "-c", `echo '###Phase-output###: {"key":"from","value":"output"}'`},
	}}
}

func TestRun(t *testing.T) {
	registry := Registry{
		"Good": fakeFunction{out: outputs.Outputs{"k": "v"}},
		"Bad":  fakeFunction{err: errors.New("target pod not found")},
	}
	tests := []struct {
		name    string
		spec    phase.Spec
		part    Part
		command []string
		want    outputs.Outputs
		wantErr string
	}{
		{"function succeeds", spec("Good"), PartMain, nil, outputs.Outputs{"k": "v"}, ""},
		{"function fails", spec("Bad"), PartMain, nil, nil, `phase "dump" (Bad) of action "backup": target pod not found`},
		{"unknown function", spec("Nope"), PartMain, nil, nil, `function "Nope" is not available in this runner (known: Bad, Good)`},
		{"user command with outputs", spec("KubeTask"), PartMain,
			[]string{"sh", "-c", `echo '###Phase-output###: {"key":"version","value":"1.2"}'; echo done`},
			outputs.Outputs{"version": "1.2"}, ""},
		{"user command fails", spec("KubeTask"), PartMain, []string{"sh", "-c", "exit 7"}, outputs.Outputs{}, "exited with code 7"},
		{"user command missing", spec("KubeTask"), PartMain, []string{"/no/such/binary"}, nil, "start /no/such/binary"},
		{"KubeTask reads its command from the phase", phase.Spec{Function: "KubeTask",
			Args: map[string]any{"command": []any{"sh", "-c", `echo '###Phase-output###: {"key":"k","value":"from-args"}'`}}},
			PartMain, nil, outputs.Outputs{"k": "from-args"}, ""},
		{"KubeTask without a command", phase.Spec{Function: "KubeTask", Args: map[string]any{"command": "echo"}},
			PartMain, nil, nil, `argument "command": must be a non-empty list of strings`},
		{"MultiContainerRun's output container", multiContainer(), PartMain, nil, outputs.Outputs{"from": "output"}, ""},
		{"MultiContainerRun's background container", multiContainer(), PartBackground, nil, outputs.Outputs{}, ""},
		{"MultiContainerRun without an init command", multiContainer(), PartInit, nil, nil, `argument "initCommand": must be a non-empty list`},
		{"a part of a function without one", spec("Good"), PartBackground, nil, nil, "Good has no background container"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			res := Run(context.Background(), tt.spec, registry, tt.part, tt.command, "", &stdout, io.Discard)
			if tt.wantErr != "" {
				assert.ErrorContains(t, res.Err, tt.wantErr)
			} else {
				assert.NoError(t, res.Err)
			}
			assert.Equal(t, tt.want, res.Outputs)
		})
	}
}

func TestFinishWritesTerminationMessage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "termination-log")

	require.NoError(t, Finish(Result{Outputs: outputs.Outputs{"a": "b"}}, path, io.Discard))
	msg, err := os.ReadFile(path)
	require.NoError(t, err)
	got, err := outputs.Decode(string(msg), nil)
	require.NoError(t, err)
	assert.Equal(t, outputs.Outputs{"a": "b"}, got)

	failure := errors.New("it broke")
	assert.Equal(t, failure, Finish(Result{Err: failure}, path, io.Discard))
	msg, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "it broke", outputs.FailureMessage(string(msg)))
}

func TestInstallAndKandoOutput(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Install(dir))
	info, err := os.Stat(filepath.Join(dir, "baton-runner"))
	require.NoError(t, err)
	assert.NotZero(t, info.Mode()&0o111, "installed runner is executable")
	target, err := os.Readlink(filepath.Join(dir, "kando"))
	require.NoError(t, err)
	assert.Equal(t, "baton-runner", target)
	require.NoError(t, Install(dir), "installing twice is fine")
}

func TestResourceUsage(t *testing.T) {
	assert.Regexp(t, `^baton-runner resources: runner peak RSS \d+\.\d MiB, cpu \S+; children peak RSS \d+\.\d MiB, cpu \S+$`, ResourceUsage())
	assert.True(t, RunsUserCommand(KubeTask))
	assert.False(t, RunsUserCommand("BackupData"))
}
