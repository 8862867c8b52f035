package functions

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseArgsRejectsUnknown(t *testing.T) {
	_, err := parseArgs("KubeExec", map[string]any{"pod": "p", "podd": "x", "cmd": "y"}, "pod", "command")
	require.EqualError(t, err, `KubeExec: unknown argument "cmd", "podd" (supported: "pod", "command")`)

	_, err = parseArgs("KubeExec", map[string]any{"pod": "p"}, "pod", "command")
	require.NoError(t, err)
}

func TestStr(t *testing.T) {
	tests := []struct {
		name     string
		val      any
		absent   bool
		required bool
		want     string
		err      string
	}{
		{name: "string", val: "db-0", required: true, want: "db-0"},
		{name: "number as text", val: float64(42), want: "42"},
		{name: "big number keeps digits", val: float64(12345678901), want: "12345678901"},
		{name: "int", val: 7, want: "7"},
		{name: "bool", val: true, want: "true"},
		{name: "absent optional", absent: true, want: ""},
		{name: "null optional", val: nil, want: ""},
		{name: "absent required", absent: true, required: true, err: `F: argument "arg" is required`},
		{name: "null required", val: nil, required: true, err: `F: argument "arg" is required`},
		{name: "empty required", val: "  ", required: true, err: `F: argument "arg" must not be empty`},
		{name: "empty optional", val: "", want: ""},
		{name: "list", val: []any{"a"}, err: `F: argument "arg" must be a string, got a list`},
		{name: "map", val: map[string]any{"password": "hunter2"}, err: `F: argument "arg" must be a string, got a map`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := map[string]any{}
			if !tt.absent {
				vals["arg"] = tt.val
			}
			got, err := arguments{fn: "F", vals: vals}.str("arg", tt.required)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLists(t *testing.T) {
	tests := []struct {
		name   string
		val    any
		fields bool
		want   []string
		err    string
	}{
		{name: "list", val: []any{"sh", "-c", "echo hi"}, want: []string{"sh", "-c", "echo hi"}},
		{name: "typed list", val: []string{"a", "b"}, want: []string{"a", "b"}},
		{name: "numbers in list", val: []any{"sleep", float64(5)}, want: []string{"sleep", "5"}},
		{name: "one string is one item", val: "echo hi", want: []string{"echo hi"}},
		{name: "fields: spaces separate", val: " db-0  db-1\tdb-2 ", fields: true, want: []string{"db-0", "db-1", "db-2"}},
		{name: "fields: list", val: []any{"db-0", "db-1"}, fields: true, want: []string{"db-0", "db-1"}},
		{name: "fields: empty string", val: "", fields: true, want: []string{}},
		{name: "nested list", val: []any{[]any{"x"}}, err: `F: argument "arg" must be a list of strings, item 0 is a list`},
		{name: "map", val: map[string]any{}, err: `F: argument "arg" must be a list of strings, got a map`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := arguments{fn: "F", vals: map[string]any{"arg": tt.val}}
			var got []string
			var err error
			if tt.fields {
				got, err = a.fieldList("arg", true)
			} else {
				got, err = a.stringList("arg", true)
			}
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	_, err := arguments{fn: "F", vals: map[string]any{}}.stringList("command", true)
	require.EqualError(t, err, `F: argument "command" is required`)
	got, err := arguments{fn: "F", vals: map[string]any{}}.fieldList("containers", false)
	require.NoError(t, err)
	assert.Nil(t, got)
}

func TestNonNegativeInt(t *testing.T) {
	tests := []struct {
		name   string
		val    any
		absent bool
		want   int64
		err    string
	}{
		{name: "JSON number", val: float64(3), want: 3},
		{name: "zero", val: float64(0), want: 0},
		{name: "int", val: 2, want: 2},
		{name: "int32", val: int32(2), want: 2},
		{name: "int64", val: int64(2), want: 2},
		{name: "json.Number", val: json.Number("4"), want: 4},
		{name: "text", val: "5", want: 5},
		{name: "text with spaces", val: " 1 ", want: 1},
		{name: "absent", absent: true},
		{name: "negative", val: float64(-1), err: `F: replicas must be a non-negative integer, got "-1"`},
		{name: "fraction", val: 1.5, err: `F: replicas must be a non-negative integer, got "1.5"`},
		{name: "word", val: "x", err: `F: replicas must be a non-negative integer, got "x"`},
		{name: "empty text", val: "", err: `F: replicas must be a non-negative integer, got ""`},
		{name: "bool", val: true, err: `F: replicas must be a non-negative integer, got "true"`},
		{name: "list", val: []any{}, err: `F: replicas must be a non-negative integer, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := map[string]any{}
			if !tt.absent {
				vals["replicas"] = tt.val
			}
			got, ok, err := arguments{fn: "F", vals: vals}.nonNegativeInt("replicas")
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, !tt.absent, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestBoolean(t *testing.T) {
	tests := []struct {
		name   string
		val    any
		absent bool
		def    bool
		want   bool
		err    string
	}{
		{name: "absent takes default", absent: true, def: true, want: true},
		{name: "null takes default", val: nil, def: true, want: true},
		{name: "false", val: false, def: true, want: false},
		{name: "text false", val: "false", def: true, want: false},
		{name: "text False", val: "False", def: true, want: false},
		{name: "text true", val: "true", want: true},
		{name: "text 0", val: "0", def: true, want: false},
		{name: "number 0", val: float64(0), def: true, want: false},
		{name: "number 1", val: float64(1), want: true},
		{name: "empty text takes default", val: "", def: true, want: true},
		{name: "word", val: "yes please", err: `F: waitForReady must be true or false, got "yes please"`},
		{name: "list", val: []any{true}, err: `F: waitForReady must be true or false, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := map[string]any{}
			if !tt.absent {
				vals["waitForReady"] = tt.val
			}
			got, err := arguments{fn: "F", vals: vals}.boolean("waitForReady", tt.def)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		name   string
		val    any
		absent bool
		want   time.Duration
		err    string
	}{
		{name: "seconds", val: "90s", want: 90 * time.Second},
		{name: "compound", val: "1h30m", want: 90 * time.Minute},
		{name: "absent", absent: true, err: `F: argument "timeout" is required`},
		{name: "no unit", val: "60", err: `F: timeout must be a positive duration such as "90s" or "5m", got "60"`},
		{name: "number", val: float64(60), err: `F: timeout must be a positive duration such as "90s" or "5m", got "60"`},
		{name: "zero", val: "0s", err: `F: timeout must be a positive duration such as "90s" or "5m", got "0s"`},
		{name: "negative", val: "-1m", err: `F: timeout must be a positive duration such as "90s" or "5m", got "-1m"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := map[string]any{}
			if !tt.absent {
				vals["timeout"] = tt.val
			}
			got, err := arguments{fn: "F", vals: vals}.duration("timeout", true)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestObject(t *testing.T) {
	type target struct {
		Name string `json:"name"`
	}
	tests := []struct {
		name   string
		val    any
		absent bool
		strict bool
		want   target
		err    string
	}{
		{name: "map", val: map[string]any{"name": "x"}, want: target{Name: "x"}},
		{name: "unknown key ignored", val: map[string]any{"name": "x", "other": 1}, want: target{Name: "x"}},
		{name: "unknown key strict", val: map[string]any{"name": "x", "other": 1}, strict: true, err: `F: argument "ref": json: unknown field "other"`},
		{name: "wrong field type", val: map[string]any{"name": 1}, err: `F: argument "ref": json: cannot unmarshal number into Go struct field target.name of type string`},
		{name: "not a map", val: "name: x", err: `F: argument "ref" must be a map, got a string`},
		{name: "absent", absent: true, err: `F: argument "ref" is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := map[string]any{}
			if !tt.absent {
				vals["ref"] = tt.val
			}
			var got target
			_, err := arguments{fn: "F", vals: vals}.object("ref", true, tt.strict, &got)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
