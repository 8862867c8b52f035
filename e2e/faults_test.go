//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

// The fault suite breaks the controller, its leader, phase pods and the
// API server on purpose. These tests do not call t.Parallel: Go runs them
// one at a time before any parallel test resumes, so no other test sees
// the faults.

const (
	controllerDeployment = "baton-controller"
	controllerSelector   = "app.kubernetes.io/name=baton,app.kubernetes.io/component=controller"
	leaderLease          = "baton-controller.baton.dev"
)

// fastFailover runs the deployed controller with two replicas, leader
// election and a short lease for the test, and restores the Deployment as
// it was afterwards. A standby then takes over a killed leader within
// seconds rather than the default 15 s.
func (e *engine) fastFailover(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deployments := e.client.AppsV1().Deployments(batonNamespace)
	orig, err := deployments.Get(ctx, controllerDeployment, metav1.GetOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		cur, err := deployments.Get(ctx, controllerDeployment, metav1.GetOptions{})
		if err != nil {
			t.Errorf("restore the controller: %v", err)
			return
		}
		cur.Spec.Replicas = orig.Spec.Replicas
		cur.Spec.Template.Spec.Containers[0].Args = orig.Spec.Template.Spec.Containers[0].Args
		if _, err := deployments.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Errorf("restore the controller: %v", err)
			return
		}
		e.waitControllerRollout(t, ptr.Deref(orig.Spec.Replicas, 1))
	})
	cur := orig.DeepCopy()
	var args []string
	for _, a := range cur.Spec.Template.Spec.Containers[0].Args {
		if !strings.HasPrefix(a, "--leader-elect") {
			args = append(args, a)
		}
	}
	cur.Spec.Template.Spec.Containers[0].Args = append(args, "--leader-elect",
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s")
	cur.Spec.Replicas = ptr.To[int32](2)
	_, err = deployments.Update(ctx, cur, metav1.UpdateOptions{})
	require.NoError(t, err)
	e.waitControllerRollout(t, 2)
}

// waitControllerRollout waits until the controller Deployment's latest
// template runs with the given number of ready replicas, and nothing else.
func (e *engine) waitControllerRollout(t *testing.T, replicas int32) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := e.client.AppsV1().Deployments(batonNamespace).Get(ctx, controllerDeployment, metav1.GetOptions{})
		if err != nil {
			return false, nil // the API server may be coming back
		}
		return rolledOut(d, replicas), nil
	})
	require.NoError(t, err, "controller rollout to %d replicas", replicas)
}

func rolledOut(d *appsv1.Deployment, replicas int32) bool {
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == replicas &&
		d.Status.ReadyReplicas == replicas && d.Status.Replicas == replicas
}

// leader returns the controller pod holding the leader Lease, once that pod
// exists and is ready.
func (e *engine) leader(t *testing.T) string {
	t.Helper()
	var holder string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		lease, err := e.client.CoordinationV1().Leases(batonNamespace).Get(ctx, leaderLease, metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			return false, nil
		}
		// controller-runtime's identity is "<pod name>_<uuid>".
		pod, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_")
		p, err := e.client.CoreV1().Pods(batonNamespace).Get(ctx, pod, metav1.GetOptions{})
		if err != nil || !p.DeletionTimestamp.IsZero() || !podReady(p) {
			return false, nil
		}
		holder = pod
		return true, nil
	})
	require.NoError(t, err, "no ready controller holds the leader Lease")
	return holder
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// kill ends a pod the way an OOM kill or a lost node would: no grace, no
// chance to release the Lease.
func (e *engine) kill(t *testing.T, pod string) {
	t.Helper()
	err := e.client.CoreV1().Pods(batonNamespace).Delete(context.Background(), pod,
		metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	require.NoError(t, err)
}

// chainBlueprint has three actions of three phases each; every phase takes
// a second and hands its output to the next, so a lost or repeated phase
// shows in the last output ("abc").
func chainBlueprint() *batonv1.Blueprint {
	phases := []batonv1.BlueprintPhase{
		kubeTask("p1", "sleep 1; kando output word a"),
		kubeTask("p2", "sleep 1; kando output word {{ .Phases.p1.Output.word }}b"),
		kubeTask("p3", "sleep 1; kando output word {{ .Phases.p2.Output.word }}c"),
	}
	bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("chain")}, Actions: map[string]batonv1.BlueprintAction{}}
	for _, a := range []string{"one", "two", "three"} {
		bp.Actions[a] = batonv1.BlueprintAction{Phases: phases}
	}
	return bp
}

// requireRanExactlyOnce checks a finished ActionSet of chainBlueprint: it
// completed with the right outputs, and each (action, phase) had exactly
// one Job with exactly one pod (one attempt).
func (e *engine) requireRanExactlyOnce(t *testing.T, as batonv1.ActionSet) {
	t.Helper()
	require.Equal(t, batonv1.StateComplete, as.Status.State, "ActionSet %s: %+v", as.Name, as.Status.Error)
	for i := range as.Status.Actions {
		a := as.Status.Actions[i]
		assert.Equal(t, "abc", fmt.Sprint(a.Phases[2].Output["word"]), "action %s", a.Name)
		for _, p := range a.Phases {
			assert.Len(t, p.Attempts, 1, "action %s phase %s attempts", a.Name, p.Name)
		}
	}
	jobs, err := e.client.BatchV1().Jobs(batonNamespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: dispatcher.LabelActionSetUID + "=" + string(as.UID)})
	require.NoError(t, err)
	perPhase := map[string]int{}
	for _, j := range jobs.Items {
		perPhase[j.Labels[dispatcher.LabelAction]+"/"+j.Labels[dispatcher.LabelPhase]]++
		pods, err := e.client.CoreV1().Pods(batonNamespace).List(context.Background(), metav1.ListOptions{
			LabelSelector: batchv1.JobNameLabel + "=" + j.Name})
		require.NoError(t, err)
		assert.Len(t, pods.Items, 1, "pods of job %s", j.Name)
		assert.Equal(t, int32(1), j.Status.Succeeded, "job %s", j.Name)
		assert.Zero(t, j.Status.Failed, "job %s", j.Name)
	}
	assert.Len(t, perPhase, 9, "one Job per (action, phase) of ActionSet %s", as.Name)
	for k, n := range perPhase {
		assert.Equal(t, 1, n, "Jobs of %s", k)
	}
}

// The leader is killed at 20 random moments while ActionSets of 3 actions
// × 3 phases run; a standby or a fresh replica takes over each time. Every
// ActionSet must complete with the right outputs, one Job per phase.
func TestControllerKilledRepeatedlyLosesNothing(t *testing.T) {
	e := connectEngine(t)
	e.fastFailover(t)
	bp := chainBlueprint()
	e.create(t, bp)
	var names []string
	const kills, actionSets = 20, 5
	for i := range kills {
		if i%(kills/actionSets) == 0 {
			as := namespaceActionSet(uniqueName("chaos"), bp.Name, "one", "two", "three")
			e.create(t, as)
			names = append(names, as.Name)
		}
		leader := e.leader(t)
		// A random moment: somewhere in a reconcile, a status write, a Job
		// creation or between them.
		time.Sleep(time.Duration(rand.IntN(2500)) * time.Millisecond) //nolint:forbidigo // chaos timing, not synchronisation
		e.kill(t, leader)
		t.Logf("kill %d: leader %s", i+1, leader)
	}
	for _, n := range names {
		e.requireRanExactlyOnce(t, e.waitFinished(t, n))
	}
}

// With two replicas, killing the leader mid-phase hands the ActionSet to
// the standby that was already running, which finishes it.
func TestStandbyTakesOverFromAKilledLeader(t *testing.T) {
	e := connectEngine(t)
	e.fastFailover(t)
	bp := chainBlueprint()
	as := namespaceActionSet(uniqueName("failover"), bp.Name, "one", "two", "three")
	first := e.leader(t)
	pods, err := e.client.CoreV1().Pods(batonNamespace).List(context.Background(), metav1.ListOptions{LabelSelector: controllerSelector})
	require.NoError(t, err)
	var standby string
	for _, p := range pods.Items {
		if p.Name != first && p.DeletionTimestamp.IsZero() {
			standby = p.Name
		}
	}
	require.NotEmpty(t, standby, "a second replica")
	e.create(t, bp, as)
	e.waitPhaseJob(t, as.Name, "p2")
	// The Deployment replaces the killed pod at once, and that fresh
	// replica races the standby for the Lease (both wait out one lease
	// duration from their own last look at it; CI saw the fresh one win).
	// With the node cordoned the replacement stays Pending, so only the
	// standby can take over, as it must when no replacement can start.
	uncordon := e.cordonNodes(t)
	killed := time.Now()
	e.kill(t, first)
	assert.Equal(t, standby, e.leader(t), "the standby took over")
	t.Logf("the standby led %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	uncordon()
	e.requireRanExactlyOnce(t, e.waitFinished(t, as.Name))
}

// cordonNodes marks every node unschedulable, so pods created from now on
// stay Pending, and returns what undoes it (also run at cleanup).
func (e *engine) cordonNodes(t *testing.T) (uncordon func()) {
	t.Helper()
	ctx := context.Background()
	nodes, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	setUnschedulable := func(name string, on bool) error {
		patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
		_, err := e.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
		return err
	}
	var cordoned []string
	undo := func() {
		for _, n := range cordoned {
			if err := setUnschedulable(n, false); err != nil {
				t.Errorf("uncordon node %s: %v", n, err)
			}
		}
		cordoned = nil
	}
	t.Cleanup(undo)
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable {
			continue // cordoned by someone else: leave it so
		}
		require.NoError(t, setUnschedulable(n.Name, true), "cordon node %s", n.Name)
		cordoned = append(cordoned, n.Name)
	}
	return undo
}

// waitPhaseJob waits until a Job of the named phase exists.
func (e *engine) waitPhaseJob(t *testing.T, actionSet, phase string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, jobTimeout, true, func(ctx context.Context) (bool, error) {
		jobs, err := e.client.BatchV1().Jobs(batonNamespace).List(ctx, metav1.ListOptions{
			LabelSelector: dispatcher.LabelActionSet + "=" + actionSet + "," + dispatcher.LabelPhase + "=" + phase})
		return err == nil && len(jobs.Items) > 0, nil
	})
	require.NoError(t, err, "a Job of phase %s", phase)
}

// runningPhasePod waits for the pod of a phase to run and returns its name.
func (e *engine) runningPhasePod(t *testing.T, actionSet, phase string) string {
	t.Helper()
	var name string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, jobTimeout, true, func(ctx context.Context) (bool, error) {
		pods, err := e.client.CoreV1().Pods(batonNamespace).List(ctx, metav1.ListOptions{
			LabelSelector: dispatcher.LabelActionSet + "=" + actionSet + "," + dispatcher.LabelPhase + "=" + phase})
		if err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp.IsZero() {
				name = p.Name
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err, "a running pod of phase %s", phase)
	return name
}

// A phase pod deleted mid-run is retried when the phase has retries left,
// and each attempt shows in the status; without retries the ActionSet
// fails saying the pod was deleted.
func TestDeletedPhasePodIsRetriedOrFailsTheActionSet(t *testing.T) {
	e := connectEngine(t)
	tests := []struct {
		name    string
		retries int32
		want    batonv1.State
	}{
		{"retried", 1, batonv1.StateComplete},
		{"no retries left", 0, batonv1.StateFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			work := kubeTask("work", "sleep 6; kando output done yes")
			work.Retries = ptr.To(tt.retries)
			bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("podloss")},
				Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{work}}}}
			as := namespaceActionSet(uniqueName("podloss"), bp.Name, "backup")
			e.create(t, bp, as)
			pod := e.runningPhasePod(t, as.Name, "work")
			require.NoError(t, e.client.CoreV1().Pods(batonNamespace).Delete(context.Background(), pod, metav1.DeleteOptions{}))

			got := e.waitFinished(t, as.Name)
			require.Equal(t, tt.want, got.Status.State, "%+v", got.Status.Error)
			attempts := got.Status.Actions[0].Phases[0].Attempts
			if tt.retries > 0 {
				require.Len(t, attempts, 2, "%+v", attempts)
				assert.Equal(t, batonv1.StateFailed, attempts[0].State)
				assert.Equal(t, batonv1.StateComplete, attempts[1].State)
				assert.Equal(t, "yes", fmt.Sprint(got.Status.Actions[0].Phases[0].Output["done"]))
				return
			}
			require.Len(t, attempts, 1, "%+v", attempts)
			assert.Equal(t, batonv1.StateFailed, attempts[0].State)
			assert.Contains(t, got.Status.Error.Message, `phase "work" failed`)
			t.Logf("failure: %s", got.Status.Error.Message)
		})
	}
}

// kindNode is the local cluster's node container (make cluster-up).
const kindNode = "baton-control-plane"

// The API server is stopped for 30 s while an ActionSet runs, then started
// again: the controller recovers by itself and the ActionSet completes,
// each phase run once.
func TestAPIServerOutage(t *testing.T) {
	if err := exec.Command("docker", "inspect", kindNode).Run(); err != nil {
		t.Skipf("needs the local kind cluster's node container %s (docker inspect: %v)", kindNode, err)
	}
	e := connectEngine(t)
	bp := chainBlueprint()
	as := namespaceActionSet(uniqueName("outage"), bp.Name, "one", "two", "three")
	e.create(t, bp, as)
	e.waitPhaseJob(t, as.Name, "p1")
	restartsBefore := e.controllerRestarts(t)

	node := func(args ...string) {
		out, err := exec.Command("docker", append([]string{"exec", kindNode}, args...)...).CombinedOutput()
		require.NoError(t, err, "docker exec %s: %s", strings.Join(args, " "), out)
	}
	// kubelet stops a static pod whose manifest leaves its directory, and
	// starts it again when it comes back.
	node("mv", "/etc/kubernetes/manifests/kube-apiserver.yaml", "/etc/kubernetes/kube-apiserver.yaml.stopped")
	restored := false
	restore := func() {
		if !restored {
			node("mv", "/etc/kubernetes/kube-apiserver.yaml.stopped", "/etc/kubernetes/manifests/kube-apiserver.yaml")
			restored = true
		}
	}
	t.Cleanup(restore)
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := e.client.Discovery().ServerVersion()
		return err != nil, nil
	})
	require.NoError(t, err, "the API server did not stop")
	stopped := time.Now()
	time.Sleep(30 * time.Second) //nolint:forbidigo // the outage's length, not synchronisation
	restore()
	err = wait.PollUntilContextTimeout(context.Background(), time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := e.client.Discovery().ServerVersion()
		return err == nil, nil
	})
	require.NoError(t, err, "the API server did not come back")
	t.Logf("API server unreachable for %s", time.Since(stopped).Round(time.Second))

	e.requireRanExactlyOnce(t, e.waitFinished(t, as.Name))
	// The leader's renew deadline (100 s by default) outlasts the outage: it
	// keeps its Lease, and no replica exits.
	assert.Equal(t, restartsBefore, e.controllerRestarts(t), "the controller recovered without a restart")
}

// controllerRestarts sums the restarts of the controller's containers.
func (e *engine) controllerRestarts(t *testing.T) int32 {
	t.Helper()
	pods, err := e.client.CoreV1().Pods(batonNamespace).List(context.Background(), metav1.ListOptions{LabelSelector: controllerSelector})
	require.NoError(t, err)
	var n int32
	for _, p := range pods.Items {
		for _, c := range p.Status.ContainerStatuses {
			n += c.RestartCount
		}
	}
	return n
}
