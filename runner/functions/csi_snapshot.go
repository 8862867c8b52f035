package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// Names of Kanister's CSI snapshot functions. They live here rather than
// beside the other names so that adding them touched functions.go as little
// as possible.
const (
	CreateCSISnapshotName       = "CreateCSISnapshot"
	CreateCSISnapshotStaticName = "CreateCSISnapshotStatic"
	RestoreCSISnapshotName      = "RestoreCSISnapshot"
	DeleteCSISnapshotName       = "DeleteCSISnapshot"
)

// The snapshot API is served by CRDs (external-snapshotter), not by
// Kubernetes itself, so it is reached through the dynamic client rather
// than through a generated clientset Baton would have to depend on.
const snapshotGroup = "snapshot.storage.k8s.io"

var (
	volumeSnapshotsGVR        = schema.GroupVersionResource{Group: snapshotGroup, Version: "v1", Resource: "volumesnapshots"}
	volumeSnapshotContentsGVR = schema.GroupVersionResource{Group: snapshotGroup, Version: "v1", Resource: "volumesnapshotcontents"}
	volumeSnapshotClassesGVR  = schema.GroupVersionResource{Group: snapshotGroup, Version: "v1", Resource: "volumesnapshotclasses"}
	persistentVolumeClaimsGVR = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
)

// transientSnapshotError is the one status.error message Kanister keeps
// waiting through: the snapshot controller lost an update race and retries
// by itself, so the snapshot is not failed.
const transientSnapshotError = "the object has been modified; please apply your changes to the latest version and try again"

// CreateCSISnapshot snapshots a PersistentVolumeClaim through a CSI
// VolumeSnapshot, Kanister's CreateCSISnapshot. Arguments (Kanister's):
//
//	pvc            required  the PVC to snapshot
//	namespace      required  its namespace, and the VolumeSnapshot's
//	snapshotClass  required  the VolumeSnapshotClass
//	name           optional  the VolumeSnapshot's name; default
//	                         "<pvc>-snapshot-<5 random characters>"
//	labels         optional  labels for the VolumeSnapshot (a map)
//
// Outputs, as Kanister's: name, pvc, namespace, restoreSize (the snapshot's
// status.restoreSize as a quantity, "" when the controller set none) and
// snapshotContent (status.boundVolumeSnapshotContentName).
//
// The PVC must exist. The function then waits, bounded by the phase's
// context, until the snapshot is ready as Kanister judges it:
// status.readyToUse is true and status.creationTime is set. A status.error
// fails the phase at once with its message, except the update conflict the
// snapshot controller retries by itself.
type CreateCSISnapshot struct {
	Client       dynamic.Interface
	PollInterval time.Duration
}

// CreateCSISnapshotStatic registers a snapshot that already exists on the
// storage backend: a VolumeSnapshotContent for the given driver and handle
// and a VolumeSnapshot bound to it, Kanister's CreateCSISnapshotStatic.
// Arguments (Kanister's):
//
//	name            required  the VolumeSnapshot's name
//	namespace       required  its namespace
//	driver          required  the CSI driver of the content
//	snapshotHandle  required  the backend's identifier of the snapshot
//	                          (Kanister's documentation calls it handle,
//	                          its code snapshotHandle: both are accepted)
//	snapshotClass   required  the VolumeSnapshotClass, whose deletionPolicy
//	                          the content takes
//
// The content is named "<name>-content-<UUID>", as Kanister names it.
// Outputs: name, namespace, restoreSize and snapshotContent, once the
// snapshot is ready as for CreateCSISnapshot.
type CreateCSISnapshotStatic struct {
	Client       dynamic.Interface
	PollInterval time.Duration
}

// RestoreCSISnapshot creates a PersistentVolumeClaim whose dataSource is a
// VolumeSnapshot, Kanister's RestoreCSISnapshot. Arguments (Kanister's):
//
//	name          required  the VolumeSnapshot
//	pvc           required  the new PVC's name
//	namespace     required  the namespace of both
//	storageClass  required  the new PVC's StorageClass
//	restoreSize   required  its storage request, a quantity greater than zero
//	accessModes   optional  default [ReadWriteOnce]
//	volumeMode    optional  Filesystem (default) or Block
//	labels        optional  labels for the PVC (a map)
//
// Like Kanister's, it returns once the PVC is created, with no output: it
// does not wait for the claim to be Bound, which with a WaitForFirstConsumer
// StorageClass happens only when a pod uses it.
type RestoreCSISnapshot struct {
	Client dynamic.Interface
}

// DeleteCSISnapshot deletes a VolumeSnapshot and waits, bounded by the
// phase's context, until it is gone (the snapshot controller's finalizers
// included), Kanister's DeleteCSISnapshot. Arguments: name and namespace,
// both required. A snapshot already absent counts as deleted. Like
// Kanister's, it has no output.
type DeleteCSISnapshot struct {
	Client       dynamic.Interface
	PollInterval time.Duration
}

// Run implements runner.Function.
func (f *CreateCSISnapshot) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	const fn = CreateCSISnapshotName
	a, err := parseArgs(fn, spec.Args, "pvc", "namespace", "snapshotClass", "name", "labels")
	if err != nil {
		return nil, err
	}
	pvc, err := a.str("pvc", true)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", true)
	if err != nil {
		return nil, err
	}
	class, err := a.str("snapshotClass", true)
	if err != nil {
		return nil, err
	}
	name, err := a.str("name", false)
	if err != nil {
		return nil, err
	}
	if name == "" {
		// Kanister's convention; util/rand draws from the same alphabet of
		// lower-case consonants and digits, so the name stays a valid
		// object name.
		name = fmt.Sprintf("%s-snapshot-%s", pvc, rand.String(5))
	}
	labels, err := a.labels("labels")
	if err != nil {
		return nil, err
	}

	// Kanister looks for the PVC first: a snapshot of a missing claim would
	// only wait for the deadline.
	if _, err := f.Client.Resource(persistentVolumeClaimsGVR).Namespace(namespace).Get(ctx, pvc, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%s: PersistentVolumeClaim %s/%s not found", fn, namespace, pvc)
		}
		return nil, fmt.Errorf("%s: read PersistentVolumeClaim %s/%s: %w", fn, namespace, pvc, err)
	}
	snap := volumeSnapshot(namespace, name, class, labels, map[string]any{"persistentVolumeClaimName": pvc})
	if _, err := f.Client.Resource(volumeSnapshotsGVR).Namespace(namespace).Create(ctx, snap, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
		return nil, fmt.Errorf("%s: create VolumeSnapshot %s/%s: %w", fn, namespace, name, err)
	}
	fmt.Fprintf(stdout, "%s: created VolumeSnapshot %s/%s of PersistentVolumeClaim %s; waiting until it is ready to use\n", fn, namespace, name, pvc)
	ready, err := waitSnapshotReady(ctx, f.Client, f.PollInterval, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	out := snapshotOutputs(ready)
	out["pvc"] = pvc
	fmt.Fprintf(stdout, "%s: VolumeSnapshot %s/%s is ready to use (restoreSize %q, content %q)\n", fn, namespace, name, out["restoreSize"], out["snapshotContent"])
	return out, nil
}

// Run implements runner.Function.
func (f *CreateCSISnapshotStatic) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	const fn = CreateCSISnapshotStaticName
	a, err := parseArgs(fn, spec.Args, "name", "namespace", "driver", "snapshotHandle", "handle", "snapshotClass")
	if err != nil {
		return nil, err
	}
	name, err := a.str("name", true)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", true)
	if err != nil {
		return nil, err
	}
	driver, err := a.str("driver", true)
	if err != nil {
		return nil, err
	}
	handleArg := "snapshotHandle"
	switch {
	case a.has("snapshotHandle") && a.has("handle"):
		return nil, fmt.Errorf("%s: give the snapshot's handle as \"snapshotHandle\" or \"handle\", not both", fn)
	case a.has("handle"):
		handleArg = "handle"
	}
	handle, err := a.str(handleArg, true)
	if err != nil {
		return nil, err
	}
	class, err := a.str("snapshotClass", true)
	if err != nil {
		return nil, err
	}

	// The content takes its deletionPolicy from the class, as Kanister's
	// does: with Delete, deleting the VolumeSnapshot later deletes the
	// backend snapshot too.
	policy, err := f.deletionPolicy(ctx, class)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	contentName := name + "-content-" + string(uuid.NewUUID())
	content := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": snapshotGroup + "/v1",
		"kind":       "VolumeSnapshotContent",
		"metadata":   map[string]any{"name": contentName},
		"spec": map[string]any{
			"deletionPolicy":          policy,
			"driver":                  driver,
			"source":                  map[string]any{"snapshotHandle": handle},
			"volumeSnapshotClassName": class,
			"volumeSnapshotRef": map[string]any{
				"apiVersion": snapshotGroup + "/v1",
				"kind":       "VolumeSnapshot",
				"name":       name,
				"namespace":  namespace,
			},
		},
	}}
	if _, err := f.Client.Resource(volumeSnapshotContentsGVR).Create(ctx, content, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
		return nil, fmt.Errorf("%s: create VolumeSnapshotContent %s: %w", fn, contentName, err)
	}
	fmt.Fprintf(stdout, "%s: created VolumeSnapshotContent %s (driver %s, deletionPolicy %s)\n", fn, contentName, driver, policy)
	snap := volumeSnapshot(namespace, name, class, nil, map[string]any{"volumeSnapshotContentName": contentName})
	if _, err := f.Client.Resource(volumeSnapshotsGVR).Namespace(namespace).Create(ctx, snap, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
		// The content is left in place on purpose: deleting it with
		// deletionPolicy Delete would delete the user's backend snapshot.
		return nil, fmt.Errorf("%s: create VolumeSnapshot %s/%s (VolumeSnapshotContent %s was created and is left in place): %w", fn, namespace, name, contentName, err)
	}
	fmt.Fprintf(stdout, "%s: created VolumeSnapshot %s/%s bound to it; waiting until it is ready to use\n", fn, namespace, name)
	ready, err := waitSnapshotReady(ctx, f.Client, f.PollInterval, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	out := snapshotOutputs(ready)
	fmt.Fprintf(stdout, "%s: VolumeSnapshot %s/%s is ready to use (restoreSize %q, content %q)\n", fn, namespace, name, out["restoreSize"], out["snapshotContent"])
	return out, nil
}

func (f *CreateCSISnapshotStatic) deletionPolicy(ctx context.Context, class string) (string, error) {
	obj, err := f.Client.Resource(volumeSnapshotClassesGVR).Get(ctx, class, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("VolumeSnapshotClass %s not found", class)
	}
	if err != nil {
		return "", fmt.Errorf("read VolumeSnapshotClass %s: %w", class, err)
	}
	policy, _, _ := unstructured.NestedString(obj.Object, "deletionPolicy")
	if policy == "" {
		return "", fmt.Errorf("VolumeSnapshotClass %s has no deletionPolicy", class)
	}
	return policy, nil
}

// Run implements runner.Function.
func (f *RestoreCSISnapshot) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	const fn = RestoreCSISnapshotName
	a, err := parseArgs(fn, spec.Args, "name", "pvc", "namespace", "storageClass", "restoreSize", "accessModes", "volumeMode", "labels")
	if err != nil {
		return nil, err
	}
	var vals [5]string
	for i, arg := range []string{"name", "pvc", "namespace", "storageClass", "restoreSize"} {
		if vals[i], err = a.str(arg, true); err != nil {
			return nil, err
		}
	}
	name, pvc, namespace, storageClass, sizeText := vals[0], vals[1], vals[2], vals[3], vals[4]
	size, err := resource.ParseQuantity(strings.TrimSpace(sizeText))
	if err != nil {
		return nil, fmt.Errorf("%s: restoreSize must be a quantity such as \"10Gi\", got %s", fn, shortValue(sizeText))
	}
	if size.Sign() <= 0 {
		return nil, fmt.Errorf("%s: restoreSize must be greater than zero, got %s", fn, shortValue(sizeText))
	}
	accessModes := []string{string(corev1.ReadWriteOnce)}
	if a.has("accessModes") {
		if accessModes, err = a.stringList("accessModes", false); err != nil {
			return nil, err
		}
		if len(accessModes) == 0 {
			return nil, fmt.Errorf("%s: accessModes must list at least one access mode", fn)
		}
	}
	// Kanister accepts the first three; ReadWriteOncePod, which Kubernetes
	// has since added, is accepted too.
	known := []string{string(corev1.ReadWriteOnce), string(corev1.ReadOnlyMany), string(corev1.ReadWriteMany), string(corev1.ReadWriteOncePod)}
	for _, m := range accessModes {
		if !slices.Contains(known, m) {
			return nil, fmt.Errorf("%s: access mode %s is not one of %s", fn, shortValue(m), strings.Join(known, ", "))
		}
	}
	volumeMode, err := a.str("volumeMode", false)
	if err != nil {
		return nil, err
	}
	switch volumeMode {
	case "":
		volumeMode = string(corev1.PersistentVolumeFilesystem)
	case string(corev1.PersistentVolumeFilesystem), string(corev1.PersistentVolumeBlock):
	default:
		return nil, fmt.Errorf("%s: volumeMode must be Filesystem or Block, got %s", fn, shortValue(volumeMode))
	}
	labels, err := a.labels("labels")
	if err != nil {
		return nil, err
	}

	modes := make([]any, len(accessModes))
	for i, m := range accessModes {
		modes[i] = m
	}
	meta := map[string]any{"name": pvc, "namespace": namespace}
	if len(labels) > 0 {
		meta["labels"] = stringMapAny(labels)
	}
	claim := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "PersistentVolumeClaim",
		"metadata":   meta,
		"spec": map[string]any{
			"accessModes":      modes,
			"volumeMode":       volumeMode,
			"storageClassName": storageClass,
			"dataSource": map[string]any{
				"apiGroup": snapshotGroup,
				"kind":     "VolumeSnapshot",
				"name":     name,
			},
			"resources": map[string]any{
				"requests": map[string]any{"storage": size.String()},
			},
		},
	}}
	if _, err := f.Client.Resource(persistentVolumeClaimsGVR).Namespace(namespace).Create(ctx, claim, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
		return nil, fmt.Errorf("%s: create PersistentVolumeClaim %s/%s: %w", fn, namespace, pvc, err)
	}
	fmt.Fprintf(stdout, "%s: created PersistentVolumeClaim %s/%s (%s, StorageClass %s) from VolumeSnapshot %s\n", fn, namespace, pvc, size.String(), storageClass, name)
	return outputs.Outputs{}, nil
}

// Run implements runner.Function.
func (f *DeleteCSISnapshot) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	const fn = DeleteCSISnapshotName
	a, err := parseArgs(fn, spec.Args, "name", "namespace")
	if err != nil {
		return nil, err
	}
	name, err := a.str("name", true)
	if err != nil {
		return nil, err
	}
	namespace, err := a.str("namespace", true)
	if err != nil {
		return nil, err
	}
	res := f.Client.Resource(volumeSnapshotsGVR).Namespace(namespace)
	err = res.Delete(ctx, name, metav1.DeleteOptions{})
	switch {
	case apierrors.IsNotFound(err):
		fmt.Fprintf(stdout, "%s: VolumeSnapshot %s/%s is already absent\n", fn, namespace, name)
		return outputs.Outputs{}, nil
	case err != nil:
		return nil, fmt.Errorf("%s: delete VolumeSnapshot %s/%s: %w", fn, namespace, name, err)
	}
	interval := f.PollInterval
	if interval <= 0 {
		interval = defaultPollInterval
	}
	var finalizers []string
	var lastErr error
	err = wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		obj, err := res.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return true, nil
		case err != nil && !retriable(err):
			return false, err
		case err != nil:
			lastErr = err
			return false, nil
		}
		finalizers, lastErr = obj.GetFinalizers(), nil
		return false, nil
	})
	if err == nil {
		fmt.Fprintf(stdout, "%s: deleted VolumeSnapshot %s/%s\n", fn, namespace, name)
		return outputs.Outputs{}, nil
	}
	if ctx.Err() == nil {
		return nil, fmt.Errorf("%s: wait for VolumeSnapshot %s/%s to be gone: %w", fn, namespace, name, err)
	}
	// The snapshot controller's finalizers are what usually holds a
	// snapshot: naming them tells the user which one (a PVC being restored
	// from it, a content not yet deleted, no controller at all).
	msg := fmt.Sprintf("%s: VolumeSnapshot %s/%s still exists at the phase's deadline", fn, namespace, name)
	if len(finalizers) > 0 {
		msg += fmt.Sprintf(", held by finalizers %s", strings.Join(finalizers, ", "))
	}
	if lastErr != nil {
		msg += fmt.Sprintf(" (last error: %v)", lastErr)
	}
	return nil, fmt.Errorf("%s: %w", msg, ctx.Err())
}

// volumeSnapshot returns a VolumeSnapshot with the given spec.source.
func volumeSnapshot(namespace, name, class string, labels map[string]string, source map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name, "namespace": namespace}
	if len(labels) > 0 {
		meta["labels"] = stringMapAny(labels)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": snapshotGroup + "/v1",
		"kind":       "VolumeSnapshot",
		"metadata":   meta,
		"spec": map[string]any{
			"source":                  source,
			"volumeSnapshotClassName": class,
		},
	}}
}

// waitSnapshotReady polls a VolumeSnapshot until it is ready to use as
// Kanister judges it, and returns it. A snapshot that disappears or
// reports an error fails at once; anything else waits for ctx.
func waitSnapshotReady(ctx context.Context, client dynamic.Interface, interval time.Duration, namespace, name string) (*unstructured.Unstructured, error) {
	if interval <= 0 {
		interval = defaultPollInterval
	}
	res := client.Resource(volumeSnapshotsGVR).Namespace(namespace)
	var ready *unstructured.Unstructured
	pending := "it was not read yet"
	var lastErr error
	err := wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		obj, err := res.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) || !retriable(err) {
				return false, err
			}
			lastErr = err
			return false, nil
		}
		lastErr = nil
		p, err := snapshotPending(obj)
		if err != nil {
			return false, err
		}
		if p == "" {
			ready = obj
			return true, nil
		}
		pending = p
		return false, nil
	})
	if err == nil {
		return ready, nil
	}
	if ctx.Err() == nil {
		return nil, fmt.Errorf("VolumeSnapshot %s/%s: %w", namespace, name, err)
	}
	msg := fmt.Sprintf("VolumeSnapshot %s/%s not ready to use before the phase's deadline: %s", namespace, name, pending)
	if lastErr != nil {
		msg += fmt.Sprintf(" (last error: %v)", lastErr)
	}
	return nil, fmt.Errorf("%s: %w", msg, ctx.Err())
}

// snapshotPending says what a VolumeSnapshot lacks to be ready to use, ""
// when nothing, or returns the error its status reports.
func snapshotPending(obj *unstructured.Unstructured) (string, error) {
	status, ok, _ := unstructured.NestedMap(obj.Object, "status")
	if !ok {
		return "it has no status: is a snapshot controller running, and a CSI driver that supports snapshots installed?", nil
	}
	if e, ok := status["error"].(map[string]any); ok {
		msg, _ := e["message"].(string)
		if !strings.Contains(msg, transientSnapshotError) {
			if msg == "" {
				msg = "the snapshot controller reported an error without a message"
			}
			return "", errors.New("snapshot failed: " + msg)
		}
	}
	if readyToUse, _ := status["readyToUse"].(bool); !readyToUse {
		return "status.readyToUse is not true", nil
	}
	if t, _ := status["creationTime"].(string); t == "" {
		return "status.creationTime is not set", nil
	}
	return "", nil
}

// snapshotOutputs returns the outputs Kanister gives for a ready
// snapshot.
func snapshotOutputs(obj *unstructured.Unstructured) outputs.Outputs {
	content, _, _ := unstructured.NestedString(obj.Object, "status", "boundVolumeSnapshotContentName")
	return outputs.Outputs{
		"name":            obj.GetName(),
		"namespace":       obj.GetNamespace(),
		"restoreSize":     restoreSize(obj),
		"snapshotContent": content,
	}
}

// restoreSize returns status.restoreSize as Kanister prints it, the
// quantity's canonical form. The field is an int-or-string, so it may
// arrive as a number.
func restoreSize(obj *unstructured.Unstructured) string {
	v, ok, _ := unstructured.NestedFieldNoCopy(obj.Object, "status", "restoreSize")
	if !ok || v == nil {
		return ""
	}
	s, ok := scalarString(v)
	if !ok {
		return ""
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return s
	}
	return q.String()
}

// labels returns a map argument of label keys and values, checked as the
// API server would check them so a mistake fails before anything is
// created. Kanister instead rewrites invalid characters; Baton reports
// them.
func (a arguments) labels(name string) (map[string]string, error) {
	if !a.has(name) {
		return nil, nil
	}
	raw, ok := a.vals[name].(map[string]any)
	if !ok {
		if m, isStrings := a.vals[name].(map[string]string); isStrings {
			raw = make(map[string]any, len(m))
			for k, v := range m {
				raw[k] = v
			}
		} else {
			return nil, fmt.Errorf("%s: argument %q must be a map, got %s", a.fn, name, describe(a.vals[name]))
		}
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := scalarString(v)
		if !ok {
			return nil, fmt.Errorf("%s: argument %q: the value of %q must be a string, got %s", a.fn, name, k, describe(v))
		}
		out[k] = s
	}
	if errs := metav1validation.ValidateLabels(out, field.NewPath(name)); len(errs) > 0 {
		return nil, fmt.Errorf("%s: argument %q: %w", a.fn, name, errs.ToAggregate())
	}
	return out, nil
}

func stringMapAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
