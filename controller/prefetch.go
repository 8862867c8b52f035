package controller

import (
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/batonhq/baton/render"
)

// prefetch reads at once, before advance steps through the ActionSet, what
// its steps are about to read one after another: the pods of every phase
// Job that just ended (for outputs and attempts) and the template
// parameters of every action about to start a phase (the object acted on
// and what the action refers to).
//
// Why: stepping from one phase to the next is a chain of API round trips —
// the finished phase's pods, the action's referents, the phase Secret, the
// Job — each waiting for the one before, and with several actions
// finishing together, for those of the actions before too. The reads do
// not depend on each other; done concurrently they cost one round trip
// instead of two per action (docs/performance.md, "Scale").
//
// Only successes are kept. A read that failed is done again by the step
// that needs it, which then handles its error as it always has, so a
// prefetch changes when reads happen, never what a reconcile decides.
func (run *actionSetRun) prefetch() {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		pods = map[string][]corev1.Pod{}
		refs = map[int]render.Params{}
		// At most maxPrefetch reads at once, however many actions.
		slots = make(chan struct{}, maxPrefetch)
	)
	read := func(f func()) {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			f()
		})
	}
	// A halted ActionSet starts no phase (deferPhases excepted, rarely):
	// its referents would be read for nothing.
	_, expired := run.expired()
	halted := expired || isCancelled(run.as) || anyFailed(run.as)
	for i := range run.as.Status.Actions {
		a := &run.as.Status.Actions[i]
		starting := false
		for _, k := range runningPhases(i, a) {
			job, ok := run.jobs[run.jobName(k)]
			if !ok || !needsPods(job, run.phaseStatus(k).Attempts) {
				continue
			}
			starting = starting || (jobCompleted(job) && !k.deferred)
			read(func() {
				if got, err := run.phasePods(job); err == nil {
					mu.Lock()
					pods[job.Name] = got
					mu.Unlock()
				}
			})
		}
		if halted || !starting || !hasPendingPhase(a) {
			continue
		}
		if _, ok := run.referents[i]; ok {
			continue
		}
		// The Blueprint first, here: it comes from the informer cache
		// (rarely the API server) and run.blueprints is not safe to fill
		// from several goroutines.
		bpAction, err := run.blueprintAction(i)
		if err != nil {
			continue
		}
		res := resolver{reader: run.r.APIReader, mapper: run.r.RESTMapper(), as: run.as}
		read(func() {
			if p, err := res.params(run.ctx, i, bpAction); err == nil {
				mu.Lock()
				refs[i] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	run.pods = pods
	for i, p := range refs {
		run.referents[i] = p
	}
}

// maxPrefetch bounds the reads prefetch makes at once: an ActionSet may
// have many actions (one per object), and the API server is shared.
const maxPrefetch = 8
