package phase

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" means no file
		want    Spec
		wantErr string
	}{
		{"complete", `{"actionSet":"as","namespace":"ns","action":"backup","phase":"dump","func":"KubeExec",
			"args":{"namespace":"app","command":["sh","-c","echo"]},"object":{"kind":"Deployment","name":"db","namespace":"app"}}`,
			Spec{ActionSet: "as", Namespace: "ns", Action: "backup", Phase: "dump", Function: "KubeExec",
				Args:   map[string]any{"namespace": "app", "command": []any{"sh", "-c", "echo"}},
				Object: ObjectRef{Kind: "Deployment", Name: "db", Namespace: "app"}}, ""},
		{"missing file", "", Spec{}, "read phase"},
		{"not json", "{", Spec{}, "is not valid"},
		{"no function", `{"phase":"x"}`, Spec{}, "names no function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, SpecFile), []byte(tt.content), 0o600))
			}
			got, err := Load(dir)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
