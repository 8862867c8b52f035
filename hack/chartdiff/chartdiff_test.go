package chartdiff

import (
	"strings"
	"testing"
)

const kustomized = `
apiVersion: v1
kind: Namespace
metadata:
  name: baton
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: c
  namespace: baton
  labels: {a: b}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: x
        args: [--one, --two]
`

func parse(t *testing.T, s string) Objects {
	t.Helper()
	objs, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestEqualDespiteStyle(t *testing.T) {
	// Key order, flow style, quoting and comments do not matter.
	other := `# Source: x
---
kind: Deployment
apiVersion: "apps/v1"
spec:
  template: {spec: {containers: [{args: ["--one", "--two"], name: x}]}}
  replicas: 1
metadata:
  labels:
    a: "b"
  namespace: baton
  name: c
---
# only a comment
---
apiVersion: v1
kind: Namespace
metadata: {name: baton}
`
	if d := Diff(parse(t, kustomized), parse(t, other), "kustomize", "chart"); len(d) != 0 {
		t.Fatalf("want no difference, got:\n%s", strings.Join(d, "\n"))
	}
}

func TestDifferences(t *testing.T) {
	other := `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: c
  namespace: baton
  labels: {a: b, helm.sh/chart: baton-0.1.0}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: x
        args: [--one, --two, --three]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: s, namespace: baton}
`
	got := strings.Join(Diff(parse(t, kustomized), parse(t, other), "kustomize", "chart"), "\n")
	want := strings.Join([]string{
		`Deployment baton/c: metadata.labels.helm.sh/chart: kustomize <absent>, chart "baton-0.1.0"`,
		`Deployment baton/c: spec.replicas: kustomize 1, chart 2`,
		`Deployment baton/c: spec.template.spec.containers[0].args[2]: kustomize <absent>, chart "--three"`,
		`Namespace baton: only in kustomize`,
		`ServiceAccount baton/s: only in chart`,
	}, "\n")
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"no name":   "kind: ServiceAccount\nmetadata: {}\n",
		"duplicate": "kind: A\nmetadata: {name: a}\n---\nkind: A\nmetadata: {name: a}\n",
		"bad yaml":  "kind: [\n",
	} {
		if _, err := Parse(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
