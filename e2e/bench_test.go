//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

// benchPhases is N, the number of trivial phases per ActionSet.
const benchPhases = 10

// BenchmarkPhaseOverhead measures on the live cluster (make bench):
//
//	first-job   ActionSet created -> its first Job seen
//	handoff     a phase's Job seen Complete -> the next phase's Job seen
//	ratio       wall time of an ActionSet of N trivial KubeTask phases over
//	            that of N bare Jobs run one after another the same way
//
// Times are taken on the client from one watch, so they include watch
// latency, identically for Baton and bare Jobs.
func BenchmarkPhaseOverhead(b *testing.B) {
	e := connectEngine(b)
	ctx := context.Background()
	var firstJob, handoffs []time.Duration
	var batonWall, bareWall time.Duration
	for i := 0; i < b.N; i++ {
		f, h, w := e.runTrivialActionSet(b, ctx)
		firstJob = append(firstJob, f)
		handoffs = append(handoffs, h...)
		batonWall += w
		bareWall += e.runBareJobs(b, ctx)
	}
	b.ReportMetric(ms(percentile(firstJob, 50)), "first-job-p50-ms")
	b.ReportMetric(ms(percentile(handoffs, 50)), "handoff-p50-ms")
	b.ReportMetric(ms(percentile(handoffs, 99)), "handoff-p99-ms")
	b.ReportMetric(batonWall.Seconds()/float64(b.N), "actionset-s")
	b.ReportMetric(bareWall.Seconds()/float64(b.N), "bare-jobs-s")
	b.ReportMetric(batonWall.Seconds()/bareWall.Seconds(), "baton/bare")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func (e *engine) runTrivialActionSet(b *testing.B, ctx context.Context) (firstJob time.Duration, handoffs []time.Duration, wall time.Duration) {
	name := uniqueName("bench")
	bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: batonNamespace},
		Actions: map[string]batonv1.BlueprintAction{"run": {}}}
	action := bp.Actions["run"]
	for i := 0; i < benchPhases; i++ {
		action.Phases = append(action.Phases, kubeTask(fmt.Sprintf("p%02d", i), "true"))
	}
	bp.Actions["run"] = action
	if err := e.c.Create(ctx, bp); err != nil {
		b.Fatal(err)
	}
	defer e.c.Delete(ctx, bp)

	w, err := e.client.BatchV1().Jobs(batonNamespace).Watch(ctx, metav1.ListOptions{LabelSelector: dispatcher.LabelActionSet + "=" + name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	as := namespaceActionSet(name, name, "run")
	as.Namespace = batonNamespace
	start := time.Now()
	if err := e.c.Create(ctx, as); err != nil {
		b.Fatal(err)
	}
	defer e.c.Delete(ctx, as)

	seen, completed := map[string]time.Time{}, map[string]time.Time{}
	var lastComplete time.Time
	deadline := time.After(actionSetTimeout)
	for len(completed) < benchPhases {
		select {
		case ev := <-w.ResultChan():
			job, ok := ev.Object.(*batchv1.Job)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			now := time.Now()
			if _, ok := seen[job.Name]; !ok {
				seen[job.Name] = now
				if len(seen) == 1 {
					firstJob = now.Sub(start)
				} else {
					handoffs = append(handoffs, now.Sub(lastComplete))
				}
			}
			if _, done := completed[job.Name]; !done && jobDone(job) {
				completed[job.Name] = now
				lastComplete = now
			}
		case <-deadline:
			b.Fatalf("ActionSet %s: %d of %d phases completed in %s", name, len(completed), benchPhases, actionSetTimeout)
		}
	}
	return firstJob, handoffs, lastComplete.Sub(start)
}

// runBareJobs runs benchPhases Jobs of the same image and command one
// after another, each created as soon as the previous is seen Complete.
func (e *engine) runBareJobs(b *testing.B, ctx context.Context) time.Duration {
	name := uniqueName("bare")
	w, err := e.client.BatchV1().Jobs(batonNamespace).Watch(ctx, metav1.ListOptions{LabelSelector: "bench=" + name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	create := func(i int) {
		job := newJob(batonNamespace, fmt.Sprintf("%s-%02d", name, i), e2eToolsImage, "sh", "-c", "true").obj()
		job.Labels = map[string]string{"bench": name}
		job.Spec.TTLSecondsAfterFinished = nil
		if _, err := e.client.BatchV1().Jobs(batonNamespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	defer func() {
		bg := metav1.DeletePropagationBackground
		_ = e.client.BatchV1().Jobs(batonNamespace).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg},
			metav1.ListOptions{LabelSelector: "bench=" + name})
	}()
	start := time.Now()
	create(0)
	done := map[string]bool{}
	deadline := time.After(actionSetTimeout)
	for len(done) < benchPhases {
		select {
		case ev := <-w.ResultChan():
			job, ok := ev.Object.(*batchv1.Job)
			if !ok || done[job.Name] || !jobDone(job) {
				continue
			}
			done[job.Name] = true
			if len(done) < benchPhases {
				create(len(done))
			}
		case <-deadline:
			b.Fatalf("bare jobs: %d of %d completed", len(done), benchPhases)
		}
	}
	return time.Since(start)
}

func jobDone(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
