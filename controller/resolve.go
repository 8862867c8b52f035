package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/render"
)

// wellKnownKinds maps the spellings Kanister ActionSets use for an object's
// kind (kanctl writes "deployment", "statefulset", "pvc", "namespace") to
// the Kubernetes kind.
var wellKnownKinds = map[string]schema.GroupVersionKind{
	"deployment":             appsv1.SchemeGroupVersion.WithKind("Deployment"),
	"deployments":            appsv1.SchemeGroupVersion.WithKind("Deployment"),
	"statefulset":            appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
	"statefulsets":           appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
	"pvc":                    corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"),
	"persistentvolumeclaim":  corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"),
	"persistentvolumeclaims": corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"),
	"namespace":              corev1.SchemeGroupVersion.WithKind("Namespace"),
	"namespaces":             corev1.SchemeGroupVersion.WithKind("Namespace"),
}

// objectGVK works out which kind an ObjectReference names: by kind when it
// has one, by resource otherwise (Kanister accepts either), through the
// cluster's RESTMapper for anything not well known.
func objectGVK(mapper meta.RESTMapper, ref batonv1.ObjectReference) (schema.GroupVersionKind, error) {
	for _, key := range []string{ref.Kind, ref.Resource} {
		if gvk, ok := wellKnownKinds[strings.ToLower(key)]; ok && (ref.Group == "" || ref.Group == gvk.Group) {
			return gvk, nil
		}
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("object apiVersion %q: %w", ref.APIVersion, err)
	}
	if ref.Group != "" {
		gv.Group = ref.Group
	}
	if ref.Kind != "" {
		if gv.Version == "" {
			mapping, err := mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: ref.Kind})
			if err != nil {
				return schema.GroupVersionKind{}, fmt.Errorf("object kind %q: %w", ref.Kind, err)
			}
			return mapping.GroupVersionKind, nil
		}
		return gv.WithKind(ref.Kind), nil
	}
	if ref.Resource == "" {
		return schema.GroupVersionKind{}, fmt.Errorf("object %q names neither a kind nor a resource", ref.Name)
	}
	gvk, err := mapper.KindFor(gv.WithResource(ref.Resource))
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("object resource %q: %w", ref.Resource, err)
	}
	return gvk, nil
}

// resolver fetches what one action's templates refer to.
type resolver struct {
	reader client.Reader
	mapper meta.RESTMapper
	as     *batonv1.ActionSet
}

func (r resolver) object(ctx context.Context, ref batonv1.ObjectReference) (*unstructured.Unstructured, schema.GroupVersionKind, error) {
	gvk, err := objectGVK(r.mapper, ref)
	if err != nil {
		return nil, gvk, err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	key := client.ObjectKey{Name: ref.Name, Namespace: ref.Namespace}
	if gvk.Kind == "Namespace" {
		key.Namespace = ""
	}
	if err := r.reader.Get(ctx, key, u); err != nil {
		return nil, gvk, fmt.Errorf("object %s %s: %w", gvk.Kind, describeKey(key), err)
	}
	return u, gvk, nil
}

func describeKey(k client.ObjectKey) string {
	if k.Namespace == "" {
		return k.Name
	}
	return k.Namespace + "/" + k.Name
}

// params gathers the template parameters of action i that come from the
// cluster; the outputs of its phases (Params.Phases) are the caller's to add,
// as they change while a reconcile advances the action.
func (r resolver) params(ctx context.Context, i int, bpAction *batonv1.BlueprintAction) (render.Params, error) {
	spec := r.as.Spec.Actions[i]
	p := render.Params{
		ArtifactsIn:    spec.Artifacts,
		ArtifactsOut:   bpAction.OutputArtifacts,
		Options:        spec.Options,
		PodOverride:    spec.PodOverride,
		PodLabels:      spec.PodLabels,
		PodAnnotations: spec.PodAnnotations,
		Time:           r.as.CreationTimestamp.UTC().Format(time.RFC3339),
		ConfigMaps:     map[string]corev1.ConfigMap{},
		Secrets:        map[string]corev1.Secret{},
	}
	obj, gvk, err := r.object(ctx, spec.Object)
	if err != nil {
		return p, err
	}
	p.Object = obj.Object
	switch gvk.Kind {
	case "Deployment", "StatefulSet":
		var w *render.WorkloadParams
		if i < len(r.as.Status.Actions) && r.as.Status.Actions[i].Workload != nil {
			w = workloadFromSnapshot(obj, r.as.Status.Actions[i].Workload)
		} else if w, err = r.workload(ctx, obj); err != nil {
			return p, err
		}
		if gvk.Kind == "Deployment" {
			p.Deployment = w
		} else {
			p.StatefulSet = w
		}
	case "PersistentVolumeClaim":
		p.PVC = &render.PVCParams{Name: obj.GetName(), Namespace: obj.GetNamespace()}
	case "Namespace":
		p.Namespace = &render.NamespaceParams{Name: obj.GetName()}
	}
	for name, ref := range spec.ConfigMaps {
		var cm corev1.ConfigMap
		if err := r.reader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &cm); err != nil {
			return p, fmt.Errorf("configMap %q (%s/%s): %w", name, ref.Namespace, ref.Name, err)
		}
		p.ConfigMaps[name] = cm
	}
	for name, ref := range spec.Secrets {
		var s corev1.Secret
		if err := r.reader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &s); err != nil {
			return p, fmt.Errorf("secret %q (%s/%s): %w", name, ref.Namespace, ref.Name, err)
		}
		p.Secrets[name] = s
	}
	if spec.Profile != nil {
		if p.Profile, err = r.profile(ctx, *spec.Profile); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (r resolver) workload(ctx context.Context, obj *unstructured.Unstructured) (*render.WorkloadParams, error) {
	raw, found, err := unstructured.NestedMap(obj.Object, "spec", "selector")
	if err != nil || !found {
		return nil, fmt.Errorf("%s %s/%s has no spec.selector", obj.GetKind(), obj.GetNamespace(), obj.GetName())
	}
	var sel metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &sel); err != nil {
		return nil, err
	}
	selector, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		return nil, err
	}
	var pods corev1.PodList
	if err := r.reader.List(ctx, &pods, client.InNamespace(obj.GetNamespace()), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, fmt.Errorf("pods of %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return render.Workload(obj.GetName(), obj.GetNamespace(), pods.Items), nil
}

func (r resolver) profile(ctx context.Context, ref batonv1.ObjectReference) (*render.ProfileParams, error) {
	return ResolveProfile(ctx, r.reader, ref, r.as.Namespace)
}

// ResolveProfile reads the Profile ref names (in defaultNamespace when ref
// names none) and its credential Secret, and returns it as templates and
// phases see it ({{ toJson .Profile }}): the controller's own resolution,
// exported for tools (batonctl validate profile) that check a Profile the
// way an ActionSet would use it.
func ResolveProfile(ctx context.Context, reader client.Reader, ref batonv1.ObjectReference, defaultNamespace string) (*render.ProfileParams, error) {
	ns := ref.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	var prof batonv1.Profile
	if err := reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, &prof); err != nil {
		return nil, fmt.Errorf("profile %s/%s: %w", ns, ref.Name, err)
	}
	out := &render.ProfileParams{Location: prof.Location, SkipSSLVerify: prof.SkipSSLVerify,
		Credential: render.CredentialParams{Type: prof.Credential.Type}}
	secretOf := func(ref batonv1.ObjectReference) (*corev1.Secret, error) {
		var s corev1.Secret
		if err := reader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &s); err != nil {
			return nil, fmt.Errorf("credential secret %s/%s of profile %s: %w", ref.Namespace, ref.Name, prof.Name, err)
		}
		return &s, nil
	}
	switch {
	case prof.Credential.KeyPair != nil:
		kp := prof.Credential.KeyPair
		s, err := secretOf(kp.Secret)
		if err != nil {
			return nil, err
		}
		id, okID := s.Data[kp.IDField]
		secret, okSecret := s.Data[kp.SecretField]
		if !okID || !okSecret {
			return nil, fmt.Errorf("credential secret %s/%s of profile %s lacks key %q or %q", s.Namespace, s.Name, prof.Name, kp.IDField, kp.SecretField)
		}
		out.Credential.KeyPair = &render.KeyPairParams{ID: string(id), Secret: string(secret)}
	case prof.Credential.Secret != nil:
		s, err := secretOf(*prof.Credential.Secret)
		if err != nil {
			return nil, err
		}
		out.Credential.Secret = s
	}
	return out, nil
}

// snapshotOf records what templates saw of a workload when its action
// started (nil for other kinds of object).
func snapshotOf(p render.Params) *batonv1.WorkloadSnapshot {
	w := p.Deployment
	if w == nil {
		w = p.StatefulSet
	}
	if w == nil {
		return nil
	}
	return &batonv1.WorkloadSnapshot{Pods: w.Pods, Containers: w.Containers, PersistentVolumeClaims: w.PersistentVolumeClaims}
}

func workloadFromSnapshot(obj *unstructured.Unstructured, s *batonv1.WorkloadSnapshot) *render.WorkloadParams {
	w := &render.WorkloadParams{Name: obj.GetName(), Namespace: obj.GetNamespace(),
		Pods: s.Pods, Containers: s.Containers, PersistentVolumeClaims: s.PersistentVolumeClaims}
	// Templates index these; nil would print "<no value>" where Kanister's
	// empty lists print nothing.
	if w.Pods == nil {
		w.Pods = []string{}
	}
	if w.Containers == nil {
		w.Containers = [][]string{}
	}
	if w.PersistentVolumeClaims == nil {
		w.PersistentVolumeClaims = map[string]map[string]string{}
	}
	return w
}

// withPhaseOutputs returns p with the outputs of every completed phase of
// action, for templates to read as .Phases.<name>.Output.
func withPhaseOutputs(p render.Params, action batonv1.ActionStatus) render.Params {
	p.Phases = map[string]*render.PhaseParams{}
	for _, ph := range action.Phases {
		if ph.State == batonv1.StateComplete {
			p.Phases[ph.Name] = &render.PhaseParams{Output: ph.Output}
		}
	}
	return p
}

// phaseObjects renders a phase's `objects` and fetches the Secrets and
// ConfigMaps among them, which the phase's own templates read as
// .Phases.<phase>.Secrets.<name> and .ConfigMaps.<name> (as in Kanister).
// Other kinds are passed to the runner as references only. A reference
// without a namespace means the namespace of the action's object.
func (r resolver) phaseObjects(ctx context.Context, objects map[string]batonv1.ObjectReference, p render.Params, defaultNamespace string) (map[string]batonv1.ObjectReference, *render.PhaseParams, error) {
	refs := make(map[string]batonv1.ObjectReference, len(objects))
	fetched := &render.PhaseParams{Secrets: map[string]corev1.Secret{}, ConfigMaps: map[string]corev1.ConfigMap{}}
	for name, ref := range objects {
		rendered, err := render.ObjectReference("objects."+name, ref, p)
		if err != nil {
			return nil, nil, err
		}
		if rendered.Namespace == "" {
			rendered.Namespace = defaultNamespace
		}
		refs[name] = rendered
		key := client.ObjectKey{Namespace: rendered.Namespace, Name: rendered.Name}
		switch strings.ToLower(rendered.Kind) {
		case "secret":
			var s corev1.Secret
			if err := r.reader.Get(ctx, key, &s); err != nil {
				return nil, nil, fmt.Errorf("objects.%s: secret %s: %w", name, describeKey(key), err)
			}
			fetched.Secrets[name] = s
		case "configmap":
			var cm corev1.ConfigMap
			if err := r.reader.Get(ctx, key, &cm); err != nil {
				return nil, nil, fmt.Errorf("objects.%s: configMap %s: %w", name, describeKey(key), err)
			}
			fetched.ConfigMaps[name] = cm
		}
	}
	return refs, fetched, nil
}
