package validation

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// The Blueprints the repository ships and the e2e suite runs (Kanister's
// among them) must validate clean.
func TestGoodBlueprints(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../examples/*/*blueprint.yaml", "../e2e/testdata/*.yaml"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.GreaterOrEqual(t, len(files), 5)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			bps, problems := Decode(f, data)
			require.Empty(t, problems)
			require.NotEmpty(t, bps)
			for _, bp := range bps {
				assert.Empty(t, Check(bp))
			}
		})
	}
}

const header = `apiVersion: baton.dev/v1alpha1
kind: Blueprint
metadata:
  name: bp
`

func TestBadBlueprints(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each a whole problem line
	}{{
		name: "unknown field",
		yaml: header + "actions:\n  backup:\n    phasez: []\n",
		want: []string{`test.yaml: schema: unknown field "actions.backup.phasez"`, `bp: backup: phases: the action has no phases`},
	}, {
		name: "duplicate field",
		yaml: header + "actions:\n  backup:\n    phases:\n    - func: KubeTask\n      name: p\n      nmae: x\n      args: {image: i, command: [c], image: j}\n",
		want: []string{`test.yaml: schema: line 11: key "image" already set in map`},
	}, {
		name: "unknown fields are all reported, and the rest checked",
		yaml: header + "actions:\n  backup:\n    phases:\n    - func: KubeTask\n      nmae: x\n      argz: {}\n",
		want: []string{`test.yaml: schema: unknown field "actions.backup.phases[0].argz"`, `test.yaml: schema: unknown field "actions.backup.phases[0].nmae"`,
			`bp: backup: phases[0].name: the phase has no name`,
			`bp: backup/phases[0]: args.image: KubeTask needs argument "image"`,
			`bp: backup/phases[0]: args.command: KubeTask needs argument "command"`},
	}, {
		name: "wrong apiVersion",
		yaml: "apiVersion: v1\nkind: Blueprint\nmetadata: {name: bp}\nactions: {a: {phases: [{func: KubeTask, name: p, args: {image: i, command: [c]}}]}}\n",
		want: []string{`test.yaml: apiVersion: "v1" is not baton.dev/v1alpha1 (or Kanister's cr.kanister.io/v1alpha1)`},
	}, {
		name: "no blueprint",
		yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		want: []string{`test.yaml: no Blueprint in it (kind: Blueprint)`},
	}, {
		name: "duplicate and missing phase names",
		yaml: header + `actions:
  backup:
    phases:
    - {func: KubeTask, name: dump, args: {image: i, command: [c]}}
    - {func: KubeTask, args: {image: i, command: [c]}}
    deferPhase: {func: KubeTask, name: dump, args: {image: i, command: [c]}}
`,
		want: []string{
			`bp: backup: phases[1].name: the phase has no name`,
			`bp: backup: deferPhase.name: phase name "dump" is also the name of phases[0]`,
		},
	}, {
		name: "unknown function",
		yaml: header + "actions:\n  backup:\n    phases:\n    - {func: kubeexec, name: p}\n    - {func: Backup, name: q}\n",
		want: []string{
			`bp: backup/p: func: unknown function "kubeexec" (did you mean KubeExec? names are case-sensitive)`,
			`bp: backup/q: func: unknown function "Backup"`,
		},
	}, {
		name: "arguments",
		yaml: header + `actions:
  backup:
    phases:
    - func: KubeExec
      name: p
      args: {namespace: n, pod: p, comand: [ls]}
    - func: RestoreData
      name: r
      args: {namespace: n, backupArtifactPrefix: p, encryptionKey: k, backupID: x, backupIdentifier: x, backupTag: t, pod: p}
    - func: MultiContainerRun
      name: m
      args: {backgroundImage: i, backgroundCommand: [c], outputImage: i, outputCommand: [c], initImage: i}
`,
		want: []string{
			`bp: backup/p: args.command: KubeExec needs argument "command"`,
			`bp: backup/p: args.comand: KubeExec has no argument "comand" (it takes "command", "container", "namespace", "pod")`,
			`bp: backup/r: args: RestoreData needs exactly one of the arguments "backupIdentifier", "backupTag"`,
			`bp: backup/r: args.backupID: RestoreData has no argument "backupID" (it takes "backupArtifactPrefix", "backupIdentifier", "backupTag", "encryptionKey", "image", "insecureTLS", "namespace", "pod", "podAnnotations", "podLabels", "podOverride", "restorePath", "volumes")`,
			`bp: backup/m: args: MultiContainerRun: arguments "initImage", "initCommand" go together`,
		},
	}, {
		name: "template syntax and functions",
		yaml: header + `actions:
  backup:
    phases:
    - func: KubeTask
      name: p
      objects:
        s: {kind: Secret, name: "{{ .Deployment.Name "}
      args:
        image: "{{ env \"HOME\" }}"
        command: [sh, -c, "echo {{ .Time | date \"2006\" }}", "{{ if }}"]
    outputArtifacts:
      out:
        keyValue:
          x: "{{ .Phases.p.Output.x | nosuch }}"
`,
		want: []string{
			`bp: backup/p: objects.s.name: template: objects.s.name:1: unclosed action`,
			`bp: backup/p: args.command[3]: template: args.command[3]:1: missing value for if`,
			`bp: backup/p: args.image: template: args.image:1: function "env" not defined`,
			`bp: backup: outputArtifacts.out.keyValue.x: template: outputArtifacts.out.keyValue.x:1: function "nosuch" not defined`,
		},
	}, {
		name: "undeclared references",
		yaml: header + `actions:
  restore:
    inputArtifactNames: [cloudObject]
    secretNames: [key]
    phases:
    - func: KubeTask
      name: first
      args:
        image: "{{ .ArtifactsIn.cloudObject.KeyValue.path }}{{ .ArtifactsIn.other.KeyValue.path }}"
        command:
        - "{{ index .ArtifactsIn \"third\" }}"
        - "{{ .Secrets.key.Data.k }}{{ .Secrets.nokey.Data.k }}{{ .ConfigMaps.cm.Data.x }}"
        - "{{ .Phases.second.Output.x }}{{ .Phases.first.Secrets }}"
        - "{{ range .Deployment.Pods }}{{ .ArtifactsIn.notAParam }}{{ $.ArtifactsIn.fourth }}{{ end }}"
    - func: KubeTask
      name: second
      args: {image: "{{ .Phases.first.Output.x }}", command: [c]}
    deferPhase:
      func: KubeTask
      name: cleanup
      args: {image: "{{ .Phases.second.Output.x }}", command: [c]}
`,
		want: []string{
			`bp: restore/first: args.command[0]: reads input artifact "third", which inputArtifactNames does not declare`,
			`bp: restore/first: args.command[1]: reads secret "nokey", which secretNames does not declare`,
			`bp: restore/first: args.command[1]: reads configMap "cm", which configMapNames does not declare`,
			`bp: restore/first: args.command[2]: reads phase "second", which is not a phase of this action that has run by then`,
			`bp: restore/first: args.command[3]: reads input artifact "fourth", which inputArtifactNames does not declare`,
			`bp: restore/first: args.image: reads input artifact "other", which inputArtifactNames does not declare`,
		},
	}, {
		name: "wait conditions are the runner's",
		yaml: header + `actions:
  backup:
    phases:
    - func: WaitV2
      name: w
      args:
        timeout: "{{ .Options.timeout }}"
        conditions:
          anyOf:
          - objectReference: {apiVersion: v1, resource: pods, name: "{{ .ArtifactsIn.x }}", namespace: n}
            condition: '{{ if (eq .status.phase "Running") }}true{{ end }}'
`,
		want: []string{
			`bp: backup/w: args.conditions.anyOf[0].objectReference.name: reads input artifact "x", which inputArtifactNames does not declare`,
		},
	}, {
		name: "empty",
		yaml: "apiVersion: baton.dev/v1alpha1\nkind: Blueprint\nmetadata: {}\n",
		want: []string{`(no name): metadata.name: is empty`, `(no name): actions: the Blueprint has no actions`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bps, problems := Decode("test.yaml", []byte(tt.yaml))
			for _, bp := range bps {
				problems = append(problems, Check(bp)...)
			}
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// Path names each problem's field from the Blueprint's root, by index, even
// where two phases share a name (admission errors quote it).
func TestProblemPaths(t *testing.T) {
	bps, problems := Decode("test.yaml", []byte(header+`actions:
  backup:
    phases:
    - {func: KubeTask, name: dump, args: {image: i, command: [c]}}
    - {func: KubeTask, name: dump, args: {image: "{{ if }}"}}
    deferPhase: {func: Nope}
    outputArtifacts:
      out: {keyValue: {x: "{{ .Phases.none.Output.x }}"}}
`))
	require.Empty(t, problems)
	var got []string
	for _, p := range Check(bps[0]) {
		got = append(got, p.Path)
	}
	assert.Equal(t, []string{
		"actions.backup.phases[1].name",
		"actions.backup.deferPhase.name",
		"actions.backup.phases[1].args.command",
		"actions.backup.phases[1].args.image",
		"actions.backup.deferPhase.func",
		"actions.backup.outputArtifacts.out.keyValue.x",
	}, got)
	empty := Check(&batonv1.Blueprint{})
	require.Len(t, empty, 2)
	assert.Equal(t, "metadata.name", empty[0].Path)
	assert.Equal(t, "actions", empty[1].Path)
}
