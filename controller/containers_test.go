package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/batonhq/baton/dispatcher"
)

func TestUserContainers(t *testing.T) {
	cmd := []any{"sh", "-c", "true"}
	multi := func(extra map[string]any) map[string]any {
		args := map[string]any{"outputImage": "out:1", "outputCommand": cmd, "backgroundImage": "bg:1", "backgroundCommand": cmd}
		for k, v := range extra {
			args[k] = v
		}
		return args
	}
	tests := []struct {
		name    string
		fn      string
		args    map[string]any
		check   func(t *testing.T, d dispatcher.Phase)
		wantErr string
	}{
		{"runner functions have none", "KubeExec", map[string]any{}, func(t *testing.T, d dispatcher.Phase) { assert.Nil(t, d.User) }, ""},
		{"KubeTask", "KubeTask", map[string]any{"image": "pg:15", "command": cmd, "podOverride": map[string]any{"hostNetwork": true}},
			func(t *testing.T, d dispatcher.Phase) {
				assert.Equal(t, "pg:15", d.User.Image)
				assert.Nil(t, d.Background)
				assert.Equal(t, map[string]any{"hostNetwork": true}, d.PhasePodOverride)
			}, ""},
		{"KubeTask without image", "KubeTask", map[string]any{"command": cmd}, nil, `KubeTask: argument "image" is required`},
		{"KubeTask without command", "KubeTask", map[string]any{"image": "x"}, nil, `argument "command" must be a non-empty list`},
		{"KubeTask with a bad podOverride", "KubeTask", map[string]any{"image": "x", "command": cmd, "podOverride": "x"}, nil, `"podOverride" must be a map`},
		{"MultiContainerRun with defaults", "MultiContainerRun", multi(nil), func(t *testing.T, d dispatcher.Phase) {
			assert.Equal(t, "out:1", d.User.Image)
			assert.Equal(t, "bg:1", d.Background.Image)
			assert.Nil(t, d.Init)
			assert.Equal(t, &dispatcher.SharedVolume{MountPath: "/tmp/"}, d.Shared)
		}, ""},
		{"MultiContainerRun with everything", "MultiContainerRun", multi(map[string]any{"initImage": "init:1", "initCommand": cmd,
			"sharedVolumeDir": "/shared", "sharedVolumeMedium": "Memory", "sharedVolumeSizeLimit": "64Mi"}), func(t *testing.T, d dispatcher.Phase) {
			assert.Equal(t, "init:1", d.Init.Image)
			assert.Equal(t, "/shared", d.Shared.MountPath)
			assert.Equal(t, corev1.StorageMediumMemory, d.Shared.Medium)
			assert.Equal(t, "64Mi", d.Shared.SizeLimit.String())
		}, ""},
		{"MultiContainerRun without background", "MultiContainerRun", map[string]any{"outputImage": "o", "outputCommand": cmd}, nil, `"backgroundImage" is required`},
		{"init image without command", "MultiContainerRun", multi(map[string]any{"initImage": "i"}), nil, `"initImage" and "initCommand" go together`},
		{"relative shared dir", "MultiContainerRun", multi(map[string]any{"sharedVolumeDir": "tmp"}), nil, "must be an absolute path"},
		{"unknown medium", "MultiContainerRun", multi(map[string]any{"sharedVolumeMedium": "HugePages"}), nil, `"sharedVolumeMedium" must be`},
		{"bad size", "MultiContainerRun", multi(map[string]any{"sharedVolumeSizeLimit": "lots"}), nil, `"lots" is not a quantity`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d dispatcher.Phase
			err := userContainers(tt.fn, tt.args, &d)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, d)
		})
	}
}
