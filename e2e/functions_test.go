//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// timeLogger is a Deployment whose container appends the time to a file,
// like Kanister's time-log example application.
func timeLogger(namespace string) *appsv1.Deployment {
	labels := map[string]string{"app": "time-logger"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "time-logger", Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Containers: []corev1.Container{{
						Name: "test-container", Image: e2eToolsImage,
						Command: []string{"sh", "-c", "mkdir -p /var/log && while true; do date -u +%FT%TZ >> /var/log/time.log; sleep 1; done"},
					}},
				},
			},
		},
	}
}

func (e *engine) waitDeploymentReady(t *testing.T, namespace, name string, replicas int32) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := e.client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == replicas && d.Status.Replicas == replicas, err
	})
	require.NoError(t, err, "deployment %s/%s never had %d ready replicas", namespace, name, replicas)
}

// (d) KubeExec into a real Deployment's pod; ScaleWorkload to 0 and back.
func TestKubeExecAndScaleWorkloadOnARealDeployment(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	_, err := e.client.AppsV1().Deployments(ns).Create(context.Background(), timeLogger(ns), metav1.CreateOptions{})
	require.NoError(t, err)
	e.waitDeploymentReady(t, ns, "time-logger", 1)

	exec := func(name string) batonv1.BlueprintPhase {
		return batonv1.BlueprintPhase{Name: name, Func: "KubeExec", Args: batonv1.JSONMap{
			"namespace": "{{ .Deployment.Namespace }}", "pod": "{{ index .Deployment.Pods 0 }}", "container": "test-container",
			"command": []any{"sh", "-c", `echo "###Phase-output###: {\"key\":\"host\",\"value\":\"$(hostname)\"}"`},
		}}
	}
	scale := func(name string, replicas int) batonv1.BlueprintPhase {
		return batonv1.BlueprintPhase{Name: name, Func: "ScaleWorkload", Args: batonv1.JSONMap{"replicas": replicas}}
	}
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("scale")},
		Actions: map[string]batonv1.BlueprintAction{"cycle": {
			Phases: []batonv1.BlueprintPhase{exec("before"), scale("down", 0), scale("up", 1)},
		}},
	}
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("scale")},
		Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{Name: "cycle", Blueprint: bp.Name,
			Object: batonv1.ObjectReference{Kind: "Deployment", Name: "time-logger", Namespace: ns}}}}}
	e.create(t, bp, as)

	got := e.waitFinished(t, as.Name)
	require.Equal(t, batonv1.StateComplete, got.Status.State, "error: %+v", got.Status.Error)
	outs := phaseOutputs(got, 0)
	assert.True(t, strings.HasPrefix(outs["before"]["host"].(string), "time-logger-"), "KubeExec ran in the app's pod: %v", outs["before"])
	assert.EqualValues(t, "1", toString(outs["down"]["originalReplicaCount"]))
	assert.EqualValues(t, "0", toString(outs["up"]["originalReplicaCount"]), "scaled to 0 before scaling back")
	e.waitDeploymentReady(t, ns, "time-logger", 1)
}

// (f) a Kanister-format blueprint, with only its apiVersion changed, runs.
func TestKanisterBlueprintRunsWithOnlyItsAPIVersionChanged(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	_, err := e.client.AppsV1().Deployments(ns).Create(context.Background(), timeLogger(ns), metav1.CreateOptions{})
	require.NoError(t, err)
	e.waitDeploymentReady(t, ns, "time-logger", 1)

	raw, err := os.ReadFile("testdata/kanister-time-log.yaml")
	require.NoError(t, err)
	doc := strings.ReplaceAll(string(raw), "apiVersion: cr.kanister.io/v1alpha1", "apiVersion: baton.dev/v1alpha1")
	// Fill in this test's namespace and image; the documents are otherwise as
	// a Kanister user would write them.
	doc = strings.NewReplacer("NAMESPACE", ns, "image: IMAGE", "image: "+e2eToolsImage, "name: time-log-bp", "name: "+ns+"-bp",
		"blueprint: time-log-bp", "blueprint: "+ns+"-bp").Replace(doc)
	docs := strings.Split(doc, "\n---\n")
	require.Len(t, docs, 2)
	e.kubectlStdin(t, docs[0], "apply", "--server-side", "--field-manager=e2e", "-f", "-")
	t.Cleanup(func() {
		_ = e.c.Delete(context.Background(), &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: ns + "-bp", Namespace: batonNamespace}})
	})
	name := strings.TrimSpace(e.kubectlStdin(t, docs[1], "create", "-f", "-", "-o", "jsonpath={.metadata.name}"))
	t.Cleanup(func() {
		_ = e.c.Delete(context.Background(), &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: batonNamespace}},
			client.PropagationPolicy(metav1.DeletePropagationBackground))
	})

	got := e.waitFinished(t, name)
	require.Equal(t, batonv1.StateComplete, got.Status.State, "error: %+v", got.Status.Error)
	first := phaseOutputs(got, 0)["readLog"]["first"].(string)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, first, "KubeExec read the app's log")
	art := got.Status.Actions[0].Artifacts["timeLog"].KeyValue
	assert.Regexp(t, `^time-log/`+ns+`/time-logger/\d{4}-\d\d-\d\d$`, art["path"])
	assert.Equal(t, "1", art["lines"])
}

// toString prints a JSON output value: outputs of numbers may come back as
// floats or integers depending on the decoder.
func toString(v any) string { return fmt.Sprint(v) }
