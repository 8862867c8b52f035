package controller

import (
	"fmt"
	"strings"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/render"
)

// renderPhaseArgs renders a phase's arguments. Wait and WaitV2 are the
// exception Kanister makes too: their conditions are Go templates the
// runner evaluates against the live object, again and again, so only the
// timeout and each condition's objectReference are rendered here.
func renderPhaseArgs(function string, args batonv1.JSONMap, p render.Params) (map[string]any, error) {
	if !strings.EqualFold(function, "Wait") && !strings.EqualFold(function, "WaitV2") {
		return render.Args(args, p)
	}
	out := make(map[string]any, len(args))
	for k, v := range args {
		out[k] = v
	}
	if timeout, ok := args["timeout"]; ok {
		r, err := render.Value("args.timeout", timeout, p)
		if err != nil {
			return nil, err
		}
		out["timeout"] = r
	}
	conditions, ok := args["conditions"].(map[string]any)
	if !ok {
		return out, nil
	}
	renderedConditions := make(map[string]any, len(conditions))
	for group, v := range conditions { // anyOf, allOf
		list, ok := v.([]any)
		if !ok {
			renderedConditions[group] = v
			continue
		}
		renderedList := make([]any, len(list))
		for i, c := range list {
			cond, ok := c.(map[string]any)
			if !ok {
				renderedList[i] = c
				continue
			}
			copied := make(map[string]any, len(cond))
			for k, v := range cond {
				copied[k] = v
			}
			if ref, ok := cond["objectReference"]; ok {
				r, err := render.Value(fmt.Sprintf("args.conditions.%s[%d].objectReference", group, i), ref, p)
				if err != nil {
					return nil, err
				}
				copied["objectReference"] = r
			}
			renderedList[i] = copied
		}
		renderedConditions[group] = renderedList
	}
	out["conditions"] = renderedConditions
	return out, nil
}
