package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/batonhq/baton/validation"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/controller"
)

func newValidateCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a Blueprint or a Profile before an ActionSet uses it",
		Example: `  batonctl validate blueprint examples/postgres/blueprint.yaml
  batonctl validate profile s3-profile`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New(`what to validate? "blueprint" or "profile" (see --help)`)
		},
	}
	cmd.AddCommand(newValidateBlueprintCommand(o), newValidateProfileCommand(o))
	return cmd
}

func newValidateBlueprintCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "blueprint FILE|NAME...",
		Aliases: []string{"blueprints", "bp"},
		Short:   "Check Blueprints from files, or from the cluster, without running them",
		Long: `Check Blueprints: read from FILE when that path exists ("-" for stdin; a file
may hold several documents, of which the Blueprints are checked), else the
Blueprint NAME in the namespace. Checked, without a cluster:

  - the schema: strictly decoded, an unknown field is an error;
  - phase names: given, and unique within an action (phases and deferPhase);
  - functions: known to Baton (names are case-sensitive, as Kanister's);
  - arguments: the function's required ones present, none it does not take;
  - templates: every string of args, objects and outputArtifacts parses,
    with Baton's template functions (sprig, without env);
  - what templates read: .ArtifactsIn.X declared in inputArtifactNames,
    .Secrets.X in secretNames, .ConfigMaps.X in configMapNames, and
    .Phases.X a phase that has run by then.

Each problem is printed on its own line (blueprint: action/phase: field:
message); the exit code is non-zero if there is any. Kanister Blueprints
(cr.kanister.io/v1alpha1) are checked as they are.`,
		Example: `  batonctl validate blueprint examples/demo/blueprint.yaml
  batonctl validate blueprint -n baton postgres-bp
  kubectl get blueprint postgres-bp -o yaml | batonctl validate blueprint -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var problems []validation.Problem
			checked := 0
			for _, arg := range args {
				bps, decodeProblems, err := loadBlueprints(cmd.Context(), o, arg)
				if err != nil {
					return err
				}
				problems = append(problems, decodeProblems...)
				for _, bp := range bps {
					problems = append(problems, validation.Check(bp)...)
					checked++
				}
			}
			return reportProblems(o.Out, problems, checked)
		},
	}
}

// loadBlueprints reads arg as a file if it exists, else as a Blueprint's
// name in the cluster.
func loadBlueprints(ctx context.Context, o *Options, arg string) ([]*batonv1.Blueprint, []validation.Problem, error) {
	var data []byte
	var err error
	switch {
	case arg == "-":
		data, err = io.ReadAll(o.In)
		arg = "stdin"
	case fileExists(arg):
		data, err = os.ReadFile(arg)
	default:
		clients, cerr := o.Clients()
		if cerr != nil {
			return nil, nil, fmt.Errorf("%s is not a file; reading it from the cluster: %w", arg, cerr)
		}
		var bp batonv1.Blueprint
		key := client.ObjectKey{Namespace: o.Namespace(), Name: arg}
		if err := clients.Client.Get(ctx, key, &bp); err != nil {
			return nil, nil, fmt.Errorf("%s is not a file, nor a Blueprint in namespace %s: %w", arg, key.Namespace, err)
		}
		return []*batonv1.Blueprint{&bp}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	bps, problems := validation.Decode(arg, data)
	return bps, problems, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// reportProblems prints each problem on its own line and returns an error
// when there is any.
func reportProblems(w io.Writer, problems []validation.Problem, checked int) error {
	for _, p := range problems {
		fmt.Fprintln(w, p.String())
	}
	switch {
	case len(problems) == 1:
		return errors.New("1 problem found")
	case len(problems) > 1:
		return fmt.Errorf("%d problems found", len(problems))
	}
	fmt.Fprintf(w, "%d blueprint(s) valid\n", checked)
	return nil
}

func newValidateProfileCommand(o *Options) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "profile NAME",
		Aliases: []string{"profiles", "prof"},
		Short:   "Reach a Profile's bucket with its credentials, as an ActionSet would",
		Long: `Read the Profile NAME and its credential Secret, the way the controller
resolves them for an ActionSet, and reach its bucket with a real request (the
controller's own check, controller.CheckProfileBucket). A missing Secret or
key, a refused credential, a missing or unreachable bucket, or a location
type Baton does not implement yet is an error.`,
		Example: `  batonctl validate profile s3-profile
  batonctl validate profile -n backups s3-profile --timeout 1m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clients, err := o.Clients()
			if err != nil {
				return err
			}
			ns := o.Namespace()
			prof, err := controller.ResolveProfile(cmd.Context(), clients.Client, batonv1.ObjectReference{Name: args[0], Namespace: ns}, ns)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := controller.CheckProfileBucket(ctx, prof); err != nil {
				return fmt.Errorf("profile %s/%s: %s", ns, args[0], oneLine(err.Error()))
			}
			endpoint := prof.Location.Endpoint
			if endpoint == "" {
				endpoint = "the provider's default endpoint"
			}
			fmt.Fprintf(o.Out, "profile %s/%s: bucket %q at %s answers to its credentials\n", ns, args[0], prof.Location.Bucket, endpoint)
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 20*time.Second, "how long to try to reach the bucket, retries included")
	return cmd
}
