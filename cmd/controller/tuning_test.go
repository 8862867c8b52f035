package main

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

func parseTuning(t *testing.T, args ...string) tuning {
	t.Helper()
	var tune tuning
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	tune.bindFlags(fs)
	require.NoError(t, fs.Parse(args))
	return tune
}

func TestTuningDefaults(t *testing.T) {
	tune := parseTuning(t)
	assert.Equal(t, 4, tune.maxConcurrentReconciles)
	cfg := &rest.Config{QPS: 5, Burst: 10}
	tune.apply(cfg)
	assert.Equal(t, float32(-1), cfg.QPS, "no client-side limit")
	assert.Nil(t, cfg.RateLimiter)
}

func TestTuningSharesOneLimiter(t *testing.T) {
	tune := parseTuning(t, "--kube-api-qps=100", "--max-concurrent-reconciles=16")
	assert.Equal(t, 16, tune.maxConcurrentReconciles)
	cfg := &rest.Config{}
	tune.apply(cfg)
	assert.Equal(t, float32(100), cfg.QPS)
	assert.Equal(t, 200, cfg.Burst, "burst defaults to twice the QPS")
	require.NotNil(t, cfg.RateLimiter)
	assert.Same(t, cfg.RateLimiter, rest.CopyConfig(cfg).RateLimiter, "every client built from the config shares it")

	tune = parseTuning(t, "--kube-api-qps=20", "--kube-api-burst=30")
	tune.apply(cfg)
	assert.Equal(t, 30, cfg.Burst)
	assert.Equal(t, float32(20), cfg.RateLimiter.QPS())
}
