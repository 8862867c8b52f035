// Package validation checks Blueprints without running them: their shape,
// that every function exists and gets the arguments it needs, that every
// template parses and refers to what the action declares. batonctl
// validate reports its problems; the controller puts them in Events on the
// Blueprint.
package validation

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/render"
	"github.com/batonhq/baton/runner/functions"
)

// Problem is one thing wrong with a Blueprint, and where.
type Problem struct {
	// Blueprint is the Blueprint's name, or where it was read from.
	Blueprint string
	// Where is the action and phase ("backup/dump"), or the action alone.
	Where string
	// Field is the field within it ("args.command[2]"), if any.
	Field string
	// Path is the field's whole path in the Blueprint
	// ("actions.backup.phases[2].args.command[2]"): Where names phases by
	// name, which reads better in a list of problems, but an admission
	// error names a field the way the API server does, from the object's
	// root, which stays exact when two phases share a name.
	Path    string
	Message string
}

func (p Problem) String() string {
	var parts []string
	for _, s := range []string{p.Blueprint, p.Where, p.Field} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(append(parts, p.Message), ": ")
}

// kanisterGroupVersion is Kanister's API: its Blueprints are Baton's once
// the apiVersion changes, and are checked as they are.
const kanisterGroupVersion = "cr.kanister.io/v1alpha1"

// Decode reads the Blueprints of a YAML or JSON file (several
// documents allowed; documents of other kinds are skipped), strictly: an
// unknown or duplicate field is a problem.
func Decode(source string, data []byte) ([]*batonv1.Blueprint, []Problem) {
	var bps []*batonv1.Blueprint
	var problems []Problem
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		where := source
		if doc > 1 {
			where = fmt.Sprintf("%s (document %d)", source, doc)
		}
		if err != nil {
			problems = append(problems, Problem{Blueprint: where, Message: "read: " + err.Error()})
			break
		}
		if len(bytes.TrimSpace(stripComments(raw))) == 0 {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(raw, &head); err != nil {
			problems = append(problems, Problem{Blueprint: where, Message: "not YAML: " + oneLine(err.Error())})
			continue
		}
		if head.Kind != "Blueprint" {
			continue
		}
		if head.APIVersion != batonv1.GroupVersion.String() && head.APIVersion != kanisterGroupVersion {
			problems = append(problems, Problem{Blueprint: where, Field: "apiVersion",
				Message: fmt.Sprintf("%q is not %s (or Kanister's %s)", head.APIVersion, batonv1.GroupVersion, kanisterGroupVersion)})
		}
		bp, errs := strictBlueprint(raw)
		for _, err := range errs {
			problems = append(problems, Problem{Blueprint: where, Message: "schema: " + cleanDecodeError(err)})
		}
		if bp != nil {
			bps = append(bps, bp)
		}
	}
	if len(bps) == 0 && len(problems) == 0 {
		problems = append(problems, Problem{Blueprint: source, Message: "no Blueprint in it (kind: Blueprint)"})
	}
	return bps, problems
}

func stripComments(raw []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("---")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// strictBlueprint decodes a Blueprint as the API server's strict field
// validation would: every unknown or duplicate field is an error, named by
// its path. The Blueprint is returned when only such errors were found, so
// that the rest of it is checked too.
func strictBlueprint(raw []byte) (*batonv1.Blueprint, []error) {
	data, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return nil, []error{err}
	}
	var bp batonv1.Blueprint
	strict, err := sigsjson.UnmarshalStrict(data, &bp, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, []error{err}
	}
	return &bp, strict
}

// cleanDecodeError drops the decoders' "error unmarshaling JSON: while
// decoding JSON: json: " prefixes.
func cleanDecodeError(err error) string {
	msg := oneLine(err.Error())
	for _, prefix := range []string{"error converting YAML to JSON: ", "error unmarshaling JSON: ", "while decoding JSON: ", "json: ", "yaml: unmarshal errors: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}

// Check checks a Blueprint without a cluster: phase names, known
// functions and their arguments, template syntax, and that templates only
// read the input artifacts, secrets, configMaps and phases the action
// declares.
func Check(bp *batonv1.Blueprint) []Problem {
	name := bp.Name
	if name == "" {
		name = "(no name)"
	}
	var problems []Problem
	report := func(at loc, field, format string, args ...any) {
		problems = append(problems, Problem{Blueprint: name, Where: at.where, Field: field, Path: joinPath(at.path, field),
			Message: fmt.Sprintf(format, args...)})
	}
	if bp.Name == "" {
		report(loc{}, "metadata.name", "is empty")
	}
	if len(bp.Actions) == 0 {
		report(loc{}, "actions", "the Blueprint has no actions")
	}
	for _, actionName := range sortedKeys(bp.Actions) {
		action := bp.Actions[actionName]
		c := actionChecker{action: actionName, at: loc{where: actionName, path: "actions." + actionName}, spec: &action, report: report}
		c.check()
	}
	return problems
}

// loc is where a problem is: Problem.Where, and the path of the object
// (action or phase) it is in, which Problem.Path starts with.
type loc struct{ where, path string }

func joinPath(base, field string) string {
	if base == "" || field == "" {
		return base + field
	}
	return base + "." + field
}

type actionChecker struct {
	action string
	// at is the action itself.
	at     loc
	spec   *batonv1.BlueprintAction
	report func(at loc, field, format string, args ...any)
}

func (c actionChecker) check() {
	a := c.spec
	if len(a.Phases) == 0 && a.DeferPhase == nil {
		c.report(c.at, "phases", "the action has no phases")
	}
	seen := map[string]string{}
	all := make([]string, 0, len(a.Phases)+1)
	for i, p := range a.Phases {
		c.checkName(p.Name, fmt.Sprintf("phases[%d]", i), seen)
		all = append(all, p.Name)
	}
	if a.DeferPhase != nil {
		c.checkName(a.DeferPhase.Name, "deferPhase", seen)
		all = append(all, a.DeferPhase.Name)
	}
	for i, p := range a.Phases {
		// A phase reads the outputs of the phases before it, and its own
		// objects (.Phases.<itself>.Secrets).
		c.checkPhase(p, c.phase(p.Name, fmt.Sprintf("phases[%d]", i)), all[:i+1])
	}
	if a.DeferPhase != nil {
		c.checkPhase(*a.DeferPhase, c.phase(a.DeferPhase.Name, "deferPhase"), all)
	}
	for _, artifact := range sortedKeys(a.OutputArtifacts) {
		art := a.OutputArtifacts[artifact]
		for _, k := range sortedKeys(art.KeyValue) {
			c.checkTemplate(c.at, fmt.Sprintf("outputArtifacts.%s.keyValue.%s", artifact, k), art.KeyValue[k], all)
		}
		c.checkTemplate(c.at, fmt.Sprintf("outputArtifacts.%s.kopiaSnapshot", artifact), art.KopiaSnapshot, all)
	}
}

// phase locates a phase: by its name in Where ("backup/dump"), by its field
// in Path ("actions.backup.phases[0]").
func (c actionChecker) phase(name, field string) loc {
	if name == "" {
		name = field
	}
	return loc{where: c.action + "/" + name, path: c.at.path + "." + field}
}

func (c actionChecker) checkName(name, field string, seen map[string]string) {
	if name == "" {
		c.report(c.at, field+".name", "the phase has no name")
		return
	}
	if first, dup := seen[name]; dup {
		c.report(c.at, field+".name", "phase name %q is also the name of %s", name, first)
		return
	}
	seen[name] = field
}

func (c actionChecker) checkPhase(p batonv1.BlueprintPhase, where loc, phases []string) {
	spec, known := functions.Catalog[p.Func]
	switch {
	case p.Func == "":
		c.report(where, "func", "no function named")
	case !known:
		msg := fmt.Sprintf("unknown function %q", p.Func)
		for name := range functions.Catalog {
			if strings.EqualFold(name, p.Func) {
				msg += fmt.Sprintf(" (did you mean %s? names are case-sensitive)", name)
			}
		}
		c.report(where, "func", "%s", msg)
	default:
		c.checkArgs(p, where, spec)
	}
	for _, k := range sortedKeys(p.Objects) {
		ref := p.Objects[k]
		fields := []struct{ name, value string }{{"apiVersion", ref.APIVersion}, {"group", ref.Group}, {"resource", ref.Resource},
			{"kind", ref.Kind}, {"name", ref.Name}, {"namespace", ref.Namespace}}
		for _, f := range fields {
			c.checkTemplate(where, "objects."+k+"."+f.name, f.value, phases)
		}
	}
	if p.Func == functions.WaitName || p.Func == functions.WaitV2Name {
		// Conditions are templates the runner evaluates against the live
		// objects, with its own functions; only the timeout and each
		// condition's objectReference are rendered from the action.
		if t, ok := p.Args["timeout"]; ok {
			c.checkValue(where, "args.timeout", t, phases)
		}
		conds, _ := p.Args["conditions"].(map[string]any)
		for _, group := range sortedKeys(conds) {
			list, _ := conds[group].([]any)
			for i, item := range list {
				if m, ok := item.(map[string]any); ok {
					if ref, ok := m["objectReference"]; ok {
						c.checkValue(where, fmt.Sprintf("args.conditions.%s[%d].objectReference", group, i), ref, phases)
					}
				}
			}
		}
		return
	}
	c.checkValue(where, "args", map[string]any(p.Args), phases)
}

func (c actionChecker) checkArgs(p batonv1.BlueprintPhase, where loc, spec functions.ArgSpec) {
	given := func(name string) bool {
		v, ok := p.Args[name]
		return ok && v != nil
	}
	for _, name := range spec.Required {
		if !given(name) {
			c.report(where, "args."+name, "%s needs argument %q", p.Func, name)
		}
	}
	for _, group := range spec.OneOf {
		n := 0
		for _, name := range group {
			if given(name) {
				n++
			}
		}
		if n != 1 {
			c.report(where, "args", "%s needs exactly one of the arguments %s", p.Func, quoteAll(group))
		}
	}
	for _, group := range spec.Together {
		n := 0
		for _, name := range group {
			if given(name) {
				n++
			}
		}
		if n != 0 && n != len(group) {
			c.report(where, "args", "%s: arguments %s go together", p.Func, quoteAll(group))
		}
	}
	for _, name := range sortedKeys(p.Args) {
		if !spec.Known(name) {
			c.report(where, "args."+name, "%s has no argument %q (it takes %s)", p.Func, name, quoteAll(spec.All()))
		}
	}
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// checkValue checks every template in a JSON-like value, map keys
// included (render.Value renders them too).
func (c actionChecker) checkValue(where loc, field string, v any, phases []string) {
	switch t := v.(type) {
	case string:
		c.checkTemplate(where, field, t, phases)
	case map[string]any:
		for _, k := range sortedKeys(t) {
			c.checkTemplate(where, field+"."+k, k, phases)
			c.checkValue(where, field+"."+k, t[k], phases)
		}
	case batonv1.JSONMap:
		c.checkValue(where, field, map[string]any(t), phases)
	case []any:
		for i, e := range t {
			c.checkValue(where, fmt.Sprintf("%s[%d]", field, i), e, phases)
		}
	}
}

// checkTemplate parses one template as the controller would render it and
// checks what it reads of the action's parameters.
func (c actionChecker) checkTemplate(where loc, field, text string, phases []string) {
	if !strings.Contains(text, "{{") {
		return
	}
	t, err := render.Parse(field, text)
	if err != nil {
		var re *render.Error
		msg := err.Error()
		if errors.As(err, &re) {
			msg = strings.TrimPrefix(re.Err.Error(), "template: ")
		}
		c.report(where, field, "template: %s", oneLine(msg))
		return
	}
	declared := map[string][]string{
		"ArtifactsIn": c.spec.InputArtifactNames,
		"Secrets":     c.spec.SecretNames,
		"ConfigMaps":  c.spec.ConfigMapNames,
		"Phases":      phases,
	}
	what := map[string]string{
		"ArtifactsIn": "input artifact %q, which inputArtifactNames does not declare",
		"Secrets":     "secret %q, which secretNames does not declare",
		"ConfigMaps":  "configMap %q, which configMapNames does not declare",
		"Phases":      "phase %q, which is not a phase of this action that has run by then",
	}
	reported := map[string]bool{}
	for _, ref := range TemplateRefs(t.Tree) {
		names, ok := declared[ref[0]]
		if !ok || slices.Contains(names, ref[1]) || reported[ref[0]+"."+ref[1]] {
			continue
		}
		reported[ref[0]+"."+ref[1]] = true
		c.report(where, field, "reads "+what[ref[0]], ref[1])
	}
}

// TemplateRefs lists what a template reads under the top-level
// parameters: pairs such as {"ArtifactsIn", "cloudObject"} from
// .ArtifactsIn.cloudObject.KeyValue.x, $.ArtifactsIn.cloudObject or
// index .ArtifactsIn "cloudObject". Inside range and with, where dot is
// something else, only $ is followed.
func TemplateRefs(tree *parse.Tree) [][2]string {
	var refs [][2]string
	fromPath := func(path []string) {
		if len(path) >= 2 {
			refs = append(refs, [2]string{path[0], path[1]})
		}
	}
	var walk func(n parse.Node, dotIsRoot bool)
	walkPipe := func(p *parse.PipeNode, dotIsRoot bool) {
		if p == nil {
			return
		}
		for _, cmd := range p.Cmds {
			walk(cmd, dotIsRoot)
		}
	}
	walk = func(n parse.Node, dotIsRoot bool) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c, dotIsRoot)
			}
		case *parse.ActionNode:
			walkPipe(n.Pipe, dotIsRoot)
		case *parse.IfNode:
			walkPipe(n.Pipe, dotIsRoot)
			walk(n.List, dotIsRoot)
			walk(n.ElseList, dotIsRoot)
		case *parse.RangeNode:
			walkPipe(n.Pipe, dotIsRoot)
			walk(n.List, false)
			walk(n.ElseList, dotIsRoot)
		case *parse.WithNode:
			walkPipe(n.Pipe, dotIsRoot)
			walk(n.List, false)
			walk(n.ElseList, dotIsRoot)
		case *parse.TemplateNode:
			walkPipe(n.Pipe, dotIsRoot)
		case *parse.PipeNode:
			walkPipe(n, dotIsRoot)
		case *parse.CommandNode:
			// index .ArtifactsIn "name" (or $.ArtifactsIn)
			if len(n.Args) >= 3 {
				if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "index" {
					var path []string
					switch a := n.Args[1].(type) {
					case *parse.FieldNode:
						if dotIsRoot {
							path = a.Ident
						}
					case *parse.VariableNode:
						if len(a.Ident) > 0 && a.Ident[0] == "$" {
							path = a.Ident[1:]
						}
					}
					if s, ok := n.Args[2].(*parse.StringNode); ok && len(path) == 1 {
						refs = append(refs, [2]string{path[0], s.Text})
					}
				}
			}
			for _, a := range n.Args {
				walk(a, dotIsRoot)
			}
		case *parse.FieldNode:
			if dotIsRoot {
				fromPath(n.Ident)
			}
		case *parse.VariableNode:
			if len(n.Ident) > 0 && n.Ident[0] == "$" {
				fromPath(n.Ident[1:])
			}
		case *parse.ChainNode:
			walk(n.Node, dotIsRoot)
		}
	}
	if tree != nil {
		walk(tree.Root, true)
	}
	return refs
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// oneLine folds a (decoder's) multi-line message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
