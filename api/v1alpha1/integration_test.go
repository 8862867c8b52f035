//go:build integration

package v1alpha1_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/internal/testenv"
)

const sampleNamespace = "baton-samples"

// The generated CRDs installed in a real kube-apiserver accept the
// Kanister-format samples unchanged (with strict field validation, so no
// field is silently pruned), store every field including free-form JSON,
// serve ActionSet status through its subresource and print its columns, and
// reject objects that cannot be valid.
func TestIntegrationCRDs(t *testing.T) {
	cfg := testenv.Start(t, testenv.Options{CRDDirectoryPaths: []string{crdDir}})
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	// Strict: an unknown field is an error instead of being dropped.
	strict := client.WithFieldValidation(c, metav1.FieldValidationStrict)
	ctx := context.Background()
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sampleNamespace}}))

	// createSample sends the manifest as written, not through Baton's Go
	// types, and returns the stored object read back through them.
	createSample := func(t *testing.T, file string, into client.Object) client.Object {
		t.Helper()
		u := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal(readSample(t, file), &u.Object))
		require.NoError(t, strict.Create(ctx, u), "the API server rejected %s", file)
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(u), into))
		return into
	}
	decodeSample := func(t *testing.T, file string, into client.Object) client.Object {
		t.Helper()
		require.NoError(t, yaml.UnmarshalStrict(readSample(t, file), into))
		return into
	}

	t.Run("Blueprint", func(t *testing.T) {
		want := decodeSample(t, "blueprint.yaml", &v1alpha1.Blueprint{}).(*v1alpha1.Blueprint)
		got := createSample(t, "blueprint.yaml", &v1alpha1.Blueprint{}).(*v1alpha1.Blueprint)
		assert.JSONEq(t, string(mustJSON(t, want.Actions)), string(mustJSON(t, got.Actions)))
		// Integers come back from the server as int64, the rest as decoded.
		args := got.Actions["backup"].Phases[0].Args
		assert.Equal(t, int64(3), args["retries"])
		assert.Equal(t, 600.5, args["timeoutSeconds"])
		assert.Equal(t, map[string]any{"securityContext": map[string]any{"runAsUser": int64(0)}}, args["podOverride"])
		assert.Contains(t, args, "env", "a null inside args is kept")
		assert.Equal(t, "KubeOps", got.Actions["backup"].DeferPhase.Func)
		find(t, "blueprint.yaml").check(t, mustNormalizeNumbers(t, got, &v1alpha1.Blueprint{}))
	})

	t.Run("Profile", func(t *testing.T) {
		for _, file := range []string{"profile.yaml", "profile-kopia.yaml"} {
			want := decodeSample(t, file, &v1alpha1.Profile{}).(*v1alpha1.Profile)
			got := createSample(t, file, &v1alpha1.Profile{}).(*v1alpha1.Profile)
			assert.Equal(t, want.Location, got.Location, file)
			assert.Equal(t, want.Credential, got.Credential, file)
			assert.Equal(t, want.SkipSSLVerify, got.SkipSSLVerify, file)
		}
	})

	t.Run("ActionSet and its status subresource", func(t *testing.T) {
		want := decodeSample(t, "actionset.yaml", &v1alpha1.ActionSet{}).(*v1alpha1.ActionSet)
		as := createSample(t, "actionset.yaml", &v1alpha1.ActionSet{}).(*v1alpha1.ActionSet)
		assert.JSONEq(t, string(mustJSON(t, want.Spec)), string(mustJSON(t, as.Spec)))
		assert.Equal(t, int64(10), as.Spec.Actions[0].PodOverride["priority"])
		assert.Zero(t, as.Status)

		// Status written on create is dropped: only the subresource sets it.
		withStatus := createSample(t, "actionset-status.yaml", &v1alpha1.ActionSet{}).(*v1alpha1.ActionSet)
		assert.Zero(t, withStatus.Status)

		status := decodeSample(t, "actionset-status.yaml", &v1alpha1.ActionSet{}).(*v1alpha1.ActionSet).Status
		status.ObservedGeneration = as.Generation
		status.Conditions = []metav1.Condition{{
			Type: "Complete", Status: metav1.ConditionTrue, Reason: "AllPhasesComplete",
			Message: "2 of 2 phases complete", ObservedGeneration: as.Generation,
			LastTransitionTime: metav1.Now(),
		}}
		as.Status = *status.DeepCopy()
		require.NoError(t, strict.Status().Update(ctx, as))

		got := &v1alpha1.ActionSet{}
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(as), got))
		assert.JSONEq(t, string(mustJSON(t, status)), string(mustJSON(t, got.Status)))
		assert.Equal(t, int64(12), got.Status.Actions[0].Phases[0].Output["stats"].(map[string]any)["files"])
		assert.Equal(t, "Complete", got.Status.Conditions[0].Type)

		// Through the main resource, status changes are ignored.
		got.Status.State = v1alpha1.StateFailed
		got.Labels["edited"] = "true"
		require.NoError(t, strict.Update(ctx, got))
		again := &v1alpha1.ActionSet{}
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(as), again))
		assert.Equal(t, "true", again.Labels["edited"])
		assert.Equal(t, v1alpha1.StateComplete, again.Status.State)

		// kubectl's columns.
		table := getTable(t, cfg, "/apis/baton.dev/v1alpha1/namespaces/"+as.Namespace+"/actionsets/"+as.Name)
		var columns []string
		for _, col := range table.ColumnDefinitions {
			columns = append(columns, col.Name)
		}
		assert.Equal(t, []string{"Name", "State", "Progress", "Phase", "Age"}, columns)
		require.Len(t, table.Rows, 1)
		// runningPhase is empty once done, so the Phase cell is empty.
		assert.Equal(t, []any{as.Name, "complete", "100.00", nil}, table.Rows[0].Cells[:4])

		// A state Baton does not know is rejected.
		again.Status.State = "done"
		err := strict.Status().Update(ctx, again)
		assert.True(t, apierrors.IsInvalid(err), "got %v", err)
	})

	t.Run("unknown fields are rejected, not silently dropped", func(t *testing.T) {
		u := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(`
apiVersion: baton.dev/v1alpha1
kind: ActionSet
metadata: {generateName: typo-, namespace: baton-samples}
spec:
  actions:
  - name: backup
    blueprnt: mysql-blueprint
`), &u.Object))
		err := strict.Create(ctx, u)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `unknown field "spec.actions[0].blueprnt"`)
	})

	invalid := []struct {
		name string
		doc  string
	}{
		{"an action without a name", `
apiVersion: baton.dev/v1alpha1
kind: ActionSet
metadata: {generateName: invalid-, namespace: baton-samples}
spec:
  actions:
  - blueprint: mysql-blueprint
    object: {kind: StatefulSet, name: mysql, namespace: mysql-test}
`},
		{"an action with an empty name", `
apiVersion: baton.dev/v1alpha1
kind: ActionSet
metadata: {generateName: invalid-, namespace: baton-samples}
spec:
  actions:
  - name: ""
    blueprint: mysql-blueprint
`},
		{"a phase without a function", `
apiVersion: baton.dev/v1alpha1
kind: Blueprint
metadata: {generateName: invalid-, namespace: baton-samples}
actions:
  backup:
    phases:
    - name: noFunc
      args: {command: [true]}
`},
		{"a deferPhase without a function", `
apiVersion: baton.dev/v1alpha1
kind: Blueprint
metadata: {generateName: invalid-, namespace: baton-samples}
actions:
  backup:
    deferPhase:
      name: cleanup
`},
		{"an unknown location type", `
apiVersion: baton.dev/v1alpha1
kind: Profile
metadata: {generateName: invalid-, namespace: baton-samples}
location: {type: s3, bucket: bkt}
credential: {type: secret, secret: {name: s, namespace: baton-samples}}
`},
		{"an s3Compliant location without a bucket", `
apiVersion: baton.dev/v1alpha1
kind: Profile
metadata: {generateName: invalid-, namespace: baton-samples}
location: {type: s3Compliant, endpoint: "http://minio:9000"}
credential: {type: keyPair, keyPair: {idField: id, secretField: key, secret: {name: s, namespace: baton-samples}}}
`},
		{"a keyPair credential without keyPair", `
apiVersion: baton.dev/v1alpha1
kind: Profile
metadata: {generateName: invalid-, namespace: baton-samples}
location: {type: s3Compliant, bucket: bkt, region: us-east-1}
credential: {type: keyPair, secret: {name: s, namespace: baton-samples}}
`},
		{"a credential without a type", `
apiVersion: baton.dev/v1alpha1
kind: Profile
metadata: {generateName: invalid-, namespace: baton-samples}
location: {type: gcs, bucket: b}
credential: {keyPair: {idField: id, secretField: key, secret: {name: s}}}
`},
	}
	for _, tc := range invalid {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			require.NoError(t, yaml.Unmarshal([]byte(tc.doc), &u.Object))
			err := c.Create(ctx, u)
			assert.True(t, apierrors.IsInvalid(err), "got %v", err)
		})
	}
}

func find(t *testing.T, file string) sample {
	t.Helper()
	for _, s := range samples {
		if s.file == file {
			return s
		}
	}
	t.Fatalf("no sample %s", file)
	return sample{}
}

// getTable fetches path as kubectl does for `get`: a server-side Table.
func getTable(t *testing.T, cfg *rest.Config, path string) *metav1.Table {
	t.Helper()
	clientset, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	body, err := clientset.Discovery().RESTClient().Get().AbsPath(path).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		Do(context.Background()).Raw()
	require.NoError(t, err, "%s", body)
	table := &metav1.Table{}
	require.NoError(t, json.Unmarshal(body, table))
	return table
}
