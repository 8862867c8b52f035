package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/runner/location"
	"github.com/batonhq/baton/runner/phase"
)

// profileFile is where the phase Secret mounts the action's Profile;
// --profile takes precedence.
var profileFile = filepath.Join(dispatcher.PhaseSpecDir, phase.ProfileFile)

// newLocationCommand is Kanister's `kando location`: push stdin (or a file)
// to the Profile's object store, pull an object to stdout (or a file),
// delete an object or a prefix.
func newLocationCommand() *cobra.Command {
	var profileJSON, objectPath string
	cmd := &cobra.Command{
		Use:   "location",
		Short: "Move data to and from the Profile's object store",
	}
	cmd.PersistentFlags().StringVar(&profileJSON, "profile", "", `the Profile as JSON ({{ toJson .Profile }}); default: the phase's mounted Profile`)
	cmd.PersistentFlags().StringVar(&objectPath, "path", "", "object path, under the Profile's prefix")

	open := func() (*location.Store, error) {
		raw := []byte(profileJSON)
		if profileJSON == "" {
			var err error
			if raw, err = os.ReadFile(profileFile); err != nil {
				return nil, errors.New("no --profile given and the phase has no mounted Profile")
			}
		}
		p, err := location.ParseProfile(raw)
		if err != nil {
			return nil, err
		}
		if objectPath == "" {
			return nil, errors.New("--path is required")
		}
		return location.Open(p)
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "push [SOURCE|-]",
			Short: "Stream SOURCE (a file, or - for stdin) to --path",
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				store, err := open()
				if err != nil {
					return err
				}
				in, closeIn, err := source(cmd, args)
				if err != nil {
					return err
				}
				defer closeIn()
				n, err := store.Push(cmd.Context(), objectPath, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "pushed %d bytes to %s\n", n, store.Key(objectPath))
				return nil
			},
		},
		&cobra.Command{
			Use:   "pull [TARGET|-]",
			Short: "Stream --path to TARGET (a file, or - for stdout)",
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				store, err := open()
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if len(args) == 1 && args[0] != "-" {
					f, err := os.Create(args[0])
					if err != nil {
						return err
					}
					defer f.Close()
					out = f
				}
				_, err = store.Pull(cmd.Context(), objectPath, out)
				return err
			},
		},
		&cobra.Command{
			Use:   "delete",
			Short: "Delete --path (an object, or everything under a prefix)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				store, err := open()
				if err != nil {
					return err
				}
				return store.Delete(cmd.Context(), objectPath)
			},
		},
	)
	return cmd
}

func source(cmd *cobra.Command, args []string) (io.Reader, func(), error) {
	if len(args) == 0 || args[0] == "-" {
		return cmd.InOrStdin(), func() {}, nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}
