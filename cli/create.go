package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/controller"
	"github.com/batonhq/baton/dispatcher"
)

// createFlags are the flags of `create actionset`.
type createFlags struct {
	name            string
	actions         []string
	blueprint       string
	deployment      string
	statefulset     string
	pvc             string
	namespaceTarget string
	objects         []string
	options         []string
	profile         string
	secrets         []string
	configMaps      []string
	from            string
	dryRun          bool
	render          bool
	runnerImage     string
	runnerSA        string
	wait            bool
	timeout         time.Duration
	// The ActionSet's own limits (spec.timeout, spec.phaseTimeout,
	// spec.ttlSecondsAfterFinished); zero leaves them unset.
	actionSetTimeout time.Duration
	phaseTimeout     time.Duration
	ttl              time.Duration
}

// The controller's defaults for phase Jobs (cmd/controller): what --render
// assumes unless --runner-image and --runner-service-account say otherwise.
const (
	defaultRunnerImage          = "baton.local/runner:dev"
	defaultRunnerServiceAccount = "baton-runner"
	defaultPhaseDeadline        = time.Hour
)

func newCreateCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create Baton objects (actionset)",
		Example: `  batonctl create actionset --action backup --blueprint notes-blueprint --deployment baton-demo/notes`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New(`what to create? "actionset" (see --help)`)
		},
	}
	cmd.AddCommand(newCreateActionSetCommand(o))
	return cmd
}

func newCreateActionSetCommand(o *Options) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:     "actionset --action NAME --blueprint NAME (--deployment|--statefulset|--pvc NS/NAME | --namespace-target NAME | --objects KIND/NS/NAME... | --from ACTIONSET)",
		Aliases: []string{"actionsets", "as"},
		Short:   "Create an ActionSet running Blueprint actions on an object",
		Long: `Create an ActionSet: one action per --action name and per object, each run by
the --blueprint's action of that name. Its name is printed on stdout.

Exactly one of --deployment, --statefulset, --pvc, --namespace-target and
--objects names the object(s) to act on; --objects may be repeated.

--from ACTIONSET continues a finished, complete ActionSet (backup -> restore):
one action per --action name and per action of ACTIONSET, each given that
action's output artifacts as input artifacts, and, unless flags say
otherwise, its blueprint, object, profile, secrets, configMaps and options.

--wait follows the ActionSet to its end, printing each phase's state changes
on stderr, and exits 0 only if it completed (non-zero, with its error, if it
failed or --timeout passed).

--render creates nothing and prints, as multi-document YAML, the Job the
controller would create for each phase, as the controller would build it:
a comment per phase (action/phase, function, note), the phase's rendered
arguments as a comment (Secret values replaced by <redacted>; the controller
puts them in the phase's Secret, never in the Job), then the Job. It reads
what the ActionSet refers to (Blueprint, object, Secrets, ConfigMaps,
Profile) and fails if anything is missing. The ActionSet's name (when
generated) and UID are placeholders, so the real Jobs' names differ. Phases
reading other phases' outputs are rendered at run time only: noted, no Job.
--runner-image and --runner-service-account are what the controller would
use (its own flags of the same names).`,
		Example: `  # Back up a Deployment, into the object store of Profile s3-profile
  batonctl create actionset --action backup --blueprint notes-blueprint \
      --deployment baton-demo/notes --profile s3-profile

  # Back up a StatefulSet and follow it to the end
  batonctl create actionset --action backup --blueprint postgres-volume-bp \
      --statefulset pg-demo/pg-postgresql --profile baton/s3-profile \
      --secrets backupKey=baton/pg-backup-key --wait --timeout 15m

  # Restore what that backup produced: its artifacts, object and profile
  batonctl create actionset --action restore --from backup-x7k2p --wait

  # Several objects, options, and only print the ActionSet
  batonctl create actionset --action backup --blueprint bp \
      --objects deployment/ns1/app --objects statefulset/ns2/db \
      --options retention=7d --dry-run

  # Print the Jobs the controller would run for it, secrets redacted
  batonctl create actionset --action backup --blueprint notes-blueprint \
      --deployment baton-demo/notes --profile s3-profile --render`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCreateActionSet(cmd.Context(), o, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.name, "name", "", "name of the ActionSet (default: generated from the actions' names)")
	fs.StringSliceVar(&f.actions, "action", nil, "action to run; repeat or separate with commas for several")
	fs.StringVar(&f.blueprint, "blueprint", "", "Blueprint (in the ActionSet's namespace) that defines the actions")
	fs.StringVar(&f.deployment, "deployment", "", "act on Deployment NS/NAME")
	fs.StringVar(&f.statefulset, "statefulset", "", "act on StatefulSet NS/NAME")
	fs.StringVar(&f.pvc, "pvc", "", "act on PersistentVolumeClaim NS/NAME")
	fs.StringVar(&f.namespaceTarget, "namespace-target", "", "act on Namespace NAME")
	fs.StringArrayVar(&f.objects, "objects", nil, "act on KIND/NS/NAME (KIND: deployment, statefulset, pvc, namespace (namespace/NAME), or Kind.group); repeatable")
	fs.StringArrayVar(&f.options, "options", nil, "option KEY=VALUE the Blueprint's templates read as .Options.KEY; repeatable")
	fs.StringVar(&f.profile, "profile", "", "Profile [NS/]NAME (namespace default: the ActionSet's)")
	fs.StringArrayVar(&f.secrets, "secrets", nil, "secret NAME=[NS/]SECRET for the Blueprint's secretNames; repeatable")
	fs.StringArrayVar(&f.configMaps, "config-maps", nil, "configMap NAME=[NS/]CONFIGMAP for the Blueprint's configMapNames; repeatable")
	fs.StringVar(&f.from, "from", "", "complete ActionSet whose output artifacts become the input artifacts")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the ActionSet as YAML and create nothing")
	fs.BoolVar(&f.render, "render", false, "print the Jobs the controller would create for each phase (YAML, secrets redacted) and create nothing")
	fs.StringVar(&f.runnerImage, "runner-image", defaultRunnerImage, "with --render: the runner image, what the controller would use (its --runner-image)")
	fs.StringVar(&f.runnerSA, "runner-service-account", defaultRunnerServiceAccount, "with --render: the ServiceAccount phase pods run as, what the controller would use (its --runner-service-account)")
	fs.DurationVar(&f.actionSetTimeout, "actionset-timeout", 0, "spec.timeout: stop the ActionSet and fail it this long after its creation (deferPhases still run)")
	fs.DurationVar(&f.phaseTimeout, "phase-timeout", 0, "spec.phaseTimeout: time limit of each phase whose Blueprint sets no timeout (default: the controller's --phase-deadline)")
	fs.DurationVar(&f.ttl, "ttl", 0, "spec.ttlSecondsAfterFinished: delete the ActionSet, its Jobs and pods this long after it ends (whole seconds)")
	fs.BoolVar(&f.wait, "wait", false, "follow the ActionSet to its end; exit non-zero unless it completes")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "with --wait: how long to wait")
	return cmd
}

func runCreateActionSet(ctx context.Context, o *Options, f createFlags) error {
	ns := o.Namespace()
	if f.render && (f.dryRun || f.wait) {
		return errors.New("--render creates nothing: it goes with neither --dry-run nor --wait")
	}
	var from *batonv1.ActionSet
	var c client.Client
	if f.from != "" || !f.dryRun {
		clients, err := o.Clients()
		if err != nil {
			return err
		}
		c = clients.Client
	}
	if f.from != "" {
		from = &batonv1.ActionSet{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: f.from}, from); err != nil {
			return fmt.Errorf("--from: actionset %s/%s: %w", ns, f.from, err)
		}
	}
	as, err := buildActionSet(f, ns, from)
	if err != nil {
		return err
	}
	if f.dryRun {
		return printYAML(o.Out, as)
	}
	if f.render {
		return renderActionSet(ctx, o.Out, c, as, f)
	}
	if err := c.Create(ctx, as); err != nil {
		return fmt.Errorf("create actionset: %w", err)
	}
	fmt.Fprintln(o.Out, as.Name)
	if !f.wait {
		return nil
	}
	return waitActionSet(ctx, c, client.ObjectKeyFromObject(as), f.timeout, time.Second, newProgressPrinter(o.Err))
}

// printYAML prints an ActionSet as a manifest (with its apiVersion and
// kind, which typed clients leave empty).
func printYAML(w io.Writer, obj any) error {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// actionSetTypeMeta is the apiVersion and kind of an ActionSet manifest.
var actionSetTypeMeta = metav1.TypeMeta{APIVersion: batonv1.GroupVersion.String(), Kind: "ActionSet"}

// buildActionSet turns the flags into the ActionSet to create, in namespace
// ns; from is the ActionSet --from names, already read.
func buildActionSet(f createFlags, ns string, from *batonv1.ActionSet) (*batonv1.ActionSet, error) {
	var actions []string
	for _, a := range f.actions {
		if a = strings.TrimSpace(a); a != "" {
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		return nil, errors.New("--action is required")
	}
	objects, err := objectFlags(f)
	if err != nil {
		return nil, err
	}
	if from == nil {
		if f.blueprint == "" {
			return nil, errors.New("--blueprint is required (or --from an ActionSet)")
		}
		if len(objects) == 0 {
			return nil, errors.New("an object is required: one of --deployment, --statefulset, --pvc, --namespace-target or --objects (or --from an ActionSet)")
		}
	}
	options, err := keyValues("--options", f.options)
	if err != nil {
		return nil, err
	}
	secrets, err := refMap("--secrets", f.secrets, ns)
	if err != nil {
		return nil, err
	}
	configMaps, err := refMap("--config-maps", f.configMaps, ns)
	if err != nil {
		return nil, err
	}
	var profile *batonv1.ObjectReference
	if f.profile != "" {
		p, err := namespacedName("--profile", f.profile, ns)
		if err != nil {
			return nil, err
		}
		profile = &p
	}

	as := &batonv1.ActionSet{TypeMeta: actionSetTypeMeta, ObjectMeta: metav1.ObjectMeta{Namespace: ns}}
	if err := setLimits(&as.Spec, f); err != nil {
		return nil, err
	}
	if f.name != "" {
		as.Name = f.name
	} else {
		as.GenerateName = generateName(actions, f.from)
	}
	if from == nil {
		for _, name := range actions {
			for _, obj := range objects {
				as.Spec.Actions = append(as.Spec.Actions, batonv1.ActionSpec{
					Name: name, Blueprint: f.blueprint, Object: obj, Profile: profile.DeepCopy(),
					Options: cloneMap(options), Secrets: cloneRefs(secrets), ConfigMaps: cloneRefs(configMaps),
				})
			}
		}
		return as, nil
	}

	inputs, err := artifactsFrom(from)
	if err != nil {
		return nil, err
	}
	for _, name := range actions {
		for i, src := range from.Spec.Actions {
			bp := src.Blueprint
			if f.blueprint != "" {
				bp = f.blueprint
			}
			objs := []batonv1.ObjectReference{src.Object}
			if len(objects) > 0 {
				objs = objects
			}
			for _, obj := range objs {
				spec := batonv1.ActionSpec{
					Name: name, Blueprint: bp, Object: obj, Artifacts: inputs[i],
					Profile: src.Profile.DeepCopy(), Options: merged(src.Options, options),
					Secrets: mergedRefs(src.Secrets, secrets), ConfigMaps: mergedRefs(src.ConfigMaps, configMaps),
					PodOverride: src.PodOverride.DeepCopy(), PodLabels: cloneMap(src.PodLabels), PodAnnotations: cloneMap(src.PodAnnotations),
				}
				if profile != nil {
					spec.Profile = profile.DeepCopy()
				}
				as.Spec.Actions = append(as.Spec.Actions, spec)
			}
		}
	}
	return as, nil
}

// setLimits copies the time-limit flags into spec, refusing what the
// admission webhook would refuse anyway, with the flag's name.
func setLimits(spec *batonv1.ActionSetSpec, f createFlags) error {
	for _, l := range []struct {
		flag  string
		value time.Duration
	}{{"--actionset-timeout", f.actionSetTimeout}, {"--phase-timeout", f.phaseTimeout}, {"--ttl", f.ttl}} {
		if l.value < 0 {
			return fmt.Errorf("%s %s: must be positive", l.flag, l.value)
		}
	}
	if f.actionSetTimeout > 0 {
		spec.Timeout = &metav1.Duration{Duration: f.actionSetTimeout}
	}
	if f.phaseTimeout > 0 {
		spec.PhaseTimeout = &metav1.Duration{Duration: f.phaseTimeout}
	}
	if f.ttl > 0 {
		if f.ttl%time.Second != 0 || f.ttl > math.MaxInt32*time.Second {
			return fmt.Errorf("--ttl %s: must be whole seconds, at most %d", f.ttl, math.MaxInt32)
		}
		spec.TTLSecondsAfterFinished = ptr.To(int32(f.ttl / time.Second))
	}
	return nil
}

// artifactsFrom returns, by action index, the output artifacts of a
// complete ActionSet's actions, to be given to new actions as their input
// artifacts. An ActionSet that did not complete, or produced no artifacts,
// is an error.
func artifactsFrom(from *batonv1.ActionSet) ([]map[string]batonv1.Artifact, error) {
	if from.Status.State != batonv1.StateComplete {
		state := string(from.Status.State)
		if state == "" {
			state = "not started"
		}
		msg := fmt.Sprintf("--from: actionset %s is %s, not complete: only a complete ActionSet's output artifacts can be used", from.Name, state)
		if from.Status.Error != nil && from.Status.Error.Message != "" {
			msg += " (its error: " + oneLine(from.Status.Error.Message) + ")"
		}
		return nil, errors.New(msg)
	}
	out := make([]map[string]batonv1.Artifact, len(from.Spec.Actions))
	total := 0
	for i := range from.Spec.Actions {
		if i >= len(from.Status.Actions) {
			continue
		}
		arts := from.Status.Actions[i].Artifacts
		if len(arts) == 0 {
			continue
		}
		out[i] = make(map[string]batonv1.Artifact, len(arts))
		for name, a := range arts {
			out[i][name] = *a.DeepCopy()
		}
		total += len(arts)
	}
	if total == 0 {
		return nil, fmt.Errorf("--from: actionset %s produced no output artifacts (its Blueprint's actions declare no outputArtifacts)", from.Name)
	}
	return out, nil
}

// objectFlags reads the object flags, of which at most one kind may be
// given.
func objectFlags(f createFlags) ([]batonv1.ObjectReference, error) {
	var given []string
	var objs []batonv1.ObjectReference
	add := func(flag string, ref batonv1.ObjectReference, err error) error {
		if err != nil {
			return err
		}
		given = append(given, flag)
		objs = append(objs, ref)
		return nil
	}
	if f.deployment != "" {
		ref, err := workloadRef("--deployment", f.deployment, "Deployment")
		if err := add("--deployment", ref, err); err != nil {
			return nil, err
		}
	}
	if f.statefulset != "" {
		ref, err := workloadRef("--statefulset", f.statefulset, "StatefulSet")
		if err := add("--statefulset", ref, err); err != nil {
			return nil, err
		}
	}
	if f.pvc != "" {
		ref, err := workloadRef("--pvc", f.pvc, "PersistentVolumeClaim")
		if err := add("--pvc", ref, err); err != nil {
			return nil, err
		}
	}
	if f.namespaceTarget != "" {
		if strings.Contains(f.namespaceTarget, "/") {
			return nil, fmt.Errorf("--namespace-target %q: want a namespace NAME", f.namespaceTarget)
		}
		_ = add("--namespace-target", batonv1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: f.namespaceTarget}, nil)
	}
	if len(f.objects) > 0 {
		given = append(given, "--objects")
		for _, s := range f.objects {
			ref, err := parseObject(s)
			if err != nil {
				return nil, err
			}
			objs = append(objs, ref)
		}
	}
	if len(given) > 1 {
		return nil, fmt.Errorf("give only one of --deployment, --statefulset, --pvc, --namespace-target and --objects (got %s)", strings.Join(given, ", "))
	}
	return objs, nil
}

// wellKnown are the kinds --objects knows by kanctl's short names, with
// the apiVersion to write.
var wellKnown = map[string]batonv1.ObjectReference{
	"deployment":            {APIVersion: "apps/v1", Kind: "Deployment"},
	"statefulset":           {APIVersion: "apps/v1", Kind: "StatefulSet"},
	"pvc":                   {APIVersion: "v1", Kind: "PersistentVolumeClaim"},
	"persistentvolumeclaim": {APIVersion: "v1", Kind: "PersistentVolumeClaim"},
	"namespace":             {APIVersion: "v1", Kind: "Namespace"},
}

func workloadRef(flag, value, kind string) (batonv1.ObjectReference, error) {
	ref, err := namespacedName(flag, value, "")
	if err != nil {
		return ref, err
	}
	if ref.Namespace == "" {
		return ref, fmt.Errorf("%s %q: want NAMESPACE/NAME", flag, value)
	}
	base := wellKnown[strings.ToLower(kind)]
	ref.APIVersion, ref.Kind = base.APIVersion, base.Kind
	return ref, nil
}

// parseObject reads --objects KIND/NS/NAME (namespace/NAME for a
// Namespace). KIND is a kanctl short name (deployment, statefulset, pvc,
// namespace) or Kind.group (Cluster.postgresql.cnpg.io).
func parseObject(s string) (batonv1.ObjectReference, error) {
	parts := strings.Split(s, "/")
	bad := func(why string) (batonv1.ObjectReference, error) {
		return batonv1.ObjectReference{}, fmt.Errorf("--objects %q: %s", s, why)
	}
	for _, p := range parts {
		if p == "" {
			return bad("want KIND/NAMESPACE/NAME (namespace/NAME for a Namespace)")
		}
	}
	kind := parts[0]
	ref, known := wellKnown[strings.ToLower(kind)]
	if !known {
		k, group, _ := strings.Cut(kind, ".")
		ref = batonv1.ObjectReference{Kind: k, Group: group}
	}
	switch {
	case ref.Kind == "Namespace" && len(parts) == 2:
		ref.Name = parts[1]
	case ref.Kind == "Namespace":
		return bad("want namespace/NAME")
	case len(parts) == 3:
		ref.Namespace, ref.Name = parts[1], parts[2]
	default:
		return bad("want KIND/NAMESPACE/NAME")
	}
	return ref, nil
}

// namespacedName reads [NS/]NAME; ns is the namespace when none is given
// ("" to leave it empty).
func namespacedName(flag, s, ns string) (batonv1.ObjectReference, error) {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return batonv1.ObjectReference{Name: parts[0], Namespace: ns}, nil
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return batonv1.ObjectReference{Namespace: parts[0], Name: parts[1]}, nil
	}
	return batonv1.ObjectReference{}, fmt.Errorf("%s %q: want [NAMESPACE/]NAME", flag, s)
}

// keyValues reads repeated KEY=VALUE flags.
func keyValues(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: key %q given twice", flag, k)
		}
		out[k] = v
	}
	return out, nil
}

// refMap reads repeated NAME=[NS/]OBJECT flags (--secrets, --config-maps).
func refMap(flag string, pairs []string, ns string) (map[string]batonv1.ObjectReference, error) {
	kv, err := keyValues(flag, pairs)
	if err != nil || kv == nil {
		return nil, err
	}
	out := make(map[string]batonv1.ObjectReference, len(kv))
	for k, v := range kv {
		ref, err := namespacedName(flag+" "+k, v, ns)
		if err != nil {
			return nil, err
		}
		out[k] = ref
	}
	return out, nil
}

// generateName is the prefix of a generated ActionSet name: the actions'
// names (and the --from ActionSet's), as kanctl does.
func generateName(actions []string, from string) string {
	name := strings.ToLower(strings.Join(actions, "-"))
	if from != "" {
		name += "-" + from
	}
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name = strings.Trim(b.String(), "-.")
	if len(name) > 52 {
		name = strings.TrimRight(name[:52], "-.")
	}
	if name == "" {
		name = "actionset"
	}
	return name + "-"
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneRefs(m map[string]batonv1.ObjectReference) map[string]batonv1.ObjectReference {
	if m == nil {
		return nil
	}
	out := make(map[string]batonv1.ObjectReference, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// merged is base with over's keys set over it.
func merged(base, over map[string]string) map[string]string {
	out := cloneMap(base)
	if out == nil && over != nil {
		out = map[string]string{}
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func mergedRefs(base, over map[string]batonv1.ObjectReference) map[string]batonv1.ObjectReference {
	out := cloneRefs(base)
	if out == nil && over != nil {
		out = map[string]batonv1.ObjectReference{}
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// oneLine joins a message's lines, for one-line errors.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// renderActionSet prints the Jobs the controller would create for as
// (controller.Plan), one YAML document per phase.
func renderActionSet(ctx context.Context, w io.Writer, c client.Client, as *batonv1.ActionSet, f createFlags) error {
	settings := dispatcher.Settings{
		RunnerImage: f.runnerImage, ServiceAccount: f.runnerSA,
		ImagePullPolicy: corev1.PullIfNotPresent, ActiveDeadline: defaultPhaseDeadline,
	}
	planned, err := controller.Plan(ctx, c, c.RESTMapper(), settings, as)
	if err != nil {
		return fmt.Errorf("render actionset: %w", err)
	}
	return printPlan(w, as, settings, planned)
}

// printPlan writes a plan as multi-document YAML: a header document of
// comments, then per phase a document with its header and arguments as
// comments and its Job (none for a phase rendered at run time only).
func printPlan(w io.Writer, as *batonv1.ActionSet, settings dispatcher.Settings, planned []controller.PlannedPhase) error {
	var b strings.Builder
	name := controller.PlannedName(as)
	b.WriteString("# batonctl create actionset --render: the Jobs the controller would create, one\n")
	b.WriteString("# document per phase in the order they would run. Nothing was created.\n")
	fmt.Fprintf(&b, "# ActionSet %s/%s", as.Namespace, name)
	if as.Name == "" {
		fmt.Fprintf(&b, " (name placeholder: the API server completes %q)", as.GenerateName)
	}
	fmt.Fprintf(&b, ", UID placeholder %s:\n", controller.PlaceholderUID)
	b.WriteString("# the real Jobs' names, labels and owner references carry the real ones.\n")
	fmt.Fprintf(&b, "# Runner settings (what the controller would use): image %s, serviceAccount %s.\n", settings.RunnerImage, settings.ServiceAccount)
	b.WriteString("# Arguments are rendered as the controller would (it puts them in each phase's\n")
	fmt.Fprintf(&b, "# Secret, never in the Job), every Secret value replaced by %s. That Secret,\n", controller.Redacted)
	b.WriteString("# named as the Job, is not printed.\n")
	for _, p := range planned {
		b.WriteString("---\n")
		phase := p.Phase
		if p.Deferred {
			phase += " (deferPhase)"
		}
		fmt.Fprintf(&b, "# action/phase: %s/%s\n# function: %s\n", p.Action, phase, p.Function)
		if p.Note != "" {
			fmt.Fprintf(&b, "# note: %s\n", p.Note)
		}
		if p.Args != nil {
			args, err := yaml.Marshal(p.Args)
			if err != nil {
				return err
			}
			b.WriteString("# args:\n")
			for _, line := range strings.Split(strings.TrimRight(string(args), "\n"), "\n") {
				b.WriteString("#   " + line + "\n")
			}
		}
		if p.Job == nil {
			continue
		}
		job, err := jobManifest(p.Job)
		if err != nil {
			return err
		}
		b.Write(job)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jobManifest is a Job as YAML without what only the API server fills in
// (status, creationTimestamp).
func jobManifest(job *batchv1.Job) ([]byte, error) {
	raw, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if tmpl, ok := spec["template"].(map[string]any); ok {
			if md, ok := tmpl["metadata"].(map[string]any); ok {
				delete(md, "creationTimestamp")
			}
		}
	}
	return yaml.Marshal(m)
}
