package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// ScaleWorkload scales a Deployment or StatefulSet through its scale
// subresource, like `kubectl scale`. Arguments (Kanister's):
//
//	namespace     optional  the workload's namespace  } default: the
//	name          optional  the workload's name       } action's object,
//	kind          optional  deployment or statefulset } when it is one
//	replicas      required  the wanted replica count, a number or its text
//	waitForReady  optional  wait for the workload to settle (default true)
//
// Output: originalReplicaCount, the replica count before scaling, so a later
// phase can restore it.
//
// With waitForReady, the function returns once the workload has settled at
// the new count: its controller has seen the change, the wanted number of
// replicas are ready and up to date, and no other pod of it remains (when
// scaling to 0, every pod is gone, terminating ones included). The wait is
// bounded only by the phase's context. OpenShift DeploymentConfigs, which
// Kanister also scales, are not supported.
type ScaleWorkload struct {
	Client       kubernetes.Interface
	PollInterval time.Duration
}

var scaleWorkloadArgs = []string{"namespace", "name", "kind", "replicas", "waitForReady"}

type workloadKind string

const (
	kindDeployment  workloadKind = "Deployment"
	kindStatefulSet workloadKind = "StatefulSet"
)

// Run implements runner.Function.
func (f *ScaleWorkload) Run(ctx context.Context, spec phase.Spec, stdout, stderr io.Writer) (outputs.Outputs, error) {
	a, err := parseArgs(ScaleWorkloadName, spec.Args, scaleWorkloadArgs...)
	if err != nil {
		return nil, err
	}
	replicas, ok, err := a.nonNegativeInt("replicas")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, a.missing("replicas")
	}
	if replicas > math.MaxInt32 {
		return nil, fmt.Errorf("%s: replicas must be at most %d, got %d", ScaleWorkloadName, math.MaxInt32, replicas)
	}
	waitForReady, err := a.boolean("waitForReady", true)
	if err != nil {
		return nil, err
	}
	namespace, name, kindArg, err := f.target(a, spec.Object)
	if err != nil {
		return nil, err
	}
	kind, err := parseWorkloadKind(kindArg)
	if err != nil {
		return nil, err
	}

	want := int32(replicas)
	original, err := f.scale(ctx, kind, namespace, name, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ScaleWorkloadName, err)
	}
	fmt.Fprintf(stdout, "%s %s/%s scaled from %d to %d replicas\n", kind, namespace, name, original, want)
	if waitForReady {
		if err := f.waitSettled(ctx, kind, namespace, name, want); err != nil {
			return nil, fmt.Errorf("%s: %w", ScaleWorkloadName, err)
		}
		fmt.Fprintf(stdout, "%s %s/%s has %d ready replicas\n", kind, namespace, name, want)
	}
	return outputs.Outputs{"originalReplicaCount": original}, nil
}

// target returns the workload's namespace, name and kind: the arguments,
// each defaulting to the action's object when that is a workload.
func (f *ScaleWorkload) target(a arguments, object phase.ObjectRef) (namespace, name, kind string, err error) {
	if k, ok := objectWorkloadKind(object); ok {
		namespace, name, kind = object.Namespace, object.Name, k
	}
	if namespace, err = orDefault(a, "namespace", namespace); err != nil {
		return "", "", "", err
	}
	if name, err = orDefault(a, "name", name); err != nil {
		return "", "", "", err
	}
	if kind, err = orDefault(a, "kind", kind); err != nil {
		return "", "", "", err
	}
	var missing []string
	for _, m := range []struct{ arg, val string }{{"namespace", namespace}, {"name", name}, {"kind", kind}} {
		if m.val == "" {
			missing = append(missing, fmt.Sprintf("%q", m.arg))
		}
	}
	if len(missing) > 0 {
		return "", "", "", fmt.Errorf("%s: the action's object is not a Deployment or StatefulSet, so the workload must be named by arguments \"namespace\", \"name\" and \"kind\" (missing: %s)", ScaleWorkloadName, strings.Join(missing, ", "))
	}
	return namespace, name, kind, nil
}

func orDefault(a arguments, arg, def string) (string, error) {
	v, err := a.str(arg, false)
	if err != nil || v == "" {
		return def, err
	}
	return v, nil
}

// objectWorkloadKind recognises an action's object that is a workload, by
// its kind or its resource, spelt in any case, as Kanister's ActionSets
// name them ("deployment", "statefulset", "deploymentconfig").
func objectWorkloadKind(o phase.ObjectRef) (string, bool) {
	if o.Name == "" {
		return "", false
	}
	switch strings.ToLower(o.Kind) + "/" + strings.ToLower(o.Resource) {
	case "deployment/", "/deployments", "deployment/deployments":
		return string(kindDeployment), true
	case "statefulset/", "/statefulsets", "statefulset/statefulsets":
		return string(kindStatefulSet), true
	case "deploymentconfig/", "/deploymentconfigs", "deploymentconfig/deploymentconfigs":
		return "DeploymentConfig", true
	}
	return "", false
}

func parseWorkloadKind(kind string) (workloadKind, error) {
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "deployment":
		return kindDeployment, nil
	case "statefulset":
		return kindStatefulSet, nil
	case "deploymentconfig":
		return "", fmt.Errorf("%s: kind DeploymentConfig (OpenShift) is not supported by Baton; supported kinds: deployment, statefulset", ScaleWorkloadName)
	}
	return "", fmt.Errorf("%s: kind must be deployment or statefulset, got %q", ScaleWorkloadName, kind)
}

// scale sets the workload's replicas through its scale subresource and
// returns the count it had.
func (f *ScaleWorkload) scale(ctx context.Context, kind workloadKind, namespace, name string, want int32) (original int32, err error) {
	apps := f.Client.AppsV1()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		switch kind {
		case kindDeployment:
			s, err := apps.Deployments(namespace).GetScale(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			original = s.Spec.Replicas
			if original != want {
				s.Spec.Replicas = want
				_, err = apps.Deployments(namespace).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
			}
			return err
		case kindStatefulSet:
			s, err := apps.StatefulSets(namespace).GetScale(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			original = s.Spec.Replicas
			if original != want {
				s.Spec.Replicas = want
				_, err = apps.StatefulSets(namespace).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
			}
			return err
		}
		return fmt.Errorf("unknown kind %q", kind)
	})
	if apierrors.IsNotFound(err) {
		return 0, fmt.Errorf("%s %s/%s not found", kind, namespace, name)
	}
	if err != nil {
		return 0, fmt.Errorf("scale %s %s/%s: %w", kind, namespace, name, err)
	}
	return original, nil
}

// waitSettled polls until the workload has settled at want replicas or ctx
// ends; the error then says what it was still waiting for.
func (f *ScaleWorkload) waitSettled(ctx context.Context, kind workloadKind, namespace, name string, want int32) error {
	interval := f.PollInterval
	if interval <= 0 {
		interval = defaultPollInterval
	}
	var waitingFor string
	var lastErr error
	err := wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		var pending string
		var err error
		switch kind {
		case kindDeployment:
			pending, err = f.deploymentPending(ctx, namespace, name, want)
		case kindStatefulSet:
			pending, err = f.statefulSetPending(ctx, namespace, name, want)
		}
		if err != nil {
			if apierrors.IsNotFound(err) || !retriable(err) {
				return false, err
			}
			lastErr = err
			return false, nil
		}
		waitingFor, lastErr = pending, nil
		return pending == "", nil
	})
	if err == nil {
		return nil
	}
	if ctx.Err() == nil { // the check itself failed
		return fmt.Errorf("wait for %s %s/%s: %w", kind, namespace, name, err)
	}
	msg := fmt.Sprintf("%s %s/%s did not settle at %d replicas before the phase's deadline", kind, namespace, name, want)
	if waitingFor != "" {
		msg += ": " + waitingFor
	}
	if lastErr != nil {
		msg += fmt.Sprintf(" (last error: %v)", lastErr)
	}
	return fmt.Errorf("%s: %w", msg, ctx.Err())
}

// deploymentPending returns what the deployment still lacks to have settled
// at want replicas, or "" when it has.
func (f *ScaleWorkload) deploymentPending(ctx context.Context, namespace, name string, want int32) (string, error) {
	d, err := f.Client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if msg := replicasPending(d.Generation, d.Status.ObservedGeneration, d.Spec.Replicas, want, []statusCount{
		{"replicas", d.Status.Replicas},
		{"updated", d.Status.UpdatedReplicas},
		{"ready", d.Status.ReadyReplicas},
		{"available", d.Status.AvailableReplicas},
	}); msg != "" {
		return msg, nil
	}
	// Pods belong to the deployment through its ReplicaSets.
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return "", fmt.Errorf("deployment %s/%s selector: %w", namespace, name, err)
	}
	sets, err := f.Client.AppsV1().ReplicaSets(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return "", err
	}
	owners := map[types.UID]bool{}
	for _, rs := range sets.Items {
		if owner := metav1.GetControllerOf(&rs); owner != nil && owner.UID == d.UID {
			owners[rs.UID] = true
		}
	}
	return f.podsPending(ctx, namespace, sel.String(), owners, want)
}

// statefulSetPending is deploymentPending for a StatefulSet.
func (f *ScaleWorkload) statefulSetPending(ctx context.Context, namespace, name string, want int32) (string, error) {
	s, err := f.Client.AppsV1().StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if msg := replicasPending(s.Generation, s.Status.ObservedGeneration, s.Spec.Replicas, want, []statusCount{
		{"replicas", s.Status.Replicas},
		{"ready", s.Status.ReadyReplicas},
	}); msg != "" {
		return msg, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
	if err != nil {
		return "", fmt.Errorf("statefulset %s/%s selector: %w", namespace, name, err)
	}
	return f.podsPending(ctx, namespace, sel.String(), map[types.UID]bool{s.UID: true}, want)
}

type statusCount struct {
	name  string
	count int32
}

func replicasPending(generation, observed int64, specReplicas *int32, want int32, counts []statusCount) string {
	if specReplicas != nil && *specReplicas != want {
		return fmt.Sprintf("its spec asks for %d replicas now (changed by something else, an autoscaler?)", *specReplicas)
	}
	if observed < generation {
		return fmt.Sprintf("its controller has not yet seen generation %d (observed %d)", generation, observed)
	}
	var off []string
	for _, c := range counts {
		if c.count != want {
			off = append(off, fmt.Sprintf("%s %d", c.name, c.count))
		}
	}
	if len(off) > 0 {
		return fmt.Sprintf("status reports %s, want %d", strings.Join(off, ", "), want)
	}
	return ""
}

// podsPending counts the workload's pods (those matching selector and
// controlled by one of owners) that have not finished (a pod that succeeded
// or failed holds no running container) and returns what is still off:
// more of them than wanted, or any of them terminating.
func (f *ScaleWorkload) podsPending(ctx context.Context, namespace, selector string, owners map[types.UID]bool, want int32) (string, error) {
	pods, err := f.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return "", err
	}
	var live, terminating int32
	for _, p := range pods.Items {
		owner := metav1.GetControllerOf(&p)
		if owner == nil || !owners[owner.UID] {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		live++
		if p.DeletionTimestamp != nil {
			terminating++
		}
	}
	switch {
	case live > want:
		return fmt.Sprintf("%d of its pods still exist (%d terminating), want %d", live, terminating, want), nil
	case terminating > 0:
		return fmt.Sprintf("%d of its pods are terminating", terminating), nil
	}
	return "", nil
}

// retriable tells errors worth another poll (a timeout, an overloaded or
// restarting API server) from those that will not go away by waiting.
func retriable(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err), apierrors.IsBadRequest(err),
		apierrors.IsInvalid(err), apierrors.IsMethodNotSupported(err), apierrors.IsNotAcceptable(err),
		apierrors.IsUnsupportedMediaType(err):
		return false
	}
	return true
}
