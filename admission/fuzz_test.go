package admission

import (
	"context"
	"encoding/json"
	"testing"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// FuzzValidators feeds whatever decodes as an ActionSet or a Profile to
// the admission validators, creates and updates alike: they must answer,
// never panic, whatever a user sends (make fuzz).
func FuzzValidators(f *testing.F) {
	f.Add([]byte(`{"spec":{"actions":[{"name":"backup","blueprint":"bp","object":{"kind":"Deployment","name":"db","namespace":"app"},
		"secrets":{"s":{"name":"x"}},"podLabels":{"a/b/c":"x"},"profile":{"name":""}}],"timeout":"-1s"}}`),
		[]byte(`{"spec":{"actions":[{"name":"backup"}],"cancel":{}}}`))
	f.Add([]byte(`{"location":{"type":"s3Compliant","endpoint":"ftp://x","bucket":""},"credential":{"type":"keyPair","keyPair":{}}}`),
		[]byte(`{"location":{"type":"gcs"},"credential":{"type":"secret","secret":{"name":"s"}}}`))
	f.Add([]byte(`{}`), []byte(`null`))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var oldAS, newAS batonv1.ActionSet
		if json.Unmarshal(a, &oldAS) == nil && json.Unmarshal(b, &newAS) == nil {
			v := ActionSetValidator{}
			_, _ = v.ValidateCreate(ctx, &newAS)
			_, _ = v.ValidateUpdate(ctx, &oldAS, &newAS)
		}
		var oldP, newP batonv1.Profile
		if json.Unmarshal(a, &oldP) == nil && json.Unmarshal(b, &newP) == nil {
			v := ProfileValidator{}
			_, _ = v.ValidateCreate(ctx, &newP)
			_, _ = v.ValidateUpdate(ctx, &oldP, &newP)
		}
	})
}
