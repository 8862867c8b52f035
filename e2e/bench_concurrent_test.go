//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

const (
	concurrentActionSets = 50
	concurrentPhases     = 3
)

// BenchmarkConcurrentActionSets measures on the live cluster (make
// bench-concurrent): 50 ActionSets of 3 trivial KubeTask phases created at
// once, against 50 chains of 3 bare Jobs of the same image and command
// (each Job created when the one before it in its chain is seen Complete),
// and the controller's CPU time and peak memory while the ActionSets ran
// (from its own process metrics).
func BenchmarkConcurrentActionSets(b *testing.B) {
	e := connectEngine(b)
	ctx := context.Background()
	var baton, bare time.Duration
	var cpu, peakRSS float64
	for i := 0; i < b.N; i++ {
		before := e.controllerProcess(b)
		stopSampling, peak := e.sampleControllerRSS(b)
		baton += e.runConcurrentActionSets(b, ctx)
		stopSampling()
		after := e.controllerProcess(b)
		cpu += after.cpuSeconds - before.cpuSeconds
		peakRSS = max(peakRSS, *peak)
		bare += e.runBareChains(b, ctx)
	}
	b.ReportMetric(baton.Seconds()/float64(b.N), "actionsets-s")
	b.ReportMetric(bare.Seconds()/float64(b.N), "bare-jobs-s")
	b.ReportMetric(baton.Seconds()/bare.Seconds(), "baton/bare")
	b.ReportMetric(cpu/float64(b.N), "controller-cpu-s")
	b.ReportMetric(peakRSS/(1<<20), "controller-peak-rss-MiB")
}

type processSample struct{ cpuSeconds, rssBytes float64 }

// controllerProcess reads the controller's process_* metrics: CPU time
// summed over the replicas (the standby's share is its Lease polling), and
// the largest replica's resident memory (the leader's, which does the work).
func (e *engine) controllerProcess(b *testing.B) processSample {
	b.Helper()
	var s processSample
	for _, m := range e.scrapeMetricsByPod(b) {
		s.cpuSeconds += m["process_cpu_seconds_total"]
		s.rssBytes = max(s.rssBytes, m["process_resident_memory_bytes"])
	}
	return s
}

// waitPodsGone waits until no pod matches selector: one run's clean-up
// (the garbage collector deleting 150 pods) must not slow the next.
func (e *engine) waitPodsGone(b *testing.B, selector string) {
	b.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := e.client.CoreV1().Pods(batonNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		return err == nil && len(pods.Items) == 0, nil
	})
	if err != nil {
		b.Fatalf("pods %s not gone: %v", selector, err)
	}
}

// sampleControllerRSS polls the controller's resident memory every second
// until stopped, keeping the highest value seen.
func (e *engine) sampleControllerRSS(b *testing.B) (stop func(), peak *float64) {
	var (
		mu   sync.Mutex
		high float64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				rss := e.controllerProcess(b).rssBytes
				mu.Lock()
				high = max(high, rss)
				mu.Unlock()
			}
		}
	}()
	peak = new(float64)
	return func() {
		close(done)
		wg.Wait()
		mu.Lock()
		*peak = high
		mu.Unlock()
	}, peak
}

func (e *engine) runConcurrentActionSets(b *testing.B, ctx context.Context) time.Duration {
	name := uniqueName("conc")
	bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: batonNamespace},
		Actions: map[string]batonv1.BlueprintAction{"run": {}}}
	action := bp.Actions["run"]
	for i := range concurrentPhases {
		action.Phases = append(action.Phases, kubeTask(fmt.Sprintf("p%d", i), "true"))
	}
	bp.Actions["run"] = action
	if err := e.c.Create(ctx, bp); err != nil {
		b.Fatal(err)
	}
	defer e.c.Delete(ctx, bp)
	wc, err := e.watchClient()
	if err != nil {
		b.Fatal(err)
	}
	w, err := wc.Watch(ctx, &batonv1.ActionSetList{}, client.InNamespace(batonNamespace), client.MatchingLabels{"bench": name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	var created []*batonv1.ActionSet
	for i := range concurrentActionSets {
		as := namespaceActionSet(fmt.Sprintf("%s-%02d", name, i), name, "run")
		as.Namespace, as.Labels = batonNamespace, map[string]string{"bench": name}
		if err := e.c.Create(ctx, as); err != nil {
			b.Fatal(err)
		}
		created = append(created, as)
	}
	defer func() {
		for _, as := range created {
			_ = e.c.Delete(ctx, as, client.PropagationPolicy(metav1.DeletePropagationBackground))
		}
		for _, as := range created {
			e.waitPodsGone(b, dispatcher.LabelActionSet+"="+as.Name)
		}
	}()
	ended := map[string]bool{}
	deadline := time.After(10 * time.Minute)
	for len(ended) < concurrentActionSets {
		select {
		case ev := <-w.ResultChan():
			as, ok := ev.Object.(*batonv1.ActionSet)
			if !ok || ev.Type == watch.Deleted || !as.Status.State.IsTerminal() {
				continue
			}
			if as.Status.State != batonv1.StateComplete {
				b.Fatalf("ActionSet %s: %s: %+v", as.Name, as.Status.State, as.Status.Error)
			}
			ended[as.Name] = true
		case <-deadline:
			b.Fatalf("%d of %d ActionSets ended", len(ended), concurrentActionSets)
		}
	}
	return time.Since(start)
}

// runBareChains runs the same work as bare Jobs: 50 chains of 3, each Job
// created when the one before it in its chain is seen Complete.
func (e *engine) runBareChains(b *testing.B, ctx context.Context) time.Duration {
	name := uniqueName("barec")
	w, err := e.client.BatchV1().Jobs(batonNamespace).Watch(ctx, metav1.ListOptions{LabelSelector: "bench=" + name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	create := func(chain, step int) {
		job := newJob(batonNamespace, fmt.Sprintf("%s-%02d-%d", name, chain, step), e2eToolsImage, "sh", "-c", "true").obj()
		job.Labels = map[string]string{"bench": name}
		job.Spec.Template.Labels = map[string]string{"bench": name}
		job.Spec.TTLSecondsAfterFinished = nil
		if _, err := e.client.BatchV1().Jobs(batonNamespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	defer func() {
		bg := metav1.DeletePropagationBackground
		_ = e.client.BatchV1().Jobs(batonNamespace).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &bg},
			metav1.ListOptions{LabelSelector: "bench=" + name})
		e.waitPodsGone(b, "bench="+name)
	}()
	start := time.Now()
	for c := range concurrentActionSets {
		create(c, 0)
	}
	done := map[string]bool{}
	deadline := time.After(10 * time.Minute)
	for len(done) < concurrentActionSets*concurrentPhases {
		select {
		case ev := <-w.ResultChan():
			job, ok := ev.Object.(*batchv1.Job)
			if !ok || done[job.Name] || !jobDone(job) {
				continue
			}
			done[job.Name] = true
			var chain, step int
			if _, err := fmt.Sscanf(strings.TrimPrefix(job.Name, name+"-"), "%d-%d", &chain, &step); err != nil {
				b.Fatalf("job %s: %v", job.Name, err)
			}
			if step+1 < concurrentPhases {
				create(chain, step+1)
			}
		case <-deadline:
			b.Fatalf("bare jobs: %d of %d completed", len(done), concurrentActionSets*concurrentPhases)
		}
	}
	return time.Since(start)
}

// watchClient is a controller-runtime client that can watch.
func (e *engine) watchClient() (client.WithWatch, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: e.c.Scheme()})
}
