package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// errCancelNotSupported: the API has no way yet to ask the controller to
// stop an ActionSet.
var errCancelNotSupported = errors.New("cancel is not supported yet: cancellation arrives with issue 7 (meanwhile, kubectl delete actionset NAME stops its Jobs)")

func newCancelCommand(_ *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ACTIONSET",
		Short: "Stop a running ActionSet (not supported yet)",
		Long: `Stop a running ActionSet, running its deferPhases. Not supported yet:
cancellation arrives with issue 7. Deleting the ActionSet stops its Jobs, but
runs no deferPhase.`,
		Example: `  batonctl cancel backup-x7k2p`,
		Args:    cobra.ExactArgs(1),
		RunE: func(*cobra.Command, []string) error {
			return errCancelNotSupported
		},
	}
}
