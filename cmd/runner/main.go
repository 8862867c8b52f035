// Command baton-runner is the generic program every Baton phase Job runs.
// In this release it reports its version and checks the environment a phase
// runs in (`baton-runner doctor`); phase execution arrives with the engine.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/batonhq/baton/internal/version"
	"github.com/batonhq/baton/runner/doctor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
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
	)
	return root
}
