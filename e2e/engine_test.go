//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

// The engine suite runs ActionSets through the controller deployed in the
// cluster (make deploy), in Baton's namespace where the runner's
// ServiceAccount lives.
const batonNamespace = "baton"

// actionSetTimeout bounds one ActionSet of a few short phases.
const actionSetTimeout = 4 * time.Minute

type engine struct {
	*cluster
	c client.Client
}

func connectEngine(t testing.TB) *engine {
	t.Helper()
	base := connect(t)
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	require.NoError(t, err)
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, batonv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	return &engine{cluster: base, c: c}
}

// uniqueName keeps tests that run side by side apart in Baton's namespace.
func uniqueName(prefix string) string { return prefix + "-" + rand.String(5) }

func (e *engine) create(t testing.TB, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(batonNamespace)
		}
		require.NoError(t, e.createThroughWebhook(context.Background(), o), "create %T %s", o, o.GetName())
		obj := o
		t.Cleanup(func() {
			_ = e.c.Delete(context.Background(), obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
		})
	}
}

// waitFinished waits until the ActionSet is complete or failed.
func (e *engine) waitFinished(t *testing.T, name string) batonv1.ActionSet {
	t.Helper()
	var as batonv1.ActionSet
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, actionSetTimeout, true, func(ctx context.Context) (bool, error) {
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: batonNamespace, Name: name}, &as); err != nil {
			return false, err
		}
		return as.Status.State.IsTerminal(), nil
	})
	if err != nil {
		e.dumpNamespace(t, batonNamespace)
	}
	require.NoError(t, err, "ActionSet %s did not finish; last status: %+v", name, as.Status)
	return as
}

func kubeTask(name, command string) batonv1.BlueprintPhase {
	return batonv1.BlueprintPhase{Name: name, Func: "KubeTask", Args: batonv1.JSONMap{
		"namespace": batonNamespace, "image": e2eToolsImage, "command": []any{"sh", "-c", command},
	}}
}

func namespaceActionSet(name, blueprint string, actions ...string) *batonv1.ActionSet {
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, a := range actions {
		as.Spec.Actions = append(as.Spec.Actions, batonv1.ActionSpec{
			Name: a, Blueprint: blueprint,
			Object: batonv1.ObjectReference{Kind: "Namespace", Name: batonNamespace},
		})
	}
	return as
}

func phaseOutputs(as batonv1.ActionSet, action int) map[string]batonv1.JSONMap {
	out := map[string]batonv1.JSONMap{}
	for _, p := range as.Status.Actions[action].Phases {
		out[p.Name] = p.Output
	}
	return out
}

// (a) three phases, phase 2 uses phase 1's output, an output artifact is
// rendered from it; (e) per-phase logs are readable with kubectl logs -l;
// (g) an output larger than 4 KiB reaches the next phase.
func TestActionSetRunsPhasesAsJobs(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("three")},
		Actions: map[string]batonv1.BlueprintAction{"backup": {
			Phases: []batonv1.BlueprintPhase{
				kubeTask("produce", `kando output token tok-{{ .Namespace.Name }}; kando output big "$(head -c 10000 /dev/zero | tr '\0' x)"`),
				kubeTask("consume", `echo "consumed {{ .Phases.produce.Output.token }}"; kando output echoed "{{ .Phases.produce.Output.token }}-{{ len .Phases.produce.Output.big }}"`),
				kubeTask("finish", `echo "third phase ran"`),
			},
			OutputArtifacts: map[string]batonv1.Artifact{"result": {KeyValue: map[string]string{"value": "{{ .Phases.consume.Output.echoed }}"}}},
		}},
	}
	as := namespaceActionSet(uniqueName("three"), bp.Name, "backup")
	e.create(t, bp, as)

	got := e.waitFinished(t, as.Name)
	require.Equal(t, batonv1.StateComplete, got.Status.State, "error: %+v", got.Status.Error)
	outs := phaseOutputs(got, 0)
	assert.Equal(t, "tok-baton", outs["produce"]["token"])
	assert.Len(t, outs["produce"]["big"], 10000, "a 10 KB output travels through the log channel")
	assert.Equal(t, "tok-baton-10000", outs["consume"]["echoed"])
	assert.Equal(t, map[string]batonv1.Artifact{"result": {KeyValue: map[string]string{"value": "tok-baton-10000"}}}, got.Status.Actions[0].Artifacts)
	assert.Equal(t, "100", got.Status.Progress.PercentCompleted)

	logs := e.kubectl(t, "logs", "-n", batonNamespace, "-l", dispatcher.LabelActionSet+"="+as.Name, "--tail=-1", "--prefix")
	assert.Contains(t, logs, "consumed tok-baton")
	assert.Contains(t, logs, "third phase ran")
	phaseLogs := e.kubectl(t, "logs", "-n", batonNamespace, "-l", dispatcher.LabelActionSet+"="+as.Name+","+dispatcher.LabelPhase+"=finish", "--tail=-1")
	assert.Equal(t, "third phase ran", strings.TrimSpace(phaseLogs))
}

// (b) two actions run in parallel; (c) a failing phase fails the ActionSet,
// later phases never run, the deferPhase runs, a running sibling Job is
// stopped and its pod is gone.
func TestFailingPhaseStopsSiblingAndRunsDeferPhase(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("fail")},
		Actions: map[string]batonv1.BlueprintAction{
			"breaks": {
				Phases: []batonv1.BlueprintPhase{
					// Waits until the sibling is running, so the failure
					// really has something to stop.
					kubeTask("wait-then-fail", `sleep 8; echo "giving up"; exit 3`),
					kubeTask("never", `echo "must not run"`),
				},
				DeferPhase: ptrPhase(kubeTask("cleanup-breaks", `echo "cleanup of breaks ran"`)),
			},
			"slow": {
				Phases:     []batonv1.BlueprintPhase{kubeTask("sleeps", `sleep 600`), kubeTask("never-slow", `echo "must not run"`)},
				DeferPhase: ptrPhase(kubeTask("cleanup-slow", `echo "cleanup of slow ran"`)),
			},
		},
	}
	as := namespaceActionSet(uniqueName("fail"), bp.Name, "breaks", "slow")
	e.create(t, bp, as)

	// Both actions' first phases run at the same time.
	var slowJob string
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		jobs := e.phaseJobs(t, as.Name)
		slowJob = jobs["sleeps"]
		return jobs["wait-then-fail"] != "" && slowJob != "", nil
	})
	require.NoError(t, err, "both actions should start together")

	got := e.waitFinished(t, as.Name)
	require.Equal(t, batonv1.StateFailed, got.Status.State)
	assert.Contains(t, got.Status.Error.Message, `phase "wait-then-fail"`)
	assert.Contains(t, got.Status.Error.Message, "exited with code 3")

	jobs := e.phaseJobs(t, as.Name)
	assert.NotContains(t, jobs, "never")
	assert.NotContains(t, jobs, "never-slow")
	for _, a := range got.Status.Actions {
		require.NotNil(t, a.DeferPhase)
		assert.Equal(t, batonv1.StateComplete, a.DeferPhase.State, "deferPhase of %s", a.Name)
	}
	logs := e.kubectl(t, "logs", "-n", batonNamespace, "-l", dispatcher.LabelActionSet+"="+as.Name, "--tail=-1")
	assert.Contains(t, logs, "cleanup of breaks ran")
	assert.Contains(t, logs, "cleanup of slow ran")

	// The sleeping sibling's Job and pod are gone, not orphaned.
	err = wait.PollUntilContextTimeout(context.Background(), time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := e.client.BatchV1().Jobs(batonNamespace).Get(ctx, slowJob, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, nil
		}
		pods, err := e.client.CoreV1().Pods(batonNamespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + slowJob})
		return err == nil && len(pods.Items) == 0, err
	})
	assert.NoError(t, err, "job %s and its pod should be deleted", slowJob)
}

// (h) A canary Secret value and a Profile's secret key, both used by
// phases, never appear in any Job, Pod or Event of the cluster, in any
// ActionSet, in any log line of the phases or the controller, or in the
// controller's metrics.
func TestSecretsStayOutOfJobsPodsEventsLogsAndMetrics(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	canary := "canary-" + rand.String(16)
	s3 := e.s3ForPods(t)
	profile := uniqueName("canary-profile")
	e.profileFor(t, s3, profile, "canary", "")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("canary")}, StringData: map[string]string{"value": canary}}
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("secret")},
		Actions: map[string]batonv1.BlueprintAction{"use": {
			SecretNames: []string{"creds"},
			Phases: []batonv1.BlueprintPhase{
				kubeTask("uses-secret", `test "{{ .Secrets.creds.Data.value | toString }}" = "$(cat /var/run/baton/phase/phase.json | grep -o canary-[a-z0-9]* | head -1)" && echo "secret reached the phase"`),
				kubeTask("uses-profile", `echo hello | kando location push --path canary.txt - && echo "pushed with the profile"`),
				kubeTask("fails-with-secret", `echo "failing"; exit 1 # {{ .Secrets.creds.Data.value | toString }}`),
			},
		}},
	}
	as := namespaceActionSet(uniqueName("secret"), bp.Name, "use")
	as.Spec.Actions[0].Secrets = map[string]batonv1.ObjectReference{"creds": {Name: secret.Name, Namespace: batonNamespace}}
	as.Spec.Actions[0].Profile = &batonv1.ObjectReference{Name: profile, Namespace: batonNamespace}
	e.create(t, secret, bp, as)

	got := e.waitFinished(t, as.Name)
	require.Equal(t, batonv1.StateFailed, got.Status.State)
	require.Len(t, got.Status.Actions, 1, "the ActionSet failed before running: %+v", got.Status.Error)
	assert.Equal(t, batonv1.StateComplete, got.Status.Actions[0].Phases[0].State, "the secret reached the phase")
	assert.Equal(t, batonv1.StateComplete, got.Status.Actions[0].Phases[1].State, "the profile's credentials worked in the phase")

	secrets := map[string]string{"the canary Secret value": canary, "the Profile's secret key": s3.SecretKey}
	surfaces := map[string]string{
		"Jobs":       e.kubectl(t, "get", "jobs", "-A", "-o", "yaml"),
		"Pods":       e.kubectl(t, "get", "pods", "-A", "-o", "yaml"),
		"Events":     e.kubectl(t, "get", "events", "-A", "-o", "yaml"),
		"ActionSets": e.kubectl(t, "get", "actionsets", "-A", "-o", "yaml"),
		"phase logs": e.kubectl(t, "logs", "-n", batonNamespace, "-l", dispatcher.LabelActionSet+"="+as.Name, "--all-containers", "--prefix", "--tail=-1"),
		"controller logs": e.kubectl(t, "logs", "-n", batonNamespace, "-l", controllerSelector, "--all-containers", "--prefix", "--tail=-1",
			"--max-log-requests=10"),
		"metrics": fmt.Sprint(e.scrapeMetrics(t)),
	}
	assert.Contains(t, surfaces["phase logs"], "pushed with the profile", "the phase logs were read")
	for what, value := range secrets {
		for where, text := range surfaces {
			assert.NotContains(t, text, value, "%s leaked into %s", what, where)
		}
	}
}

// phaseJobs maps phase name -> Job name for an ActionSet.
func (e *engine) phaseJobs(t *testing.T, actionSet string) map[string]string {
	t.Helper()
	jobs, err := e.client.BatchV1().Jobs(batonNamespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: fmt.Sprintf("%s=%s", dispatcher.LabelActionSet, actionSet)})
	require.NoError(t, err)
	out := map[string]string{}
	for _, j := range jobs.Items {
		out[j.Labels[dispatcher.LabelPhase]] = j.Name
	}
	return out
}

func ptrPhase(p batonv1.BlueprintPhase) *batonv1.BlueprintPhase { return &p }

// An ActionSet with ttlSecondsAfterFinished is deleted after it ends, and
// the garbage collector takes its Jobs, their pods and its phase Secrets.
func TestFinishedActionSetExpiresWithItsJobs(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("ttl")},
		Actions:    map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{kubeTask("only", "echo done")}}},
	}
	as := namespaceActionSet(uniqueName("ttl"), bp.Name, "backup")
	as.Spec.TTLSecondsAfterFinished = ptr.To[int32](2)
	e.create(t, bp, as)
	uid := ""
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, actionSetTimeout, true, func(ctx context.Context) (bool, error) {
		var got batonv1.ActionSet
		err := e.c.Get(ctx, client.ObjectKeyFromObject(as), &got)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err == nil {
			uid = string(got.UID)
			require.NotEqual(t, batonv1.StateFailed, got.Status.State)
		}
		return false, err
	})
	require.NoError(t, err, "the ActionSet was not deleted after its TTL")
	require.NotEmpty(t, uid)
	selector := dispatcher.LabelActionSetUID + "=" + uid
	err = wait.PollUntilContextTimeout(context.Background(), time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		jobs, err := e.client.BatchV1().Jobs(batonNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		secrets, err := e.client.CoreV1().Secrets(batonNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		pods, err := e.client.CoreV1().Pods(batonNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		return len(jobs.Items)+len(secrets.Items)+len(pods.Items) == 0, err
	})
	require.NoError(t, err, "its Jobs, pods and phase Secrets were not garbage-collected")
}

// A phase with a timeout that runs longer fails, saying so, and the
// deferPhase still runs.
func TestPhaseTimeoutFailsWithAClearMessage(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	tests := []struct {
		name                     string
		blueprint, actionSet     time.Duration
		wantTimeout, wantSetting string
	}{
		{"the Blueprint phase's", 3 * time.Second, time.Hour, "3s", "the Blueprint phase's timeout"},
		{"the ActionSet's", 0, 4 * time.Second, "4s", "the ActionSet's spec.phaseTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			slow := kubeTask("slow", "sleep 120")
			if tt.blueprint > 0 {
				slow.Timeout = &metav1.Duration{Duration: tt.blueprint}
			}
			bp := stoppableBlueprint("timeout", slow)
			// The cleanup has its own limit: a few seconds would be too
			// short for a pod to start on a busy node.
			bp.Actions["backup"].DeferPhase.Timeout = &metav1.Duration{Duration: 5 * time.Minute}
			as := namespaceActionSet(uniqueName("timeout"), bp.Name, "backup")
			as.Spec.PhaseTimeout = &metav1.Duration{Duration: tt.actionSet}
			e.create(t, bp, as)
			got := e.waitFinished(t, as.Name)
			require.Equal(t, batonv1.StateFailed, got.Status.State)
			assert.Contains(t, got.Status.Error.Message, "timed out: the phase ran longer than its timeout of "+tt.wantTimeout+" (set by "+tt.wantSetting+";")
			assert.Contains(t, got.Status.Error.Message, `phase "slow"`)
			assert.Equal(t, batonv1.StateComplete, got.Status.Actions[0].DeferPhase.State)
		})
	}
}

// An ActionSet past its own timeout stops its running phase, starts no
// more, runs the deferPhase and fails, saying which timeout ran out.
func TestActionSetTimeoutFailsWithAClearMessage(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	bp := stoppableBlueprint("as-timeout", kubeTask("slow", "sleep 120"))
	as := namespaceActionSet(uniqueName("as-timeout"), bp.Name, "backup")
	as.Spec.Timeout = &metav1.Duration{Duration: 8 * time.Second}
	e.create(t, bp, as)
	got := e.waitFinished(t, as.Name)
	require.Equal(t, batonv1.StateFailed, got.Status.State)
	assert.Contains(t, got.Status.Error.Message, "timed out: the ActionSet ran longer than its timeout of 8s")
	assert.Equal(t, batonv1.StatePending, got.Status.Actions[0].Phases[1].State, "no phase starts after the timeout")
	assert.Equal(t, batonv1.StateComplete, got.Status.Actions[0].DeferPhase.State)
	assert.NotContains(t, e.phaseJobs(t, as.Name), "never")
}

// stoppableBlueprint is a "backup" action whose first phase is first (a long
// one, to be stopped), then a phase "never" that must not run, and a
// deferPhase "cleanup" that must.
func stoppableBlueprint(prefix string, first batonv1.BlueprintPhase) *batonv1.Blueprint {
	return &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName(prefix)},
		Actions: map[string]batonv1.BlueprintAction{"backup": {
			Phases:     []batonv1.BlueprintPhase{first, kubeTask("never", "echo should not run")},
			DeferPhase: ptrPhase(kubeTask("cleanup", "echo cleaned up")),
		}},
	}
}
