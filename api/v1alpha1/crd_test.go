package v1alpha1_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// crdDir holds the CRDs `make manifests` generates from this package.
var crdDir = filepath.Join("..", "..", "config", "crd", "bases")

func readCRD(t *testing.T, plural string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(crdDir, "baton.dev_"+plural+".yaml"))
	require.NoError(t, err, "run `make manifests`")
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, yaml.UnmarshalStrict(data, crd))
	return crd
}

// schemaAt walks properties (and, for "*", map values or list items) down
// from the root of a version's schema.
func schemaAt(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition, path ...string) apiextensionsv1.JSONSchemaProps {
	t.Helper()
	s := *crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	for _, p := range path {
		switch {
		case p == "*" && s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil:
			s = *s.AdditionalProperties.Schema
		case p == "*" && s.Items != nil && s.Items.Schema != nil:
			s = *s.Items.Schema
		default:
			next, ok := s.Properties[p]
			require.True(t, ok, "no property %q on the way to %v", p, path)
			s = next
		}
	}
	return s
}

func TestCRDs(t *testing.T) {
	entries, err := os.ReadDir(crdDir)
	require.NoError(t, err)
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	assert.ElementsMatch(t, []string{"baton.dev_actionsets.yaml", "baton.dev_blueprints.yaml", "baton.dev_profiles.yaml"}, files)

	for _, tc := range []struct {
		plural, kind, shortName string
		statusSubresource       bool
		columns                 map[string]string
	}{
		{"actionsets", "ActionSet", "as", true, map[string]string{
			"State": ".status.state", "Progress": ".status.progress.percentCompleted",
			"Phase": ".status.progress.runningPhase", "Age": ".metadata.creationTimestamp",
		}},
		{"blueprints", "Blueprint", "bp", false, map[string]string{"Age": ".metadata.creationTimestamp"}},
		{"profiles", "Profile", "prof", false, map[string]string{
			"Type": ".location.type", "Bucket": ".location.bucket", "Age": ".metadata.creationTimestamp",
		}},
	} {
		t.Run(tc.plural, func(t *testing.T) {
			crd := readCRD(t, tc.plural)
			assert.Equal(t, tc.plural+".baton.dev", crd.Name)
			assert.Equal(t, "baton.dev", crd.Spec.Group)
			assert.Equal(t, apiextensionsv1.NamespaceScoped, crd.Spec.Scope)
			assert.Equal(t, tc.kind, crd.Spec.Names.Kind)
			assert.Equal(t, []string{tc.shortName}, crd.Spec.Names.ShortNames)
			assert.Equal(t, []string{"baton"}, crd.Spec.Names.Categories)
			require.Len(t, crd.Spec.Versions, 1)
			v := crd.Spec.Versions[0]
			assert.Equal(t, "v1alpha1", v.Name)
			assert.True(t, v.Served)
			assert.True(t, v.Storage)
			hasStatus := v.Subresources != nil && v.Subresources.Status != nil
			assert.Equal(t, tc.statusSubresource, hasStatus, "status subresource")
			columns := map[string]string{}
			for _, c := range v.AdditionalPrinterColumns {
				columns[c.Name] = c.JSONPath
			}
			assert.Equal(t, tc.columns, columns)
		})
	}
}

// The free-form fields are objects whose contents the API server keeps as
// they are, as Kanister's CRDs declare them.
func TestCRDFreeFormFields(t *testing.T) {
	for _, tc := range []struct {
		plural string
		path   []string
	}{
		{"blueprints", []string{"actions", "*", "phases", "*", "args"}},
		{"blueprints", []string{"actions", "*", "deferPhase", "args"}},
		{"actionsets", []string{"spec", "actions", "*", "podOverride"}},
		{"actionsets", []string{"status", "actions", "*", "phases", "*", "output"}},
		{"actionsets", []string{"status", "actions", "*", "deferPhase", "output"}},
	} {
		s := schemaAt(t, readCRD(t, tc.plural), tc.path...)
		assert.Equal(t, "object", s.Type, "%s %v", tc.plural, tc.path)
		require.NotNil(t, s.XPreserveUnknownFields, "%s %v", tc.plural, tc.path)
		assert.True(t, *s.XPreserveUnknownFields, "%s %v", tc.plural, tc.path)
		assert.Empty(t, s.Properties, "%s %v", tc.plural, tc.path)
	}
}

// Validation is limited to what Kanister enforces or what cannot work.
func TestCRDValidation(t *testing.T) {
	as := readCRD(t, "actionsets")
	assert.Equal(t, []string{"name"}, schemaAt(t, as, "spec", "actions", "*").Required)
	conditions := schemaAt(t, as, "status", "conditions")
	require.NotNil(t, conditions.XListType)
	assert.Equal(t, "map", *conditions.XListType)
	assert.Equal(t, []string{"type"}, conditions.XListMapKeys)
	assert.Equal(t, "integer", schemaAt(t, as, "status", "observedGeneration").Type)

	bp := readCRD(t, "blueprints")
	assert.Equal(t, []string{"func"}, schemaAt(t, bp, "actions", "*", "phases", "*").Required)
	assert.Empty(t, schemaAt(t, bp).Required)
	assert.Empty(t, schemaAt(t, bp, "actions", "*").Required)

	prof := readCRD(t, "profiles")
	assert.Empty(t, schemaAt(t, prof).Required)
	assert.Len(t, schemaAt(t, prof, "location", "type").Enum, 4)
	assert.Len(t, schemaAt(t, prof, "credential", "type").Enum, 3)
	assert.Len(t, schemaAt(t, prof, "credential").XValidations, 3)
}

// config/crd/kustomization.yaml installs exactly the generated CRDs: a new
// kind's CRD must be listed there too.
func TestKustomizationListsEveryCRD(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(crdDir, "..", "kustomization.yaml"))
	require.NoError(t, err)
	var k struct {
		Resources []string `json:"resources"`
	}
	require.NoError(t, yaml.Unmarshal(data, &k))
	generated, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	require.NoError(t, err)
	var want []string
	for _, f := range generated {
		want = append(want, "bases/"+filepath.Base(f))
	}
	assert.ElementsMatch(t, want, k.Resources)
}
