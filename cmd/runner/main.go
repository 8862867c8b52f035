// Command baton-runner is the generic program every Baton phase Job runs.
//
//	baton-runner run --phase-dir DIR            run the phase's function
//	baton-runner run --phase-dir DIR -- CMD...  run a user's command (KubeTask)
//	baton-runner install DIR                    copy itself (and kando) into DIR
//	baton-runner output KEY VALUE               emit a phase output
//	kando output KEY VALUE                      the same, Kanister's spelling
//	baton-runner location push|pull|delete      the Profile's object store
//	kando location push|pull|delete             the same, Kanister's spelling
//	baton-runner doctor                         check API server and DNS access
//	baton-runner tar create|extract DIR         stream a tree as tar (data pods)
//	baton-runner idle                           wait for SIGTERM (data pods)
//	baton-runner with-tools -- CMD...           run CMD with kando on PATH
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/batonhq/baton/internal/version"
	"github.com/batonhq/baton/runner"
	"github.com/batonhq/baton/runner/doctor"
	builtin "github.com/batonhq/baton/runner/functions"
	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// functions are the Blueprint functions this runner executes itself
// (runner/functions). Their clients are built from the pod's in-cluster
// configuration only when one of them runs, so running a user's command
// (KubeTask) needs no cluster access.
var functions = builtin.Lazy(rest.InClusterConfig)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	// Installed as `kando`, the runner answers Kanister's `kando output`.
	if filepath.Base(os.Args[0]) == "kando" {
		root.Use = "kando"
	}
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "baton-runner:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "baton-runner",
		Short:         "Runs one Baton phase inside its Job's pod",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		&cobra.Command{
			Use:   "version",
			Short: "Print the runner's version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintf(cmd.OutOrStdout(), "baton-runner %s\n", version.Version)
			},
		},
		&cobra.Command{
			Use:   "doctor",
			Short: "Check that this pod reaches the API server and cluster DNS",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return doctor.Run(cmd.Context(), doctor.Default(), cmd.OutOrStdout())
			},
		},
		newRunCommand(),
		newLocationCommand(),
	)
	root.AddCommand(newDataCommands()...)
	root.AddCommand(
		&cobra.Command{
			Use:   "install DIR",
			Short: "Copy the runner (and a kando link to it) into DIR, for phases in other images",
			Args:  cobra.ExactArgs(1),
			RunE:  func(_ *cobra.Command, args []string) error { return runner.Install(args[0]) },
		},
		&cobra.Command{
			Use:   "output KEY VALUE",
			Short: "Emit a phase output (Kanister's kando output)",
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				line, err := outputs.FormatLine(args[0], args[1])
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), line)
				return err
			},
		},
	)
	return root
}

func newRunCommand() *cobra.Command {
	var phaseDir, terminationLog, part string
	cmd := &cobra.Command{
		Use:   "run --phase-dir DIR [--part background|init] [-- COMMAND...]",
		Short: "Run the phase described in DIR and report its outputs",
		RunE: func(cmd *cobra.Command, command []string) error {
			spec, err := phase.Load(phaseDir)
			var res runner.Result
			if err != nil {
				res.Err = err
			} else {
				// The user's command finds kando and baton-runner next to
				// this executable (the tools directory in KubeTask pods).
				toolsDir := ""
				if self, err := os.Executable(); err == nil {
					toolsDir = filepath.Dir(self)
				}
				res = runner.Run(cmd.Context(), spec, functions, runner.Part(part), command, toolsDir, cmd.OutOrStdout(), cmd.ErrOrStderr())
				if len(command) == 0 && !runner.RunsUserCommand(spec.Function) {
					// Peak memory of the runner and of what it ran (restic),
					// for sizing the phase's resources; see
					// docs/performance.md.
					fmt.Fprintln(cmd.ErrOrStderr(), runner.ResourceUsage())
				}
			}
			return runner.Finish(res, terminationLog, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&phaseDir, "phase-dir", "/var/run/baton/phase", "directory holding the rendered phase")
	cmd.Flags().StringVar(&terminationLog, "termination-log", "/dev/termination-log", "where the outputs report is written")
	cmd.Flags().StringVar(&part, "part", "", "which container of a multi-container phase this is (background, init); empty for the main one")
	return cmd
}
