package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/batonhq/baton/dispatcher"
)

// defaultSharedDir is where MultiContainerRun's containers share a volume
// unless sharedVolumeDir says otherwise (Kanister's default).
const defaultSharedDir = "/tmp/"

// userContainers fills in the containers of functions whose pod runs the
// user's images (KubeTask; MultiContainerRun's output, background and init
// containers) from their rendered arguments. Their commands are not read
// here: the runner in each container reads its own from the phase Secret.
func userContainers(function string, args map[string]any, d *dispatcher.Phase) error {
	switch function {
	case "KubeTask":
		image, err := requiredImage(function, args, "image")
		if err != nil {
			return err
		}
		if err := requiredCommand(function, args, "command"); err != nil {
			return err
		}
		d.User = &dispatcher.UserContainer{Image: image}
	case "MultiContainerRun":
		for _, pair := range [][2]string{{"outputImage", "outputCommand"}, {"backgroundImage", "backgroundCommand"}} {
			if _, err := requiredImage(function, args, pair[0]); err != nil {
				return err
			}
			if err := requiredCommand(function, args, pair[1]); err != nil {
				return err
			}
		}
		d.User = &dispatcher.UserContainer{Image: args["outputImage"].(string)}
		d.Background = &dispatcher.UserContainer{Image: args["backgroundImage"].(string)}
		_, hasInitImage := args["initImage"]
		_, hasInitCommand := args["initCommand"]
		if hasInitImage != hasInitCommand {
			return fmt.Errorf("%s: arguments \"initImage\" and \"initCommand\" go together", function)
		}
		if hasInitImage {
			image, err := requiredImage(function, args, "initImage")
			if err != nil {
				return err
			}
			if err := requiredCommand(function, args, "initCommand"); err != nil {
				return err
			}
			d.Init = &dispatcher.UserContainer{Image: image}
		}
		shared, err := sharedVolume(function, args)
		if err != nil {
			return err
		}
		d.Shared = shared
	default:
		return nil
	}
	if override, ok := args["podOverride"]; ok {
		m, ok := override.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: argument \"podOverride\" must be a map (a pod spec fragment)", function)
		}
		d.PhasePodOverride = m
	}
	return nil
}

func requiredImage(function string, args map[string]any, name string) (string, error) {
	image, _ := args[name].(string)
	if image == "" {
		return "", fmt.Errorf("%s: argument %q is required", function, name)
	}
	return image, nil
}

func requiredCommand(function string, args map[string]any, name string) error {
	if cmd, ok := args[name].([]any); !ok || len(cmd) == 0 {
		return fmt.Errorf("%s: argument %q must be a non-empty list", function, name)
	}
	return nil
}

// sharedVolume reads MultiContainerRun's sharedVolumeDir, sharedVolumeMedium
// and sharedVolumeSizeLimit.
func sharedVolume(function string, args map[string]any) (*dispatcher.SharedVolume, error) {
	v := &dispatcher.SharedVolume{MountPath: defaultSharedDir}
	if dir, ok := args["sharedVolumeDir"]; ok {
		s, _ := dir.(string)
		if s == "" || s[0] != '/' {
			return nil, fmt.Errorf("%s: argument \"sharedVolumeDir\" must be an absolute path", function)
		}
		v.MountPath = s
	}
	if medium, ok := args["sharedVolumeMedium"]; ok {
		switch m, _ := medium.(string); corev1.StorageMedium(m) {
		case corev1.StorageMediumDefault, corev1.StorageMediumMemory:
			v.Medium = corev1.StorageMedium(m)
		default:
			return nil, fmt.Errorf("%s: argument \"sharedVolumeMedium\" must be \"\" (the node's disk) or \"Memory\"", function)
		}
	}
	if limit, ok := args["sharedVolumeSizeLimit"]; ok {
		s, _ := limit.(string)
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return nil, fmt.Errorf("%s: argument \"sharedVolumeSizeLimit\": %q is not a quantity such as 1Gi", function, s)
		}
		v.SizeLimit = &q
	}
	return v, nil
}
