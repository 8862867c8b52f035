//go:build chart

// The chart against config/default, with real helm and kubectl: `make
// verify-chart` sets BATON_HELM and BATON_KUBECTL.
package chartdiff

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	chartDir   = "../../charts/baton"
	defaultDir = "../../config/default"
	namespace  = "baton" // config/default's
)

func tool(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: run `make verify-chart`", env)
	}
	return p
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// helmTemplate renders the chart, CRDs included, as `helm install` would
// create it in namespace ns.
func helmTemplate(t *testing.T, ns string, args ...string) Objects {
	t.Helper()
	out := run(t, tool(t, "BATON_HELM"), append([]string{"template", "baton", chartDir, "--namespace", ns, "--include-crds"}, args...)...)
	objs, err := Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return objs
}

func TestChartLint(t *testing.T) {
	run(t, tool(t, "BATON_HELM"), "lint", "--strict", chartDir)
}

// The chart with default values renders exactly the objects config/default
// does, but for the Namespace: Helm stores the release in its namespace
// before it creates any object, so a chart cannot create its own release
// namespace; `helm install --create-namespace` creates it instead.
func TestChartMatchesKustomize(t *testing.T) {
	want, err := Parse(bytes.NewReader(run(t, tool(t, "BATON_KUBECTL"), "kustomize", defaultDir)))
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	nsKey := Key{Kind: "Namespace", Name: namespace}
	if _, ok := want[nsKey]; !ok {
		t.Fatalf("config/default no longer creates the Namespace %q: update this test and docs/install.md (helm --create-namespace)", namespace)
	}
	delete(want, nsKey)
	got := helmTemplate(t, namespace)
	if d := Diff(want, got, "kustomize", "chart"); len(d) != 0 {
		t.Fatalf("charts/baton (default values) and config/default differ (config/ is the source: fix the chart, or run `make manifests` for its copied CRDs and ClusterRoles):\n  %s",
			strings.Join(d, "\n  "))
	}
}

// deployment renders the chart with the given values and returns its
// Deployment's spec and controller container.
func deployment(t *testing.T, ns string, args ...string) (Objects, map[string]any, map[string]any) {
	t.Helper()
	objs := helmTemplate(t, ns, args...)
	d, ok := objs[Key{Kind: "Deployment", Namespace: ns, Name: "baton-controller"}]
	if !ok {
		t.Fatalf("no Deployment %s/baton-controller among %v", ns, keys(objs, nil))
	}
	spec := d["spec"].(map[string]any)
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	return objs, spec, pod["containers"].([]any)[0].(map[string]any)
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

func TestChartDefaultArgs(t *testing.T) {
	_, spec, c := deployment(t, namespace)
	if got, want := strs(c["args"]), []string{"--runner-image=baton.local/runner:dev", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8080", "--leader-elect"}; !reflect.DeepEqual(got, want) {
		t.Errorf("args %q, want %q", got, want)
	}
	// Two replicas, one leader: a standby takes over when the leader dies.
	if spec["replicas"] != float64(2) || c["image"] != "baton.local/controller:dev" {
		t.Errorf("replicas %v image %v", spec["replicas"], c["image"])
	}
	if _, ok := c["imagePullPolicy"]; ok {
		t.Errorf("imagePullPolicy set by default")
	}
}

func TestChartValues(t *testing.T) {
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte(`
namespaces: [team-a, team-b]
leaderElection: true
replicas: 2
image: {repository: registry.example/baton/controller, tag: v1.2.3, pullPolicy: Always}
runner:
  image: {repository: registry.example/baton/runner, tag: v1.2.3, pullPolicy: Always}
  serviceAccountName: phase-runner
phase: {backoffLimit: 3, deadline: 30m}
resources: {requests: {cpu: 100m}, limits: null}
extraArgs: [--zap-log-level=debug]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, spec, c := deployment(t, "ops", "--values", values)
	wantArgs := []string{
		"--runner-image=registry.example/baton/runner:v1.2.3",
		"--health-probe-bind-address=:8081",
		"--metrics-bind-address=:8080",
		"--runner-image-pull-policy=Always",
		"--runner-service-account=phase-runner",
		"--phase-backoff-limit=3",
		"--phase-deadline=30m",
		"--namespaces=team-a,team-b",
		"--leader-elect",
		"--zap-log-level=debug",
	}
	if got := strs(c["args"]); !reflect.DeepEqual(got, wantArgs) {
		t.Errorf("args\n  %q\nwant\n  %q", got, wantArgs)
	}
	if spec["replicas"] != float64(2) {
		t.Errorf("replicas %v, want 2", spec["replicas"])
	}
	if c["image"] != "registry.example/baton/controller:v1.2.3" || c["imagePullPolicy"] != "Always" {
		t.Errorf("image %v pullPolicy %v", c["image"], c["imagePullPolicy"])
	}
	// Helm merges values into the defaults key by key; null removes one.
	if got, want := c["resources"], map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("resources %v, want %v", got, want)
	}
	// The runner ServiceAccount is renamed where it is created and bound;
	// everything namespaced follows the release namespace.
	if _, ok := objs[Key{Kind: "ServiceAccount", Namespace: "ops", Name: "phase-runner"}]; !ok {
		t.Errorf("no ServiceAccount ops/phase-runner among %v", keys(objs, nil))
	}
	for name, sa := range map[string]string{"baton-controller": "baton-controller", "baton-runner": "phase-runner"} {
		b := objs[Key{Kind: "ClusterRoleBinding", Name: name}]
		want := []any{map[string]any{"kind": "ServiceAccount", "name": sa, "namespace": "ops"}}
		if got := b["subjects"]; !reflect.DeepEqual(got, want) {
			t.Errorf("ClusterRoleBinding %s subjects %v, want %v", name, got, want)
		}
	}
	// Leader election gets its Lease rights, in the release namespace.
	for _, kind := range []string{"Role", "RoleBinding"} {
		if _, ok := objs[Key{Kind: kind, Namespace: "ops", Name: "baton-controller-leader-election"}]; !ok {
			t.Errorf("leaderElection=true: no %s ops/baton-controller-leader-election", kind)
		}
	}
	for k := range objs {
		if k.Namespace != "" && k.Namespace != "ops" {
			t.Errorf("%s is not in the release namespace", k)
		}
	}
}

// Values given with --set, the way the docs show them, including the
// values whose default the flag omits.
func TestChartSetFlags(t *testing.T) {
	_, spec, c := deployment(t, namespace, "--set", "leaderElection=true,replicas=3,namespaces={default}",
		"--set", "phase.deadline=0", "--set", "image.tag=abc", "--set", "runner.image.tag=abc")
	wantArgs := []string{
		"--runner-image=baton.local/runner:abc",
		"--health-probe-bind-address=:8081",
		"--metrics-bind-address=:8080",
		"--phase-deadline=0",
		"--namespaces=default",
		"--leader-elect",
	}
	if got := strs(c["args"]); !reflect.DeepEqual(got, wantArgs) {
		t.Errorf("args\n  %q\nwant\n  %q", got, wantArgs)
	}
	if spec["replicas"] != float64(3) || c["image"] != "baton.local/controller:abc" {
		t.Errorf("replicas %v image %v", spec["replicas"], c["image"])
	}
}

// webhook.enabled=false leaves out the admission webhook and everything it
// needs, and turns it off in the controller.
func TestChartWebhookDisabled(t *testing.T) {
	objs, spec, c := deployment(t, namespace, "--set", "webhook.enabled=false")
	for _, k := range []Key{
		{Kind: "Service", Namespace: namespace, Name: "baton-webhook"},
		{Kind: "ValidatingWebhookConfiguration", Name: "baton-validation"},
		{Kind: "ClusterRole", Name: "baton-controller-webhook"},
		{Kind: "ClusterRoleBinding", Name: "baton-controller-webhook"},
		{Kind: "Role", Namespace: namespace, Name: "baton-controller-webhook"},
		{Kind: "RoleBinding", Namespace: namespace, Name: "baton-controller-webhook"},
	} {
		if _, ok := objs[k]; ok {
			t.Errorf("webhook.enabled=false still renders %s", k)
		}
	}
	if got := strs(c["args"]); got[len(got)-1] != "--webhook-port=0" {
		t.Errorf("args %q, want --webhook-port=0 last", got)
	}
	for _, p := range c["ports"].([]any) {
		if p.(map[string]any)["name"] == "webhook" {
			t.Errorf("webhook.enabled=false still exposes the webhook port")
		}
	}
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	if _, ok := pod["volumes"]; ok {
		t.Errorf("webhook.enabled=false still mounts the certificate volume: %v", pod["volumes"])
	}
}

// The webhook's Service and configuration follow the release namespace.
func TestChartWebhookNamespace(t *testing.T) {
	objs := helmTemplate(t, "ops")
	vwc, ok := objs[Key{Kind: "ValidatingWebhookConfiguration", Name: "baton-validation"}]
	if !ok {
		t.Fatalf("no ValidatingWebhookConfiguration baton-validation among %v", keys(objs, nil))
	}
	for _, w := range vwc["webhooks"].([]any) {
		svc := w.(map[string]any)["clientConfig"].(map[string]any)["service"].(map[string]any)
		if svc["namespace"] != "ops" || svc["name"] != "baton-webhook" {
			t.Errorf("webhook %v calls %v, want baton-webhook in ops", w.(map[string]any)["name"], svc)
		}
	}
	if _, ok := objs[Key{Kind: "Service", Namespace: "ops", Name: "baton-webhook"}]; !ok {
		t.Errorf("no Service ops/baton-webhook")
	}
}
