package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// cancelWaitTimeout bounds `cancel --wait`: stopping is quick, deferPhases
// may not be.
const cancelWaitTimeout = 30 * time.Minute

func newCancelCommand(o *Options) *cobra.Command {
	var reason string
	var wait bool
	cmd := &cobra.Command{
		Use:   "cancel ACTIONSET",
		Short: "Stop a running ActionSet; its deferPhases still run",
		Long: `Stop a running ActionSet: its running phases are stopped (their pods
deleted), pending ones never start, the deferPhase of every action that
started still runs, and it ends in state cancelled with the reason given.
It sets the ActionSet's spec.cancel; the controller does the rest.`,
		Example: `  batonctl cancel backup-x7k2p
  batonctl cancel backup-x7k2p --reason "maintenance window" --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clients, err := o.Clients()
			if err != nil {
				return err
			}
			key := client.ObjectKey{Namespace: o.Namespace(), Name: args[0]}
			if err := requestCancel(cmd.Context(), clients.Client, key, reason); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "actionset %s: cancel requested\n", key.Name)
			if !wait {
				return nil
			}
			err = waitActionSet(cmd.Context(), clients.Client, key, cancelWaitTimeout, time.Second, newProgressPrinter(o.Err))
			var as batonv1.ActionSet
			if getErr := clients.Client.Get(cmd.Context(), key, &as); getErr == nil && as.Status.State == batonv1.StateCancelled {
				return nil // what was asked for; the summary said so
			}
			return err
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "cancelled with batonctl", "why, recorded in the ActionSet's status and Event")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until it has stopped (its deferPhases done)")
	return cmd
}

// requestCancel sets spec.cancel with a merge patch: no read-modify-write
// race with the controller, which only writes status.
func requestCancel(ctx context.Context, c client.Client, key client.ObjectKey, reason string) error {
	var as batonv1.ActionSet
	if err := c.Get(ctx, key, &as); err != nil {
		return fmt.Errorf("actionset %s/%s: %w", key.Namespace, key.Name, err)
	}
	if as.Status.State.IsTerminal() {
		return fmt.Errorf("actionset %s/%s already ended (%s): nothing to cancel", key.Namespace, key.Name, as.Status.State)
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"cancel": batonv1.CancelRequest{Reason: reason}}})
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, &as, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("cancel actionset %s/%s: %w", key.Namespace, key.Name, err)
	}
	return nil
}
