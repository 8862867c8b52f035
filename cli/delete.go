package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

func newDeleteCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete",
		Short:   "Delete finished ActionSets",
		Example: `  batonctl delete actionsets --older-than 168h`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New(`what to delete? "actionsets" (see --help)`)
		},
	}
	cmd.AddCommand(newDeleteActionSetsCommand(o))
	return cmd
}

type deleteFlags struct {
	olderThan string
	state     string
	dryRun    bool
}

func newDeleteActionSetsCommand(o *Options) *cobra.Command {
	var f deleteFlags
	cmd := &cobra.Command{
		Use:     "actionsets --older-than DURATION [--state complete|failed]",
		Aliases: []string{"actionset", "as"},
		Short:   "Delete the finished ActionSets of the namespace older than a duration",
		Long: `Delete the ActionSets of the namespace created more than DURATION ago that
have finished: complete or failed, or only those in --state. Running and
pending ActionSets are never deleted by this command (kubectl delete does
that). Deletion propagates in the background: the phase Jobs, their pods and
Secrets go with each ActionSet, and with them its phases' logs.

DURATION is a Go duration (90m, 36h) or a number of days (7d); 0s means
any age.`,
		Example: `  # Keep a week of history
  batonctl delete actionsets --older-than 7d

  # Failed ActionSets older than a day; see first what would go
  batonctl delete actionsets --older-than 24h --state failed --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			older, states, err := parseDeleteFlags(f)
			if err != nil {
				return err
			}
			clients, err := o.Clients()
			if err != nil {
				return err
			}
			var list batonv1.ActionSetList
			if err := clients.Client.List(cmd.Context(), &list, client.InNamespace(o.Namespace())); err != nil {
				return fmt.Errorf("list actionsets: %w", err)
			}
			doomed := selectForDeletion(list.Items, older, states, time.Now())
			if len(doomed) == 0 {
				fmt.Fprintf(o.Err, "No %s actionsets older than %s in namespace %s.\n", strings.Join(states, " or "), f.olderThan, o.Namespace())
				return nil
			}
			failed := 0
			for i := range doomed {
				as := &doomed[i]
				if f.dryRun {
					fmt.Fprintf(o.Out, "actionset %s would be deleted (%s, %s old)\n", as.Name, as.Status.State, age(as.CreationTimestamp.Time, time.Now()))
					continue
				}
				err := clients.Client.Delete(cmd.Context(), as, client.PropagationPolicy(metav1.DeletePropagationBackground))
				switch {
				case err == nil, apierrors.IsNotFound(err):
					fmt.Fprintf(o.Out, "actionset %s deleted\n", as.Name)
				default:
					failed++
					fmt.Fprintf(o.Err, "actionset %s: %s\n", as.Name, oneLine(err.Error()))
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d actionsets could not be deleted", failed, len(doomed))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.olderThan, "older-than", "", "delete ActionSets created longer ago than this (e.g. 36h, 7d); required")
	cmd.Flags().StringVar(&f.state, "state", "", "only ActionSets in this state: complete or failed (default: both)")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print what would be deleted, delete nothing")
	return cmd
}

// parseDeleteFlags reads --older-than and --state.
func parseDeleteFlags(f deleteFlags) (time.Duration, []string, error) {
	if f.olderThan == "" {
		return 0, nil, errors.New("--older-than is required (e.g. --older-than 7d)")
	}
	older, err := parseAge(f.olderThan)
	if err != nil {
		return 0, nil, err
	}
	switch f.state {
	case "":
		return older, []string{string(batonv1.StateComplete), string(batonv1.StateFailed)}, nil
	case string(batonv1.StateComplete), string(batonv1.StateFailed):
		return older, []string{f.state}, nil
	}
	return 0, nil, fmt.Errorf("--state %q: want complete or failed", f.state)
}

// parseAge reads a Go duration or a number of days ("7d").
func parseAge(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--older-than %q: want a duration such as 90m, 36h or 7d (0s: any age)", s)
	}
	return d, nil
}

// selectForDeletion keeps the ActionSets in one of states created more
// than older before now.
func selectForDeletion(items []batonv1.ActionSet, older time.Duration, states []string, now time.Time) []batonv1.ActionSet {
	var out []batonv1.ActionSet
	for _, as := range items {
		if !as.DeletionTimestamp.IsZero() || as.CreationTimestamp.IsZero() {
			continue
		}
		if now.Sub(as.CreationTimestamp.Time) <= older {
			continue
		}
		for _, s := range states {
			if string(as.Status.State) == s {
				out = append(out, as)
			}
		}
	}
	return out
}
