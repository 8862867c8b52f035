package v1alpha1_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/batonhq/baton/api/v1alpha1"
)

// sample is one Kanister-format manifest under testdata/ and what decoding it
// must yield.
type sample struct {
	file  string
	kind  string
	new   func() client.Object
	check func(t *testing.T, obj client.Object)
}

var samples = []sample{
	{
		file: "blueprint.yaml",
		kind: "Blueprint",
		new:  func() client.Object { return &v1alpha1.Blueprint{} },
		check: func(t *testing.T, obj client.Object) {
			bp := obj.(*v1alpha1.Blueprint)
			require.Len(t, bp.Actions, 3)
			backup := bp.Actions["backup"]
			assert.Equal(t, "backup", backup.Name)
			assert.Equal(t, "StatefulSet", backup.Kind)
			assert.Equal(t, []string{"mysql-config"}, backup.ConfigMapNames)
			assert.Equal(t, []string{"mysql-credentials"}, backup.SecretNames)
			assert.Equal(t, "{{ .Phases.dumpToObjectStore.Output.s3path }}", backup.OutputArtifacts["mysqlDump"].KeyValue["s3path"])
			assert.Equal(t, "{{ .Phases.dumpToObjectStore.Output.snapshot }}", backup.OutputArtifacts["mysqlSnapshot"].KopiaSnapshot)

			require.Len(t, backup.Phases, 2)
			dump := backup.Phases[0]
			assert.Equal(t, "KubeTask", dump.Func)
			assert.Equal(t, "dumpToObjectStore", dump.Name)
			assert.Equal(t, "Secret", dump.Objects["mysqlSecret"].Kind)
			// Args keep every JSON shape: strings, lists, nested objects,
			// numbers, booleans and nulls.
			assert.Equal(t, "ghcr.io/kanisterio/mysql-sidecar:0.100.0", dump.Args["image"])
			require.IsType(t, []any{}, dump.Args["command"])
			assert.Len(t, dump.Args["command"], 7)
			assert.Contains(t, dump.Args["command"].([]any)[6], "kando output s3path")
			assert.Equal(t, map[string]any{"securityContext": map[string]any{"runAsUser": float64(0)}}, dump.Args["podOverride"])
			assert.Equal(t, float64(3), dump.Args["retries"])
			assert.Equal(t, 600.5, dump.Args["timeoutSeconds"])
			assert.Equal(t, true, dump.Args["verbose"])
			assert.Contains(t, dump.Args, "env")
			assert.Nil(t, dump.Args["env"])
			assert.Equal(t, false, backup.Phases[1].Args["waitForReady"])

			require.NotNil(t, backup.DeferPhase)
			assert.Equal(t, "KubeOps", backup.DeferPhase.Func)
			assert.Equal(t, "cleanup", backup.DeferPhase.Name)
			assert.Equal(t, "delete", backup.DeferPhase.Args["operation"])

			assert.Equal(t, []string{"mysqlDump"}, bp.Actions["restore"].InputArtifactNames)
			assert.Nil(t, bp.Actions["restore"].DeferPhase)
			assert.Len(t, bp.Actions["delete"].Phases[0].Args["command"], 3)
		},
	},
	{
		file: "actionset.yaml",
		kind: "ActionSet",
		new:  func() client.Object { return &v1alpha1.ActionSet{} },
		check: func(t *testing.T, obj client.Object) {
			as := obj.(*v1alpha1.ActionSet)
			assert.Equal(t, "restore-mysql-", as.GenerateName)
			require.Len(t, as.Spec.Actions, 1)
			a := as.Spec.Actions[0]
			assert.Equal(t, "restore", a.Name)
			assert.Equal(t, "mysql-blueprint", a.Blueprint)
			assert.Equal(t, v1alpha1.ObjectReference{
				APIVersion: "apps/v1", Group: "apps", Resource: "statefulsets",
				Kind: "StatefulSet", Name: "mysql", Namespace: "mysql-test",
			}, a.Object)
			require.NotNil(t, a.Profile)
			assert.Equal(t, "s3-profile", a.Profile.Name)
			assert.Nil(t, a.RepositoryServer)
			assert.Equal(t, "/mysql-backups/mysql-test/2024-05-01T10-00-00/dump.sql.gz", a.Artifacts["mysqlDump"].KeyValue["s3path"])
			assert.JSONEq(t, `{"id":"k1a2b3","logicalSize":1048576,"physicalSize":524288}`, a.Artifacts["mysqlSnapshot"].KopiaSnapshot)
			assert.Equal(t, "mysql-config", a.ConfigMaps["mysql-config"].Name)
			assert.Equal(t, "Secret", a.Secrets["mysql-credentials"].Kind)
			assert.Equal(t, map[string]string{"databases": "shop,inventory", "compress": "true"}, a.Options)
			assert.Equal(t, "v1.0.0-alpha", a.PreferredVersion)
			assert.Equal(t, map[string]string{"team": "dba", "backup.example.com/tier": "gold"}, a.PodLabels)
			assert.Equal(t, map[string]string{"sidecar.istio.io/inject": "false"}, a.PodAnnotations)
			assert.Equal(t, map[string]any{"kubernetes.io/os": "linux"}, a.PodOverride["nodeSelector"])
			assert.Len(t, a.PodOverride["tolerations"], 1)
			assert.Equal(t, float64(10), a.PodOverride["priority"])
			assert.Equal(t, false, a.PodOverride["hostNetwork"])
			assert.Zero(t, as.Status)
		},
	},
	{
		file: "actionset-status.yaml",
		kind: "ActionSet",
		new:  func() client.Object { return &v1alpha1.ActionSet{} },
		check: func(t *testing.T, obj client.Object) {
			st := obj.(*v1alpha1.ActionSet).Status
			assert.Equal(t, v1alpha1.StateComplete, st.State)
			assert.True(t, st.State.IsTerminal())
			require.Len(t, st.Actions, 1)
			a := st.Actions[0]
			assert.Equal(t, "backup", a.Name)
			assert.Equal(t, "mysql-blueprint", a.Blueprint)
			assert.Equal(t, "mysql", a.Object.Name)
			require.Len(t, a.Phases, 2)
			dump := a.Phases[0]
			assert.Equal(t, v1alpha1.StateComplete, dump.State)
			assert.Equal(t, "kanister-job-abcde", dump.Output["podName"])
			assert.Equal(t, map[string]any{
				"files": float64(12), "compressed": true, "ratio": 0.42,
				"tables": []any{"orders", "customers"},
			}, dump.Output["stats"])
			require.NotNil(t, dump.Progress)
			assert.Equal(t, "100.00", dump.Progress.ProgressPercent)
			assert.EqualValues(t, 524288, dump.Progress.SizeUploadedB)
			assert.EqualValues(t, 524288, dump.Progress.EstimatedUploadSizeB)
			require.NotNil(t, dump.Progress.LastTransitionTime)
			assert.True(t, dump.Progress.LastTransitionTime.Equal(&metav1.Time{Time: time.Date(2024, 5, 1, 10, 2, 13, 0, time.UTC)}))
			assert.Nil(t, a.Phases[1].Output)
			assert.Equal(t, "1048576", a.Artifacts["mysqlDump"].KeyValue["size"])
			require.NotNil(t, a.DeferPhase)
			assert.Equal(t, "cleanup", a.DeferPhase.Name)
			assert.Equal(t, true, a.DeferPhase.Output["deleted"])
			require.NotNil(t, st.Error)
			assert.Empty(t, st.Error.Message)
			require.NotNil(t, st.Progress)
			assert.Equal(t, "100.00", st.Progress.PercentCompleted)
			assert.Empty(t, st.Progress.RunningPhase)
			assert.EqualValues(t, 524288, st.Progress.SizeUploadedB)
			require.NotNil(t, st.Progress.LastTransitionTime)
		},
	},
	{
		file: "profile.yaml",
		kind: "Profile",
		new:  func() client.Object { return &v1alpha1.Profile{} },
		check: func(t *testing.T, obj client.Object) {
			p := obj.(*v1alpha1.Profile)
			assert.Equal(t, v1alpha1.Location{
				Type:     v1alpha1.LocationTypeS3Compliant,
				Bucket:   "baton-backups",
				Endpoint: "https://minio.minio.svc.cluster.local:9000",
				Prefix:   "clusters/dev",
				Region:   "us-east-1",
			}, p.Location)
			assert.Equal(t, v1alpha1.CredentialTypeKeyPair, p.Credential.Type)
			require.NotNil(t, p.Credential.KeyPair)
			assert.Equal(t, v1alpha1.KeyPair{
				IDField:     "aws_access_key_id",
				SecretField: "aws_secret_access_key",
				Secret:      v1alpha1.ObjectReference{APIVersion: "v1", Kind: "Secret", Name: "s3-credentials", Namespace: "baton-samples"},
			}, *p.Credential.KeyPair)
			assert.Nil(t, p.Credential.Secret)
			assert.True(t, p.SkipSSLVerify)
		},
	},
	{
		file: "profile-kopia.yaml",
		kind: "Profile",
		new:  func() client.Object { return &v1alpha1.Profile{} },
		check: func(t *testing.T, obj client.Object) {
			p := obj.(*v1alpha1.Profile)
			assert.Equal(t, v1alpha1.LocationTypeKopia, p.Location.Type)
			assert.Equal(t, v1alpha1.CredentialTypeKopia, p.Credential.Type)
			k := p.Credential.KopiaServerSecret
			require.NotNil(t, k)
			assert.Equal(t, "backup-user", k.Username)
			assert.Equal(t, "baton-controller", k.Hostname)
			require.NotNil(t, k.UserPassphrase)
			assert.Equal(t, "password", k.UserPassphrase.Key)
			assert.Equal(t, "kopia-user", k.UserPassphrase.Secret.Name)
			require.NotNil(t, k.TLSCert)
			assert.Equal(t, "kopia-tls", k.TLSCert.Secret.Name)
			assert.Equal(t, map[string]int{"cacheSizeMB": 512, "writeTimeoutSeconds": 30}, k.ConnectOptions)
			assert.False(t, p.SkipSSLVerify)
		},
	},
}

func readSample(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	require.NoError(t, err)
	return data
}

// Every sample decodes strictly (an unknown or duplicated field is an error),
// means what it says, and survives decode -> encode -> decode both as typed
// objects and as generic JSON: nothing a Kanister manifest says is dropped.
func TestSamplesDecodeStrictlyWithoutLoss(t *testing.T) {
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			data := readSample(t, s.file)

			obj := s.new()
			require.NoError(t, yaml.UnmarshalStrict(data, obj))
			assert.Equal(t, v1alpha1.GroupVersion.String(), obj.GetObjectKind().GroupVersionKind().GroupVersion().String())
			assert.Equal(t, s.kind, obj.GetObjectKind().GroupVersionKind().Kind)
			s.check(t, obj)

			encoded, err := yaml.Marshal(obj)
			require.NoError(t, err)
			again := s.new()
			require.NoError(t, yaml.UnmarshalStrict(encoded, again))
			assert.Equal(t, obj, again, "decode -> encode -> decode changed the object")

			var original, roundTripped any
			require.NoError(t, yaml.Unmarshal(data, &original))
			require.NoError(t, yaml.Unmarshal(encoded, &roundTripped))
			assert.Equal(t, normalize(original, false), normalize(roundTripped, false),
				"re-encoding lost or changed fields; encoded:\n%s", encoded)
		})
	}
}

// freeForm are the keys whose values are arbitrary JSON (JSONMap fields):
// they must come back exactly, zero values and nulls included.
var freeForm = map[string]bool{"args": true, "podOverride": true, "output": true}

// normalize drops what carries no meaning in a typed field: nulls, empty
// strings, zeros, false, and the objects and lists left empty by that. A
// Kanister manifest may spell a default out (`message: ""`), Baton's encoder
// omits it; both mean the same. Inside free-form JSON nothing is dropped.
func normalize(v any, raw bool) any {
	if raw {
		return v
	}
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if n := normalize(e, freeForm[k]); n != nil || freeForm[k] {
				out[k] = n
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(v) == 0 {
			return nil
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e, false)
		}
		return out
	case string:
		if v == "" {
			return nil
		}
	case float64:
		if v == 0 {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	}
	return v
}

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	return scheme
}

// The Kubernetes serializer (what clients and the API server's clients use)
// decodes the samples strictly too, picking the kind from the scheme, into
// the same objects; it keeps integers as int64 where encoding/json makes
// float64, so the comparison is on the JSON.
func TestSamplesDecodeWithKubernetesSerializer(t *testing.T) {
	scheme := newScheme(t)
	serializer := k8sjson.NewSerializerWithOptions(k8sjson.DefaultMetaFactory, scheme, scheme,
		k8sjson.SerializerOptions{Yaml: true, Strict: true})
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			data := readSample(t, s.file)
			decoded, gvk, err := serializer.Decode(data, nil, nil)
			require.NoError(t, err)
			assert.Equal(t, schema.GroupVersionKind{Group: "baton.dev", Version: "v1alpha1", Kind: s.kind}, *gvk)
			require.IsType(t, s.new(), decoded)
			s.check(t, mustNormalizeNumbers(t, decoded.(client.Object), s.new()))

			want := s.new()
			require.NoError(t, yaml.UnmarshalStrict(data, want))
			assert.JSONEq(t, string(mustJSON(t, want)), string(mustJSON(t, decoded)))
		})
	}
}

// mustNormalizeNumbers re-decodes obj with encoding/json so numbers in free-
// form JSON are float64, as the checks expect.
func mustNormalizeNumbers(t *testing.T, obj, into client.Object) client.Object {
	t.Helper()
	require.NoError(t, json.Unmarshal(mustJSON(t, obj), into))
	return into
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestStrictDecodingRejectsWhatKanisterDoesNotHave(t *testing.T) {
	for name, tc := range map[string]struct {
		doc string
		obj client.Object
	}{
		"a misspelt action field": {
			obj: &v1alpha1.ActionSet{},
			doc: "apiVersion: baton.dev/v1alpha1\nkind: ActionSet\nspec:\n  actions:\n  - name: backup\n    blueprnt: x\n",
		},
		"a Blueprint spec (Blueprint actions are top level)": {
			obj: &v1alpha1.Blueprint{},
			doc: "apiVersion: baton.dev/v1alpha1\nkind: Blueprint\nspec:\n  actions: {}\n",
		},
		"a Profile spec (Profile fields are top level)": {
			obj: &v1alpha1.Profile{},
			doc: "apiVersion: baton.dev/v1alpha1\nkind: Profile\nspec:\n  location: {}\n",
		},
		"an unknown phase field": {
			obj: &v1alpha1.Blueprint{},
			doc: "apiVersion: baton.dev/v1alpha1\nkind: Blueprint\nactions:\n  backup:\n    phases:\n    - func: KubeTask\n      arguments: {}\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, yaml.UnmarshalStrict([]byte(tc.doc), tc.obj))
		})
	}
}

func TestAddToSchemeRegistersEveryKind(t *testing.T) {
	scheme := newScheme(t)
	for _, kind := range []string{"ActionSet", "ActionSetList", "Blueprint", "BlueprintList", "Profile", "ProfileList"} {
		assert.True(t, scheme.Recognizes(v1alpha1.GroupVersion.WithKind(kind)), kind)
	}
	gvks, _, err := scheme.ObjectKinds(&v1alpha1.ActionSet{})
	require.NoError(t, err)
	assert.Equal(t, []schema.GroupVersionKind{{Group: "baton.dev", Version: "v1alpha1", Kind: "ActionSet"}}, gvks)
}

// DeepCopy must not share the free-form JSON: a controller that renders a
// copy's args must not change the cached Blueprint.
func TestDeepCopySharesNothing(t *testing.T) {
	bp := &v1alpha1.Blueprint{}
	require.NoError(t, yaml.UnmarshalStrict(readSample(t, "blueprint.yaml"), bp))
	cp := bp.DeepCopyObject().(*v1alpha1.Blueprint)
	assert.Equal(t, bp, cp)

	phase := cp.Actions["backup"].Phases[0]
	phase.Args["image"] = "changed"
	phase.Args["command"].([]any)[0] = "sh"
	phase.Args["podOverride"].(map[string]any)["securityContext"].(map[string]any)["runAsUser"] = 1000
	cp.Actions["backup"].DeferPhase.Args["operation"] = "create"

	orig := bp.Actions["backup"]
	assert.Equal(t, "ghcr.io/kanisterio/mysql-sidecar:0.100.0", orig.Phases[0].Args["image"])
	assert.Equal(t, "bash", orig.Phases[0].Args["command"].([]any)[0])
	assert.Equal(t, float64(0), orig.Phases[0].Args["podOverride"].(map[string]any)["securityContext"].(map[string]any)["runAsUser"])
	assert.Equal(t, "delete", orig.DeferPhase.Args["operation"])

	as := &v1alpha1.ActionSet{}
	require.NoError(t, yaml.UnmarshalStrict(readSample(t, "actionset-status.yaml"), as))
	acp := as.DeepCopy()
	acp.Status.Actions[0].Phases[0].Output["stats"].(map[string]any)["files"] = 0
	acp.Status.Progress.LastTransitionTime.Time = time.Time{}
	assert.Equal(t, float64(12), as.Status.Actions[0].Phases[0].Output["stats"].(map[string]any)["files"])
	assert.False(t, as.Status.Progress.LastTransitionTime.IsZero())
}

func TestJSONMapDeepCopy(t *testing.T) {
	assert.Nil(t, v1alpha1.JSONMap(nil).DeepCopy())

	// Values built in Go rather than decoded are copied into the generic
	// shapes a decoder produces.
	type port struct {
		Name string `json:"name"`
		Port int    `json:"port"`
	}
	in := v1alpha1.JSONMap{
		"int":     7,
		"int64":   int64(8),
		"float":   1.5,
		"number":  json.Number("9"),
		"nil":     nil,
		"strings": []string{"a", "b"},
		"labels":  map[string]string{"k": "v"},
		"struct":  port{Name: "http", Port: 80},
		"nested":  v1alpha1.JSONMap{"list": []any{map[string]any{"x": true}}},
	}
	out := in.DeepCopy()
	assert.Equal(t, 7, out["int"])
	assert.Equal(t, int64(8), out["int64"])
	assert.Equal(t, 1.5, out["float"])
	assert.Equal(t, json.Number("9"), out["number"])
	assert.Contains(t, out, "nil")
	assert.Equal(t, []any{"a", "b"}, out["strings"])
	assert.Equal(t, map[string]any{"k": "v"}, out["labels"])
	assert.Equal(t, map[string]any{"name": "http", "port": float64(80)}, out["struct"])

	out["nested"].(v1alpha1.JSONMap)["list"].([]any)[0].(map[string]any)["x"] = false
	assert.Equal(t, true, in["nested"].(v1alpha1.JSONMap)["list"].([]any)[0].(map[string]any)["x"])

	var into v1alpha1.JSONMap
	in.DeepCopyInto(&into)
	assert.Equal(t, out["labels"], into["labels"])

	assert.Panics(t, func() { v1alpha1.JSONMap{"ch": make(chan int)}.DeepCopy() })
}

func TestStateIsTerminal(t *testing.T) {
	for state, terminal := range map[v1alpha1.State]bool{
		v1alpha1.StatePending:  false,
		v1alpha1.StateRunning:  false,
		v1alpha1.StateFailed:   true,
		v1alpha1.StateComplete: true,
		"":                     false,
	} {
		assert.Equal(t, terminal, state.IsTerminal(), "state %q", state)
	}
}
