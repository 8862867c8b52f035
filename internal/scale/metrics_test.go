package scale

import (
	"math"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const exposition = `# HELP controller_runtime_reconcile_time_seconds Length of time per reconciliation per controller
# TYPE controller_runtime_reconcile_time_seconds histogram
controller_runtime_reconcile_time_seconds_bucket{controller="actionset",le="0.01"} 50
controller_runtime_reconcile_time_seconds_bucket{controller="actionset",le="0.1"} 90
controller_runtime_reconcile_time_seconds_bucket{controller="actionset",le="1"} 100
controller_runtime_reconcile_time_seconds_bucket{controller="actionset",le="+Inf"} 100
controller_runtime_reconcile_time_seconds_sum{controller="actionset"} 3.5
controller_runtime_reconcile_time_seconds_count{controller="actionset"} 100
controller_runtime_reconcile_time_seconds_bucket{controller="blueprint",le="0.01"} 7
controller_runtime_reconcile_time_seconds_bucket{controller="blueprint",le="+Inf"} 7
rest_client_requests_total{code="200",host="127.0.0.1:40000",method="GET"} 12
rest_client_requests_total{code="201",host="127.0.0.1:40000",method="POST"} 30 1700000000000
weird{path="a \"quoted\", comma\\"} 1
`

func TestParseTextAndSum(t *testing.T) {
	samples, err := ParseText(exposition)
	require.NoError(t, err)
	assert.Equal(t, 42.0, Sum(samples, "rest_client_requests_total", nil))
	assert.Equal(t, 30.0, Sum(samples, "rest_client_requests_total", map[string]string{"method": "POST"}))
	assert.Equal(t, 1.0, Sum(samples, "weird", map[string]string{"path": `a "quoted", comma\`}))
}

func TestHistogramQuantile(t *testing.T) {
	samples, err := ParseText(exposition)
	require.NoError(t, err)
	h := HistogramOf(samples, "controller_runtime_reconcile_time_seconds", map[string]string{"controller": "actionset"})
	assert.Equal(t, 100.0, h.Count)
	assert.Equal(t, 3.5, h.Sum)
	assert.InDelta(t, 0.01, h.Quantile(0.5), 1e-9, "the 50th of 100 is the top of the first bucket")
	assert.InDelta(t, 0.55, h.Quantile(0.95), 1e-9, "95th: halfway through (0.1, 1]")
	assert.InDelta(t, 0.005, h.Quantile(0.25), 1e-9, "interpolated from 0 in the first bucket")

	onlyInf := Histogram{Buckets: []Bucket{{0.1, 1}, {math.Inf(1), 10}}}
	assert.Equal(t, 0.1, onlyInf.Quantile(0.99), "the +Inf bucket reports the highest finite bound")
	assert.True(t, math.IsNaN(Histogram{}.Quantile(0.5)))
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, Percentile(ds, 50))
	assert.Equal(t, 99*time.Millisecond, Percentile(ds, 99))
	assert.Equal(t, 100*time.Millisecond, Percentile(ds, 100))
	assert.Equal(t, time.Duration(0), Percentile(nil, 50))
}

func TestReadMemoryAndCPUOfThisProcess(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, m.RSS)
	assert.GreaterOrEqual(t, m.Peak, m.RSS)
	_, err = CPUTime(os.Getpid())
	require.NoError(t, err)
}

func TestChildrenNamed(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pids, err := ChildrenNamed(os.Getpid(), "sleep")
	require.NoError(t, err)
	assert.Equal(t, []int{cmd.Process.Pid}, pids)
	none, err := ChildrenNamed(os.Getpid(), "kube-apiserver")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestMachineCPU(t *testing.T) {
	busy, total, err := MachineCPU()
	require.NoError(t, err)
	assert.Positive(t, total)
	assert.LessOrEqual(t, busy, total)
}
