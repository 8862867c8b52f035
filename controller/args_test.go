package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/render"
)

func TestRenderPhaseArgs(t *testing.T) {
	params := render.Params{Namespace: &render.NamespaceParams{Name: "app"}, Options: map[string]string{"t": "90s"}}
	condition := `{{ if (eq .status.phase "Running") }}true{{ end }}`
	waitArgs := batonv1.JSONMap{
		"timeout": "{{ .Options.t }}",
		"conditions": map[string]any{"anyOf": []any{map[string]any{
			"condition":       condition,
			"objectReference": map[string]any{"apiVersion": "v1", "resource": "pods", "name": "db-0", "namespace": "{{ .Namespace.Name }}"},
		}}},
	}
	tests := []struct {
		name     string
		function string
		args     batonv1.JSONMap
		want     map[string]any
		wantErr  string
	}{
		{"other functions render everything", "KubeExec", batonv1.JSONMap{"namespace": "{{ .Namespace.Name }}"},
			map[string]any{"namespace": "app"}, ""},
		{"Wait keeps its conditions for the runner", "Wait", waitArgs, map[string]any{
			"timeout": "90s",
			"conditions": map[string]any{"anyOf": []any{map[string]any{
				"condition":       condition,
				"objectReference": map[string]any{"apiVersion": "v1", "resource": "pods", "name": "db-0", "namespace": "app"},
			}}},
		}, ""},
		{"WaitV2 in any case", "waitv2", batonv1.JSONMap{"timeout": "{{ .Options.t }}"}, map[string]any{"timeout": "90s"}, ""},
		{"object references still fail on missing keys", "Wait", batonv1.JSONMap{"conditions": map[string]any{"allOf": []any{
			map[string]any{"condition": "x", "objectReference": map[string]any{"name": "{{ .Options.nope }}"}}}}},
			nil, "args.conditions.allOf[0].objectReference.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderPhaseArgs(tt.function, tt.args, params)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
