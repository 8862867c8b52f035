package functions

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// arguments gives typed access to a phase's rendered arguments. Values
// arrive as JSON decoded them (strings, float64, bool, []any, map[string]any)
// or as Go values when a test builds them directly; the helpers accept the
// spellings Kanister accepts (numbers and booleans written as strings, a
// single string for a list) and report every problem naming the function
// and the argument.
type arguments struct {
	fn   string
	vals map[string]any
}

// parseArgs checks that args holds no argument outside supported (as
// Kanister does since it validates arguments) and returns the accessor.
func parseArgs(fn string, args map[string]any, supported ...string) (arguments, error) {
	var unknown []string
	for name := range args {
		if !slices.Contains(supported, name) {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		quoted := make([]string, len(supported))
		for i, s := range supported {
			quoted[i] = strconv.Quote(s)
		}
		return arguments{}, fmt.Errorf("%s: unknown argument %s (supported: %s)", fn, strings.Join(unknown, ", "), strings.Join(quoted, ", "))
	}
	return arguments{fn: fn, vals: args}, nil
}

// has reports whether name was given a value; an explicit null counts as
// not given.
func (a arguments) has(name string) bool {
	v, ok := a.vals[name]
	return ok && v != nil
}

func (a arguments) missing(name string) error {
	return fmt.Errorf("%s: argument %q is required", a.fn, name)
}

// str returns a string argument; numbers and booleans are accepted in their
// usual text form. A required argument must be present and not empty.
func (a arguments) str(name string, required bool) (string, error) {
	if !a.has(name) {
		if required {
			return "", a.missing(name)
		}
		return "", nil
	}
	s, ok := scalarString(a.vals[name])
	if !ok {
		return "", fmt.Errorf("%s: argument %q must be a string, got %s", a.fn, name, describe(a.vals[name]))
	}
	if required && strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s: argument %q must not be empty", a.fn, name)
	}
	return s, nil
}

// stringList returns a list argument such as a command. A single string is
// a one-element list (Kanister decodes arguments weakly, with this effect).
func (a arguments) stringList(name string, required bool) ([]string, error) {
	return a.list(name, required, func(s string) []string { return []string{s} })
}

// fieldList returns a list argument that may also be written as one
// space-separated string, like KubeExecAll's pods and containers.
func (a arguments) fieldList(name string, required bool) ([]string, error) {
	return a.list(name, required, strings.Fields)
}

func (a arguments) list(name string, required bool, fromString func(string) []string) ([]string, error) {
	if !a.has(name) {
		if required {
			return nil, a.missing(name)
		}
		return nil, nil
	}
	var out []string
	switch v := a.vals[name].(type) {
	case string:
		out = fromString(v)
	case []string:
		out = slices.Clone(v)
	case []any:
		out = make([]string, len(v))
		for i, item := range v {
			s, ok := scalarString(item)
			if !ok {
				return nil, fmt.Errorf("%s: argument %q must be a list of strings, item %d is %s", a.fn, name, i, describe(item))
			}
			out[i] = s
		}
	default:
		return nil, fmt.Errorf("%s: argument %q must be a list of strings, got %s", a.fn, name, describe(v))
	}
	return out, nil
}

// nonNegativeInt returns an integer argument given as a number or as the
// text of one. ok is false when the argument is absent.
func (a arguments) nonNegativeInt(name string) (n int64, ok bool, err error) {
	if !a.has(name) {
		return 0, false, nil
	}
	bad := func() error {
		return fmt.Errorf("%s: %s must be a non-negative integer, got %s", a.fn, name, shortValue(a.vals[name]))
	}
	switch v := a.vals[name].(type) {
	case int:
		n = int64(v)
	case int32:
		n = int64(v)
	case int64:
		n = v
	case float64:
		if v != math.Trunc(v) || math.IsInf(v, 0) || v > math.MaxInt64 || v < math.MinInt64 {
			return 0, true, bad()
		}
		n = int64(v)
	case json.Number:
		if n, err = v.Int64(); err != nil {
			return 0, true, bad()
		}
	case string:
		if n, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
			return 0, true, bad()
		}
	default:
		return 0, true, bad()
	}
	if n < 0 {
		return 0, true, bad()
	}
	return n, true, nil
}

// boolean returns a boolean argument given as a bool, as text ("true",
// "False", "1", ...) or as a number (0 is false); absent or empty text
// means def.
func (a arguments) boolean(name string, def bool) (bool, error) {
	if !a.has(name) {
		return def, nil
	}
	switch v := a.vals[name].(type) {
	case bool:
		return v, nil
	case float64:
		return v != 0, nil
	case int:
		return v != 0, nil
	case int64:
		return v != 0, nil
	case string:
		if strings.TrimSpace(v) == "" {
			return def, nil
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, fmt.Errorf("%s: %s must be true or false, got %s", a.fn, name, shortValue(v))
		}
		return b, nil
	}
	return false, fmt.Errorf("%s: %s must be true or false, got %s", a.fn, name, describe(a.vals[name]))
}

// duration returns a positive duration written as Go spells them ("90s",
// "5m", "1h30m"), as Kanister's Wait takes its timeout.
func (a arguments) duration(name string, required bool) (time.Duration, error) {
	if !a.has(name) {
		if required {
			return 0, a.missing(name)
		}
		return 0, nil
	}
	s, isString := a.vals[name].(string)
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if !isString || err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %s must be a positive duration such as \"90s\" or \"5m\", got %s", a.fn, name, shortValue(a.vals[name]))
	}
	return d, nil
}

// object decodes a map argument into out (a pointer to a struct) through
// JSON; when strict, keys out does not know are errors rather than ignored.
func (a arguments) object(name string, required, strict bool, out any) (bool, error) {
	if !a.has(name) {
		if required {
			return false, a.missing(name)
		}
		return false, nil
	}
	if _, ok := a.vals[name].(map[string]any); !ok {
		return true, fmt.Errorf("%s: argument %q must be a map, got %s", a.fn, name, describe(a.vals[name]))
	}
	if err := decodeInto(a.vals[name], strict, out); err != nil {
		return true, fmt.Errorf("%s: argument %q: %w", a.fn, name, err)
	}
	return true, nil
}

func decodeInto(v any, strict bool, out any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if strict {
		dec.DisallowUnknownFields()
	}
	return dec.Decode(out)
}

// scalarString returns the text of a string, number or boolean.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// describe names a value's kind for a type error without printing the
// value, which might be a credential.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int32, int64, json.Number:
		return "a number"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// shortValue quotes a scalar value for a message about a number, boolean or
// duration argument, whose values are not secret; anything else is only
// described.
func shortValue(v any) string {
	s, ok := scalarString(v)
	if !ok {
		return describe(v)
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
