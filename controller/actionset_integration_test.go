//go:build integration

package controller_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/controller"
	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/internal/testenv"
	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// env is a real kube-apiserver + etcd with the CRDs and the controller
// running; no kubelet and no Job controller, so tests play their part by
// writing pod and Job status.
type env struct {
	c      client.Client
	kube   kubernetes.Interface
	ns     string
	cfg    *rest.Config
	scheme *runtime.Scheme
}

func start(t *testing.T, configure ...func(*controller.Reconciler)) *env {
	t.Helper()
	e := startControlPlane(t)
	e.startController(t, configure...)
	return e
}

// startControlPlane starts kube-apiserver and etcd with Baton's CRDs and a
// namespace holding the runner's ServiceAccount, without a controller.
func startControlPlane(t *testing.T) *env {
	t.Helper()
	cfg := testenv.Start(t, testenv.Options{CRDDirectoryPaths: []string{filepath.Join("..", "config", "crd", "bases")}})
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, batonv1.AddToScheme(scheme))
	ctrl.SetLogger(testr.New(t))
	kube, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "baton-it-"}}
	require.NoError(t, c.Create(ctx, ns))
	require.NoError(t, c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "baton-runner", Namespace: ns.Name}}))
	return &env{c: c, kube: kube, ns: ns.Name, cfg: cfg, scheme: scheme}
}

// startController runs a controller (a manager of its own, as a new
// controller process would) until the returned stop is called or the test
// ends.
func (e *env) startController(t *testing.T, configure ...func(*controller.Reconciler)) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(e.cfg, ctrl.Options{
		Scheme: e.scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		// Every test runs its own manager in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	r := &controller.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Blueprints: mgr.GetCache(), Kube: e.kube, Scheme: e.scheme,
		Recorder: mgr.GetEventRecorderFor("baton"), //nolint:staticcheck // the events/v1 recorder is not needed here
		Settings: dispatcher.Settings{RunnerImage: "baton.local/runner:test", ServiceAccount: "baton-runner"},
	}
	for _, c := range configure {
		c(r)
	}
	require.NoError(t, r.SetupWithManager(mgr))
	checker := &controller.BlueprintChecker{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("baton")} //nolint:staticcheck // as above
	require.NoError(t, checker.SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func (e *env) create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		o.SetNamespace(e.ns)
		require.NoError(t, e.c.Create(context.Background(), o), "create %T %s", o, o.GetName())
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 20*time.Second, true,
		func(context.Context) (bool, error) { return cond() })
	require.NoError(t, err, "waiting for %s", what)
}

func (e *env) jobs(t *testing.T, actionSet string) []batchv1.Job {
	t.Helper()
	var list batchv1.JobList
	require.NoError(t, e.c.List(context.Background(), &list, client.InNamespace(e.ns),
		client.MatchingLabels{dispatcher.LabelActionSet: actionSet}))
	return list.Items
}

// waitJob waits for the Job of the named phase and returns it.
func (e *env) waitJob(t *testing.T, actionSet, phaseName string) batchv1.Job {
	t.Helper()
	var found batchv1.Job
	eventually(t, "job of phase "+phaseName, func() (bool, error) {
		for _, j := range e.jobs(t, actionSet) {
			if j.Labels[dispatcher.LabelPhase] == phaseName {
				found = j
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

// finish plays kubelet and Job controller: a pod of the Job terminates with
// exitCode and termination message msg, then the Job gets its terminal
// conditions.
func (e *env) finish(t *testing.T, job batchv1.Job, exitCode int32, msg string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-pod", Namespace: e.ns, Labels: job.Spec.Template.Labels},
		Spec:       job.Spec.Template.Spec,
	}
	require.NoError(t, e.c.Create(ctx, pod))
	podPhase := corev1.PodSucceeded
	if exitCode != 0 {
		podPhase = corev1.PodFailed
	}
	pod.Status = corev1.PodStatus{Phase: podPhase, ContainerStatuses: []corev1.ContainerStatus{{
		Name: dispatcher.MainContainer, Image: job.Spec.Template.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Message: msg, Reason: "Completed"}},
	}}}
	require.NoError(t, e.c.Status().Update(ctx, pod))

	now := metav1.Now()
	job.Status.StartTime = &now
	if exitCode == 0 {
		job.Status.Succeeded = 1
		job.Status.CompletionTime = &now
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
		}
	}
	require.NoError(t, e.c.Status().Update(ctx, &job))
}

func outputsMessage(t *testing.T, o outputs.Outputs) string {
	msg, logLine, err := outputs.Report(o)
	require.NoError(t, err)
	require.Empty(t, logLine)
	return msg
}

func (e *env) actionSet(t *testing.T, name string) batonv1.ActionSet {
	t.Helper()
	var as batonv1.ActionSet
	require.NoError(t, e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, &as))
	return as
}

func (e *env) waitState(t *testing.T, name string, want batonv1.State) batonv1.ActionSet {
	t.Helper()
	var as batonv1.ActionSet
	eventually(t, "ActionSet "+name+" to be "+string(want), func() (bool, error) {
		as = e.actionSet(t, name)
		return as.Status.State == want, nil
	})
	return as
}

func deployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			},
		},
	}
}

func actionSetFor(name, blueprint, action, deploymentName, ns string) *batonv1.ActionSet {
	return &batonv1.ActionSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{
			Name: action, Blueprint: blueprint,
			Object:  batonv1.ObjectReference{Kind: "deployment", Name: deploymentName, Namespace: ns},
			Options: map[string]string{"label": "nightly"},
		}}},
	}
}

func threePhaseBlueprint() *batonv1.Blueprint {
	return &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "three"},
		Actions: map[string]batonv1.BlueprintAction{"backup": {
			Phases: []batonv1.BlueprintPhase{
				{Name: "first", Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"sh", "-c", "kando output id {{ .Options.label }}"}}},
				{Name: "second", Func: "KubeExec", Args: batonv1.JSONMap{"namespace": "{{ .Deployment.Namespace }}", "command": []any{"echo", "{{ .Phases.first.Output.id }}"}}},
				{Name: "third", Func: "Wait", Args: batonv1.JSONMap{"timeout": "1m"}},
			},
			OutputArtifacts: map[string]batonv1.Artifact{"result": {KeyValue: map[string]string{"id": "{{ .Phases.first.Output.id }}-{{ .Phases.second.Output.n }}"}}},
			DeferPhase:      &batonv1.BlueprintPhase{Name: "cleanup", Func: "Wait", Args: batonv1.JSONMap{"timeout": "1m"}},
		}},
	}
}

func (e *env) phaseSpec(t *testing.T, job batchv1.Job) phase.Spec {
	t.Helper()
	var s corev1.Secret
	require.NoError(t, e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: job.Spec.Template.Spec.Volumes[0].Secret.SecretName}, &s))
	var spec phase.Spec
	require.NoError(t, json.Unmarshal(s.Data[phase.SpecFile], &spec))
	return spec
}

func TestIntegrationActionSetRunsPhasesInOrder(t *testing.T) {
	e := start(t)
	e.create(t, deployment("db"), threePhaseBlueprint(), actionSetFor("run", "three", "backup", "db", e.ns))

	first := e.waitJob(t, "run", "first")
	as := e.waitState(t, "run", batonv1.StateRunning)
	require.Len(t, as.Status.Actions, 1)
	assert.Equal(t, []batonv1.State{batonv1.StateRunning, batonv1.StatePending, batonv1.StatePending},
		phaseStates(as.Status.Actions[0]), "every phase is listed from the start")
	assert.Len(t, e.jobs(t, "run"), 1, "later phases wait")

	// KubeTask: the user's image, the runner wrapped around the command,
	// which it reads from the phase Secret.
	main := first.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "busybox", main.Image)
	assert.NotContains(t, main.Command, "kando output id nightly")
	assert.Equal(t, []any{"sh", "-c", "kando output id nightly"}, e.phaseSpec(t, first).Args["command"])

	e.finish(t, first, 0, outputsMessage(t, outputs.Outputs{"id": "abc"}))
	second := e.waitJob(t, "run", "second")
	spec := e.phaseSpec(t, second)
	assert.Equal(t, []any{"echo", "abc"}, spec.Args["command"], "phase 2 renders phase 1's output")
	assert.Equal(t, e.ns, spec.Args["namespace"])
	for _, c := range second.Spec.Template.Spec.Containers {
		assert.NotContains(t, c.Args, "abc", "rendered args stay in the Secret, out of the Job")
	}

	e.finish(t, second, 0, outputsMessage(t, outputs.Outputs{"n": "7"}))
	e.finish(t, e.waitJob(t, "run", "third"), 0, "")
	e.finish(t, e.waitJob(t, "run", "cleanup"), 0, "")

	as = e.waitState(t, "run", batonv1.StateComplete)
	assert.Equal(t, batonv1.JSONMap{"id": "abc"}, as.Status.Actions[0].Phases[0].Output)
	assert.Equal(t, map[string]batonv1.Artifact{"result": {KeyValue: map[string]string{"id": "abc-7"}}}, as.Status.Actions[0].Artifacts)
	assert.Equal(t, "100", as.Status.Progress.PercentCompleted)
	assert.Equal(t, batonv1.StateComplete, as.Status.Actions[0].DeferPhase.State)
	assert.Len(t, e.jobs(t, "run"), 4, "one Job per phase, none twice")
	var cond *metav1.Condition
	for i := range as.Status.Conditions {
		if as.Status.Conditions[i].Type == controller.ConditionComplete {
			cond = &as.Status.Conditions[i]
		}
	}
	require.NotNil(t, cond)
	assert.Equal(t, metav1.ConditionTrue, cond.Status)
}

func TestIntegrationFailureStopsSiblingsAndRunsDeferPhase(t *testing.T) {
	e := start(t)
	as := actionSetFor("fail", "three", "backup", "db", e.ns)
	as.Spec.Actions = append(as.Spec.Actions, as.Spec.Actions[0]) // two actions side by side
	e.create(t, deployment("db"), threePhaseBlueprint(), as)

	eventually(t, "both actions' first Jobs", func() (bool, error) { return len(e.jobs(t, "fail")) == 2, nil })
	jobs := e.jobs(t, "fail")
	failing, sibling := jobs[0], jobs[1]
	e.finish(t, failing, 3, outputs.ReportFailure(errors.New("pg_dump: connection refused")))

	eventually(t, "the sibling's Job to be deleted", func() (bool, error) {
		var j batchv1.Job
		err := e.c.Get(context.Background(), client.ObjectKeyFromObject(&sibling), &j)
		return err != nil || j.DeletionTimestamp != nil, nil
	})
	// Both actions started, so both deferPhases run.
	eventually(t, "two cleanup Jobs", func() (bool, error) {
		n := 0
		for _, j := range e.jobs(t, "fail") {
			if j.Labels[dispatcher.LabelPhase] == "cleanup" {
				n++
			}
		}
		return n == 2, nil
	})
	for _, j := range e.jobs(t, "fail") {
		if j.Labels[dispatcher.LabelPhase] == "cleanup" {
			e.finish(t, j, 0, "")
		}
	}
	got := e.waitState(t, "fail", batonv1.StateFailed)
	assert.Contains(t, got.Status.Error.Message, "pg_dump: connection refused")
	for _, a := range got.Status.Actions {
		assert.Equal(t, batonv1.StatePending, a.Phases[1].State, "later phases never run")
	}
	for _, j := range e.jobs(t, "fail") {
		assert.NotEqual(t, "second", j.Labels[dispatcher.LabelPhase])
	}
}

func TestIntegrationInvalidActionSetsFailWithAMessage(t *testing.T) {
	e := start(t)
	e.create(t, deployment("db"), threePhaseBlueprint())
	tests := []struct {
		name    string
		as      *batonv1.ActionSet
		wantMsg string
	}{
		{"missing blueprint", actionSetFor("no-bp", "nope", "backup", "db", e.ns), `blueprint ` + e.ns + `/nope`},
		{"missing action", actionSetFor("no-action", "three", "restore", "db", e.ns), `has no action "restore"`},
		{"missing object", actionSetFor("no-object", "three", "backup", "gone", e.ns), `object Deployment ` + e.ns + `/gone`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.create(t, tt.as)
			got := e.waitState(t, tt.as.Name, batonv1.StateFailed)
			assert.Contains(t, got.Status.Error.Message, tt.wantMsg)
			assert.Empty(t, e.jobs(t, tt.as.Name))
			eventually(t, "a Warning event", func() (bool, error) {
				var evs corev1.EventList
				err := e.c.List(context.Background(), &evs, client.InNamespace(e.ns))
				for _, ev := range evs.Items {
					if ev.InvolvedObject.Name == tt.as.Name && ev.Type == corev1.EventTypeWarning {
						return true, err
					}
				}
				return false, err
			})
		})
	}
}

func TestIntegrationTemplateErrorNamesTheField(t *testing.T) {
	e := start(t)
	bp := threePhaseBlueprint()
	a := bp.Actions["backup"]
	a.Phases[0].Args = batonv1.JSONMap{"image": "busybox", "command": []any{"echo", "{{ .Options.missing }}"}}
	bp.Actions["backup"] = a
	e.create(t, deployment("db"), bp, actionSetFor("tmpl", "three", "backup", "db", e.ns))
	// The action did start (its first phase was attempted), so its
	// deferPhase still runs: cleanup must not depend on how far a run got.
	e.finish(t, e.waitJob(t, "tmpl", "cleanup"), 0, "")
	got := e.waitState(t, "tmpl", batonv1.StateFailed)
	for _, j := range e.jobs(t, "tmpl") {
		assert.Equal(t, "cleanup", j.Labels[dispatcher.LabelPhase], "the phase that did not render has no Job")
	}
	assert.Contains(t, got.Status.Error.Message, `action "backup" phase "first": args.command[1]`)
	assert.Contains(t, got.Status.Error.Message, `"missing"`)
}

func phaseStates(a batonv1.ActionStatus) []batonv1.State {
	var s []batonv1.State
	for _, p := range a.Phases {
		s = append(s, p.State)
	}
	return s
}

// A controller that restarts mid-run — even one whose last status write was
// lost — adopts the Jobs already created instead of creating them again.
func TestIntegrationRestartedControllerAdoptsJobs(t *testing.T) {
	e := startControlPlane(t)
	stopFirst := e.startController(t)
	e.create(t, deployment("db"), threePhaseBlueprint(), actionSetFor("restart", "three", "backup", "db", e.ns))
	first := e.waitJob(t, "restart", "first")
	e.waitState(t, "restart", batonv1.StateRunning)
	stopFirst()

	// As if the controller died after creating the Job but before its status
	// write landed: the phase is pending again in the stored status.
	as := e.actionSet(t, "restart")
	as.Status.Actions[0].Phases[0].State = batonv1.StatePending
	require.NoError(t, e.c.Status().Update(context.Background(), &as))
	e.finish(t, first, 0, outputsMessage(t, outputs.Outputs{"id": "abc"}))

	e.startController(t)
	second := e.waitJob(t, "restart", "second")
	assert.Equal(t, []any{"echo", "abc"}, e.phaseSpec(t, second).Args["command"], "the adopted phase's outputs were read")
	e.finish(t, second, 0, outputsMessage(t, outputs.Outputs{"n": "1"}))
	e.finish(t, e.waitJob(t, "restart", "third"), 0, "")
	e.finish(t, e.waitJob(t, "restart", "cleanup"), 0, "")
	e.waitState(t, "restart", batonv1.StateComplete)

	perPhase := map[string]int{}
	for _, j := range e.jobs(t, "restart") {
		perPhase[j.Labels[dispatcher.LabelPhase]]++
	}
	assert.Equal(t, map[string]int{"first": 1, "second": 1, "third": 1, "cleanup": 1}, perPhase, "no Job was created twice")
}

// profileWithKeyPair is a Profile whose key pair lives in Secret creds.
func profileWithKeyPair(ns string) (*batonv1.Profile, *corev1.Secret) {
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		StringData: map[string]string{"id": "AKIA-CANARY-ID", "secret": "canary-secret-key"},
	}
	prof := &batonv1.Profile{
		ObjectMeta: metav1.ObjectMeta{Name: "store"},
		Location:   batonv1.Location{Type: batonv1.LocationTypeS3Compliant, Bucket: "backups", Endpoint: "http://s3.example:9000", Prefix: "team"},
		Credential: batonv1.Credential{Type: batonv1.CredentialTypeKeyPair, KeyPair: &batonv1.KeyPair{
			IDField: "id", SecretField: "secret", Secret: batonv1.ObjectReference{Name: "creds", Namespace: ns}}},
	}
	return prof, creds
}

func TestIntegrationPhaseSecretCarriesProfileAndPhaseObjects(t *testing.T) {
	e := start(t)
	prof, creds := profileWithKeyPair(e.ns)
	app := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-auth"}, StringData: map[string]string{"password": "canary-db-password"}}
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "db-settings"}, Data: map[string]string{"user": "admin"}}
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "dump"},
		Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{{
			Name: "dump", Func: "KubeTask",
			// No namespace: the objects live beside the action's object.
			Objects: map[string]batonv1.ObjectReference{
				"auth":     {Kind: "Secret", Name: "{{ .Deployment.Name }}-auth"},
				"settings": {Kind: "ConfigMap", Name: "db-settings", Namespace: "{{ .Deployment.Namespace }}"},
			},
			Args: batonv1.JSONMap{"image": "postgres", "command": []any{"sh", "-c",
				`PGPASSWORD='{{ index .Phases.dump.Secrets.auth.Data "password" | toString }}' PGUSER={{ .Phases.dump.ConfigMaps.settings.Data.user }} kando location push --profile '{{ toJson .Profile }}' --path x -`}},
		}}}},
	}
	as := actionSetFor("dump", "dump", "backup", "db", e.ns)
	as.Spec.Actions[0].Profile = &batonv1.ObjectReference{Name: "store"}
	e.create(t, deployment("db"), creds, prof, app, settings, bp, as)

	job := e.waitJob(t, "dump", "dump")
	var s corev1.Secret
	require.NoError(t, e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: job.Spec.Template.Spec.Volumes[0].Secret.SecretName}, &s))
	var spec phase.Spec
	require.NoError(t, json.Unmarshal(s.Data[phase.SpecFile], &spec))
	command := spec.Args["command"].([]any)[2].(string)
	assert.Contains(t, command, "PGPASSWORD='canary-db-password' PGUSER=admin", "the phase reads its own objects")
	assert.Contains(t, command, `"KeyPair":{"ID":"AKIA-CANARY-ID","Secret":"canary-secret-key"}`, "toJson .Profile as Kanister renders it")
	assert.Equal(t, phase.ObjectRef{Kind: "Secret", Name: "db-auth", Namespace: e.ns}, spec.Objects["auth"])

	var mounted map[string]any
	require.NoError(t, json.Unmarshal(s.Data[phase.ProfileFile], &mounted), "the Profile is mounted for kando location without --profile")
	assert.Equal(t, map[string]any{"ID": "AKIA-CANARY-ID", "Secret": "canary-secret-key"}, mounted["Credential"].(map[string]any)["KeyPair"])

	raw, err := json.Marshal(job)
	require.NoError(t, err)
	for _, canary := range []string{"canary-db-password", "canary-secret-key", "AKIA-CANARY-ID"} {
		assert.NotContains(t, string(raw), canary, "credentials never in the Job")
	}
}

func TestIntegrationDataFunctionsNeedAProfileAndAKey(t *testing.T) {
	e := start(t)
	prof, creds := profileWithKeyPair(e.ns)
	e.create(t, deployment("db"), creds, prof)
	backupData := func(args batonv1.JSONMap) batonv1.BlueprintPhase {
		return batonv1.BlueprintPhase{Name: "backup", Func: "BackupData", Args: args}
	}
	args := batonv1.JSONMap{"namespace": "{{ .Deployment.Namespace }}", "pod": "p", "container": "c", "includePath": "/data", "backupArtifactPrefix": "b/p"}
	withKey := batonv1.JSONMap{"encryptionKey": "{{ .Options.key }}"}
	for k, v := range args {
		withKey[k] = v
	}
	tests := []struct {
		name    string
		phases  []batonv1.BlueprintPhase
		profile bool
		wantMsg string
	}{
		{"no encryption key", []batonv1.BlueprintPhase{
			{Name: "quiesce", Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"true"}}},
			backupData(args)}, true, `BackupData needs argument "encryptionKey": Baton has no default encryption key`},
		{"no profile", []batonv1.BlueprintPhase{backupData(withKey)}, false, "BackupData needs a Profile"},
		{"key renders empty", []batonv1.BlueprintPhase{backupData(withKey)}, true, `argument "encryptionKey" rendered empty`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("data-%d", i)
			bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: name},
				Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: tt.phases}}}
			as := actionSetFor(name, name, "backup", "db", e.ns)
			as.Spec.Actions[0].Options = map[string]string{"key": ""}
			if tt.profile {
				as.Spec.Actions[0].Profile = &batonv1.ObjectReference{Name: "store"}
			}
			e.create(t, bp, as)
			got := e.waitState(t, name, batonv1.StateFailed)
			assert.Contains(t, got.Status.Error.Message, tt.wantMsg)
			assert.Empty(t, e.jobs(t, name), "failed before any Job")
		})
	}
}

func TestIntegrationProfileIsCheckedAgainstARealObjectStore(t *testing.T) {
	s3 := testenv.StartS3(t)
	e := start(t, func(r *controller.Reconciler) { r.CheckProfile = controller.CheckProfileBucket })
	profile := func(name, id, secret, bucket string) (*batonv1.Profile, *corev1.Secret) {
		creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-creds"}, StringData: map[string]string{"id": id, "secret": secret}}
		return &batonv1.Profile{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Location:   batonv1.Location{Type: batonv1.LocationTypeS3Compliant, Bucket: bucket, Endpoint: s3.Endpoint},
			Credential: batonv1.Credential{Type: batonv1.CredentialTypeKeyPair, KeyPair: &batonv1.KeyPair{
				IDField: "id", SecretField: "secret", Secret: batonv1.ObjectReference{Name: name + "-creds", Namespace: e.ns}}},
		}, creds
	}
	e.create(t, deployment("db"), threePhaseBlueprint())
	tests := []struct {
		name, id, secret, bucket string
		wantMsg                  string // "" means the ActionSet runs
	}{
		{"good", s3.AccessKey, s3.SecretKey, s3.Bucket, ""},
		{"wrong-secret", s3.AccessKey, "not-the-secret", s3.Bucket, "credentials were refused"},
		{"missing-bucket", s3.AccessKey, s3.SecretKey, "no-such-bucket", `bucket "no-such-bucket" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prof, creds := profile(tt.name, tt.id, tt.secret, tt.bucket)
			as := actionSetFor(tt.name, "three", "backup", "db", e.ns)
			as.Spec.Actions[0].Profile = &batonv1.ObjectReference{Name: tt.name}
			e.create(t, creds, prof, as)
			if tt.wantMsg == "" {
				e.waitJob(t, tt.name, "first")
				return
			}
			got := e.waitState(t, tt.name, batonv1.StateFailed)
			assert.Contains(t, got.Status.Error.Message, "profile "+e.ns+"/"+tt.name+": ")
			assert.Contains(t, got.Status.Error.Message, tt.wantMsg)
			assert.NotContains(t, got.Status.Error.Message, tt.secret)
			assert.Empty(t, e.jobs(t, tt.name))
		})
	}
}

// Kanister computes an action's template parameters once, when it starts:
// a phase after the workload was scaled to zero still sees its pods and
// their claims.
func TestIntegrationWorkloadIsSeenAsItWasWhenTheActionStarted(t *testing.T) {
	e := start(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "db-0", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "app:1", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-db-0"}}}},
		},
	}
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "restore"},
		Actions: map[string]batonv1.BlueprintAction{"restore": {Phases: []batonv1.BlueprintPhase{
			{Name: "scaleDown", Func: "ScaleWorkload", Args: batonv1.JSONMap{"replicas": 0}},
			{Name: "restore", Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"echo",
				`{{ index .Deployment.Pods 0 }} {{ range $claim, $path := index .Deployment.PersistentVolumeClaims (index .Deployment.Pods 0) }}{{ $claim }}:{{ $path }}{{ end }}`}}},
		}}},
	}
	e.create(t, deployment("db"), pod, bp)
	e.create(t, actionSetFor("restore", "restore", "restore", "db", e.ns))
	scaleDown := e.waitJob(t, "restore", "scaleDown")
	require.NoError(t, e.c.Delete(context.Background(), pod), "the workload is scaled to zero")
	e.finish(t, scaleDown, 0, "")

	restore := e.waitJob(t, "restore", "restore")
	assert.Equal(t, []any{"echo", "db-0 data-db-0:/var/lib/data"}, e.phaseSpec(t, restore).Args["command"])
	snapshot := e.actionSet(t, "restore").Status.Actions[0].Workload
	require.NotNil(t, snapshot)
	assert.Equal(t, []string{"db-0"}, snapshot.Pods)
}

// Data pods a phase started in the application's namespace are removed when
// the ActionSet ends, even if the phase could not remove them itself.
func TestIntegrationDataPodsLeftBehindAreDeletedAtTheEnd(t *testing.T) {
	e := start(t)
	bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: "one"},
		Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{
			{Name: "only", Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"true"}}}}}}}
	e.create(t, deployment("db"), bp, actionSetFor("cleanup", "one", "backup", "db", e.ns))
	job := e.waitJob(t, "cleanup", "only")
	as := e.actionSet(t, "cleanup")

	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "app-"}}
	require.NoError(t, e.c.Create(context.Background(), other))
	dataPod := func(name, uid string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: other.Name, Labels: map[string]string{
				dispatcher.LabelActionSetUID: uid, dispatcher.LabelComponent: dispatcher.ComponentDataPod}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "data", Image: "runner"}}},
		}
	}
	ours, someoneElses := dataPod("ours", string(as.UID)), dataPod("theirs", "another-uid")
	require.NoError(t, e.c.Create(context.Background(), ours))
	require.NoError(t, e.c.Create(context.Background(), someoneElses))

	e.finish(t, job, 0, "")
	e.waitState(t, "cleanup", batonv1.StateComplete)
	eventually(t, "our data pod to be deleted", func() (bool, error) {
		err := e.c.Get(context.Background(), client.ObjectKeyFromObject(ours), &corev1.Pod{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	require.NoError(t, e.c.Get(context.Background(), client.ObjectKeyFromObject(someoneElses), &corev1.Pod{}), "other ActionSets' pods stay")
}

func TestIntegrationInvalidBlueprintGetsAWarningEvent(t *testing.T) {
	e := start(t)
	bad := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{
			{Name: "dump", Func: "KubeExecc", Args: batonv1.JSONMap{"command": []any{"true"}}},
			{Name: "upload", Func: "KubeTask", Args: batonv1.JSONMap{"image": "x", "command": []any{"{{ .Options.x "}}},
		}}}}
	good := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: "good"},
		Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{
			{Name: "dump", Func: "KubeTask", Args: batonv1.JSONMap{"image": "x", "command": []any{"echo", "{{ .Namespace.Name }}"}}}}}}}
	e.create(t, bad, good)
	var warning corev1.Event
	eventually(t, "an InvalidBlueprint event", func() (bool, error) {
		var evs corev1.EventList
		err := e.c.List(context.Background(), &evs, client.InNamespace(e.ns))
		for _, ev := range evs.Items {
			if ev.Reason == "InvalidBlueprint" {
				warning = ev
				return true, err
			}
		}
		return false, err
	})
	assert.Equal(t, "bad", warning.InvolvedObject.Name)
	assert.Equal(t, corev1.EventTypeWarning, warning.Type)
	assert.Contains(t, warning.Message, `unknown function "KubeExecc"`)
	assert.Contains(t, warning.Message, "args.command[0]")
	var evs corev1.EventList
	require.NoError(t, e.c.List(context.Background(), &evs, client.InNamespace(e.ns)))
	for _, ev := range evs.Items {
		assert.NotEqual(t, "good", ev.InvolvedObject.Name, "a valid Blueprint gets no Event: %s", ev.Message)
	}
}

// An ended ActionSet is deleted once its time to live has passed: its own
// ttlSecondsAfterFinished, else the controller's default; without either
// it stays.
func TestIntegrationEndedActionSetsExpire(t *testing.T) {
	e := start(t, func(r *controller.Reconciler) { r.DefaultTTL = 2 * time.Second })
	bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: "one"},
		Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{
			{Name: "only", Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"true"}}}}}}}
	own := actionSetFor("own-ttl", "one", "backup", "db", e.ns)
	own.Spec.TTLSecondsAfterFinished = ptr.To[int32](1)
	keep := actionSetFor("keep", "one", "backup", "db", e.ns)
	keep.Spec.TTLSecondsAfterFinished = ptr.To[int32](3600)
	byDefault := actionSetFor("default-ttl", "one", "backup", "db", e.ns)
	e.create(t, deployment("db"), bp, own, keep, byDefault)
	for _, name := range []string{"own-ttl", "keep", "default-ttl"} {
		e.finish(t, e.waitJob(t, name, "only"), 0, "")
		e.waitState(t, name, batonv1.StateComplete)
	}
	for _, name := range []string{"own-ttl", "default-ttl"} {
		eventually(t, name+" to be deleted", func() (bool, error) {
			err := e.c.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, &batonv1.ActionSet{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
	}
	assert.Equal(t, batonv1.StateComplete, e.actionSet(t, "keep").Status.State, "an hour to live: still there")
}
