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
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// deployTimeLogger runs the time logger in namespace and waits until all
// its replicas are ready.
func (e *engine) deployTimeLogger(t *testing.T, namespace string, replicas int32) {
	t.Helper()
	app := timeLogger(namespace)
	app.Spec.Replicas = ptr.To(replicas)
	_, err := e.client.AppsV1().Deployments(namespace).Create(context.Background(), app, metav1.CreateOptions{})
	require.NoError(t, err)
	e.waitDeploymentReady(t, namespace, "time-logger", replicas)
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
	e.deployTimeLogger(t, ns, 1)

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
	e.deployTimeLogger(t, ns, 1)

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

// KubeOps, Wait and KubeExecAll on the real cluster: create an object, wait
// for a condition on it, exec into every pod of a two-replica Deployment,
// delete the object. KubeOps needs rights the runner does not have by
// default; they are granted here the documented way (docs/install.md).
func TestKubeOpsWaitAndKubeExecAll(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	ctx := context.Background()
	e.deployTimeLogger(t, ns, 2)
	e.grantRunner(t, ns, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "delete", "get"}})

	configMap := `apiVersion: v1
kind: ConfigMap
metadata:
  name: made-by-kubeops
  namespace: {{ .Deployment.Namespace }}
data:
  ready: "yes"
`
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("ops")},
		Actions: map[string]batonv1.BlueprintAction{"ops": {Phases: []batonv1.BlueprintPhase{
			{Name: "create", Func: "KubeOps", Args: batonv1.JSONMap{"operation": "create", "namespace": "{{ .Deployment.Namespace }}", "spec": configMap}},
			{Name: "wait", Func: "Wait", Args: batonv1.JSONMap{"timeout": "60s", "conditions": map[string]any{"anyOf": []any{map[string]any{
				"condition":       `{{ if eq .data.ready "yes" }}true{{ end }}`,
				"objectReference": map[string]any{"apiVersion": "v1", "resource": "configmaps", "name": "{{ .Phases.create.Output.name }}", "namespace": "{{ .Phases.create.Output.namespace }}"},
			}}}}},
			{Name: "everywhere", Func: "KubeExecAll", Args: batonv1.JSONMap{
				"namespace": "{{ .Deployment.Namespace }}", "pods": "{{ range .Deployment.Pods }}{{ . }} {{ end }}", "containers": "test-container",
				"command": []any{"sh", "-c", `echo "###Phase-output###: {\"key\":\"$(hostname)\",\"value\":\"seen\"}"`},
			}},
			{Name: "delete", Func: "KubeOps", Args: batonv1.JSONMap{"operation": "delete", "objectReference": map[string]any{
				"apiVersion": "v1", "resource": "configmaps", "name": "{{ .Phases.create.Output.name }}", "namespace": "{{ .Phases.create.Output.namespace }}"}}},
		}}},
	}
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("ops")},
		Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{Name: "ops", Blueprint: bp.Name,
			Object: batonv1.ObjectReference{Kind: "Deployment", Name: "time-logger", Namespace: ns}}}}}
	e.create(t, bp, as)

	got := e.waitFinished(t, as.Name)
	require.Equal(t, batonv1.StateComplete, got.Status.State, "error: %+v", got.Status.Error)
	outs := phaseOutputs(got, 0)
	assert.Equal(t, "made-by-kubeops", outs["create"]["name"])
	pods, err := e.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=time-logger"})
	require.NoError(t, err)
	require.Len(t, pods.Items, 2)
	for _, p := range pods.Items {
		assert.Equal(t, "seen", outs["everywhere"][p.Name], "KubeExecAll ran in pod %s", p.Name)
	}
	_, err = e.client.CoreV1().ConfigMaps(ns).Get(ctx, "made-by-kubeops", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "KubeOps delete removed the ConfigMap: %v", err)
}

// grantRunner lets Baton's runner do rule in namespace, for this test only.
func (e *engine) grantRunner(t *testing.T, namespace string, rule rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "baton-runner-extra", Namespace: namespace}, Rules: []rbacv1.PolicyRule{rule}}
	_, err := e.client.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{})
	require.NoError(t, err)
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "baton-runner-extra", Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "baton-runner", Namespace: batonNamespace}},
	}
	_, err = e.client.RbacV1().RoleBindings(namespace).Create(ctx, binding, metav1.CreateOptions{})
	require.NoError(t, err)
}

// MultiContainerRun: an init container prepares the shared volume, a
// background container produces data into it, the output container reads
// it and its `kando output` lines are the phase's outputs.
func TestMultiContainerRunSharesAVolumeBetweenItsContainers(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	sh := func(script string) []any { return []any{"sh", "-c", script} }
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("multi")},
		Actions: map[string]batonv1.BlueprintAction{"copy": {Phases: []batonv1.BlueprintPhase{{
			Name: "copy", Func: "MultiContainerRun", Args: batonv1.JSONMap{
				"namespace":          batonNamespace,
				"initImage":          e2eToolsImage,
				"initCommand":        sh("echo prepared > /shared/init"),
				"backgroundImage":    e2eToolsImage,
				"backgroundCommand":  sh("echo 'data from {{ .Namespace.Name }}' > /shared/data.tmp && mv /shared/data.tmp /shared/data"),
				"outputImage":        e2eToolsImage,
				"outputCommand":      sh(`until [ -f /shared/data ]; do sleep 0.2; done; kando output data "$(cat /shared/data)"; kando output init "$(cat /shared/init)"`),
				"sharedVolumeDir":    "/shared",
				"sharedVolumeMedium": "Memory",
			},
		}}}},
	}
	as := namespaceActionSet(uniqueName("multi"), bp.Name, "copy")
	e.create(t, bp, as)

	got := e.waitFinished(t, as.Name)
	require.Equal(t, batonv1.StateComplete, got.Status.State, "error: %+v", got.Status.Error)
	out := phaseOutputs(got, 0)["copy"]
	assert.Equal(t, "data from baton", out["data"])
	assert.Equal(t, "prepared", out["init"])
}
