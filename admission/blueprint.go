package admission

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
	webhookadmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/validation"
)

// BlueprintValidator refuses Blueprints with problems validation.Check
// finds — the checker of `batonctl validate blueprint` and of the
// controller's InvalidBlueprint Events, so the three never disagree.
type BlueprintValidator struct{}

var _ webhookadmission.Validator[*batonv1.Blueprint] = BlueprintValidator{}

// ValidateCreate refuses a Blueprint with any problem.
func (BlueprintValidator) ValidateCreate(_ context.Context, bp *batonv1.Blueprint) (webhookadmission.Warnings, error) {
	return nil, invalid("Blueprint", bp.Name, blueprintErrors(validation.Check(bp)))
}

// ValidateUpdate refuses a change that leaves the Blueprint with a problem.
// An update that does not touch the actions is let through with the
// problems as warnings (see unchanged).
func (BlueprintValidator) ValidateUpdate(_ context.Context, old, bp *batonv1.Blueprint) (webhookadmission.Warnings, error) {
	problems := validation.Check(bp)
	if unchanged(old.Actions, bp.Actions) {
		return stillInvalid(blueprintErrors(problems)), nil
	}
	return nil, invalid("Blueprint", bp.Name, blueprintErrors(problems))
}

// ValidateDelete lets every deletion through (the webhook is not called
// for them).
func (BlueprintValidator) ValidateDelete(context.Context, *batonv1.Blueprint) (webhookadmission.Warnings, error) {
	return nil, nil
}

// blueprintErrors names each problem's field by its whole path
// (actions.backup.phases[1].args.command), as the API server's own errors
// do; the checker's messages say what is wrong.
func blueprintErrors(problems []validation.Problem) field.ErrorList {
	var errs field.ErrorList
	for _, p := range problems {
		errs = append(errs, field.Invalid(field.NewPath(p.Path), field.OmitValueType{}, p.Message))
	}
	return errs
}

// stillInvalid turns the errors of an object that was let through into
// warnings, which kubectl prints.
func stillInvalid(errs field.ErrorList) webhookadmission.Warnings {
	var warnings webhookadmission.Warnings
	for _, err := range errs {
		warnings = append(warnings, fmt.Sprintf("still invalid: %s", err.Error()))
	}
	return warnings
}
