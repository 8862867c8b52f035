package functions

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

var (
	configMapsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deploymentsDyn = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

func testMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	return m
}

func newKubeOps(objs ...runtime.Object) (*KubeOps, *dynamicfake.FakeDynamicClient) {
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), objs...)
	return &KubeOps{Client: client, Mapper: testMapper(), PollInterval: time.Millisecond}, client
}

const deploymentManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: example
  template:
    metadata:
      labels:
        app: example
    spec:
      containers:
      - image: busybox
        name: container
`

func TestKubeOpsArguments(t *testing.T) {
	tests := []struct {
		name string
		args map[string]any
		err  string
	}{
		{name: "no operation", args: map[string]any{"spec": deploymentManifest}, err: `KubeOps: argument "operation" is required`},
		{name: "unknown operation", args: map[string]any{"operation": "apply"}, err: `KubeOps: operation must be create or delete, got "apply"`},
		{name: "unknown argument", args: map[string]any{"operation": "create", "manifest": "x"}, err: `KubeOps: unknown argument "manifest" (supported: "operation", "namespace", "spec", "objectReference")`},
		{name: "create without spec", args: map[string]any{"operation": "create"}, err: `KubeOps: argument "spec" is required for operation create`},
		{name: "spec not YAML", args: map[string]any{"operation": "create", "spec": "a: [b"}, err: `KubeOps: argument "spec": document 1 is not valid YAML or JSON: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'`},
		{name: "spec without kind", args: map[string]any{"operation": "create", "spec": "apiVersion: v1\nmetadata:\n  name: x\n"}, err: `KubeOps: argument "spec": document 1 is not a Kubernetes object (it needs apiVersion and kind)`},
		{name: "secret without kind is not quoted", args: map[string]any{"operation": "create", "spec": "apiVersion: v1\nstringData:\n  password: hunter2\n"}, err: `KubeOps: argument "spec": document 1 is not a Kubernetes object (it needs apiVersion and kind)`},
		{name: "list item without kind", args: map[string]any{"operation": "create", "spec": "apiVersion: v1\nkind: List\nitems:\n- metadata:\n    name: x\n"}, err: `KubeOps: argument "spec": document 1, item 0 is not a Kubernetes object (it needs apiVersion and kind)`},
		{name: "document a list", args: map[string]any{"operation": "create", "spec": "- a\n- b\n"}, err: `KubeOps: argument "spec": document 1 is not a map`},
		{name: "spec empty", args: map[string]any{"operation": "create", "spec": "---\n---\n"}, err: `KubeOps: argument "spec": it holds no object`},
		{name: "kind not served", args: map[string]any{"operation": "create", "spec": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"},
			err: `KubeOps: create object 1 of 1 (Widget w): the cluster does not serve example.com/v1, Kind=Widget: no matches for kind "Widget" in version "example.com/v1"`},
		{name: "delete without reference", args: map[string]any{"operation": "delete"}, err: `KubeOps: argument "objectReference" is required for operation delete`},
		{name: "delete with incomplete reference", args: map[string]any{"operation": "delete", "objectReference": map[string]any{"name": "x", "resource": "configmaps"}},
			err: `KubeOps: argument "objectReference": objectReference lacks apiVersion`},
		{name: "reference with unknown field", args: map[string]any{"operation": "delete", "objectReference": map[string]any{"name": "x", "resource": "configmaps", "apiVersion": "v1", "uid": "u"}},
			err: `KubeOps: argument "objectReference": json: unknown field "uid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, client := newKubeOps()
			_, err := f.Run(context.Background(), phase.Spec{Args: tt.args}, io.Discard, io.Discard)
			require.EqualError(t, err, tt.err)
			assert.Empty(t, client.Actions())
		})
	}
}

func TestKubeOpsCreate(t *testing.T) {
	tests := []struct {
		name    string
		args    map[string]any
		want    outputs.Outputs
		created []string // resource namespace/name
	}{
		{
			name:    "in the namespace argument",
			args:    map[string]any{"operation": "create", "namespace": "app", "spec": deploymentManifest},
			want:    outputs.Outputs{"apiVersion": "v1", "group": "apps", "resource": "deployments", "kind": "Deployment", "name": "web", "namespace": "app"},
			created: []string{"deployments app/web"},
		},
		{
			name:    "namespace defaults to default",
			args:    map[string]any{"operation": "create", "spec": deploymentManifest},
			want:    outputs.Outputs{"apiVersion": "v1", "group": "apps", "resource": "deployments", "kind": "Deployment", "name": "web", "namespace": "default"},
			created: []string{"deployments default/web"},
		},
		{
			name:    "the manifest's namespace wins",
			args:    map[string]any{"operation": "create", "namespace": "app", "spec": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: other\ndata:\n  k: v\n"},
			want:    outputs.Outputs{"apiVersion": "v1", "group": "", "resource": "configmaps", "kind": "ConfigMap", "name": "cfg", "namespace": "other"},
			created: []string{"configmaps other/cfg"},
		},
		{
			name:    "cluster-scoped",
			args:    map[string]any{"operation": "create", "namespace": "app", "spec": `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"restore-1"}}`},
			want:    outputs.Outputs{"apiVersion": "v1", "group": "", "resource": "namespaces", "kind": "Namespace", "name": "restore-1", "namespace": ""},
			created: []string{"namespaces restore-1"},
		},
		{
			name: "several documents and a List: the last is the output",
			args: map[string]any{"operation": "create", "namespace": "app", "spec": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n---\n" +
				"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: two\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: three\n"},
			want:    outputs.Outputs{"apiVersion": "v1", "group": "", "resource": "configmaps", "kind": "ConfigMap", "name": "three", "namespace": "app"},
			created: []string{"configmaps app/one", "configmaps app/two", "configmaps app/three"},
		},
		{
			name: "spec written as a map",
			args: map[string]any{"operation": "create", "namespace": "app", "spec": map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "inline"},
			}},
			want:    outputs.Outputs{"apiVersion": "v1", "group": "", "resource": "configmaps", "kind": "ConfigMap", "name": "inline", "namespace": "app"},
			created: []string{"configmaps app/inline"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, client := newKubeOps()
			var stdout bytes.Buffer
			out, err := f.Run(context.Background(), phase.Spec{Args: tt.args}, &stdout, io.Discard)
			require.NoError(t, err)
			assert.Equal(t, tt.want, out)
			var created []string
			for _, a := range client.Actions() {
				if c, ok := a.(k8stesting.CreateAction); ok {
					obj, err := meta.Accessor(c.GetObject())
					require.NoError(t, err)
					name := obj.GetName()
					if a.GetNamespace() != "" {
						name = a.GetNamespace() + "/" + name
					}
					created = append(created, a.GetResource().Resource+" "+name)
					assert.Equal(t, "baton", c.(k8stesting.CreateActionImpl).CreateOptions.FieldManager)
				}
			}
			assert.Equal(t, tt.created, created)
			assert.Contains(t, stdout.String(), "KubeOps: created ")
		})
	}
}

func TestKubeOpsCreateFailureNamesWhatWasCreated(t *testing.T) {
	f, _ := newKubeOps(testConfigMap("app", "two"))
	_, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{"operation": "create", "namespace": "app",
		"spec": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n"}}, io.Discard, io.Discard)
	require.EqualError(t, err, `KubeOps: create object 2 of 2 (ConfigMap app/two) after creating ConfigMap app/one: configmaps "two" already exists`)
}

func testConfigMap(namespace, name string) runtime.Object {
	return objectFromYAMLString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + namespace + "\n")
}

func objectFromYAMLString(doc string) runtime.Object {
	objs, err := decodeManifest([]byte(doc))
	if err != nil {
		panic(err)
	}
	return objs[0]
}

func TestKubeOpsDelete(t *testing.T) {
	tests := []struct {
		name     string
		args     map[string]any
		want     outputs.Outputs
		deleteNS string
		message  string
	}{
		{
			name: "namespace from the reference",
			args: map[string]any{"operation": "delete", "namespace": "ignored", "objectReference": map[string]any{
				"apiVersion": "v1", "group": "", "resource": "configmaps", "name": "cfg", "namespace": "app"}},
			want:     outputs.Outputs{"apiVersion": "v1", "group": "", "resource": "configmaps", "kind": "ConfigMap", "name": "cfg", "namespace": "app"},
			deleteNS: "app", message: "KubeOps: deleted configmaps app/cfg",
		},
		{
			name: "namespace from the argument",
			args: map[string]any{"operation": "delete", "namespace": "app", "objectReference": map[string]any{
				"apiVersion": "v1", "resource": "configmaps", "name": "cfg"}},
			want:     outputs.Outputs{"apiVersion": "v1", "group": "", "resource": "configmaps", "kind": "ConfigMap", "name": "cfg", "namespace": "app"},
			deleteNS: "app", message: "KubeOps: deleted configmaps app/cfg",
		},
		{
			name: "cluster-scoped ignores namespaces",
			args: map[string]any{"operation": "delete", "namespace": "app", "objectReference": map[string]any{
				"apiVersion": "v1", "resource": "namespaces", "name": "restore-1", "namespace": "app"}},
			want:     outputs.Outputs{"apiVersion": "v1", "group": "", "resource": "namespaces", "kind": "Namespace", "name": "restore-1", "namespace": ""},
			deleteNS: "", message: "KubeOps: deleted namespaces restore-1",
		},
		{
			name: "already absent",
			args: map[string]any{"operation": "delete", "objectReference": map[string]any{
				"apiVersion": "v1", "resource": "configmaps", "name": "gone"}},
			want:     outputs.Outputs{"apiVersion": "v1", "group": "", "resource": "configmaps", "kind": "ConfigMap", "name": "gone", "namespace": "default"},
			deleteNS: "default", message: "KubeOps: configmaps default/gone is already absent",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, client := newKubeOps(testConfigMap("app", "cfg"), testNamespace("restore-1", "Active"))
			var stdout bytes.Buffer
			out, err := f.Run(context.Background(), phase.Spec{Args: tt.args}, &stdout, io.Discard)
			require.NoError(t, err)
			assert.Equal(t, tt.want, out)
			assert.Contains(t, stdout.String(), tt.message)
			var deletes int
			for _, a := range client.Actions() {
				if d, ok := a.(k8stesting.DeleteActionImpl); ok {
					deletes++
					assert.Equal(t, tt.deleteNS, d.GetNamespace())
					require.NotNil(t, d.DeleteOptions.PropagationPolicy)
					assert.Equal(t, metav1.DeletePropagationBackground, *d.DeleteOptions.PropagationPolicy)
				}
			}
			assert.Equal(t, 1, deletes)
		})
	}
}

func TestKubeOpsDeleteWaitsUntilGone(t *testing.T) {
	f, client := newKubeOps(testConfigMap("app", "cfg"))
	// A finalizer holds the object: the delete request only marks it, and
	// it disappears on the third look.
	client.PrependReactor("delete", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	var gets atomic.Int32
	client.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		if gets.Add(1) == 3 {
			require.NoError(t, client.Tracker().Delete(configMapsGVR, "app", "cfg"))
		}
		return false, nil, nil
	})
	_, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{"operation": "delete", "objectReference": map[string]any{
		"apiVersion": "v1", "resource": "configmaps", "name": "cfg", "namespace": "app"}}}, io.Discard, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, int32(3), gets.Load())
}

func TestKubeOpsCreateThenDeleteWithItsOutputs(t *testing.T) {
	// Kanister's documented use: a later phase deletes what an earlier one
	// created, passing the outputs back as the objectReference.
	f, client := newKubeOps()
	created, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{"operation": "create", "namespace": "app", "spec": deploymentManifest}}, io.Discard, io.Discard)
	require.NoError(t, err)
	_, err = client.Resource(deploymentsDyn).Namespace("app").Get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)

	ref := map[string]any{}
	for _, k := range []string{"apiVersion", "group", "resource", "name", "namespace"} {
		ref[k] = created[k]
	}
	deleted, err := f.Run(context.Background(), phase.Spec{Args: map[string]any{"operation": "delete", "objectReference": ref}}, io.Discard, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, created, deleted)
	_, err = client.Resource(deploymentsDyn).Namespace("app").Get(context.Background(), "web", metav1.GetOptions{})
	require.Error(t, err)
}
