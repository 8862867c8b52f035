//go:build integration

package scale

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/internal/testenv"
)

const (
	runnerServiceAccount = "baton-runner"
	blueprintName        = "scale"
	actionName           = "run"
	phasesPerAction      = 3
)

// config is one scale run.
type config struct {
	actionSets int
	// rate paces ActionSet creation (per second); 0 creates them all at
	// once, from several goroutines.
	rate float64
	// controllerFlags are added to the controller's command line (the
	// tuning flags: --max-concurrent-reconciles, --kube-api-qps, …).
	controllerFlags []string
	simWorkers      int
	// foreignJobs are Jobs Baton does not manage, created (in a namespace
	// of their own) before the controller starts: what a label-selected
	// Job cache keeps out.
	foreignJobs int
	timeout     time.Duration
	// cpuProfile, when set, is where a CPU profile of the controller is
	// written, taken over profileSeconds once every ActionSet is created.
	cpuProfile     string
	profileSeconds int
	// apiServerProfile is the same for the kube-apiserver.
	apiServerProfile string
}

// configFromEnv reads the knobs `make bench-scale` passes.
func configFromEnv(t testing.TB) config {
	t.Helper()
	c := config{actionSets: 1000, simWorkers: 16, timeout: 20 * time.Minute}
	num := func(name string, set func(float64)) {
		if v := os.Getenv(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s=%q: %v", name, v, err)
			}
			set(f)
		}
	}
	num("SCALE_ACTIONSETS", func(f float64) { c.actionSets = int(f) })
	num("SCALE_RATE", func(f float64) { c.rate = f })
	num("SCALE_SIM_WORKERS", func(f float64) { c.simWorkers = int(f) })
	num("SCALE_FOREIGN_JOBS", func(f float64) { c.foreignJobs = int(f) })
	num("SCALE_TIMEOUT_MINUTES", func(f float64) { c.timeout = time.Duration(f * float64(time.Minute)) })
	c.controllerFlags = strings.Fields(os.Getenv("SCALE_CONTROLLER_FLAGS"))
	c.cpuProfile, c.profileSeconds = os.Getenv("SCALE_CPU_PROFILE"), 20
	c.apiServerProfile = os.Getenv("SCALE_APISERVER_PROFILE")
	num("SCALE_CPU_PROFILE_SECONDS", func(f float64) { c.profileSeconds = int(f) })
	return c
}

// result is what one run measured.
type result struct {
	cfg                      config
	jobs                     int
	wall                     time.Duration // first ActionSet created → last seen complete
	dispatchSpan             time.Duration // first Job seen → last Job seen
	phasesPerSecond          float64
	handoffP50, handoffP99   time.Duration
	firstJobP50, firstJobP99 time.Duration
	reconcileP50             float64 // seconds, from the controller's histogram
	reconcileP99             float64
	dispatchP50              float64 // baton_phase_dispatch_seconds
	dispatchP99              float64
	queueP50, queueP99       float64 // workqueue wait of the actionset controller
	reconciles, errors       float64
	requestsPerPhase         float64
	idle, allCreated, end    Memory
	heapInuse                float64 // bytes, at the end
	// requests is the controller's API requests by HTTP method.
	requests map[string]float64
	// cpu is the CPU time each process used during the run.
	cpu map[string]time.Duration
	// watches are the watches the controller holds on the API server, by
	// resource.
	watches map[string]float64
	// events is how many Events the controller had recorded in the
	// namespace by the end, of the 2 + 2 per phase it emits.
	events int
}

func TestIntegrationScaleSmoke(t *testing.T) {
	res := runScale(t, config{actionSets: 30, simWorkers: 4, timeout: 3 * time.Minute})
	t.Log("\n" + res.table())
	// What keeps the controller's memory bounded on a real cluster: it
	// never holds every pod (or any Secret) of the cluster.
	for _, resource := range []string{"pods", "secrets"} {
		if n := res.watches[resource]; n != 0 {
			t.Errorf("the controller watches %s (%v watches)", resource, n)
		}
	}
}

// BenchmarkScale is the API-server-only scale benchmark (make bench-scale):
// SCALE_ACTIONSETS ActionSets of 3 phases against one controller process.
// One run per iteration; use -benchtime 1x.
func BenchmarkScale(b *testing.B) {
	cfg := configFromEnv(b)
	for range b.N {
		res := runScale(b, cfg)
		b.Log("\n" + res.table())
		b.ReportMetric(res.phasesPerSecond, "phases/s")
		b.ReportMetric(ms(res.handoffP50), "handoff-p50-ms")
		b.ReportMetric(ms(res.handoffP99), "handoff-p99-ms")
		b.ReportMetric(res.reconcileP50*1000, "reconcile-p50-ms")
		b.ReportMetric(res.reconcileP99*1000, "reconcile-p99-ms")
		b.ReportMetric(mib(res.end.RSS), "rss-end-MiB")
		b.ReportMetric(mib(res.end.Peak), "rss-peak-MiB")
		b.ReportMetric(res.wall.Seconds(), "wall-s")
	}
}

// runScale runs cfg.actionSets ActionSets of a 3-phase Blueprint against a
// fresh API server and a controller process, checks that each completed
// with exactly one Job per phase, and returns the measurements.
func runScale(t testing.TB, cfg config) result {
	apiServer := testenv.Options{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}}
	if cfg.apiServerProfile != "" {
		apiServer.APIServerFlags = map[string]string{"profiling": "true"}
	}
	restCfg := testenv.Start(t, apiServer)
	// The harness must never be what limits the rate: no client-side limit.
	restCfg = rest.CopyConfig(restCfg)
	restCfg.QPS, restCfg.Burst = -1, 0
	scheme := runtime.NewScheme()
	must(t, clientgoscheme.AddToScheme(scheme))
	must(t, batonv1.AddToScheme(scheme))
	kube, err := kubernetes.NewForConfig(restCfg)
	must(t, err)
	c, err := client.NewWithWatch(restCfg, client.Options{Scheme: scheme})
	must(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scale"}}
	must(t, c.Create(ctx, ns))
	must(t, c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: runnerServiceAccount, Namespace: ns.Name}}))
	must(t, c.Create(ctx, threeTrivialPhases(ns.Name)))
	createForeignJobs(t, ctx, c, cfg.foreignJobs)

	watchesBefore := apiServerWatches(t, restCfg)
	bin := buildController(t)
	flags := cfg.controllerFlags
	pprofAddr := ""
	if cfg.cpuProfile != "" {
		pprofAddr = "127.0.0.1:" + freePort(t)
		flags = append(slices.Clone(flags), "--pprof-bind-address="+pprofAddr)
	}
	ctl := startController(t, bin, testenv.WriteKubeconfig(t, restCfg), flags)
	res := result{cfg: cfg}
	res.idle, err = ReadMemory(ctl.pid())
	must(t, err)
	cpu := startCPUAccounting(t, ctl.pid())
	res.watches = controllerWatches(t, ctx, restCfg, watchesBefore)

	expectedJobs := cfg.actionSets * phasesPerAction
	sim, err := startSimulator(ctx, kube, ns.Name, cfg.simWorkers, expectedJobs)
	must(t, err)
	done, err := watchActionSets(ctx, c, ns.Name, cfg.actionSets)
	must(t, err)
	peak := sampleMemory(ctx, ctl.pid())

	created := createActionSets(t, ctx, c, ns.Name, cfg)
	if res.allCreated, err = ReadMemory(ctl.pid()); err != nil {
		t.Fatal(err)
	}
	profiled := make(chan error, 2)
	if pprofAddr != "" {
		go func() {
			profiled <- cpuProfile(ctx, http.DefaultClient, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, cfg.profileSeconds), cfg.cpuProfile)
		}()
	} else {
		profiled <- nil
	}
	if cfg.apiServerProfile != "" {
		httpClient, err := rest.HTTPClientFor(restCfg)
		must(t, err)
		go func() {
			profiled <- cpuProfile(ctx, httpClient, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(restCfg.Host, "/"), cfg.profileSeconds), cfg.apiServerProfile)
		}()
	} else {
		profiled <- nil
	}
	var outcome actionSetOutcome
	select {
	case outcome = <-done:
	case <-ctx.Done():
		runs, simErr := sim.snapshot()
		t.Fatalf("after %s: %d of %d Jobs seen (simulator error: %v)", cfg.timeout, len(runs), expectedJobs, simErr)
	}
	if len(outcome.notComplete) > 0 {
		t.Fatalf("%d ActionSets did not complete, e.g. %s", len(outcome.notComplete), outcome.notComplete[0])
	}
	runs, err := sim.snapshot()
	must(t, err)
	if res.end, err = ReadMemory(ctl.pid()); err != nil {
		t.Fatal(err)
	}
	// VmHWM is the kernel's own peak; the sampler is a cross-check.
	res.end.Peak = max(res.end.Peak, peak())
	res.cpu = cpu()
	res.metrics(ctl.scrape(t))
	must(t, <-profiled)
	must(t, <-profiled)
	checkOneJobPerPhase(t, ctx, c, ns.Name, cfg.actionSets)
	var events corev1.EventList
	must(t, c.List(ctx, &events, client.InNamespace(ns.Name)))
	res.events = len(events.Items)
	res.timings(t, created, outcome.completed, runs)
	return res
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// threeTrivialPhases is a Blueprint whose action has three KubeTask phases
// needing nothing but an image (no Profile, no referents beyond the
// Namespace acted on).
func threeTrivialPhases(ns string) *batonv1.Blueprint {
	action := batonv1.BlueprintAction{}
	for i := range phasesPerAction {
		action.Phases = append(action.Phases, batonv1.BlueprintPhase{
			Name: fmt.Sprintf("step%d", i+1), Func: "KubeTask",
			Args: batonv1.JSONMap{"image": "busybox", "command": []any{"sh", "-c", "true"}},
		})
	}
	return &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: blueprintName, Namespace: ns},
		Actions: map[string]batonv1.BlueprintAction{actionName: action}}
}

func actionSetNamed(name, ns string) *batonv1.ActionSet {
	return &batonv1.ActionSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{
			Name: actionName, Blueprint: blueprintName,
			Object: batonv1.ObjectReference{Kind: "Namespace", Name: ns},
		}}},
	}
}

func actionSetName(i int) string { return fmt.Sprintf("as-%05d", i) }

// createActionSets creates cfg.actionSets ActionSets, paced at cfg.rate per
// second or as fast as 8 goroutines can, and returns when each was created.
func createActionSets(t testing.TB, ctx context.Context, c client.Client, ns string, cfg config) map[string]time.Time {
	t.Helper()
	indices := make(chan int)
	go func() {
		defer close(indices)
		var tick <-chan time.Time
		if cfg.rate > 0 {
			ticker := time.NewTicker(time.Duration(float64(time.Second) / cfg.rate))
			defer ticker.Stop()
			tick = ticker.C
		}
		for i := range cfg.actionSets {
			if tick != nil {
				select {
				case <-tick:
				case <-ctx.Done():
					return
				}
			}
			select {
			case indices <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		mu       sync.Mutex
		created  = map[string]time.Time{}
		firstErr error
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for i := range indices {
				name := actionSetName(i)
				start := time.Now()
				err := c.Create(ctx, actionSetNamed(name, ns))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("create ActionSet %s: %w", name, err)
				}
				// The creation request's start: the ActionSet exists from
				// some moment of the request, the controller may see it
				// before the response arrives.
				created[name] = start
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	must(t, firstErr)
	return created
}

// actionSetOutcome is how the watched ActionSets ended.
type actionSetOutcome struct {
	completed   map[string]time.Time // when seen complete
	notComplete []string             // ended otherwise: failed or cancelled
}

// watchActionSets reports, once all n ActionSets of ns have ended, when
// each was seen complete.
func watchActionSets(ctx context.Context, c client.WithWatch, ns string, n int) (<-chan actionSetOutcome, error) {
	var list batonv1.ActionSetList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Watch(ctx, &batonv1.ActionSetList{}, client.InNamespace(ns), &client.ListOptions{Raw: &o})
		},
	})
	if err != nil {
		return nil, err
	}
	out := make(chan actionSetOutcome, 1)
	go func() {
		defer w.Stop()
		o := actionSetOutcome{completed: map[string]time.Time{}}
		ended := map[string]bool{}
		for len(ended) < n {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				as, isAS := ev.Object.(*batonv1.ActionSet)
				if !isAS || ended[as.Name] || !as.Status.State.IsTerminal() {
					continue
				}
				ended[as.Name] = true
				if as.Status.State == batonv1.StateComplete {
					o.completed[as.Name] = time.Now()
				} else {
					o.notComplete = append(o.notComplete, fmt.Sprintf("%s: %s", as.Name, as.Status.State))
				}
			}
		}
		out <- o
	}()
	return out, nil
}

// sampleMemory polls pid's resident set every 200 ms until ctx ends and
// returns the highest seen so far.
func sampleMemory(ctx context.Context, pid int) (highest func() uint64) {
	var mu sync.Mutex
	var top uint64
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if m, err := ReadMemory(pid); err == nil {
					mu.Lock()
					top = max(top, m.RSS)
					mu.Unlock()
				}
			}
		}
	}()
	return func() uint64 { mu.Lock(); defer mu.Unlock(); return top }
}

// createForeignJobs fills a namespace of its own with n Jobs Baton does
// not manage, as a cluster's CI or CronJobs would.
func createForeignJobs(t testing.TB, ctx context.Context, c client.Client, n int) {
	t.Helper()
	if n == 0 {
		return
	}
	must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "others"}}))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				errs <- c.Create(ctx, foreignJob(i))
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
}

func foreignJob(i int) *batchv1.Job {
	labels := map[string]string{"app": "nightly-report"}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("report-%05d", i), Namespace: "others", Labels: labels},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
				Name: "report", Image: "registry.example/report:1.4",
				Command: []string{"/bin/report", "--since=24h", "--format=csv"},
				Env:     []corev1.EnvVar{{Name: "REPORT_BUCKET", Value: "reports"}, {Name: "TZ", Value: "UTC"}},
			}}},
		}},
	}
}

// checkOneJobPerPhase fails unless every ActionSet has exactly one Job for
// each of its phases: none missing, none created twice.
func checkOneJobPerPhase(t testing.TB, ctx context.Context, c client.Client, ns string, n int) {
	t.Helper()
	var jobs batchv1.JobList
	must(t, c.List(ctx, &jobs, client.InNamespace(ns)))
	perPhase := map[string]int{}
	for _, j := range jobs.Items {
		perPhase[j.Labels[dispatcher.LabelActionSet]+"/"+j.Labels[dispatcher.LabelPhase]]++
	}
	for i := range n {
		for p := range phasesPerAction {
			key := fmt.Sprintf("%s/step%d", actionSetName(i), p+1)
			if perPhase[key] != 1 {
				t.Errorf("%s: %d Jobs, want 1", key, perPhase[key])
			}
		}
	}
	if len(jobs.Items) != n*phasesPerAction {
		t.Errorf("%d Jobs for %d ActionSets of %d phases", len(jobs.Items), n, phasesPerAction)
	}
}

func (r *result) metrics(samples []Sample) {
	actionset := map[string]string{"controller": "actionset"}
	reconcile := HistogramOf(samples, "controller_runtime_reconcile_time_seconds", actionset)
	r.reconcileP50, r.reconcileP99 = reconcile.Quantile(0.5), reconcile.Quantile(0.99)
	dispatch := HistogramOf(samples, "baton_phase_dispatch_seconds", nil)
	r.dispatchP50, r.dispatchP99 = dispatch.Quantile(0.5), dispatch.Quantile(0.99)
	queue := HistogramOf(samples, "workqueue_queue_duration_seconds", map[string]string{"name": "actionset"})
	r.queueP50, r.queueP99 = queue.Quantile(0.5), queue.Quantile(0.99)
	r.reconciles = reconcile.Count
	r.errors = Sum(samples, "controller_runtime_reconcile_errors_total", actionset)
	r.heapInuse = Sum(samples, "go_memstats_heap_inuse_bytes", nil)
	if phases := float64(r.cfg.actionSets * phasesPerAction); phases > 0 {
		r.requestsPerPhase = Sum(samples, "rest_client_requests_total", nil) / phases
	}
	r.requests = map[string]float64{}
	for _, s := range samples {
		if s.Name == "rest_client_requests_total" {
			r.requests[s.Labels["method"]] += s.Value
		}
	}
}

// timings derives throughput and latencies from the client-side clocks:
// the simulator's Job watch and writes, the ActionSet watch.
func (r *result) timings(t testing.TB, created, completed map[string]time.Time, runs []phaseRun) {
	t.Helper()
	r.jobs = len(runs)
	byActionSet := map[string][]*phaseRun{}
	var firstSeen, lastSeen time.Time
	for i := range runs {
		run := &runs[i]
		phases := byActionSet[run.actionSet]
		if phases == nil {
			phases = make([]*phaseRun, phasesPerAction)
			byActionSet[run.actionSet] = phases
		}
		if run.index < 0 || run.index >= phasesPerAction {
			t.Fatalf("job %s: phase index %d", run.job, run.index)
		}
		phases[run.index] = run
		if firstSeen.IsZero() || run.seen.Before(firstSeen) {
			firstSeen = run.seen
		}
		if run.seen.After(lastSeen) {
			lastSeen = run.seen
		}
	}
	r.dispatchSpan = lastSeen.Sub(firstSeen)
	if r.jobs > 1 && r.dispatchSpan > 0 {
		r.phasesPerSecond = float64(r.jobs-1) / r.dispatchSpan.Seconds()
	}
	var handoffs, firstJobs []time.Duration
	var start, end time.Time
	for name, at := range created {
		if start.IsZero() || at.Before(start) {
			start = at
		}
		if done := completed[name]; done.After(end) {
			end = done
		}
		phases := byActionSet[name]
		if phases == nil || phases[0] == nil {
			t.Fatalf("ActionSet %s: no first Job seen", name)
		}
		firstJobs = append(firstJobs, phases[0].seen.Sub(at))
		for i := 1; i < phasesPerAction; i++ {
			if phases[i] == nil || phases[i-1].completed.IsZero() {
				t.Fatalf("ActionSet %s: phase %d not seen or previous not completed", name, i)
			}
			handoffs = append(handoffs, phases[i].seen.Sub(phases[i-1].completed))
		}
	}
	r.wall = end.Sub(start)
	r.handoffP50, r.handoffP99 = Percentile(handoffs, 50), Percentile(handoffs, 99)
	r.firstJobP50, r.firstJobP99 = Percentile(firstJobs, 50), Percentile(firstJobs, 99)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mib(b uint64) float64       { return float64(b) / (1 << 20) }

// table renders the result for the log and docs/performance.md.
func (r result) table() string {
	var b strings.Builder
	rate := "all at once"
	if r.cfg.rate > 0 {
		rate = fmt.Sprintf("%g/s", r.cfg.rate)
	}
	flags := strings.Join(r.cfg.controllerFlags, " ")
	if flags == "" {
		flags = "(defaults)"
	}
	row := func(k, f string, a ...any) { fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(f, a...)) }
	row("ActionSets × phases", "%d × %d (%d Jobs), created %s; %d foreign Jobs", r.cfg.actionSets, phasesPerAction, r.jobs, rate, r.cfg.foreignJobs)
	row("controller flags", "%s", flags)
	var watched []string
	for resource, n := range r.watches {
		if n != 0 {
			watched = append(watched, fmt.Sprintf("%s %g", resource, n))
		}
	}
	slices.Sort(watched)
	row("watches the controller holds", "%s", strings.Join(watched, ", "))
	row("wall time (first ActionSet created → last complete)", "%.1f s", r.wall.Seconds())
	row("phases dispatched per second (first → last Job)", "%.1f (%d Jobs in %.1f s)", r.phasesPerSecond, r.jobs, r.dispatchSpan.Seconds())
	row("handoff: Job Complete written → next Job seen, p50 / p99", "%.1f / %.1f ms", ms(r.handoffP50), ms(r.handoffP99))
	row("ActionSet created → first Job seen, p50 / p99", "%.1f / %.1f ms", ms(r.firstJobP50), ms(r.firstJobP99))
	row("reconcile time (actionset), p50 / p99", "%.1f / %.1f ms (%.0f reconciles, %.0f errors)", r.reconcileP50*1000, r.reconcileP99*1000, r.reconciles, r.errors)
	row("work-queue wait (actionset), p50 / p99", "%.1f / %.1f ms", r.queueP50*1000, r.queueP99*1000)
	row("baton_phase_dispatch_seconds, p50 / p99", "%.1f / %.1f ms", r.dispatchP50*1000, r.dispatchP99*1000)
	var methods []string
	for m, n := range r.requests {
		methods = append(methods, fmt.Sprintf("%s %.2f", m, n/float64(r.cfg.actionSets*phasesPerAction)))
	}
	slices.Sort(methods)
	row("API requests per phase (controller)", "%.1f (%s)", r.requestsPerPhase, strings.Join(methods, ", "))
	row("Events recorded by the end, of those emitted", "%d of %d", r.events, r.cfg.actionSets*(2+2*phasesPerAction))
	row("controller RSS: idle / all ActionSets created / at the end", "%.1f / %.1f / %.1f MiB", mib(r.idle.RSS), mib(r.allCreated.RSS), mib(r.end.RSS))
	row("controller peak RSS (VmHWM); Go heap in use at the end", "%.1f MiB; %.1f MiB", mib(r.end.Peak), r.heapInuse/(1<<20))
	row("CPU time: controller / kube-apiserver / etcd / test (simulator, watches)", "%.1f / %.1f / %.1f / %.1f s",
		r.cpu["controller"].Seconds(), r.cpu["kube-apiserver"].Seconds(), r.cpu["etcd"].Seconds(), r.cpu["test"].Seconds())
	row("CPU time used by other processes on the machine, of the total", "%.1f of %.1f s",
		r.cpu["others"].Seconds(), r.cpu["machine total"].Seconds())
	return b.String()
}

// startCPUAccounting notes the CPU time used so far by the controller, the
// API server and etcd envtest started (children of this process) and this
// process (the simulator and the watches); the returned func reports what
// each used since.
func startCPUAccounting(t testing.TB, controllerPID int) func() map[string]time.Duration {
	t.Helper()
	pids := map[string]int{"controller": controllerPID, "test": os.Getpid()}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		found, err := ChildrenNamed(os.Getpid(), name)
		must(t, err)
		if len(found) != 1 {
			t.Fatalf("%d %s processes started by this test, want 1", len(found), name)
		}
		pids[name] = found[0]
	}
	read := func() map[string]time.Duration {
		out := map[string]time.Duration{}
		for name, pid := range pids {
			d, err := CPUTime(pid)
			must(t, err)
			out[name] = d
		}
		busy, total, err := MachineCPU()
		must(t, err)
		out["machine busy"], out["machine total"] = busy, total
		return out
	}
	start := read()
	return func() map[string]time.Duration {
		end := read()
		for name := range end {
			end[name] -= start[name]
		}
		// Other engineers' builds and tests share the machine: what they
		// used is what the machine was busy with beyond this run.
		end["others"] = end["machine busy"]
		for name := range pids {
			end["others"] -= end[name]
		}
		return end
	}
}

// cpuProfile saves the CPU profile url serves (a pprof endpoint) in path.
func cpuProfile(ctx context.Context, c *http.Client, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("CPU profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// apiServerWatches counts the watches the API server is serving, by
// resource (its apiserver_longrunning_requests gauge).
func apiServerWatches(t testing.TB, cfg *rest.Config) map[string]float64 {
	t.Helper()
	c, err := rest.HTTPClientFor(cfg)
	must(t, err)
	resp, err := c.Get(strings.TrimSuffix(cfg.Host, "/") + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("API server metrics: %s", resp.Status)
	}
	samples, err := ParseText(string(body))
	must(t, err)
	out := map[string]float64{}
	for _, s := range samples {
		if s.Name == "apiserver_longrunning_requests" && s.Labels["verb"] == "WATCH" {
			out[s.Labels["resource"]] += s.Value
		}
	}
	return out
}

// controllerWatches returns the watches opened since before (the
// controller's), once those of the informers every controller of it needs
// are open: its informers start together, so any other would be open by
// then too.
func controllerWatches(t testing.TB, ctx context.Context, cfg *rest.Config, before map[string]float64) map[string]float64 {
	t.Helper()
	var now map[string]float64
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		now = apiServerWatches(t, cfg)
		for resource, n := range before {
			now[resource] -= n
		}
		return now["actionsets"] > 0 && now["jobs"] > 0 && now["blueprints"] > 0, nil
	})
	if err != nil {
		t.Fatalf("the controller's watches did not open: %v (seen: %v)", err, now)
	}
	return now
}
