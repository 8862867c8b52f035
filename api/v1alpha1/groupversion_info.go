// Package v1alpha1 is Baton's API: Blueprints, ActionSets and Profiles in the
// baton.dev/v1alpha1 group version.
//
// The JSON shape of every kind follows Kanister's cr.kanister.io/v1alpha1,
// field for field, so a Kanister manifest is a Baton manifest once its
// apiVersion names baton.dev/v1alpha1. Baton's additions (ActionSet
// conditions and observedGeneration, a status subresource, printer columns,
// short names) are all optional and never change what a Kanister field means.
//
// zz_generated.deepcopy.go and the CRDs under config/crd/bases are generated
// from the markers in this package: run `make generate manifests` after
// changing it.
//
// +kubebuilder:object:generate=true
// +groupName=baton.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// Group is the API group of every kind in this package.
const Group = "baton.dev"

// Version is the API version of every kind in this package.
const Version = "v1alpha1"

var (
	// GroupVersion is baton.dev/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

	// SchemeBuilder registers this package's kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this package's kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
