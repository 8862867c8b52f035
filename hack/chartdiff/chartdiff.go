// Package chartdiff compares two renderings of Kubernetes objects (multi-
// document YAML) as sets of objects: each is keyed by kind, namespace and
// name, and two objects are equal when their parsed contents are, whatever
// the key order, quoting, flow or block style and comments of their YAML.
// The tests under the build tag `chart` use it to check that charts/baton
// renders what config/default does (`make verify-chart`).
package chartdiff

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Key names an object.
type Key struct{ Kind, Namespace, Name string }

func (k Key) String() string {
	if k.Namespace == "" {
		return k.Kind + " " + k.Name
	}
	return k.Kind + " " + k.Namespace + "/" + k.Name
}

// Objects maps each object of a rendering to its parsed content.
type Objects map[Key]map[string]any

// Parse reads every YAML document of r; empty documents (comments only) are
// skipped. A document without kind or name, or two documents of one key,
// are errors.
func Parse(r io.Reader) (Objects, error) {
	objs := Objects{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(obj) == 0 {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		k := Key{Kind: str(obj["kind"]), Namespace: str(meta["namespace"]), Name: str(meta["name"])}
		if k.Kind == "" || k.Name == "" {
			return nil, fmt.Errorf("document %d has no kind or no metadata.name:\n%s", i, doc)
		}
		if _, dup := objs[k]; dup {
			return nil, fmt.Errorf("%s appears twice", k)
		}
		objs[k] = obj
	}
}

func str(v any) string { s, _ := v.(string); return s }

// Diff lists the differences between two renderings, named wantName and
// gotName in its lines: objects only in one of them, then, for each object in
// both, every path whose values differ. No line means the two are equal.
func Diff(want, got Objects, wantName, gotName string) []string {
	var out []string
	for _, k := range keys(want, got) {
		w, inWant := want[k]
		g, inGot := got[k]
		switch {
		case !inGot:
			out = append(out, fmt.Sprintf("%s: only in %s", k, wantName))
		case !inWant:
			out = append(out, fmt.Sprintf("%s: only in %s", k, gotName))
		default:
			for _, d := range diffValue("", w, g) {
				out = append(out, fmt.Sprintf("%s: %s: %s %s, %s %s", k, d.path, wantName, show(d.want, d.inWant), gotName, show(d.got, d.inGot)))
			}
		}
	}
	return out
}

// YAML renders obj with sorted keys, for messages.
func YAML(obj map[string]any) string {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return fmt.Sprint(obj)
	}
	return string(b)
}

func keys(a, b Objects) []Key {
	seen := map[Key]bool{}
	var ks []Key
	for _, m := range []Objects{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].String() < ks[j].String() })
	return ks
}

type difference struct {
	path          string
	want, got     any
	inWant, inGot bool
}

func diffValue(path string, want, got any) []difference {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		names := map[string]bool{}
		for n := range w {
			names[n] = true
		}
		for n := range g {
			names[n] = true
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		var out []difference
		for _, n := range sorted {
			p := n
			if path != "" {
				p = path + "." + n
			}
			wv, inW := w[n]
			gv, inG := g[n]
			if !inW || !inG {
				out = append(out, difference{path: p, want: wv, got: gv, inWant: inW, inGot: inG})
				continue
			}
			out = append(out, diffValue(p, wv, gv)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			break
		}
		var out []difference
		for i := 0; i < len(w) || i < len(g); i++ {
			p := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case i >= len(g):
				out = append(out, difference{path: p, want: w[i], inWant: true})
			case i >= len(w):
				out = append(out, difference{path: p, got: g[i], inGot: true})
			default:
				out = append(out, diffValue(p, w[i], g[i])...)
			}
		}
		return out
	}
	if reflect.DeepEqual(want, got) {
		return nil
	}
	return []difference{{path: path, want: want, got: got, inWant: true, inGot: true}}
}

// show renders a value on one line, shortened.
func show(v any, present bool) string {
	if !present {
		return "<absent>"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSpace(buf.String())
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
