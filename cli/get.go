package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

func newGetCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "get",
		Short:   "List ActionSets, or print one",
		Example: `  batonctl get actionsets`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New(`what to get? "actionset" (see --help)`)
		},
	}
	cmd.AddCommand(newGetActionSetCommand(o))
	return cmd
}

func newGetActionSetCommand(o *Options) *cobra.Command {
	var output string
	var all bool
	cmd := &cobra.Command{
		Use:     "actionset [NAME]",
		Aliases: []string{"actionsets", "as"},
		Short:   "List the ActionSets of the namespace (NAME STATE PROGRESS AGE), or print one",
		Example: `  batonctl get actionsets
  batonctl get actionsets -A
  batonctl get actionset backup-x7k2p -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "yaml" && output != "json" {
				return fmt.Errorf("-o %q: want yaml or json", output)
			}
			clients, err := o.Clients()
			if err != nil {
				return err
			}
			var items []batonv1.ActionSet
			if len(args) == 1 {
				var as batonv1.ActionSet
				if err := clients.Client.Get(cmd.Context(), client.ObjectKey{Namespace: o.Namespace(), Name: args[0]}, &as); err != nil {
					return fmt.Errorf("actionset %s/%s: %w", o.Namespace(), args[0], err)
				}
				items = append(items, as)
			} else {
				var list batonv1.ActionSetList
				var opts []client.ListOption
				if !all {
					opts = append(opts, client.InNamespace(o.Namespace()))
				}
				if err := clients.Client.List(cmd.Context(), &list, opts...); err != nil {
					return fmt.Errorf("list actionsets: %w", err)
				}
				items = list.Items
			}
			for i := range items {
				items[i].TypeMeta = actionSetTypeMeta
			}
			switch {
			case output == "yaml" && len(args) == 1:
				return printYAML(o.Out, &items[0])
			case output == "json" && len(args) == 1:
				return printJSON(o.Out, &items[0])
			case output == "yaml":
				return printYAML(o.Out, listOf(items))
			case output == "json":
				return printJSON(o.Out, listOf(items))
			}
			if len(items) == 0 {
				where := "namespace " + o.Namespace()
				if all {
					where = "any namespace"
				}
				fmt.Fprintf(o.Err, "No actionsets found in %s.\n", where)
				return nil
			}
			return printActionSetTable(o.Out, items, all, time.Now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: yaml or json (default: a table)")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the ActionSets of every namespace")
	return cmd
}

func listOf(items []batonv1.ActionSet) *batonv1.ActionSetList {
	l := &batonv1.ActionSetList{Items: items}
	l.APIVersion, l.Kind = batonv1.GroupVersion.String(), "ActionSetList"
	return l
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// printActionSetTable prints ActionSets as kubectl would: NAME STATE
// PROGRESS AGE, with NAMESPACE first when listing every namespace.
func printActionSetTable(w io.Writer, items []batonv1.ActionSet, withNamespace bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if withNamespace {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	fmt.Fprintln(tw, "NAME\tSTATE\tPROGRESS\tAGE")
	for _, as := range items {
		if withNamespace {
			fmt.Fprintf(tw, "%s\t", as.Namespace)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", as.Name, stateOf(as.Status.State), progressOf(&as), age(as.CreationTimestamp.Time, now))
	}
	return tw.Flush()
}

func stateOf(s batonv1.State) string {
	if s == "" {
		return "<none>"
	}
	return string(s)
}

// progressOf is the percentage of phases completed, "66%".
func progressOf(as *batonv1.ActionSet) string {
	if as.Status.Progress == nil || as.Status.Progress.PercentCompleted == "" {
		return "-"
	}
	return as.Status.Progress.PercentCompleted + "%"
}

// age prints how long ago t was, as kubectl does ("13s", "5m2s", "3d").
func age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}
