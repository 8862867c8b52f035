package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// KubeOps creates objects from a manifest or deletes an object, like
// `kubectl create -f` and `kubectl delete`. Arguments (Kanister's):
//
//	operation        required  create or delete
//	namespace        optional  where to create, or the namespace of the object
//	                           to delete; default "default"
//	spec             create    the manifest: YAML or JSON, one or more
//	                           documents (a v1 List is expanded); a namespace
//	                           in an object's metadata wins over the argument
//	objectReference  delete    {apiVersion, group, resource, name, namespace}
//
// Outputs, as Kanister documents them: apiVersion (the version alone),
// group, resource, kind, name and namespace of the object created (the
// last one, when the manifest holds several) or deleted, so a later phase
// can pass them back as an objectReference. Cluster-scoped objects get an
// empty namespace.
//
// Delete returns once the object is gone (finalizers included); an object
// already absent counts as deleted.
type KubeOps struct {
	Client       dynamic.Interface
	Mapper       meta.RESTMapper
	PollInterval time.Duration
}

var kubeOpsArgs = []string{"operation", "namespace", "spec", "objectReference"}

// fieldManager names Baton in the managed fields of the objects it creates.
const fieldManager = "baton"

// Run implements runner.Function.
func (f *KubeOps) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(KubeOpsName, spec.Args, kubeOpsArgs...)
	if err != nil {
		return nil, err
	}
	op, err := a.str("operation", true)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", false)
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	switch op {
	case "create":
		manifest, err := f.manifest(a)
		if err != nil {
			return nil, err
		}
		return f.create(ctx, manifest, namespace, stdout)
	case "delete":
		var ref objectReference
		if _, err := a.object("objectReference", false, true, &ref); err != nil {
			return nil, err
		}
		if !a.has("objectReference") {
			return nil, fmt.Errorf("%s: argument \"objectReference\" is required for operation delete", KubeOpsName)
		}
		if err := ref.check(); err != nil {
			return nil, fmt.Errorf("%s: argument \"objectReference\": %w", KubeOpsName, err)
		}
		return f.delete(ctx, ref, namespace, stdout)
	}
	return nil, fmt.Errorf("%s: operation must be create or delete, got %q", KubeOpsName, op)
}

// manifest returns the spec argument: text, or a map written inline in the
// blueprint.
func (f *KubeOps) manifest(a arguments) ([]byte, error) {
	if !a.has("spec") {
		return nil, fmt.Errorf("%s: argument \"spec\" is required for operation create", KubeOpsName)
	}
	var out []byte
	if m, ok := a.vals["spec"].(map[string]any); ok {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("%s: argument \"spec\" can not be encoded", KubeOpsName)
		}
		out = b
	} else {
		s, err := a.str("spec", true)
		if err != nil {
			return nil, err
		}
		out = []byte(s)
	}
	return out, nil
}

// decodeManifest splits a manifest into objects.
func decodeManifest(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var raw runtime.RawExtension
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("document %d is not valid YAML or JSON: %w", doc, err)
		}
		trimmed := bytes.TrimSpace(raw.Raw)
		if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
			continue
		}
		// Errors name the document, never quote it: a manifest may hold a
		// Secret.
		var content map[string]any
		if err := utiljson.Unmarshal(trimmed, &content); err != nil {
			return nil, fmt.Errorf("document %d is not a map", doc)
		}
		u := &unstructured.Unstructured{Object: content}
		if u.IsList() {
			items, _ := content["items"].([]any)
			for i, item := range items {
				m, ok := item.(map[string]any)
				if !ok || !isObject(m) {
					return nil, fmt.Errorf("document %d, item %d is not a Kubernetes object (it needs apiVersion and kind)", doc, i)
				}
				objs = append(objs, &unstructured.Unstructured{Object: m})
			}
			continue
		}
		if !isObject(content) {
			return nil, fmt.Errorf("document %d is not a Kubernetes object (it needs apiVersion and kind)", doc)
		}
		objs = append(objs, u)
	}
	if len(objs) == 0 {
		return nil, errors.New("it holds no object")
	}
	return objs, nil
}

func isObject(m map[string]any) bool {
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	return apiVersion != "" && kind != ""
}

func (f *KubeOps) create(ctx context.Context, manifest []byte, namespace string, stdout io.Writer) (outputs.Outputs, error) {
	objs, err := decodeManifest(manifest)
	if err != nil {
		return nil, fmt.Errorf("%s: argument \"spec\": %w", KubeOpsName, err)
	}
	var last outputs.Outputs
	var created []string
	for i, obj := range objs {
		out, desc, err := f.createOne(ctx, obj, namespace)
		if err != nil {
			msg := fmt.Sprintf("%s: create object %d of %d (%s)", KubeOpsName, i+1, len(objs), desc)
			if len(created) > 0 {
				msg += fmt.Sprintf(" after creating %s", strings.Join(created, ", "))
			}
			return nil, fmt.Errorf("%s: %w", msg, err)
		}
		fmt.Fprintf(stdout, "%s: created %s\n", KubeOpsName, desc)
		created = append(created, desc)
		last = out
	}
	return last, nil
}

func (f *KubeOps) createOne(ctx context.Context, obj *unstructured.Unstructured, namespace string) (outputs.Outputs, string, error) {
	gvk := obj.GroupVersionKind()
	desc := gvk.Kind + " " + objectName(obj.GetNamespace(), obj)
	mapping, err := f.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, desc, fmt.Errorf("the cluster does not serve %s: %w", gvk, err)
	}
	res := f.Client.Resource(mapping.Resource)
	var createdObj *unstructured.Unstructured
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		desc = gvk.Kind + " " + objectName(obj.GetNamespace(), obj)
		createdObj, err = res.Namespace(obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{FieldManager: fieldManager})
	} else {
		obj.SetNamespace("")
		desc = gvk.Kind + " " + objectName("", obj)
		createdObj, err = res.Create(ctx, obj, metav1.CreateOptions{FieldManager: fieldManager})
	}
	if err != nil {
		return nil, desc, err
	}
	desc = gvk.Kind + " " + objectName(createdObj.GetNamespace(), createdObj)
	return refOutputs(mapping, createdObj.GetName(), createdObj.GetNamespace()), desc, nil
}

func objectName(namespace string, obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if name == "" && obj.GetGenerateName() != "" {
		name = obj.GetGenerateName() + "*"
	}
	if namespace != "" {
		return namespace + "/" + name
	}
	return name
}

func refOutputs(mapping *meta.RESTMapping, name, namespace string) outputs.Outputs {
	return outputs.Outputs{
		"apiVersion": mapping.Resource.Version,
		"group":      mapping.Resource.Group,
		"resource":   mapping.Resource.Resource,
		"kind":       mapping.GroupVersionKind.Kind,
		"name":       name,
		"namespace":  namespace,
	}
}

func (f *KubeOps) delete(ctx context.Context, ref objectReference, namespace string, stdout io.Writer) (outputs.Outputs, error) {
	gvr, _ := ref.gvr()
	gvk, err := f.Mapper.KindFor(gvr)
	if err != nil {
		return nil, fmt.Errorf("%s: the cluster does not serve %s: %w", KubeOpsName, gvr, err)
	}
	mapping, err := f.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: the cluster does not serve %s: %w", KubeOpsName, gvr, err)
	}
	var res dynamic.ResourceInterface = f.Client.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.Namespace != "" {
			namespace = ref.Namespace
		}
		res = f.Client.Resource(mapping.Resource).Namespace(namespace)
	} else {
		namespace = ""
	}
	target := objectReference{APIVersion: gvr.Version, Group: gvr.Group, Resource: gvr.Resource, Name: ref.Name, Namespace: namespace}
	background := metav1.DeletePropagationBackground
	err = res.Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &background})
	switch {
	case apierrors.IsNotFound(err):
		fmt.Fprintf(stdout, "%s: %s is already absent\n", KubeOpsName, target)
		return refOutputs(mapping, ref.Name, namespace), nil
	case err != nil:
		return nil, fmt.Errorf("%s: delete %s: %w", KubeOpsName, target, err)
	}
	interval := f.PollInterval
	if interval <= 0 {
		interval = time.Second
	}
	err = wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		_, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return true, nil
		case err != nil && !retriable(err):
			return false, err
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: wait for %s to be gone: %w", KubeOpsName, target, err)
	}
	fmt.Fprintf(stdout, "%s: deleted %s\n", KubeOpsName, target)
	return refOutputs(mapping, ref.Name, namespace), nil
}
