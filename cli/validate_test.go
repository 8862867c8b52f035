package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// header starts a Blueprint named bp.
const header = "apiVersion: baton.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: bp}\n"

// The Blueprints the repository ships validate clean through the command
// too (validation's own tests check them one by one).
func TestValidateCommandOnGoodBlueprints(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../examples/*/*blueprint.yaml", "../e2e/testdata/*.yaml"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	out, _, err := runCLI(t, "", append([]string{"validate", "blueprint"}, files...)...)
	require.NoError(t, err)
	assert.Contains(t, out, "blueprint(s) valid")
}

func TestValidateCommandExitsNonZero(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(header+"actions:\n  a:\n    phases:\n    - {func: Nope, name: p}\n"), 0o600))
	out, _, err := runCLI(t, "", "validate", "blueprint", bad)
	require.EqualError(t, err, "1 problem found")
	assert.Equal(t, `bp: a/p: func: unknown function "Nope"`+"\n", out)

	// stdin, several documents, other kinds skipped.
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n" + header +
		"actions:\n  a:\n    phases:\n    - {func: KubeTask, name: p, args: {image: i, command: [c]}}\n"
	out, _, err = runCLI(t, in, "validate", "blueprint", "-")
	require.NoError(t, err)
	assert.Equal(t, "1 blueprint(s) valid\n", out)
	assert.False(t, strings.Contains(out, "ConfigMap"))
}
