package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/batonhq/baton/internal/version"
)

func newVersionCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print batonctl's version",
		Example: `  batonctl version`,
		Args:    cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(o.Out, "batonctl %s\n", version.Version)
		},
	}
}
