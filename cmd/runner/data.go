package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/batonhq/baton/runner/tarstream"
)

// newDataCommands are what the data functions exec in the data pods they
// start: the pod idles, and the phase pod streams trees in and out of it.
func newDataCommands() []*cobra.Command {
	tarCmd := &cobra.Command{
		Use:   "tar",
		Short: "Stream a directory tree as tar (data pods)",
	}
	tarCmd.AddCommand(
		&cobra.Command{
			Use:   "create DIR",
			Short: "Write the tree under DIR to stdout as tar (names relative to DIR)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return tarstream.Create(args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
			},
		},
		&cobra.Command{
			Use:   "extract DIR",
			Short: "Restore the tar stream on stdin under DIR (owners kept when root)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				n, err := tarstream.Extract(cmd.InOrStdin(), args[0], tarstream.Options{Chown: tarstream.IsRoot(), Warn: cmd.ErrOrStderr()})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "restored %d files under %s\n", n, args[0])
				return nil
			},
		},
	)
	return []*cobra.Command{
		tarCmd,
		{
			Use:   "idle",
			Short: "Wait until terminated (the main process of a data pod)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				// main's context ends on SIGTERM or SIGINT.
				<-cmd.Context().Done()
				return nil
			},
		},
		{
			Use:   "with-tools -- COMMAND...",
			Short: "Run COMMAND with this runner's directory first on PATH (kando, baton-runner)",
			Args:  cobra.MinimumNArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				return execWithTools(args)
			},
		},
	}
}

// execWithTools replaces the runner with command, so signals and the exit
// status are the command's own.
func execWithTools(command []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	path := filepath.Dir(self) + string(os.PathListSeparator) + os.Getenv("PATH")
	if err := os.Setenv("PATH", path); err != nil {
		return err
	}
	bin, err := exec.LookPath(command[0])
	if err != nil {
		return err
	}
	err = syscall.Exec(bin, command, os.Environ())
	return errors.Join(fmt.Errorf("exec %s", command[0]), err)
}
