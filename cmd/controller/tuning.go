package main

import (
	"flag"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// tuning holds the controller's throughput settings. The defaults come from
// the API-server-only scale benchmark (docs/performance.md, "Scale: 1000
// ActionSets on the API server"): 4 reconciles at once dispatched 2.6× the
// phases per second of 1, and 8 or 16 only 5–15% more than 4 while the
// event recorder, one writer, dropped half to four fifths of the Events
// and reconciles took twice to three times as long; any client-side QPS
// limit was the throughput (a phase costs ~10 requests: 100 QPS is ~10
// phases/s), and the API server's priority and fairness already protects
// it from one client.
type tuning struct {
	maxConcurrentReconciles int
	qps                     float64
	burst                   int
	pprofAddr               string
}

func (t *tuning) bindFlags(fs *flag.FlagSet) {
	fs.IntVar(&t.maxConcurrentReconciles, "max-concurrent-reconciles", 4,
		"ActionSets reconciled at once; each reconcile mostly waits on the API server, so a few in parallel multiply throughput")
	fs.Float64Var(&t.qps, "kube-api-qps", -1,
		"requests per second to the API server, all of the controller's clients together (≤ 0: no client-side limit, leaving it to the API server's priority and fairness); a phase costs about 10")
	fs.IntVar(&t.burst, "kube-api-burst", 0, "requests allowed above --kube-api-qps in a burst (0: twice the QPS)")
	fs.StringVar(&t.pprofAddr, "pprof-bind-address", "", "serve net/http/pprof on this address (empty: off)")
}

// apply sets the client-side rate limit on cfg. One token bucket is shared
// by every client built from cfg (the manager's cached client and API
// reader, the clientset reading pod logs, the event recorder): without it
// client-go gives each REST client a bucket of its own, so the limit would
// be per API group rather than what the flag says.
func (t tuning) apply(cfg *rest.Config) {
	if t.qps <= 0 {
		cfg.QPS, cfg.Burst, cfg.RateLimiter = -1, 0, nil
		return
	}
	burst := t.burst
	if burst <= 0 {
		burst = int(2 * t.qps)
	}
	cfg.QPS, cfg.Burst = float32(t.qps), burst
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, burst)
}
