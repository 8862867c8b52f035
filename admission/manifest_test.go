package admission_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/batonhq/baton/admission"
)

// The shipped configuration (the integration test installs it too).
var webhookManifest = filepath.Join("..", "config", "webhook", "manifests.yaml")

// documents reads the YAML documents of a file as objects.
func documents(t *testing.T, path string, edit func(string) string) []*unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	if edit != nil {
		raw = []byte(edit(string(raw)))
	}
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		var obj map[string]any
		require.NoError(t, yaml.Unmarshal(doc, &obj))
		if len(obj) > 0 {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}

// The configuration ships the rules the admission package expects.
func TestWebhookManifest(t *testing.T) {
	docs := documents(t, webhookManifest, nil)
	require.Len(t, docs, 1)
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(docs[0].Object, &vwc))
	assert.Equal(t, admission.WebhookConfigurationName, vwc.Name)
	paths := map[string]string{"blueprints": admission.BlueprintPath, "actionsets": admission.ActionSetPath, "profiles": admission.ProfilePath}
	require.Len(t, vwc.Webhooks, len(paths))
	for _, w := range vwc.Webhooks {
		require.Len(t, w.Rules, 1, w.Name)
		r := w.Rules[0]
		require.Len(t, r.Resources, 1, "%s: one resource, never a subresource such as actionsets/status", w.Name)
		assert.Equal(t, paths[r.Resources[0]], *w.ClientConfig.Service.Path, w.Name)
		assert.Equal(t, admission.ServiceName, w.ClientConfig.Service.Name)
		assert.Equal(t, []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}, r.Operations)
		assert.Equal(t, admissionregistrationv1.Fail, *w.FailurePolicy)
		assert.Equal(t, admissionregistrationv1.SideEffectClassNone, *w.SideEffects)
		assert.Equal(t, admissionregistrationv1.Equivalent, *w.MatchPolicy)
		assert.Equal(t, int32(5), *w.TimeoutSeconds)
		assert.Equal(t, []string{"v1"}, w.AdmissionReviewVersions)
		assert.Empty(t, w.ClientConfig.CABundle, "the controller sets caBundle")
	}
}
