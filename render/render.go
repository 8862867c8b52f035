package render

import (
	"bytes"
	"fmt"
	"maps"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// funcs are the template functions: sprig's, without those that read the
// controller's own environment (a Blueprint must not see the controller's
// variables).
var funcs = func() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	return f
}()

// Error is a template that failed to render, with where it came from.
type Error struct {
	// Field is the path of the value within what was rendered, e.g.
	// args.command[2] or objects.pvc.name.
	Field string
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Field, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// String renders one template. A key or field that does not exist is an
// error, never an empty string: a backup must not run against "".
func String(field, text string, p Params) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	t, err := Parse(field, text)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, p); err != nil {
		return "", &Error{Field: field, Err: cleanExecError(err)}
	}
	return out.String(), nil
}

// Parse parses text as String would render it, with the same functions and
// options, without executing it: a syntax error or an unknown function is an
// *Error naming field. Tools that check Blueprints (batonctl validate) walk
// the returned template's parse tree.
func Parse(field, text string) (*template.Template, error) {
	t, err := template.New(field).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, &Error{Field: field, Err: err}
	}
	return t, nil
}

// cleanExecError drops text/template's "template: NAME:1:2: executing ..."
// prefix, which repeats the field name the Error already carries.
func cleanExecError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "executing "); i >= 0 {
		if j := strings.Index(msg[i:], ": "); j >= 0 {
			return fmt.Errorf("%s", msg[i+j+2:])
		}
	}
	return err
}

// Value renders every string inside a JSON-like value (maps, lists,
// strings), map keys included as Kanister does (RestoreData's volumes map
// is keyed by a templated claim name), leaving other values as they are.
// path names the value in errors.
func Value(path string, v any, p Params) (any, error) {
	switch t := v.(type) {
	case string:
		return String(path, t, p)
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			key, err := String(path+"."+k, k, p)
			if err != nil {
				return nil, err
			}
			if _, dup := out[key]; dup {
				return nil, &Error{Field: path + "." + k, Err: fmt.Errorf("key renders to %q, which another key of the map already has", key)}
			}
			r, err := Value(path+"."+k, t[k], p)
			if err != nil {
				return nil, err
			}
			out[key] = r
		}
		return out, nil
	case batonv1.JSONMap:
		return Value(path, map[string]any(t), p)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := Value(fmt.Sprintf("%s[%d]", path, i), e, p)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}

// Args renders a phase's arguments.
func Args(args batonv1.JSONMap, p Params) (map[string]any, error) {
	if args == nil {
		return map[string]any{}, nil
	}
	r, err := Value("args", map[string]any(args), p)
	if err != nil {
		return nil, err
	}
	return r.(map[string]any), nil
}

// ObjectReference renders every field of a reference.
func ObjectReference(path string, ref batonv1.ObjectReference, p Params) (batonv1.ObjectReference, error) {
	fields := []*string{&ref.APIVersion, &ref.Group, &ref.Resource, &ref.Kind, &ref.Name, &ref.Namespace}
	names := []string{"apiVersion", "group", "resource", "kind", "name", "namespace"}
	for i, f := range fields {
		r, err := String(path+"."+names[i], *f, p)
		if err != nil {
			return ref, err
		}
		*f = r
	}
	return ref, nil
}

// Artifacts renders output artifacts (a Blueprint action's
// outputArtifacts) once the action's phases are done.
func Artifacts(path string, in map[string]batonv1.Artifact, p Params) (map[string]batonv1.Artifact, error) {
	out := make(map[string]batonv1.Artifact, len(in))
	for _, name := range sortedKeys(in) {
		a := in[name]
		rendered := batonv1.Artifact{KeyValue: maps.Clone(a.KeyValue)}
		for _, k := range sortedKeys(a.KeyValue) {
			v, err := String(fmt.Sprintf("%s.%s.keyValue.%s", path, name, k), a.KeyValue[k], p)
			if err != nil {
				return nil, err
			}
			rendered.KeyValue[k] = v
		}
		snapshot, err := String(fmt.Sprintf("%s.%s.kopiaSnapshot", path, name), a.KopiaSnapshot, p)
		if err != nil {
			return nil, err
		}
		rendered.KopiaSnapshot = snapshot
		out[name] = rendered
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
