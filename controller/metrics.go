package controller

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// Metrics Baton's controller serves on /metrics, beside controller-runtime's
// own (reconcile counts, errors and latencies, work queue depth). Names and
// labels are documented in docs/metrics.md.
var (
	actionSetDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "baton_actionset_duration_seconds",
		Help:    "Time from an ActionSet's creation to its end, by final state.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14), // 1 s .. ~2.3 h
	}, []string{"state"})
	phaseDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "baton_phase_duration_seconds",
		Help:    "Run time of a phase's Job (start to completion, as the Job reports it, 1 s resolution), by function and final state.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14),
	}, []string{"function", "state"})
	phaseDispatch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "baton_phase_dispatch_seconds",
		Help: "Controller time from the start of the reconcile that found a phase ready (its ActionSet started or the phase before it completed) to its Job created.",
		// 1 ms .. ~16 s
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	})
	phasesFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "baton_phases_total",
		Help: "Phases that ended, by function and state (complete or failed).",
	}, []string{"function", "state"})
)

func init() {
	metrics.Registry.MustRegister(actionSetDuration, phaseDuration, phaseDispatch, phasesFinished)
}

// actionSetCounter reports baton_actionsets{state}, counted from the
// informer cache at scrape time: no bookkeeping to drift, no API call.
type actionSetCounter struct {
	reader client.Reader
	desc   *prometheus.Desc
}

// NewActionSetCounter is the collector of ActionSets by state; register it
// once with metrics.Registry (the controller's main does).
func NewActionSetCounter(reader client.Reader) prometheus.Collector {
	return &actionSetCounter{reader: reader, desc: prometheus.NewDesc("baton_actionsets",
		"ActionSets that exist now, by state (pending: not picked up yet).", []string{"state"}, nil)}
}

func (c *actionSetCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *actionSetCounter) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list batonv1.ActionSetList
	if err := c.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	counts := map[batonv1.State]float64{batonv1.StatePending: 0, batonv1.StateQueued: 0, batonv1.StateRunning: 0, batonv1.StateComplete: 0,
		batonv1.StateFailed: 0, batonv1.StateCancelled: 0}
	for _, as := range list.Items {
		state := as.Status.State
		if state == "" {
			state = batonv1.StatePending
		}
		counts[state]++
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, n, string(state))
	}
}
