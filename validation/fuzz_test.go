package validation

import (
	"testing"
)

// FuzzDecodeAndCheck feeds arbitrary files to the Blueprint checker, as
// `batonctl validate blueprint` and the controller's Blueprint checks do
// with whatever users write: problems are reported, nothing panics.
func FuzzDecodeAndCheck(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: baton.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: bp}\nactions:\n  a:\n    phases:\n    - {func: KubeTask, name: p, args: {image: i, command: [c]}}\n",
		"apiVersion: baton.dev/v1alpha1\nkind: Blueprint\nmetadata: {name: bp}\nactions:\n  a:\n    inputArtifactNames: [x]\n    phases:\n    - {func: KubeExec, name: p, args: {namespace: '{{ .ArtifactsIn.x.KeyValue.y }}', pod: p, command: ['{{ index .Phases \"q\" }}']}}\n    deferPhase: {func: Wait, name: w, args: {timeout: 1m, conditions: {anyOf: []}}}\n",
		"apiVersion: cr.kanister.io/v1alpha1\nkind: Blueprint\nmetadata: {name: k}\nactions: {}\n",
		"kind: Blueprint\n---\n{}\n", "[1, 2", "apiVersion: baton.dev/v1alpha1\nkind: Blueprint\nactions: {a: {phases: [{name: p, func: RestoreData, args: {volumes: {'{{ .PVC.Name }}': /d}}}]}}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bps, problems := Decode("fuzz.yaml", data)
		for _, p := range problems {
			_ = p.String()
		}
		for _, bp := range bps {
			for _, p := range Check(bp) {
				if p.Message == "" {
					t.Errorf("a problem without a message: %+v", p)
				}
			}
		}
	})
}
