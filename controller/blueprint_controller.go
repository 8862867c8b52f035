package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/validation"
)

// BlueprintChecker checks every Blueprint when it is created or changed
// and reports what is wrong with it (an unknown function, a missing
// argument, a template that does not parse, …) as a Warning Event on the
// Blueprint, before any ActionSet trips over it. It changes nothing.
type BlueprintChecker struct {
	client.Client
	Recorder record.EventRecorder
}

// maxProblemsInEvent keeps an Event readable; `batonctl validate blueprint
// NAME` lists them all.
const maxProblemsInEvent = 5

// SetupWithManager watches Blueprints; a change of generation (not of
// metadata alone) is checked again.
func (c *BlueprintChecker) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&batonv1.Blueprint{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("blueprint").
		Complete(c)
}

// Reconcile checks one Blueprint.
func (c *BlueprintChecker) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var bp batonv1.Blueprint
	if err := c.Get(ctx, req.NamespacedName, &bp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if msg := invalidBlueprintMessage(validation.Check(&bp)); msg != "" {
		c.Recorder.Event(&bp, corev1.EventTypeWarning, "InvalidBlueprint", msg)
	}
	return ctrl.Result{}, nil
}

// invalidBlueprintMessage summarises problems for an Event ("" when none).
func invalidBlueprintMessage(problems []validation.Problem) string {
	if len(problems) == 0 {
		return ""
	}
	lines := make([]string, 0, maxProblemsInEvent)
	for i, p := range problems {
		if i == maxProblemsInEvent {
			lines = append(lines, fmt.Sprintf("and %d more (batonctl validate blueprint %s)", len(problems)-i, p.Blueprint))
			break
		}
		// The Event is on the Blueprint: its name need not be repeated.
		p.Blueprint = ""
		lines = append(lines, p.String())
	}
	return fmt.Sprintf("%d problem(s): %s", len(problems), strings.Join(lines, "; "))
}
