//go:build e2e

package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// scrapeMetrics reads the controller's /metrics through the API server's
// pod proxy and returns each sample line's value by its name and labels.
func (e *engine) scrapeMetrics(t testing.TB) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	for _, perPod := range e.scrapeMetricsByPod(t) { // with several replicas, counts add up
		for k, v := range perPod {
			samples[k] += v
		}
	}
	return samples
}

// scrapeMetricsByPod is scrapeMetrics for each running controller replica.
func (e *engine) scrapeMetricsByPod(t testing.TB) map[string]map[string]float64 {
	t.Helper()
	pods, err := e.client.CoreV1().Pods(batonNamespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/name=baton,app.kubernetes.io/component=controller", FieldSelector: "status.phase=Running"})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "a running controller")
	byPod := map[string]map[string]float64{}
	for _, pod := range pods.Items {
		raw, err := e.client.CoreV1().RESTClient().Get().AbsPath("/api/v1/namespaces", batonNamespace, "pods", pod.Name+":8080", "proxy", "metrics").DoRaw(context.Background())
		require.NoError(t, err)
		samples := map[string]float64{}
		for _, line := range strings.Split(string(raw), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			v, err := strconv.ParseFloat(line[i+1:], 64)
			require.NoError(t, err, line)
			samples[line[:i]] += v
		}
		byPod[pod.Name] = samples
	}
	return byPod
}

// Metrics count what ran: a complete and a failed ActionSet move the
// per-function phase counters, the duration histograms and the gauge of
// ActionSets by state.
func TestMetricsCountWhatRan(t *testing.T) {
	// Not parallel: other tests' ActionSets would move the same counters.
	e := connectEngine(t)
	before := e.scrapeMetrics(t)

	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("metrics")},
		Actions: map[string]batonv1.BlueprintAction{
			"ok":   {Phases: []batonv1.BlueprintPhase{kubeTask("one", "true"), kubeTask("two", "true")}},
			"fail": {Phases: []batonv1.BlueprintPhase{kubeTask("boom", "exit 3")}},
		},
	}
	good, bad := namespaceActionSet(uniqueName("metrics-ok"), bp.Name, "ok"), namespaceActionSet(uniqueName("metrics-fail"), bp.Name, "fail")
	e.create(t, bp, good, bad)
	require.Equal(t, batonv1.StateComplete, e.waitFinished(t, good.Name).Status.State)
	require.Equal(t, batonv1.StateFailed, e.waitFinished(t, bad.Name).Status.State)

	after := e.scrapeMetrics(t)
	delta := func(name string) float64 { return after[name] - before[name] }
	assert.Equal(t, 2.0, delta(`baton_phases_total{function="KubeTask",state="complete"}`))
	assert.Equal(t, 1.0, delta(`baton_phases_total{function="KubeTask",state="failed"}`))
	assert.Equal(t, 1.0, delta(`baton_actionset_duration_seconds_count{state="complete"}`))
	assert.Equal(t, 1.0, delta(`baton_actionset_duration_seconds_count{state="failed"}`))
	assert.Equal(t, 3.0, delta(`baton_phase_dispatch_seconds_count`), "three Jobs were created")
	assert.GreaterOrEqual(t, after[`baton_actionsets{state="complete"}`], 1.0)
	assert.GreaterOrEqual(t, after[`baton_actionsets{state="failed"}`], 1.0)
	assert.Contains(t, after, `controller_runtime_reconcile_errors_total{controller="actionset"}`)

	// The phase Events tell the same story.
	events := e.kubectl(t, "get", "events", "-n", batonNamespace, "--field-selector", "involvedObject.name="+good.Name, "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}")
	for _, reason := range []string{"Started", "PhaseStarted", "PhaseCompleted", "Complete"} {
		assert.Contains(t, strings.Fields(events), reason)
	}
}
