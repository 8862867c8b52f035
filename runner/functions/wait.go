package functions

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"text/template"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/jsonpath"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// Wait waits until conditions on objects hold, Kanister's Wait (V2 false)
// and WaitV2 (V2 true). Arguments (Kanister's):
//
//	timeout     required  how long to wait, a duration ("90s", "5m")
//	conditions  required  {anyOf: [...], allOf: [...]}, each item
//	                      {condition: TEMPLATE, objectReference:
//	                       {apiVersion, group, resource, name, namespace}}
//
// A condition is a Go template executed with the referenced object (as
// `kubectl get -o go-template` sees it) as its data; it holds when its
// output, trimmed, is "true". The wait ends as soon as any anyOf condition
// holds, or all allOf conditions hold. Objects are read again every poll
// interval; an object that does not exist (yet), a field that is missing
// or a template that fails to execute only means "not yet", and the last
// such error is reported if the timeout passes. A template that does not
// parse fails the phase at once.
//
// Wait (Kanister's deprecated form) first replaces each JSONPath
// placeholder `{ $.path }` in the template by the object's value at path,
// as Kanister does, and then executes the template; WaitV2 has no
// placeholders. Besides Go's template builtins, templates may call
// kubectl's exists and base64decode and a few of Sprig's string functions
// (lower, upper, trim, contains, hasPrefix, hasSuffix, toString, default,
// empty); other Sprig functions are reported as not defined.
//
// Kanister renders neither function's conditions with the blueprint's
// template parameters before the function runs (only objectReference and
// timeout): the controller must leave the condition strings as written.
type Wait struct {
	Client       dynamic.Interface
	V2           bool
	PollInterval time.Duration
}

type waitConditions struct {
	AnyOf []waitCondition `json:"anyOf"`
	AllOf []waitCondition `json:"allOf"`
}

type waitCondition struct {
	Condition       string          `json:"condition"`
	ObjectReference objectReference `json:"objectReference"`
}

// condition is one checked, ready-to-evaluate condition.
type condition struct {
	label  string // "allOf[1]", for messages
	ref    objectReference
	gvr    schema.GroupVersionResource
	source string
	// Wait only: the JSONPath placeholders in source.
	placeholders []placeholder
	// The parsed template, when source has no placeholders.
	tmpl *template.Template
}

type placeholder struct {
	start, end int // source[start:end] is the placeholder
	path       *jsonpath.JSONPath
}

func (f *Wait) name() string {
	if f.V2 {
		return WaitV2Name
	}
	return WaitName
}

// Run implements runner.Function.
func (f *Wait) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	fn := f.name()
	a, err := parseArgs(fn, spec.Args, "timeout", "conditions")
	if err != nil {
		return nil, err
	}
	timeout, err := a.duration("timeout", true)
	if err != nil {
		return nil, err
	}
	var raw waitConditions
	if _, err := a.object("conditions", true, true, &raw); err != nil {
		return nil, err
	}
	if len(raw.AnyOf)+len(raw.AllOf) == 0 {
		return nil, fmt.Errorf("%s: argument \"conditions\" must list at least one condition under anyOf or allOf", fn)
	}
	anyOf, err := f.compileAll("anyOf", raw.AnyOf)
	if err != nil {
		return nil, err
	}
	allOf, err := f.compileAll("allOf", raw.AllOf)
	if err != nil {
		return nil, err
	}

	interval := f.PollInterval
	if interval <= 0 {
		interval = defaultPollInterval
	}
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var summary string
	var lastErr error
	err = wait.PollUntilContextCancel(waitCtx, interval, true, func(ctx context.Context) (bool, error) {
		done, s, evalErr, err := f.check(ctx, anyOf, allOf)
		if err != nil {
			return false, err
		}
		summary, lastErr = s, evalErr
		return done, nil
	})
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "%s: conditions met (%s)\n", fn, summary)
		return outputs.Outputs{}, nil
	case ctx.Err() != nil: // the phase itself was cancelled
		return nil, fmt.Errorf("%s: %w", fn, ctx.Err())
	case waitCtx.Err() == nil: // a condition can not be evaluated
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	msg := fmt.Sprintf("%s: conditions not met within %s", fn, timeout)
	if summary != "" {
		msg += " (" + summary + ")"
	}
	if lastErr != nil {
		msg += "; last error: " + lastErr.Error()
	}
	return nil, errors.New(msg)
}

func (f *Wait) compileAll(list string, raw []waitCondition) ([]*condition, error) {
	out := make([]*condition, 0, len(raw))
	for i, r := range raw {
		c, err := f.compile(fmt.Sprintf("%s[%d]", list, i), r)
		if err != nil {
			return nil, fmt.Errorf("%s: conditions.%w", f.name(), err)
		}
		out = append(out, c)
	}
	return out, nil
}

// compile checks one condition and parses what can be parsed before any
// object is read, so mistakes fail the phase at once rather than at the
// timeout.
func (f *Wait) compile(label string, r waitCondition) (*condition, error) {
	if strings.TrimSpace(r.Condition) == "" {
		return nil, fmt.Errorf("%s: condition is empty", label)
	}
	if err := r.ObjectReference.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	gvr, _ := r.ObjectReference.gvr()
	c := &condition{label: label, ref: r.ObjectReference, gvr: gvr, source: r.Condition}
	if !f.V2 {
		var err error
		if c.placeholders, err = findPlaceholders(r.Condition); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
	}
	if len(c.placeholders) == 0 {
		t, err := parseCondition(r.Condition)
		if err != nil {
			return nil, fmt.Errorf("%s: condition is not a valid template: %w", label, err)
		}
		c.tmpl = t
		return c, nil
	}
	// Check the template's syntax with the placeholders standing for a
	// plain value.
	if _, err := parseCondition(c.substitute(func(int) string { return "x" })); err != nil {
		return nil, fmt.Errorf("%s: condition is not a valid template: %w", label, err)
	}
	return c, nil
}

// check evaluates every condition once. It returns whether the wait is
// over, a summary, the last evaluation error, and an error only when
// waiting longer can not help.
func (f *Wait) check(ctx context.Context, anyOf, allOf []*condition) (done bool, summary string, lastErr error, fatal error) {
	count := func(conds []*condition) (int, error) {
		n := 0
		for _, c := range conds {
			ok, err := f.evaluate(ctx, c)
			if err != nil {
				if !retriable(err) {
					return n, fmt.Errorf("%s on %s: %w", c.label, c.ref, err)
				}
				lastErr = fmt.Errorf("%s on %s: %w", c.label, c.ref, err)
				continue
			}
			if ok {
				n++
			}
		}
		return n, nil
	}
	var parts []string
	anyTrue, err := count(anyOf)
	if err != nil {
		return false, "", lastErr, err
	}
	if len(anyOf) > 0 {
		parts = append(parts, fmt.Sprintf("anyOf: %d of %d hold", anyTrue, len(anyOf)))
	}
	allTrue, err := count(allOf)
	if err != nil {
		return false, "", lastErr, err
	}
	if len(allOf) > 0 {
		parts = append(parts, fmt.Sprintf("allOf: %d of %d hold", allTrue, len(allOf)))
	}
	done = anyTrue > 0 || (len(allOf) > 0 && allTrue == len(allOf))
	return done, strings.Join(parts, "; "), lastErr, nil
}

// evaluate reads the condition's object and evaluates the condition on it.
func (f *Wait) evaluate(ctx context.Context, c *condition) (bool, error) {
	res := f.Client.Resource(c.gvr)
	var obj *unstructured.Unstructured
	var err error
	if c.ref.Namespace != "" {
		obj, err = res.Namespace(c.ref.Namespace).Get(ctx, c.ref.Name, metav1.GetOptions{})
	} else {
		obj, err = res.Get(ctx, c.ref.Name, metav1.GetOptions{})
	}
	if err != nil {
		return false, err
	}
	return c.evaluateOn(obj.UnstructuredContent())
}

// evaluateOn evaluates the condition on an object's content.
func (c *condition) evaluateOn(object map[string]any) (bool, error) {
	t := c.tmpl
	if t == nil {
		values := make([]string, len(c.placeholders))
		for i, p := range c.placeholders {
			var buf bytes.Buffer
			if err := p.path.Execute(&buf, object); err != nil {
				return false, fmt.Errorf("placeholder %s: %w", c.source[p.start:p.end], err)
			}
			values[i] = buf.String()
		}
		var err error
		if t, err = parseCondition(c.substitute(func(i int) string { return values[i] })); err != nil {
			return false, fmt.Errorf("condition with its placeholders replaced is not a valid template: %w", err)
		}
	}
	var out bytes.Buffer
	if err := t.Execute(&out, object); err != nil {
		return false, err
	}
	return strings.TrimSpace(out.String()) == "true", nil
}

// substitute returns the condition's source with placeholder i replaced by
// value(i).
func (c *condition) substitute(value func(int) string) string {
	var b strings.Builder
	last := 0
	for i, p := range c.placeholders {
		b.WriteString(c.source[last:p.start])
		b.WriteString(value(i))
		last = p.end
	}
	b.WriteString(c.source[last:])
	return b.String()
}

// placeholderPattern matches Kanister's JSONPath placeholders, `{ $.path }`.
var placeholderPattern = regexp.MustCompile(`\{\s*\$([.\[][^{}]*)\}`)

// findPlaceholders returns the placeholders in a Wait condition, parsed. A
// `{` directly before one belongs to a template action (`{{ $.x }}` or
// `{{ $var }}`), which is not a placeholder.
func findPlaceholders(source string) ([]placeholder, error) {
	var out []placeholder
	for _, m := range placeholderPattern.FindAllStringSubmatchIndex(source, -1) {
		if m[0] > 0 && source[m[0]-1] == '{' {
			continue
		}
		expr := "{" + strings.TrimSpace(source[m[2]:m[3]]) + "}"
		jp := jsonpath.New("placeholder")
		if err := jp.Parse(expr); err != nil {
			return nil, fmt.Errorf("placeholder %s is not valid JSONPath: %w", source[m[0]:m[1]], err)
		}
		out = append(out, placeholder{start: m[0], end: m[1], path: jp})
	}
	return out, nil
}

func parseCondition(source string) (*template.Template, error) {
	return template.New("condition").Funcs(conditionFuncs).Parse(source)
}

// conditionFuncs are the functions conditions may call besides Go's
// builtins: kubectl's go-template functions and a few of Sprig's.
var conditionFuncs = template.FuncMap{
	"exists":       exists,
	"base64decode": base64decode,
	"lower":        strings.ToLower,
	"upper":        strings.ToUpper,
	"trim":         strings.TrimSpace,
	"contains":     func(substr, s string) bool { return strings.Contains(s, substr) },
	"hasPrefix":    func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
	"hasSuffix":    func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
	"toString":     func(v any) string { return fmt.Sprint(v) },
	"default": func(def any, given ...any) any {
		if len(given) == 0 || empty(given[0]) {
			return def
		}
		return given[0]
	},
	"empty": empty,
}

// exists reports whether item has a value at the path of map keys and list
// indices, as kubectl's go-template function does.
func exists(item any, path ...any) bool {
	v := reflect.ValueOf(item)
	for _, step := range path {
		for v.IsValid() && v.Kind() == reflect.Interface {
			v = v.Elem()
		}
		if !v.IsValid() {
			return false
		}
		switch v.Kind() {
		case reflect.Map:
			key := reflect.ValueOf(step)
			if !key.IsValid() || !key.Type().AssignableTo(v.Type().Key()) {
				return false
			}
			v = v.MapIndex(key)
		case reflect.Slice, reflect.Array:
			i, ok := step.(int)
			if !ok || i < 0 || i >= v.Len() {
				return false
			}
			v = v.Index(i)
		default:
			return false
		}
	}
	return v.IsValid()
}

func base64decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("base64 decode failed: %w", err)
	}
	return string(b), nil
}

// empty is Sprig's notion of an empty value.
func empty(v any) bool {
	r := reflect.ValueOf(v)
	if !r.IsValid() {
		return true
	}
	switch r.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return r.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return r.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return r.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return r.IsNil()
	}
	return false
}
