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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/batonhq/baton/runner/phase"
)

const deploymentYAML = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ns
  labels:
    tier: front
spec:
  replicas: 3
status:
  readyReplicas: 3
  replicas: 3
  conditions:
  - type: Progressing
    status: "True"
  - type: Available
    status: "True"
`

func objectFromYAML(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	require.NoError(t, yaml.Unmarshal([]byte(doc), &m))
	u := &unstructured.Unstructured{Object: m}
	// Numbers as the API server's JSON decoding gives them.
	raw, err := u.MarshalJSON()
	require.NoError(t, err)
	out := &unstructured.Unstructured{}
	require.NoError(t, out.UnmarshalJSON(raw))
	return out
}

func testNamespace(name, phase string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name},
		"status":   map[string]any{"phase": phase},
	}}
}

func testPodObject(name, phase string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "ns"},
		"status":   map[string]any{"phase": phase},
	}}
}

func TestConditionEvaluation(t *testing.T) {
	deploy := objectFromYAML(t, deploymentYAML).Object
	tests := []struct {
		name      string
		v2        bool
		condition string
		want      bool
		err       string
	}{
		{name: "v2 field", v2: true, condition: `{{ if (eq .status.phase "Running") }}true{{ end }}`, want: false},
		{name: "v2 Kanister's deployment example", v2: true,
			condition: `{{ $available := false }}{{ range $condition := $.status.conditions }}{{ if and (eq .type "Available") (eq .status "True") }}{{ $available = true }}{{ end }}{{ end }}{{ $available }}`, want: true},
		{name: "v2 integers compare as kubectl's do", v2: true, condition: `{{ eq .status.readyReplicas .spec.replicas }}`, want: true},
		{name: "v2 integer literal", v2: true, condition: `{{ if eq .status.readyReplicas 3 }}true{{ end }}`, want: true},
		{name: "output is trimmed", v2: true, condition: "  {{ true }}\n", want: true},
		{name: "only \"true\" holds", v2: true, condition: `True`, want: false},
		{name: "v2 has no placeholders", v2: true, condition: `{{ if eq "{ $.metadata.name }" "web" }}true{{ end }}`, want: false},
		{name: "v2 exists", v2: true, condition: `{{ exists . "metadata" "labels" "tier" }}`, want: true},
		{name: "v2 exists, absent", v2: true, condition: `{{ exists . "metadata" "annotations" }}`, want: false},
		{name: "v2 missing field", v2: true, condition: `{{ .status.missing.phase }}`, want: false},
		{name: "v2 field of a string is an error", v2: true, condition: `{{ .kind.phase }}`, err: `can't evaluate field phase in type interface {}`},
		{name: "v2 sprig-like helpers", v2: true, condition: `{{ and (contains "ront" .metadata.labels.tier) (eq (upper .kind) "DEPLOYMENT") (eq (default "x" .metadata.nothing) "x") }}`, want: true},
		{name: "v1 Kanister's placeholder", condition: `{{ if (eq "{ $.metadata.name }" "web")}}true{{ else }}false{{ end }}`, want: true},
		{name: "v1 placeholder without spaces", condition: `{{ if (eq "{$.status.replicas}" "3")}}true{{ end }}`, want: true},
		{name: "v1 placeholder with a filter", condition: `{{ if eq "{ $.status.conditions[?(@.type == 'Available')].status }" "True" }}true{{ end }}`, want: true},
		{name: "v1 several placeholders", condition: `{{ if eq "{ $.status.readyReplicas }" "{ $.spec.replicas }" }}true{{ end }}`, want: true},
		{name: "v1 template variables are not placeholders", condition: `{{ $n := .metadata.name }}{{ if eq $n "web" }}true{{ end }}`, want: true},
		{name: "v1 also sees the object", condition: `{{ if eq .metadata.name "web" }}true{{ end }}`, want: true},
		{name: "v1 missing field", condition: `{{ if eq "{ $.status.nothing }" "x" }}true{{ end }}`, err: `placeholder { $.status.nothing }: nothing is not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Wait{V2: tt.v2}
			c, err := f.compile("allOf[0]", waitCondition{
				Condition:       tt.condition,
				ObjectReference: objectReference{APIVersion: "v1", Group: "apps", Resource: "deployments", Name: "web", Namespace: "ns"},
			})
			require.NoError(t, err)
			got, err := c.evaluateOn(deploy)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWaitArguments(t *testing.T) {
	ref := map[string]any{"apiVersion": "v1", "resource": "pods", "name": "p", "namespace": "ns"}
	cond := func(c string, r map[string]any) map[string]any {
		return map[string]any{"condition": c, "objectReference": r}
	}
	tests := []struct {
		name string
		v2   bool
		args map[string]any
		err  string
	}{
		{name: "no timeout", args: map[string]any{"conditions": map[string]any{"allOf": []any{cond("true", ref)}}}, err: `Wait: argument "timeout" is required`},
		{name: "bad timeout", args: map[string]any{"timeout": "soon", "conditions": map[string]any{}}, err: `Wait: timeout must be a positive duration such as "90s" or "5m", got "soon"`},
		{name: "no conditions", args: map[string]any{"timeout": "1m"}, err: `Wait: argument "conditions" is required`},
		{name: "empty conditions", args: map[string]any{"timeout": "1m", "conditions": map[string]any{"anyOf": []any{}}}, err: `Wait: argument "conditions" must list at least one condition under anyOf or allOf`},
		{name: "unknown key", v2: true, args: map[string]any{"timeout": "1m", "conditions": map[string]any{"oneOf": []any{cond("true", ref)}}}, err: `WaitV2: argument "conditions": json: unknown field "oneOf"`},
		{name: "empty condition", args: map[string]any{"timeout": "1m", "conditions": map[string]any{"allOf": []any{cond(" ", ref)}}}, err: `Wait: conditions.allOf[0]: condition is empty`},
		{name: "reference incomplete", args: map[string]any{"timeout": "1m", "conditions": map[string]any{"anyOf": []any{cond("true", ref), cond("true", map[string]any{"name": "p"})}}},
			err: `Wait: conditions.anyOf[1]: objectReference lacks apiVersion, resource`},
		{name: "apiVersion and group disagree", args: map[string]any{"timeout": "1m", "conditions": map[string]any{"anyOf": []any{cond("true", map[string]any{"apiVersion": "apps/v1", "group": "batch", "resource": "jobs", "name": "j"})}}},
			err: `Wait: conditions.anyOf[0]: apiVersion "apps/v1" and group "batch" disagree`},
		{name: "template does not parse", v2: true, args: map[string]any{"timeout": "1m", "conditions": map[string]any{"allOf": []any{cond("{{ if .x }}true", ref)}}},
			err: `WaitV2: conditions.allOf[0]: condition is not a valid template: template: condition:1: unexpected EOF`},
		{name: "unknown function", args: map[string]any{"timeout": "1m", "conditions": map[string]any{"allOf": []any{cond(`{{ sha256sum "x" }}`, ref)}}},
			err: `Wait: conditions.allOf[0]: condition is not a valid template: template: condition:1: function "sha256sum" not defined`},
		{name: "placeholder not JSONPath", args: map[string]any{"timeout": "1m", "conditions": map[string]any{"allOf": []any{cond(`{{ eq "{ $.a[ }" "x" }}`, ref)}}},
			err: `Wait: conditions.allOf[0]: placeholder { $.a[ } is not valid JSONPath: unterminated array`},
		{name: "template around placeholders does not parse", args: map[string]any{"timeout": "1m", "conditions": map[string]any{"allOf": []any{cond(`{{ if eq "{ $.a }" "x" }}true`, ref)}}},
			err: `Wait: conditions.allOf[0]: condition is not a valid template: template: condition:1: unexpected EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
			f := &Wait{Client: client, V2: tt.v2, PollInterval: time.Millisecond}
			_, err := f.Run(context.Background(), phase.Spec{Args: tt.args}, io.Discard, io.Discard)
			require.EqualError(t, err, tt.err)
			assert.Empty(t, client.Actions(), "nothing is read when arguments are wrong")
		})
	}
}

func waitArgs(timeout string, conditions map[string]any) map[string]any {
	return map[string]any{"timeout": timeout, "conditions": conditions}
}

func podCondition(name, phase string) map[string]any {
	return map[string]any{
		"condition":       `{{ if (eq .status.phase "` + phase + `") }}true{{ end }}`,
		"objectReference": map[string]any{"apiVersion": "v1", "resource": "pods", "name": name, "namespace": "ns"},
	}
}

func TestWaitConditionsAlreadyMet(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(),
		testPodObject("a", "Running"), testPodObject("b", "Pending"), testNamespace("prod", "Active"),
		objectFromYAML(t, deploymentYAML))
	tests := []struct {
		name       string
		v2         bool
		conditions map[string]any
	}{
		{name: "allOf", conditions: map[string]any{"allOf": []any{podCondition("a", "Running"), podCondition("b", "Pending")}}},
		{name: "anyOf, one holds", conditions: map[string]any{"anyOf": []any{podCondition("b", "Running"), podCondition("a", "Running")}}},
		{name: "anyOf, another's object missing", conditions: map[string]any{"anyOf": []any{podCondition("gone", "Running"), podCondition("a", "Running")}}},
		{name: "anyOf wins over allOf", conditions: map[string]any{
			"anyOf": []any{podCondition("a", "Running")},
			"allOf": []any{podCondition("b", "Running")},
		}},
		{name: "cluster-scoped object, Kanister's Wait example", conditions: map[string]any{"allOf": []any{map[string]any{
			"condition":       `{{ if (eq "{ $.status.phase }" "Active")}}true{{ else }}false{{ end }}`,
			"objectReference": map[string]any{"apiVersion": "v1", "resource": "namespaces", "name": "prod"},
		}}}},
		{name: "apiVersion written group/version", v2: true, conditions: map[string]any{"allOf": []any{map[string]any{
			"condition":       `{{ eq .status.readyReplicas 3 }}`,
			"objectReference": map[string]any{"apiVersion": "apps/v1", "resource": "deployments", "name": "web", "namespace": "ns"},
		}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			f := &Wait{Client: client, V2: tt.v2, PollInterval: time.Millisecond}
			out, err := f.Run(context.Background(), phase.Spec{Args: waitArgs("1m", tt.conditions)}, &stdout, io.Discard)
			require.NoError(t, err)
			assert.Empty(t, out)
			assert.Contains(t, stdout.String(), "conditions met")
		})
	}
}

func TestWaitPollsUntilTheObjectAppearsAndHolds(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	var gets atomic.Int32
	client.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		switch gets.Add(1) {
		case 3:
			require.NoError(t, client.Tracker().Create(pods, testPodObject("a", "Pending"), "ns"))
		case 5:
			require.NoError(t, client.Tracker().Update(pods, testPodObject("a", "Running"), "ns"))
		}
		return false, nil, nil
	})
	f := &Wait{Client: client, V2: true, PollInterval: time.Millisecond}
	_, err := f.Run(context.Background(), phase.Spec{Args: waitArgs("1m", map[string]any{"allOf": []any{podCondition("a", "Running")}})}, io.Discard, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, int32(5), gets.Load())
}

func TestWaitTimeoutReportsProgressAndLastError(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), testPodObject("a", "Running"))
	f := &Wait{Client: client, PollInterval: time.Millisecond}
	_, err := f.Run(context.Background(), phase.Spec{Args: waitArgs("30ms", map[string]any{
		"allOf": []any{podCondition("a", "Running"), podCondition("b", "Running")},
	})}, io.Discard, io.Discard)
	require.EqualError(t, err, `Wait: conditions not met within 30ms (allOf: 1 of 2 hold); last error: allOf[1] on pods ns/b: pods "b" not found`)
}

func TestWaitFailsFastWhenForbidden(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	client.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "a", nil)
	})
	f := &Wait{Client: client, PollInterval: time.Millisecond}
	_, err := f.Run(context.Background(), phase.Spec{Args: waitArgs("1h", map[string]any{"anyOf": []any{podCondition("a", "Running")}})}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Wait: anyOf[0] on pods ns/a: pods "a" is forbidden`)
}

func TestWaitStopsWhenThePhaseIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), testPodObject("a", "Pending"))
	var gets atomic.Int32
	client.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if gets.Add(1) == 2 {
			cancel()
		}
		return false, nil, nil
	})
	f := &Wait{Client: client, PollInterval: time.Millisecond}
	_, err := f.Run(ctx, phase.Spec{Args: waitArgs("1h", map[string]any{"anyOf": []any{podCondition("a", "Running")}})}, io.Discard, io.Discard)
	require.EqualError(t, err, "Wait: context canceled")
}
