package controller

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

// Secret values of the plan fixtures: none may appear in a plan.
const (
	dbKeyValue      = "db-key-s3cr3t"
	appPassword     = "app-passw0rd\n" // trailing newline, rendered trimmed
	profileKeyID    = "AKIAPLANTEST"
	profileKeyValue = "profile-secret-key"
)

var planSettings = dispatcher.Settings{RunnerImage: "baton.local/runner:dev", ServiceAccount: "baton-runner", ActiveDeadline: time.Hour}

func planScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	require.NoError(t, batonv1.AddToScheme(s))
	return s
}

// planObjects are a Deployment with its pod, a Blueprint whose first phase
// (KubeTask) reads Secrets (the ActionSet's, its own objects' and the
// Profile's), whose second reads the first's outputs and whose deferPhase
// reads nothing of them, and a Profile with its credential Secret.
func planObjects() []client.Object {
	labels := map[string]string{"app": "web"}
	secret := func(ns, name string, data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: "baton-runner"}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}},
			},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "web-6c9f7-abcde", Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
		},
		secret("app", "web-creds", map[string]string{"password": appPassword}),
		secret("baton", "db-key", map[string]string{"key": dbKeyValue}),
		secret("baton", "s3-creds", map[string]string{"id": profileKeyID, "secret": profileKeyValue}),
		&batonv1.Profile{
			ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: "s3"},
			Location:   batonv1.Location{Type: "s3Compliant", Bucket: "backups", Endpoint: "http://minio:9000"},
			Credential: batonv1.Credential{Type: batonv1.CredentialTypeKeyPair, KeyPair: &batonv1.KeyPair{
				IDField: "id", SecretField: "secret", Secret: batonv1.ObjectReference{Namespace: "baton", Name: "s3-creds"}}},
		},
		&batonv1.Blueprint{
			ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: "bp"},
			Actions: map[string]batonv1.BlueprintAction{"backup": {
				SecretNames: []string{"dbKey"},
				Phases: []batonv1.BlueprintPhase{{
					Name: "first", Func: "KubeTask",
					Objects: map[string]batonv1.ObjectReference{"creds": {Kind: "Secret", Name: "web-creds"}},
					Args: batonv1.JSONMap{
						"image":     "busybox:1.36",
						"namespace": "{{ .Deployment.Namespace }}",
						"command": []any{"sh", "-c",
							`dump --pod {{ index .Deployment.Pods 0 }} --password '{{ .Phases.first.Secrets.creds.Data.password | toString | trim }}'` +
								` --key {{ index .Secrets.dbKey.Data "key" | toString }}` +
								` --s3 {{ .Profile.Credential.KeyPair.ID }}:{{ .Profile.Credential.KeyPair.Secret }}` +
								` --b64 {{ .Profile.Credential.KeyPair.Secret | b64enc }} --bucket {{ .Profile.Location.Bucket }}`},
					},
				}, {
					Name: "second", Func: "KubeTask",
					Args: batonv1.JSONMap{"image": "busybox:1.36", "command": []any{"echo", "{{ .Phases.first.Output.path }}"}},
				}},
				DeferPhase: &batonv1.BlueprintPhase{
					Name: "cleanup", Func: "KubeExec",
					Args: batonv1.JSONMap{
						"namespace": "{{ .Deployment.Namespace }}", "pod": "{{ index .Deployment.Pods 0 }}",
						"container": "web", "command": []any{"rm", "-f", "/tmp/dump"},
					},
				},
			}},
		},
	}
}

func planActionSet() *batonv1.ActionSet {
	return &batonv1.ActionSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "baton", GenerateName: "backup-"},
		Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{
			Name: "backup", Blueprint: "bp",
			Object:  batonv1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "app", Name: "web"},
			Profile: &batonv1.ObjectReference{Namespace: "baton", Name: "s3"},
			Secrets: map[string]batonv1.ObjectReference{"dbKey": {Namespace: "baton", Name: "db-key"}},
		}}},
	}
}

func TestPlan(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(planScheme(t)).WithObjects(planObjects()...).Build()
	as := planActionSet()
	planned, err := Plan(context.Background(), c, c.RESTMapper(), planSettings, as)
	require.NoError(t, err)
	assert.Empty(t, as.Name, "Plan must not change its argument")
	require.Len(t, planned, 3)

	first, second, cleanup := planned[0], planned[1], planned[2]
	assert.Equal(t, "backup", first.Action)
	assert.Equal(t, "first", first.Phase)
	assert.Equal(t, "KubeTask", first.Function)
	assert.Empty(t, first.Note)
	require.NotNil(t, first.Job)
	assert.Equal(t, "backup-xxxxx", first.Job.Labels[dispatcher.LabelActionSet])
	assert.Equal(t, string(PlaceholderUID), first.Job.Labels[dispatcher.LabelActionSetUID])
	assert.Equal(t, PlaceholderUID, first.Job.OwnerReferences[0].UID)
	assert.Equal(t, "busybox:1.36", first.Job.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, "baton-runner", first.Job.Spec.Template.Spec.ServiceAccountName)
	// The phase Secret the Job mounts is the one the reconciler names.
	assert.Equal(t, first.Job.Name, first.Job.Spec.Template.Spec.Volumes[0].Secret.SecretName)

	assert.Equal(t, "app", first.Args["namespace"])
	command := first.Args["command"].([]any)
	assert.Equal(t, "dump --pod web-6c9f7-abcde --password '<redacted>' --key <redacted> --s3 <redacted>:<redacted> --b64 <redacted> --bucket backups", command[2])

	assert.Equal(t, "second", second.Phase)
	assert.Nil(t, second.Job)
	assert.Nil(t, second.Args)
	assert.Equal(t, "rendered at run time: reads outputs of first", second.Note)

	assert.Equal(t, "cleanup", cleanup.Phase)
	assert.True(t, cleanup.Deferred)
	require.NotNil(t, cleanup.Job)
	assert.Equal(t, "baton.local/runner:dev", cleanup.Job.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, "web-6c9f7-abcde", cleanup.Args["pod"])

	// Neither the Jobs nor the args hold a Secret value, in any form.
	for _, p := range planned {
		for _, what := range []any{p.Job, p.Args} {
			out, err := yaml.Marshal(what)
			require.NoError(t, err)
			for _, v := range []string{dbKeyValue, "app-passw0rd", profileKeyID, profileKeyValue,
				base64.StdEncoding.EncodeToString([]byte(profileKeyValue))} {
				assert.NotContains(t, string(out), v, "%s/%s", p.Action, p.Phase)
			}
		}
	}
}

// TestPlanIsWhatTheReconcilerCreates runs one reconcile of the same
// ActionSet and compares the Job it creates with the planned one.
func TestPlanIsWhatTheReconcilerCreates(t *testing.T) {
	as := planActionSet()
	as.GenerateName, as.Name, as.UID = "", "backup-abcde", "0b6c0c1e-1111-2222-3333-444455556666"
	as.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	c := fake.NewClientBuilder().WithScheme(planScheme(t)).WithObjects(append(planObjects(), as)...).
		WithStatusSubresource(&batonv1.ActionSet{}).WithIndex(&batchv1.Job{}, jobsByActionSet, actionSetUIDOf).Build()
	r := &Reconciler{Client: c, APIReader: c, Scheme: c.Scheme(), Recorder: record.NewFakeRecorder(100), Settings: planSettings}
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(as)})
	require.NoError(t, err)
	var jobs batchv1.JobList
	require.NoError(t, c.List(context.Background(), &jobs))
	require.Len(t, jobs.Items, 1)
	created := jobs.Items[0]

	planned, err := Plan(context.Background(), c, c.RESTMapper(), planSettings, as)
	require.NoError(t, err)
	want := planned[0].Job
	assert.Equal(t, want.Name, created.Name)
	assert.Equal(t, want.Labels, created.Labels)
	assert.Equal(t, want.Annotations, created.Annotations)
	assert.Equal(t, want.OwnerReferences, created.OwnerReferences)
	assert.Equal(t, want.Spec, created.Spec)
}

func TestPlanFails(t *testing.T) {
	objs := planObjects()
	c := fake.NewClientBuilder().WithScheme(planScheme(t)).WithObjects(objs...).Build()

	as := planActionSet()
	as.Spec.Actions[0].Blueprint = "missing"
	_, err := Plan(context.Background(), c, c.RESTMapper(), planSettings, as)
	require.ErrorContains(t, err, `action "backup": blueprint baton/missing`)

	as = planActionSet()
	as.Spec.Actions[0].Profile.Name = "nope"
	_, err = Plan(context.Background(), c, c.RESTMapper(), planSettings, as)
	require.ErrorContains(t, err, "profile baton/nope")

	as = planActionSet()
	as.Spec.Actions[0].Object.Name = "gone"
	_, err = Plan(context.Background(), c, c.RESTMapper(), planSettings, as)
	require.ErrorContains(t, err, "object Deployment app/gone")

	// A phase template that cannot render for another reason than a
	// phase's outputs fails the plan, as it would fail the ActionSet.
	var bp batonv1.Blueprint
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "baton", Name: "bp"}, &bp))
	a := bp.Actions["backup"]
	a.DeferPhase.Args["pod"] = "{{ .Options.nope }}"
	bp.Actions["backup"] = a
	require.NoError(t, c.Update(context.Background(), &bp))
	_, err = Plan(context.Background(), c, c.RESTMapper(), planSettings, planActionSet())
	require.ErrorContains(t, err, `action "backup": phase "cleanup": args.pod`)
}

func TestPhasesRead(t *testing.T) {
	names := []string{"a", "b", "c"}
	for text, want := range map[string][]string{
		"{{ .Phases.a.Output.x }}":                              {"a"},
		`{{ (index .Phases "b").Output.x }}`:                    {"b"},
		"{{ range .Deployment.Pods }}{{ $.Phases.c }}{{ end }}": {"c"},
		"{{ range .Items }}{{ .Phases.a }}{{ end }}":            nil, // dot is an item
		"{{ .Options.a }}":                                      nil,
		"plain":                                                 nil,
	} {
		p := batonv1.BlueprintPhase{Args: batonv1.JSONMap{"x": []any{text}}}
		assert.Equal(t, want, phasesRead(p, names), text)
	}
	p := batonv1.BlueprintPhase{Objects: map[string]batonv1.ObjectReference{"o": {Name: "{{ .Phases.b.Output.n }}"}}}
	assert.Equal(t, []string{"b"}, phasesRead(p, names))
	p = batonv1.BlueprintPhase{Args: batonv1.JSONMap{"{{ .Phases.c.Output.k }}": "v"}}
	assert.Equal(t, []string{"c"}, phasesRead(p, names))
}

// A Secret templated into what the Job is built from (a podOverride) is
// redacted from the planned Job too, and the note says so.
func TestPlanRedactsSecretsTemplatedIntoTheJob(t *testing.T) {
	objs := planObjects()
	for _, o := range objs {
		if bp, ok := o.(*batonv1.Blueprint); ok {
			a := bp.Actions["backup"]
			a.Phases[0].Args["podOverride"] = map[string]any{"containers": []any{map[string]any{
				"name": "phase", "env": []any{map[string]any{"name": "KEY", "value": `{{ index .Secrets.dbKey.Data "key" | toString }}`}},
			}}}
			bp.Actions["backup"] = a
		}
	}
	c := fake.NewClientBuilder().WithScheme(planScheme(t)).WithObjects(objs...).Build()
	planned, err := Plan(context.Background(), c, c.RESTMapper(), planSettings, planActionSet())
	require.NoError(t, err)
	job := planned[0].Job
	require.NotNil(t, job)
	out, err := yaml.Marshal(job)
	require.NoError(t, err)
	assert.NotContains(t, string(out), dbKeyValue)
	assert.Contains(t, string(out), "value: <redacted>")
	assert.Contains(t, planned[0].Note, "redacted")
}
