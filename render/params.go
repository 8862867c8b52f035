// Package render expands a Blueprint's Go templates with the parameters of
// one action run — Kanister's template parameters, so a Kanister blueprint's
// templates mean the same thing under Baton. It is pure: the controller
// fetches the objects, render only shapes and expands them.
package render

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// Params are the values templates see, under Kanister's names:
// {{ .Deployment.Pods }}, {{ .Phases.dump.Output.path }},
// {{ .Profile.Location.Bucket }}, {{ .Options.retention }}, ...
type Params struct {
	// Object is the action's object as generic JSON ({{ .Object.metadata.name }}).
	Object map[string]any
	// Exactly one of these is set, by the object's kind.
	Deployment       *WorkloadParams
	StatefulSet      *WorkloadParams
	DeploymentConfig *WorkloadParams
	PVC              *PVCParams
	Namespace        *NamespaceParams

	ArtifactsIn  map[string]batonv1.Artifact
	ArtifactsOut map[string]batonv1.Artifact
	ConfigMaps   map[string]corev1.ConfigMap
	Secrets      map[string]corev1.Secret
	Profile      *ProfileParams
	Options      map[string]string
	// Phases holds the outputs of the action's phases that have completed.
	Phases         map[string]*PhaseParams
	PodOverride    batonv1.JSONMap
	PodLabels      map[string]string
	PodAnnotations map[string]string
	// Time is when the action started, RFC 3339, the same for every phase.
	Time string
}

// WorkloadParams describe a Deployment, StatefulSet or DeploymentConfig and
// its running pods.
type WorkloadParams struct {
	Name      string
	Namespace string
	// Pods are the names of the workload's pods, oldest first.
	Pods []string
	// Containers lists each pod's container names, in Pods' order.
	Containers [][]string
	// PersistentVolumeClaims maps pod name to the claims its containers
	// mount (claim name -> mount path), Kanister's shape.
	PersistentVolumeClaims map[string]map[string]string
}

// PVCParams describe a PersistentVolumeClaim.
type PVCParams struct {
	Name      string
	Namespace string
}

// NamespaceParams describe a Namespace.
type NamespaceParams struct {
	Name string
}

// PhaseParams are what templates can read of a phase: the outputs of a
// completed phase, and the Secrets and ConfigMaps the phase's own `objects`
// name ({{ .Phases.dump.Secrets.pgSecret.Data }}), fetched when it starts.
type PhaseParams struct {
	Output     map[string]any
	Secrets    map[string]corev1.Secret
	ConfigMaps map[string]corev1.ConfigMap
}

// ProfileParams are a Profile with its credentials resolved.
type ProfileParams struct {
	Location      batonv1.Location
	Credential    CredentialParams
	SkipSSLVerify bool
}

// CredentialParams are a Profile's credentials, read from their Secret.
type CredentialParams struct {
	Type    batonv1.CredentialType
	KeyPair *KeyPairParams
	Secret  *corev1.Secret
}

// KeyPairParams are an access key pair (e.g. S3's key id and secret).
type KeyPairParams struct {
	ID     string
	Secret string
}

// Workload describes a workload from its pods, as templates see it. Pods
// that are being deleted are left out: a phase must not exec into a pod
// that is going away.
func Workload(name, namespace string, pods []corev1.Pod) *WorkloadParams {
	w := &WorkloadParams{Name: name, Namespace: namespace, Pods: []string{}, Containers: [][]string{},
		PersistentVolumeClaims: map[string]map[string]string{}}
	sorted := slices.Clone(pods)
	slices.SortStableFunc(sorted, func(a, b corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, pod := range sorted {
		if pod.DeletionTimestamp != nil {
			continue
		}
		w.Pods = append(w.Pods, pod.Name)
		var containers []string
		for _, c := range pod.Spec.Containers {
			containers = append(containers, c.Name)
		}
		w.Containers = append(w.Containers, containers)
		if claims := claimMounts(pod.Spec); len(claims) > 0 {
			w.PersistentVolumeClaims[pod.Name] = claims
		}
	}
	return w
}

// claimMounts maps each claim a pod's containers mount to its mount path
// (the first container's, when several mount it). A claim no container
// mounts has no path to restore into and is left out.
func claimMounts(spec corev1.PodSpec) map[string]string {
	claimOfVolume := map[string]string{}
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claimOfVolume[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	mounts := map[string]string{}
	for _, c := range spec.Containers {
		for _, m := range c.VolumeMounts {
			claim, ok := claimOfVolume[m.Name]
			if _, seen := mounts[claim]; ok && !seen {
				mounts[claim] = m.MountPath
			}
		}
	}
	return mounts
}
