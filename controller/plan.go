package controller

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template/parse"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/render"
	"github.com/batonhq/baton/validation"
)

// PlaceholderUID is the UID Plan gives an ActionSet that has none yet (one
// not created): Job names (hashed from it), labels and owner references of
// the planned Jobs carry it, where the real Jobs will carry the UID the API
// server assigns.
const PlaceholderUID types.UID = "00000000-0000-0000-0000-000000000000"

// placeholderNameSuffix stands for the random suffix the API server appends
// to an ActionSet's generateName.
const placeholderNameSuffix = "xxxxx"

// Redacted replaces Secret values in what Plan returns.
const Redacted = "<redacted>"

// PlannedPhase is one phase the controller would run for an ActionSet, as
// Plan sees it before the ActionSet exists.
type PlannedPhase struct {
	Action string
	// ActionIndex is the action's index in the ActionSet's spec.
	ActionIndex int
	Phase       string
	// Deferred marks the action's deferPhase.
	Deferred bool
	Function string
	// Job is the Job the controller would create, nil when the phase can
	// only be rendered at run time (see Note).
	Job *batchv1.Job
	// Args are the phase's rendered arguments, every Secret value the action
	// refers to replaced by Redacted; nil when the phase is not rendered.
	// The controller puts them in the phase Secret, never in the Job.
	Args map[string]any
	// Note says why a phase is not rendered ("rendered at run time: reads
	// outputs of backup"), or that Secret values were redacted from the
	// Job itself (templated into an image or a podOverride).
	Note string
}

// PlannedName is the name Plan gives as: its own, else its generateName
// followed by "xxxxx" in place of the API server's random suffix.
func PlannedName(as *batonv1.ActionSet) string {
	if as.Name != "" || as.GenerateName == "" {
		return as.Name
	}
	return as.GenerateName + placeholderNameSuffix
}

// Plan returns the phases the controller would run for as, in order (each
// action's phases, then its deferPhase), each with the Job it would create
// and its rendered arguments, secrets redacted. It reads (reader, mapper)
// and writes nothing. It goes through the controller's own steps: the
// checks an ActionSet gets when it starts (runner ServiceAccount, the
// Blueprint, its declared inputs, Secrets, ConfigMaps, the object and the
// Profile; the Profile's bucket is not reached), the action's template
// parameters, the phase's objects, the rendering and checks of its
// arguments, its containers and dispatcher.Build with the dispatcher
// identity the reconciler uses.
//
// An ActionSet without a UID gets PlaceholderUID, one without a name
// PlannedName, one without a creation time the current time (.Time).
// Phases whose templates read the outputs of other phases are not rendered:
// their Note says which. Any other failure (a missing Blueprint, Profile or
// object, a template that does not render) is an error: the ActionSet would
// fail on it.
func Plan(ctx context.Context, reader client.Reader, mapper meta.RESTMapper, settings dispatcher.Settings, as *batonv1.ActionSet) ([]PlannedPhase, error) {
	as = as.DeepCopy()
	as.Status = batonv1.ActionSetStatus{}
	as.Name = PlannedName(as)
	if as.Name == "" {
		return nil, errors.New("the ActionSet has neither a name nor a generateName")
	}
	if as.UID == "" {
		as.UID = PlaceholderUID
	}
	if as.CreationTimestamp.IsZero() {
		as.CreationTimestamp = metav1.Now()
	}
	run := &actionSetRun{
		// The reconciler's client is only asked for its RESTMapper here;
		// reads go to APIReader, and nothing is written.
		r:   &Reconciler{Client: mapperOnly{mapper: mapper}, APIReader: reader, Settings: settings},
		ctx: ctx, as: as, blueprints: map[string]*batonv1.Blueprint{}, referents: map[int]render.Params{},
	}
	if err := run.initialise(); errors.Is(err, errNotStarted) {
		return nil, run.transient // the API server failing: its own words
	} else if err != nil {
		return nil, err
	}
	var planned []PlannedPhase
	for i, status := range as.Status.Actions {
		keys := make([]phaseKey, 0, len(status.Phases)+1)
		for j := range status.Phases {
			keys = append(keys, phaseKey{action: i, phase: j})
		}
		if status.DeferPhase != nil {
			keys = append(keys, phaseKey{action: i, deferred: true})
		}
		for _, k := range keys {
			p, err := run.plan(k)
			if err != nil {
				return nil, fmt.Errorf("action %q: phase %q: %w", p.Action, p.Phase, err)
			}
			planned = append(planned, p)
		}
	}
	return planned, nil
}

// plan renders phase k as actionSetRun.start would, up to the Job, and
// creates nothing.
func (run *actionSetRun) plan(k phaseKey) (PlannedPhase, error) {
	bpPhase, d, err := run.phaseOf(k)
	p := PlannedPhase{Action: d.Action, ActionIndex: k.action, Phase: d.Name, Deferred: k.deferred, Function: bpPhase.Func}
	if err != nil {
		return p, err
	}
	others := otherPhases(run.as.Status.Actions[k.action], d.Name)
	if read := phasesRead(bpPhase, others); len(read) > 0 {
		p.Note = runTimeNote(read)
		return p, nil
	}
	params, err := run.params(k.action)
	if err != nil {
		return p, err
	}
	object := run.as.Spec.Actions[k.action].Object
	res := resolver{reader: run.r.APIReader, mapper: run.r.RESTMapper(), as: run.as}
	_, fetched, err := res.phaseObjects(run.ctx, bpPhase.Objects, params, objectNamespace(object))
	if err != nil {
		return runTimeOr(p, err, others)
	}
	params.Phases[d.Name] = fetched
	args, err := renderPhaseArgs(bpPhase.Func, bpPhase.Args, params)
	if err != nil {
		return runTimeOr(p, err, others)
	}
	if err := checkRenderedArgs(bpPhase.Func, args); err != nil {
		return p, err
	}
	if err := userContainers(bpPhase.Func, args, &d); err != nil {
		return p, err
	}
	job, err := dispatcher.Build(d, run.r.Settings)
	if err != nil {
		return p, err
	}

	secrets := secretValues(params, fetched)
	p.Args, _ = redact(args, secrets).(map[string]any)
	if p.Job, err = redactJob(job, secrets); err != nil {
		return p, err
	}
	if p.Job != job {
		p.Note = "Secret values in the Job itself (an image or podOverride templated from a Secret) are redacted"
	}
	return p, nil
}

// mapperOnly is the client the planning reconciler holds: Plan's steps ask
// it for nothing but its RESTMapper (every other method would panic on the
// nil client: planning must not write).
type mapperOnly struct {
	client.Client
	mapper meta.RESTMapper
}

func (m mapperOnly) RESTMapper() meta.RESTMapper { return m.mapper }

// otherPhases are the names of an action's phases but self.
func otherPhases(action batonv1.ActionStatus, self string) []string {
	var names []string
	for _, p := range action.Phases {
		if p.Name != self {
			names = append(names, p.Name)
		}
	}
	if action.DeferPhase != nil && action.DeferPhase.Name != self {
		names = append(names, action.DeferPhase.Name)
	}
	return names
}

func runTimeNote(phases []string) string {
	return "rendered at run time: reads outputs of " + strings.Join(phases, ", ")
}

// runTimeOr turns a render error about a missing phase (a template that
// reached .Phases.<name> in a way phasesRead cannot see, through a
// variable say) into the run-time note; any other error is returned.
func runTimeOr(p PlannedPhase, err error, others []string) (PlannedPhase, error) {
	var re *render.Error
	if errors.As(err, &re) {
		var read []string
		for _, name := range others {
			if strings.Contains(re.Err.Error(), fmt.Sprintf("map has no entry for key %q", name)) {
				read = append(read, name)
			}
		}
		if len(read) > 0 {
			p.Note = runTimeNote(read)
			return p, nil
		}
	}
	return p, err
}

// phasesRead lists, in names' order, the phases among names that phase
// p's templates (args, objects) read as .Phases.<name>, $.Phases.<name> or
// index .Phases "<name>".
func phasesRead(p batonv1.BlueprintPhase, names []string) []string {
	found := map[string]bool{}
	var visit func(v any)
	visitString := func(s string) {
		if !strings.Contains(s, "{{") {
			return
		}
		t, err := render.Parse("", s)
		if err != nil {
			return // rendering reports it
		}
		for _, name := range phaseRefs(t.Tree) {
			found[name] = true
		}
	}
	visit = func(v any) {
		switch t := v.(type) {
		case string:
			visitString(t)
		case map[string]any:
			for k, e := range t {
				visitString(k)
				visit(e)
			}
		case batonv1.JSONMap:
			visit(map[string]any(t))
		case []any:
			for _, e := range t {
				visit(e)
			}
		}
	}
	visit(p.Args)
	for _, ref := range p.Objects {
		for _, s := range []string{ref.APIVersion, ref.Group, ref.Resource, ref.Kind, ref.Name, ref.Namespace} {
			visitString(s)
		}
	}
	var read []string
	for _, name := range names {
		if found[name] {
			read = append(read, name)
		}
	}
	return read
}

// phaseRefs lists the phase names a template reads under .Phases.
func phaseRefs(tree *parse.Tree) []string {
	var names []string
	for _, ref := range validation.TemplateRefs(tree) {
		if ref[0] == "Phases" {
			names = append(names, ref[1])
		}
	}
	return names
}

// secretValues are the values of every Secret a phase's templates can
// read: the action's Secrets, the phase's Secret objects and the Profile's
// credentials. Each is also matched trimmed and base64-encoded, the forms
// templates commonly render (trim, b64enc).
func secretValues(params render.Params, fetched *render.PhaseParams) []string {
	var raw []string
	for _, s := range params.Secrets {
		for _, v := range s.Data {
			raw = append(raw, string(v))
		}
		for _, v := range s.StringData {
			raw = append(raw, v)
		}
	}
	if fetched != nil {
		for _, s := range fetched.Secrets {
			for _, v := range s.Data {
				raw = append(raw, string(v))
			}
			for _, v := range s.StringData {
				raw = append(raw, v)
			}
		}
	}
	if prof := params.Profile; prof != nil {
		if kp := prof.Credential.KeyPair; kp != nil {
			raw = append(raw, kp.ID, kp.Secret)
		}
		if s := prof.Credential.Secret; s != nil {
			for _, v := range s.Data {
				raw = append(raw, string(v))
			}
			for _, v := range s.StringData {
				raw = append(raw, v)
			}
		}
	}
	seen := map[string]bool{}
	var values []string
	for _, v := range raw {
		for _, form := range []string{v, strings.TrimSpace(v), base64.StdEncoding.EncodeToString([]byte(v))} {
			if form != "" && !seen[form] {
				seen[form] = true
				values = append(values, form)
			}
		}
	}
	// Longest first: a value containing another is replaced whole.
	sort.Slice(values, func(i, j int) bool {
		if len(values[i]) != len(values[j]) {
			return len(values[i]) > len(values[j])
		}
		return values[i] < values[j]
	})
	return values
}

// redact returns a copy of v (JSON-like) with every occurrence of values in
// its strings, map keys included, replaced by Redacted.
func redact(v any, values []string) any {
	if len(values) == 0 {
		return v
	}
	pairs := make([]string, 0, 2*len(values))
	for _, s := range values {
		pairs = append(pairs, s, Redacted)
	}
	r := strings.NewReplacer(pairs...)
	var walk func(v any) any
	walk = func(v any) any {
		switch t := v.(type) {
		case string:
			return r.Replace(t)
		case map[string]any:
			out := make(map[string]any, len(t))
			for k, e := range t {
				out[r.Replace(k)] = walk(e)
			}
			return out
		case batonv1.JSONMap:
			return walk(map[string]any(t))
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = walk(e)
			}
			return out
		default:
			return v
		}
	}
	return walk(v)
}

// redactJob returns job itself when no Secret value appears in it, else a
// copy with those values redacted. Baton never puts rendered arguments in a
// Job, but a user's template may put a Secret into an image or a
// podOverride the Job is built from.
func redactJob(job *batchv1.Job, values []string) (*batchv1.Job, error) {
	raw, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return nil, err
	}
	before, err := json.Marshal(generic)
	if err != nil {
		return nil, err
	}
	redacted, err := json.Marshal(redact(generic, values))
	if err != nil {
		return nil, err
	}
	if string(redacted) == string(before) {
		return job, nil
	}
	var out batchv1.Job
	if err := json.Unmarshal(redacted, &out); err != nil {
		return nil, fmt.Errorf("the Job holds Secret values that cannot be redacted: %w", err)
	}
	return &out, nil
}
