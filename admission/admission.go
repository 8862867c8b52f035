// Package admission is Baton's validating admission webhook: Blueprints,
// ActionSets and Profiles are checked when they are created or changed, and
// the API server refuses what can never run, with a message naming the
// field. Only what can be known from the object itself is checked; whether
// what it names exists (a Blueprint, a workload, a Secret) is the
// controller's to find out when an ActionSet starts, as the cluster may
// change in between.
//
// The controller serves the webhook itself, with a certificate it makes and
// keeps in a Secret (certs.go); the ValidatingWebhookConfiguration
// baton-validation (config/webhook) sends the API server's requests to it.
package admission

import (
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// The paths the validators are served at, as controller-runtime derives
// them from the group, version and kind; config/webhook/manifests.yaml
// names the same.
const (
	BlueprintPath = "/validate-baton-dev-v1alpha1-blueprint"
	ActionSetPath = "/validate-baton-dev-v1alpha1-actionset"
	ProfilePath   = "/validate-baton-dev-v1alpha1-profile"
)

// Register serves the three validators on the manager's webhook server.
func Register(mgr ctrl.Manager) error {
	if err := ctrl.NewWebhookManagedBy(mgr, &batonv1.Blueprint{}).WithValidator(BlueprintValidator{}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &batonv1.ActionSet{}).WithValidator(ActionSetValidator{}).Complete(); err != nil {
		return err
	}
	return ctrl.NewWebhookManagedBy(mgr, &batonv1.Profile{}).WithValidator(ProfileValidator{}).Complete()
}

// invalid is the API's own error for an invalid object (422, a cause per
// field), so kubectl and clients show it as they show the API server's
// schema errors: `Blueprint.baton.dev "x" is invalid: actions.backup...`.
func invalid(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(batonv1.GroupVersion.WithKind(kind).GroupKind(), name, errs)
}

// unchanged reports whether an update leaves what is validated as it was:
// then the update (labels, annotations, finalizers) is let through even if
// the object is invalid — it may predate the webhook, and refusing would
// only keep it from being labelled or deleted.
func unchanged(old, updated any) bool { return equality.Semantic.DeepEqual(old, updated) }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
