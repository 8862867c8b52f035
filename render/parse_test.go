package render

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tmpl, err := Parse("args.x", `{{ .Phases.dump.Output.path | upper }}`)
	require.NoError(t, err)
	assert.NotNil(t, tmpl.Tree)

	for text, want := range map[string]string{
		`{{ env "HOME" }}`: `function "env" not defined`,
		`{{ .X `:           `unclosed action`,
	} {
		_, err := Parse("args.x", text)
		var re *Error
		require.True(t, errors.As(err, &re), text)
		assert.Equal(t, "args.x", re.Field)
		assert.Contains(t, err.Error(), want)
	}
	// String reports parse errors the same way.
	_, err = String("args.x", `{{ env "HOME" }}`, Params{})
	assert.Contains(t, err.Error(), `args.x: template: args.x:1: function "env" not defined`)
}
