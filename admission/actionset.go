package admission

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	webhookadmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// ActionSetValidator refuses ActionSets that can never start: no action, an
// action without a name or Blueprint, an object reference that names no
// object, a reference to a Secret or ConfigMap without a name. Whether the
// Blueprint, the object and the rest exist is checked by the controller
// when the ActionSet starts. Once created, an ActionSet's actions do not
// change: the controller has planned and perhaps run them.
type ActionSetValidator struct{}

var _ webhookadmission.Validator[*batonv1.ActionSet] = ActionSetValidator{}

var specPath = field.NewPath("spec")

// ValidateCreate checks the whole spec.
func (ActionSetValidator) ValidateCreate(_ context.Context, as *batonv1.ActionSet) (webhookadmission.Warnings, error) {
	errs := actionsErrors(as.Spec.Actions)
	errs = append(errs, timeoutErrors(as.Spec)...)
	return nil, invalid("ActionSet", as.Name, errs)
}

// ValidateUpdate refuses any change of spec.actions; the other fields
// (cancel, ttlSecondsAfterFinished, timeout, phaseTimeout) may change, and
// when either timeout changes both are checked. Status is never looked at: the controller writes it
// through the status subresource, which the webhook is not called for.
func (ActionSetValidator) ValidateUpdate(_ context.Context, old, as *batonv1.ActionSet) (webhookadmission.Warnings, error) {
	var errs field.ErrorList
	if !unchanged(old.Spec.Actions, as.Spec.Actions) {
		errs = append(errs, field.Forbidden(specPath.Child("actions"),
			"is immutable once the ActionSet is created (its phases may have run): create another ActionSet instead"))
	}
	if !unchanged(old.Spec.Timeout, as.Spec.Timeout) || !unchanged(old.Spec.PhaseTimeout, as.Spec.PhaseTimeout) {
		errs = append(errs, timeoutErrors(as.Spec)...)
	}
	return nil, invalid("ActionSet", as.Name, errs)
}

// ValidateDelete lets every deletion through.
func (ActionSetValidator) ValidateDelete(context.Context, *batonv1.ActionSet) (webhookadmission.Warnings, error) {
	return nil, nil
}

func timeoutErrors(spec batonv1.ActionSetSpec) field.ErrorList {
	var errs field.ErrorList
	if spec.Timeout != nil && spec.Timeout.Duration <= 0 {
		errs = append(errs, field.Invalid(specPath.Child("timeout"), spec.Timeout.Duration.String(),
			"must be positive: it bounds the whole ActionSet, from its creation (leave it out for no bound)"))
	}
	if spec.PhaseTimeout != nil && spec.PhaseTimeout.Duration <= 0 {
		errs = append(errs, field.Invalid(specPath.Child("phaseTimeout"), spec.PhaseTimeout.Duration.String(),
			"must be positive: it bounds each phase whose Blueprint sets no timeout (leave it out for the controller's --phase-deadline)"))
	}
	return errs
}

func actionsErrors(actions []batonv1.ActionSpec) field.ErrorList {
	path := specPath.Child("actions")
	if len(actions) == 0 {
		return field.ErrorList{field.Required(path, "an ActionSet runs at least one action")}
	}
	var errs field.ErrorList
	for i, a := range actions {
		p := path.Index(i)
		if a.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), "the name of the Blueprint action to run, e.g. backup"))
		}
		if a.Blueprint == "" {
			errs = append(errs, field.Required(p.Child("blueprint"), "the name of the Blueprint, in the ActionSet's namespace, that defines the action"))
		}
		errs = append(errs, objectErrors(p.Child("object"), a.Object)...)
		if a.Profile != nil && a.Profile.Name == "" {
			errs = append(errs, field.Required(p.Child("profile", "name"), "the Profile's name (its namespace defaults to the ActionSet's)"))
		}
		for _, k := range sortedKeys(a.Secrets) {
			errs = append(errs, namespacedRefErrors(p.Child("secrets").Key(k), "Secret", a.Secrets[k])...)
		}
		for _, k := range sortedKeys(a.ConfigMaps) {
			errs = append(errs, namespacedRefErrors(p.Child("configMaps").Key(k), "ConfigMap", a.ConfigMaps[k])...)
		}
		errs = append(errs, metadataErrors(p, a.PodLabels, a.PodAnnotations)...)
	}
	return errs
}

// wellKnownScopes are the kinds whose scope is known without asking the
// cluster: those the controller resolves by name (controller/resolve.go's
// wellKnownKinds, with kanctl's spellings), by group. Any other kind is
// looked up at run time, and its namespace is not checked here.
var wellKnownScopes = map[string]struct {
	group      string
	namespaced bool
}{
	"deployment": {"apps", true}, "deployments": {"apps", true},
	"statefulset": {"apps", true}, "statefulsets": {"apps", true},
	"pvc": {"", true}, "persistentvolumeclaim": {"", true}, "persistentvolumeclaims": {"", true},
	"namespace": {"", false}, "namespaces": {"", false},
}

// objectErrors checks an action's object: a kind (or a resource, as
// Kanister allows), a name, and a namespace for the kinds known to be
// namespaced. The controller reads the object at the namespace given, with
// no default, so one left out is never found.
func objectErrors(path *field.Path, ref batonv1.ObjectReference) field.ErrorList {
	var errs field.ErrorList
	if ref.Kind == "" && ref.Resource == "" {
		errs = append(errs, field.Required(path.Child("kind"), "the object's kind, e.g. StatefulSet (or its resource, e.g. statefulsets)"))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "the name of the object the action runs against"))
	}
	if ref.APIVersion != "" {
		if _, err := schema.ParseGroupVersion(ref.APIVersion); err != nil {
			errs = append(errs, field.Invalid(path.Child("apiVersion"), ref.APIVersion, "want GROUP/VERSION or VERSION, e.g. apps/v1"))
		}
	}
	if ref.Namespace != "" {
		return errs
	}
	for _, key := range []string{ref.Kind, ref.Resource} {
		scope, ok := wellKnownScopes[strings.ToLower(key)]
		if ok && (ref.Group == "" || ref.Group == scope.group) {
			if scope.namespaced {
				errs = append(errs, field.Required(path.Child("namespace"), "a "+key+" is namespaced: name the object's namespace"))
			}
			break
		}
	}
	return errs
}

// namespacedRefErrors checks a reference to a Secret or ConfigMap, which
// the controller reads at the namespace given, with no default.
func namespacedRefErrors(path *field.Path, kind string, ref batonv1.ObjectReference) field.ErrorList {
	var errs field.ErrorList
	if ref.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "the "+kind+"'s name"))
	}
	if ref.Namespace == "" {
		errs = append(errs, field.Required(path.Child("namespace"), "the "+kind+"'s namespace (there is no default)"))
	}
	return errs
}

// metadataErrors checks the labels and annotations given to phase pods:
// an invalid one would fail a Job only when its phase starts, after the
// phases before it have run.
func metadataErrors(path *field.Path, labels, annotations map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(labels) {
		for _, msg := range k8svalidation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(path.Child("podLabels"), k, msg))
		}
		for _, msg := range k8svalidation.IsValidLabelValue(labels[k]) {
			errs = append(errs, field.Invalid(path.Child("podLabels").Key(k), labels[k], msg))
		}
	}
	for _, k := range sortedKeys(annotations) {
		for _, msg := range k8svalidation.IsQualifiedName(strings.ToLower(k)) {
			errs = append(errs, field.Invalid(path.Child("podAnnotations"), k, msg))
		}
	}
	return errs
}
