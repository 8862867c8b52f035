package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

func TestCheckPhaseRequirements(t *testing.T) {
	profile := &batonv1.ObjectReference{Name: "store"}
	phase := func(fn string, args batonv1.JSONMap) batonv1.BlueprintPhase {
		return batonv1.BlueprintPhase{Name: "p", Func: fn, Args: args}
	}
	key := batonv1.JSONMap{"encryptionKey": "{{ .Secrets.k.Data.key | toString }}"}
	tests := []struct {
		name    string
		phase   batonv1.BlueprintPhase
		profile *batonv1.ObjectReference
		wantErr string
	}{
		{"KubeTask needs nothing", phase("KubeTask", nil), nil, ""},
		{"BackupData with both", phase("BackupData", key), profile, ""},
		{"function names are case-insensitive", phase("backupdata", nil), profile, `needs argument "encryptionKey"`},
		{"BackupData without a key", phase("BackupData", nil), profile, `BackupData needs argument "encryptionKey": Baton has no default encryption key`},
		{"RestoreData without a profile", phase("RestoreData", key), nil, "RestoreData needs a Profile"},
		{"LocationDelete needs a profile only", phase("LocationDelete", nil), profile, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPhaseRequirements(tt.phase, batonv1.ActionSpec{Profile: tt.profile})
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestCheckRenderedArgs(t *testing.T) {
	tests := []struct {
		name    string
		fn      string
		args    map[string]any
		wantErr bool
	}{
		{"key present", "DeleteData", map[string]any{"encryptionKey": "k"}, false},
		{"key blank", "DeleteData", map[string]any{"encryptionKey": "  "}, true},
		{"key not a string", "CopyVolumeData", map[string]any{"encryptionKey": 7}, true},
		{"other functions unchecked", "KubeExec", map[string]any{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRenderedArgs(tt.fn, tt.args)
			assert.Equal(t, tt.wantErr, err != nil, "error: %v", err)
		})
	}
}
