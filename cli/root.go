// Package cli is batonctl, Baton's command-line client, also installed as
// the kubectl plugin `kubectl baton`. Each command lives in its own file;
// the logic of each (flags to an ActionSet, Blueprint checks, progress,
// tables) is in pure functions the tests call directly, and only the
// command's RunE talks to the cluster.
package cli

import (
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// DefaultNamespace is where ActionSets, Blueprints and Profiles are looked
// up when no -n is given: Baton's namespace, where the runner's
// ServiceAccount lives.
const DefaultNamespace = "baton"

// IOStreams are where a command reads and writes.
type IOStreams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StdStreams are the process's own streams.
func StdStreams() IOStreams { return IOStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// Options are what every command shares: its streams and how to reach the
// cluster.
type Options struct {
	IOStreams
	Kube KubeFlags
	// clients builds the cluster clients; tests replace it.
	clients func() (*Clients, error)
}

// Clients returns the cluster clients, built on first use from the
// kubeconfig flags.
func (o *Options) Clients() (*Clients, error) {
	if o.clients != nil {
		return o.clients()
	}
	c, err := o.Kube.Clients()
	if err != nil {
		return nil, err
	}
	o.clients = func() (*Clients, error) { return c, nil }
	return c, nil
}

// Namespace is the namespace the command works in.
func (o *Options) Namespace() string {
	if o.Kube.Namespace != "" {
		return o.Kube.Namespace
	}
	return DefaultNamespace
}

// DisplayName is how the command calls itself: "kubectl baton" when the
// binary is the kubectl plugin kubectl-baton, else "batonctl".
func DisplayName(argv0 string) string {
	base := argv0
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, ".exe")
	if base == "kubectl-baton" {
		return "kubectl baton"
	}
	return "batonctl"
}

// NewRootCommand builds batonctl; displayName is DisplayName(os.Args[0]).
func NewRootCommand(streams IOStreams, displayName string) *cobra.Command {
	o := &Options{IOStreams: streams}
	root := &cobra.Command{
		Use:   "batonctl",
		Short: "Create, follow and inspect Baton ActionSets; check Blueprints and Profiles",
		Long: `batonctl is Baton's command-line client. It creates ActionSets (backup, restore,
...), follows them to the end, shows their phases, outputs, artifacts and logs,
and checks Blueprints and Profiles before they are used.

Installed as kubectl-baton (ln -s batonctl kubectl-baton, on PATH) it is also
the kubectl plugin "kubectl baton". Objects are looked up in namespace
"` + DefaultNamespace + `" unless -n says otherwise.`,
		Example: `  batonctl create actionset --action backup --blueprint postgres-bp \
      --statefulset pg-demo/pg-postgresql --profile s3-profile --wait
  batonctl get actionsets
  batonctl logs backup-x7k2p -f
  kubectl baton validate blueprint examples/postgres/blueprint.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	if displayName != "" && displayName != "batonctl" {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: displayName}
		defer renameExamples(root, displayName)
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	o.Kube.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newCreateCommand(o),
		newValidateCommand(o),
		newGetCommand(o),
		newDescribeCommand(o),
		newLogsCommand(o),
		newDeleteCommand(o),
		newCancelCommand(o),
		newVersionCommand(o),
	)
	return root
}

// renameExamples writes the examples of c and its subcommands with the
// name the command was called by ("kubectl baton get actionsets").
func renameExamples(c *cobra.Command, name string) {
	c.Example = strings.ReplaceAll(c.Example, "batonctl ", name+" ")
	for _, sub := range c.Commands() {
		renameExamples(sub, name)
	}
}

// OneLine joins a message's lines and spaces into one line, for errors
// printed on one line of stderr.
func OneLine(s string) string { return oneLine(s) }
