// Package controller reconciles ActionSets: it runs every phase of every
// action as a batch/v1 Job (built by the dispatcher), records outputs and
// state in the ActionSet's status and emits Events.
//
// Everything the controller knows is recovered on each reconcile from the
// ActionSet's status and the Jobs it owns (found by label, named
// deterministically), so a restarted controller picks up running ActionSets
// where they were and never creates a Job twice.
package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	crevent "sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/render"
	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// ConditionComplete is the ActionSet condition summarising its run:
// Unknown while running, True when complete, False when failed.
const ConditionComplete = "Complete"

// Reconciler runs ActionSets.
type Reconciler struct {
	client.Client
	// APIReader reads what ActionSets refer to (Blueprints, Profiles,
	// Secrets, ConfigMaps, the objects acted on) straight from the API
	// server. A cache would report an object created a moment before its
	// ActionSet as missing, failing the ActionSet for nothing, and would
	// hold every Secret of the cluster in the controller's memory.
	APIReader client.Reader
	// Blueprints, when set, is read for Blueprints after an ActionSet's
	// first reconcile: the manager's cache, which the Blueprint checker's
	// watch fills anyway. Reading it saves an API request on every step
	// from one phase to the next (docs/performance.md, "Scale"). A
	// Blueprint it does not hold is read from APIReader.
	Blueprints client.Reader
	// Kube reads pod logs, which the controller-runtime client cannot.
	Kube     kubernetes.Interface
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
	Settings dispatcher.Settings
	// DefaultTTL deletes ended ActionSets that set no
	// ttlSecondsAfterFinished this long after they ended; zero keeps them.
	DefaultTTL time.Duration
	// CheckProfile, when set, checks that an action's Profile can be used
	// (its bucket answers to its credentials) before any phase runs, so a
	// wrong Profile fails the ActionSet at once with a message naming it.
	CheckProfile func(context.Context, *render.ProfileParams) error
	// MaxConcurrentReconciles is how many ActionSets are reconciled at
	// once (controller-runtime's default, 1, when zero).
	MaxConcurrentReconciles int
	// written spots reconciles that read an ActionSet older than the
	// controller's own last status write (freshness.go).
	written writtenVersions
	// Limits caps the ActionSets running at once; the rest wait, queued.
	Limits Limits
	// HistoryLimit keeps at most this many ended ActionSets in each
	// namespace, deleting the oldest (with their Jobs, pods and Secrets);
	// zero keeps them all.
	HistoryLimit int

	queue *admissionQueue
	// wake enqueues queued ActionSets when a slot frees.
	wake chan crevent.GenericEvent
}

// The controller's RBAC, as narrow as its work (docs/install.md explains
// each rule): it caches only ActionSets, Blueprints and Jobs (list/watch);
// everything an ActionSet refers to is read with get (pods also listed, by
// a workload's selector, and deleted when they are data pods left behind).
//
// +kubebuilder:rbac:groups=baton.dev,resources=actionsets,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=baton.dev,resources=actionsets/status,verbs=get;update
// +kubebuilder:rbac:groups=baton.dev,resources=blueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups=baton.dev,resources=profiles,verbs=get
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;delete
// +kubebuilder:rbac:groups="",resources=configmaps;namespaces;persistentvolumeclaims;serviceaccounts,verbs=get
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get

// SetupWithManager registers the controller: it watches ActionSets and the
// Jobs they own, nothing on a timer.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := indexJobs(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&batonv1.ActionSet{}).
		// Owns, but a finished Job's ActionSet is served first (priority.go).
		Watches(&batchv1.Job{}, jobEvents(mgr)).
		Named("actionset").
		WithOptions(crcontroller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles})
	if r.Limits.enabled() {
		r.queue = newAdmissionQueue(r.Limits)
		r.wake = make(chan crevent.GenericEvent)
		b = b.WatchesRawSource(source.Channel(r.wake, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

// Reconcile moves one ActionSet forward and writes its status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var as batonv1.ActionSet
	if err := r.Get(ctx, req.NamespacedName, &as); err != nil {
		if apierrors.IsNotFound(err) {
			r.written.forget(req.NamespacedName)
			// Deleted, perhaps while running: its slot is free.
			r.wakeQueued(ctx)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !as.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if r.written.stale(&as) {
		// The cache has not seen our last write yet and its watch event
		// is on its way. Come back then with this request's priority (a
		// finished Job's, perhaps; the event alone would queue it at the
		// default one): the queue merges the two. The delay only matters
		// if that event never comes.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if as.Status.State.IsTerminal() {
		// Also when its end was just written: the cache now shows it ended,
		// which the reconcile that ended it could not count on.
		r.wakeQueued(ctx)
		r.pruneHistory(ctx, as.Namespace)
		if err := r.stopLeftoverJobs(ctx, &as); err != nil {
			return ctrl.Result{}, err
		}
		return r.expire(ctx, &as)
	}
	before := as.Status.DeepCopy()
	run := &actionSetRun{r: r, ctx: ctx, as: &as, started: time.Now(), blueprints: map[string]*batonv1.Blueprint{}, referents: map[int]render.Params{}}

	var events []event
	if len(as.Status.Actions) == 0 {
		if wait, result, err := r.holdBack(ctx, &as, before); wait {
			return result, err
		}
	}
	if len(as.Status.Actions) == 0 {
		if err := run.initialise(); errors.Is(err, errNotStarted) {
			return ctrl.Result{}, run.transient
		} else if err != nil {
			as.Status.State = batonv1.StateFailed
			as.Status.Error = &batonv1.ActionSetError{Message: err.Error()}
			events = append(events, event{corev1.EventTypeWarning, "InvalidActionSet", err.Error()})
		} else {
			events = append(events, event{corev1.EventTypeNormal, "Started", fmt.Sprintf("running %d action(s)", len(as.Spec.Actions))})
		}
	}
	if !as.Status.State.IsTerminal() {
		if err := run.loadJobs(); err != nil {
			return ctrl.Result{}, err
		}
		run.prefetch()
		if failure := advance(&as, run); failure != "" {
			events = append(events, event{corev1.EventTypeWarning, "PhaseFailed", failure})
		}
		if as.Status.State == batonv1.StateComplete {
			run.renderOutputArtifacts()
		}
		switch as.Status.State {
		case batonv1.StateComplete:
			events = append(events, event{corev1.EventTypeNormal, "Complete", "every action completed"})
		case batonv1.StateFailed:
			events = append(events, event{corev1.EventTypeWarning, "Failed", as.Status.Error.Message})
		case batonv1.StateCancelled:
			events = append(events, event{corev1.EventTypeNormal, "Cancelled", as.Status.Error.Message})
		}
	}
	if err := r.writeStatus(ctx, &as, before); err != nil {
		return ctrl.Result{}, err
	}
	if as.Status.State.IsTerminal() && !before.State.IsTerminal() {
		r.deleteDataPods(ctx, &as)
		r.wakeQueued(ctx, &as)
		r.pruneHistory(ctx, as.Namespace)
		actionSetDuration.WithLabelValues(string(as.Status.State)).Observe(time.Since(as.CreationTimestamp.Time).Seconds())
	}
	// Events and metrics only once the status they describe is stored.
	events = append(run.recordTransitions(before), events...)
	for _, e := range events {
		r.Recorder.Event(&as, e.kind, e.reason, e.message)
	}
	if run.transient != nil {
		// Something the next reconcile may fix (an API error): what moved
		// is recorded, with its Events; retry with backoff.
		return ctrl.Result{}, run.transient
	}
	return ctrl.Result{RequeueAfter: untilExpiry(&as)}, nil
}

// stopLeftoverJobs deletes the Jobs of an ended ActionSet that still run:
// a phase stopped by a failure, a cancellation or the timeout is recorded
// as ended even when deleting its Job met an API error, and an ended
// ActionSet is not stepped again, so the Job would run on unowned by any
// decision. Jobs are read from the cache; finished ones stay for their logs.
func (r *Reconciler) stopLeftoverJobs(ctx context.Context, as *batonv1.ActionSet) error {
	var jobs batchv1.JobList
	if err := r.List(ctx, &jobs, client.InNamespace(as.Namespace), client.MatchingFields{jobsByActionSet: string(as.UID)}); err != nil {
		return err
	}
	for i := range jobs.Items {
		job := &jobs.Items[i]
		if finishedCondition(job) != nil || !job.DeletionTimestamp.IsZero() {
			continue
		}
		err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("stop job %s of an ended ActionSet: %w", job.Name, err)
		}
		log.FromContext(ctx).Info("stopped a job left running by an ended ActionSet", "job", job.Name)
	}
	return nil
}

// recordTransitions turns the phases that changed state in this reconcile
// into Events (PhaseStarted, PhaseCompleted; failures have their own, with
// the reason) and metrics (phase counts and durations by function).
func (run *actionSetRun) recordTransitions(before *batonv1.ActionSetStatus) []event {
	var events []event
	logger := log.FromContext(run.ctx)
	for _, t := range phaseTransitions(before, &run.as.Status) {
		where := fmt.Sprintf("action %q phase %q", t.action, t.phase)
		// The reconciler's logger already names the ActionSet.
		logger.Info("phase "+string(t.to), "action", t.action, "phase", t.phase, "deferred", t.key.deferred,
			"job", run.jobName(t.key))
		switch t.to {
		case batonv1.StateRunning:
			events = append(events, event{corev1.EventTypeNormal, "PhaseStarted", where + " started"})
			continue
		case batonv1.StateComplete:
			events = append(events, event{corev1.EventTypeNormal, "PhaseCompleted", where + " completed"})
		case batonv1.StateFailed, batonv1.StateCancelled:
		default:
			continue
		}
		function, took := "unknown", time.Duration(0)
		job, hasJob := run.jobs[run.jobName(t.key)]
		if hasJob {
			// The Job names its function: no Blueprint read for a label.
			function = job.Annotations[dispatcher.AnnotationFunction]
			if start := job.Status.StartTime; start != nil {
				end := time.Now()
				if job.Status.CompletionTime != nil {
					end = job.Status.CompletionTime.Time
				}
				took = end.Sub(start.Time)
			}
		} else if bpPhase, _, err := run.phaseOf(t.key); err == nil {
			// Failed before its Job existed: the Blueprint was read (and
			// memoised) by this reconcile's attempt to start it.
			function = bpPhase.Func
		}
		phasesFinished.WithLabelValues(function, string(t.to)).Inc()
		if took > 0 {
			phaseDuration.WithLabelValues(function, string(t.to)).Observe(took.Seconds())
		}
	}
	return events
}

type event struct{ kind, reason, message string }

// expire deletes an ended ActionSet once its time to live has passed, and
// otherwise asks to be called again then. Its Jobs and phase Secrets are
// owned by it and go with it (Background propagation: their pods too).
func (r *Reconciler) expire(ctx context.Context, as *batonv1.ActionSet) (ctrl.Result, error) {
	ttl := r.DefaultTTL
	if as.Spec.TTLSecondsAfterFinished != nil {
		ttl = time.Duration(*as.Spec.TTLSecondsAfterFinished) * time.Second
	}
	if ttl <= 0 && as.Spec.TTLSecondsAfterFinished == nil {
		return ctrl.Result{}, nil
	}
	if left := time.Until(endedAt(as).Add(ttl)); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	err := r.Delete(ctx, as, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err == nil {
		log.FromContext(ctx).Info("deleted: its time to live after it ended passed", "ttl", ttl)
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// endedAt is when an ended ActionSet ended: its Complete condition last
// changed then.
func endedAt(as *batonv1.ActionSet) time.Time {
	if c := meta.FindStatusCondition(as.Status.Conditions, ConditionComplete); c != nil {
		return c.LastTransitionTime.Time
	}
	return as.CreationTimestamp.Time
}

// deleteDataPods removes the data pods phases of as started in other
// namespaces and left behind (a phase pod stopped mid-function cannot
// clean up after itself). Best effort: they also carry a deadline.
func (r *Reconciler) deleteDataPods(ctx context.Context, as *batonv1.ActionSet) {
	var pods corev1.PodList
	err := r.APIReader.List(ctx, &pods, client.MatchingLabels{
		dispatcher.LabelActionSetUID: string(as.UID), dispatcher.LabelComponent: dispatcher.ComponentDataPod,
	})
	if err != nil {
		log.FromContext(ctx).Error(err, "list data pods left behind")
		return
	}
	for i := range pods.Items {
		if err := r.Delete(ctx, &pods.Items[i]); client.IgnoreNotFound(err) != nil {
			log.FromContext(ctx).Error(err, "delete data pod", "pod", client.ObjectKeyFromObject(&pods.Items[i]))
		}
	}
}

func (r *Reconciler) writeStatus(ctx context.Context, as *batonv1.ActionSet, before *batonv1.ActionSetStatus) error {
	summarise(as)
	if equality.Semantic.DeepEqual(before, &as.Status) {
		return nil
	}
	if err := r.Status().Update(ctx, as); err != nil {
		return err
	}
	r.written.wrote(as)
	return nil
}

// summarise derives progress, observedGeneration and the condition.
func summarise(as *batonv1.ActionSet) {
	percent := strconv.Itoa(percentCompleted(as))
	running := runningPhase(as)
	if as.Status.Progress == nil || as.Status.Progress.PercentCompleted != percent || as.Status.Progress.RunningPhase != running {
		if as.Status.Progress == nil {
			as.Status.Progress = &batonv1.ActionProgress{}
		}
		as.Status.Progress.PercentCompleted = percent
		as.Status.Progress.RunningPhase = running
		as.Status.Progress.LastTransitionTime = ptr.To(metav1.Now())
	}
	as.Status.ObservedGeneration = as.Generation
	cond := metav1.Condition{Type: ConditionComplete, ObservedGeneration: as.Generation}
	switch as.Status.State {
	case batonv1.StateComplete:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, "Succeeded", "every action completed"
	case batonv1.StateFailed, batonv1.StateCancelled:
		cond.Status, cond.Reason = metav1.ConditionFalse, "Failed"
		if as.Status.State == batonv1.StateCancelled {
			cond.Reason = "Cancelled"
		}
		if as.Status.Error != nil {
			cond.Message = as.Status.Error.Message
		}
	case batonv1.StateQueued:
		// The queue's words, set where it held the ActionSet back.
		cond.Status, cond.Reason, cond.Message = metav1.ConditionUnknown, "Queued", "waiting for a free slot"
		if c := meta.FindStatusCondition(as.Status.Conditions, ConditionComplete); c != nil && c.Reason == "Queued" {
			cond.Message = c.Message
		}
	default:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionUnknown, "Running", "phase "+running
	}
	meta.SetStatusCondition(&as.Status.Conditions, cond)
}

// actionSetRun is one reconcile of one ActionSet: the stepper advance uses.
type actionSetRun struct {
	r          *Reconciler
	ctx        context.Context
	as         *batonv1.ActionSet
	blueprints map[string]*batonv1.Blueprint
	// referents memoises each action's fetched template parameters, so one
	// reconcile reads the cluster once per action however many phases it
	// starts or renders.
	referents map[int]render.Params
	jobs      map[string]*batchv1.Job
	// pods holds the pods prefetch read, by Job name; it is filled before
	// advance runs and only read afterwards.
	pods map[string][]corev1.Pod
	// started is when this reconcile began: a phase found ready in it has
	// waited since then for its Job (baton_phase_dispatch_seconds).
	started time.Time
	// initialising is set while the first reconcile checks the ActionSet.
	initialising bool
	// checkedProfiles memoises Profile checks by namespace/name.
	checkedProfiles map[string]error
	// transient is an API error met while stepping; the reconcile is retried.
	transient error
}

func (run *actionSetRun) blueprint(name string) (*batonv1.Blueprint, error) {
	if bp, ok := run.blueprints[name]; ok {
		return bp, nil
	}
	key := client.ObjectKey{Namespace: run.as.Namespace, Name: name}
	var bp batonv1.Blueprint
	// The first reconcile reads the API server: a Blueprint created or
	// edited a moment before its ActionSet must not be missed or read as
	// it was. Later steps, seconds or more later, read the cache; what it
	// does not hold, the API server answers.
	if run.initialising || run.r.Blueprints == nil || run.r.Blueprints.Get(run.ctx, key, &bp) != nil {
		if err := run.r.APIReader.Get(run.ctx, key, &bp); err != nil {
			return nil, fmt.Errorf("blueprint %s/%s: %w", run.as.Namespace, name, err)
		}
	}
	run.blueprints[name] = &bp
	return &bp, nil
}

// params returns action i's template parameters: what it refers to, read
// from the API server once per reconcile, and the outputs of its phases so
// far.
func (run *actionSetRun) params(i int) (render.Params, error) {
	p, ok := run.referents[i]
	if !ok {
		bpAction, err := run.blueprintAction(i)
		if err != nil {
			return p, err
		}
		res := resolver{reader: run.r.APIReader, mapper: run.r.RESTMapper(), as: run.as}
		if p, err = res.params(run.ctx, i, bpAction); err != nil {
			return p, err
		}
		run.referents[i] = p
	}
	// While the ActionSet is being initialised its status lists no phases.
	if i < len(run.as.Status.Actions) {
		p = withPhaseOutputs(p, run.as.Status.Actions[i])
	}
	return p, nil
}

func (run *actionSetRun) blueprintAction(i int) (*batonv1.BlueprintAction, error) {
	spec := run.as.Spec.Actions[i]
	bp, err := run.blueprint(spec.Blueprint)
	if err != nil {
		return nil, err
	}
	a, ok := bp.Actions[spec.Name]
	if !ok {
		return nil, fmt.Errorf("blueprint %s has no action %q", spec.Blueprint, spec.Name)
	}
	return &a, nil
}

// initialise checks that everything the ActionSet names exists and lists
// every phase as pending. An error the next attempt may not meet (the API
// server failing) is errNotStarted, with the error in run.transient: the
// ActionSet is not failed for it.
func (run *actionSetRun) initialise() error {
	run.initialising = true
	defer func() { run.initialising = false }()
	as := run.as
	if len(as.Spec.Actions) == 0 {
		return fmt.Errorf("the ActionSet has no actions")
	}
	// Without the runner's ServiceAccount the Job controller cannot create
	// any phase pod and the ActionSet would wait forever.
	if sa := run.r.Settings.ServiceAccount; sa != "" {
		var acct corev1.ServiceAccount
		if err := run.r.APIReader.Get(run.ctx, client.ObjectKey{Namespace: as.Namespace, Name: sa}, &acct); err != nil {
			return run.retryOr(err, fmt.Errorf("phase pods run as ServiceAccount %s/%s: %w (create ActionSets in Baton's namespace, or give this namespace that ServiceAccount: see docs/install.md)", as.Namespace, sa, err))
		}
	}
	for i, spec := range as.Spec.Actions {
		bpAction, err := run.blueprintAction(i)
		if err != nil {
			return run.retryOr(err, fmt.Errorf("action %q: %w", spec.Name, err))
		}
		phases := bpAction.Phases
		if bpAction.DeferPhase != nil {
			phases = append(slices.Clip(phases), *bpAction.DeferPhase)
		}
		for _, p := range phases {
			if err := checkPhaseRequirements(p, spec); err != nil {
				return fmt.Errorf("action %q: %w", spec.Name, err)
			}
		}
		for _, name := range bpAction.InputArtifactNames {
			if _, ok := spec.Artifacts[name]; !ok {
				return fmt.Errorf("action %q: blueprint %s needs input artifact %q", spec.Name, spec.Blueprint, name)
			}
		}
		for _, name := range bpAction.ConfigMapNames {
			if _, ok := spec.ConfigMaps[name]; !ok {
				return fmt.Errorf("action %q: blueprint %s needs configMap %q", spec.Name, spec.Blueprint, name)
			}
		}
		for _, name := range bpAction.SecretNames {
			if _, ok := spec.Secrets[name]; !ok {
				return fmt.Errorf("action %q: blueprint %s needs secret %q", spec.Name, spec.Blueprint, name)
			}
		}
		// Resolving the parameters fetches the object, ConfigMaps, Secrets
		// and Profile: a missing one fails the ActionSet now, not mid-run.
		params, err := run.params(i)
		if err != nil {
			return run.retryOr(err, fmt.Errorf("action %q: %w", spec.Name, err))
		}
		if err := run.checkProfile(spec, params.Profile); err != nil {
			return fmt.Errorf("action %q: %w", spec.Name, err)
		}
		status := batonv1.ActionStatus{Name: spec.Name, Object: spec.Object, Blueprint: spec.Blueprint, Workload: snapshotOf(params)}
		for _, p := range bpAction.Phases {
			status.Phases = append(status.Phases, batonv1.Phase{Name: p.Name, State: batonv1.StatePending})
		}
		if bpAction.DeferPhase != nil {
			status.DeferPhase = &batonv1.Phase{Name: bpAction.DeferPhase.Name, State: batonv1.StatePending}
		}
		as.Status.Actions = append(as.Status.Actions, status)
	}
	as.Status.State = batonv1.StateRunning
	return nil
}

// checkProfile checks an action's Profile once per ActionSet: actions
// sharing a Profile share the check.
func (run *actionSetRun) checkProfile(spec batonv1.ActionSpec, profile *render.ProfileParams) error {
	if profile == nil || run.r.CheckProfile == nil {
		return nil
	}
	ns := spec.Profile.Namespace
	if ns == "" {
		ns = run.as.Namespace
	}
	key := ns + "/" + spec.Profile.Name
	if run.checkedProfiles == nil {
		run.checkedProfiles = map[string]error{}
	}
	if err, done := run.checkedProfiles[key]; done {
		return err
	}
	ctx, cancel := context.WithTimeout(run.ctx, profileCheckTimeout)
	defer cancel()
	err := run.r.CheckProfile(ctx, profile)
	if err != nil {
		err = fmt.Errorf("profile %s: %w", key, err)
	}
	run.checkedProfiles[key] = err
	return err
}

// profileCheckTimeout bounds the Profile check, retries included: long
// enough to ride out a blip of the object store, short enough that a
// reconcile never stalls for long.
const profileCheckTimeout = 20 * time.Second

// loadJobs lists the Jobs this ActionSet owns.
func (run *actionSetRun) loadJobs() error {
	var jobs batchv1.JobList
	if err := run.r.List(run.ctx, &jobs, client.InNamespace(run.as.Namespace),
		client.MatchingFields{jobsByActionSet: string(run.as.UID)}); err != nil {
		return err
	}
	run.jobs = map[string]*batchv1.Job{}
	for i := range jobs.Items {
		run.jobs[jobs.Items[i].Name] = &jobs.Items[i]
	}
	return nil
}

// phaseOf returns the Blueprint phase and dispatcher identity for k.
// jobName is the name of phase k's Job, derived from the ActionSet alone
// (names and indices recorded in its status): watching a running phase
// needs no read of its Blueprint.
func (run *actionSetRun) jobName(k phaseKey) string {
	return dispatcher.JobName(run.identity(k))
}

// identity describes phase k to the dispatcher, as far as the ActionSet
// itself says.
func (run *actionSetRun) identity(k phaseKey) dispatcher.Phase {
	spec := run.as.Spec.Actions[k.action]
	status := run.as.Status.Actions[k.action]
	name := ""
	switch {
	case k.deferred && status.DeferPhase != nil:
		name = status.DeferPhase.Name
	case !k.deferred && k.phase < len(status.Phases):
		name = status.Phases[k.phase].Name
	}
	return dispatcher.Phase{
		ActionSet:      dispatcher.ActionSetRef{Name: run.as.Name, Namespace: run.as.Namespace, UID: run.as.UID},
		Action:         spec.Name,
		ActionIndex:    k.action,
		Name:           name,
		Index:          k.phase,
		Deferred:       k.deferred,
		PodOverride:    spec.PodOverride,
		PodLabels:      spec.PodLabels,
		PodAnnotations: spec.PodAnnotations,
	}
}

// phaseOf returns the Blueprint phase of k and its full dispatcher input.
func (run *actionSetRun) phaseOf(k phaseKey) (batonv1.BlueprintPhase, dispatcher.Phase, error) {
	bpAction, err := run.blueprintAction(k.action)
	if err != nil {
		return batonv1.BlueprintPhase{}, dispatcher.Phase{}, err
	}
	var bpPhase batonv1.BlueprintPhase
	switch {
	case k.deferred && bpAction.DeferPhase != nil:
		bpPhase = *bpAction.DeferPhase
	case !k.deferred && k.phase < len(bpAction.Phases):
		bpPhase = bpAction.Phases[k.phase]
	default:
		return bpPhase, dispatcher.Phase{}, fmt.Errorf("blueprint changed: phase %d of action %q is gone", k.phase, run.as.Spec.Actions[k.action].Name)
	}
	d := run.identity(k)
	d.Function = bpPhase.Func
	d.SpecSecret = dispatcher.JobName(d)
	switch {
	case bpPhase.Timeout != nil && bpPhase.Timeout.Duration > 0:
		d.Timeout, d.TimeoutFrom = bpPhase.Timeout.Duration, dispatcher.TimeoutFromBlueprint
	case run.as.Spec.PhaseTimeout != nil && run.as.Spec.PhaseTimeout.Duration > 0:
		d.Timeout, d.TimeoutFrom = run.as.Spec.PhaseTimeout.Duration, dispatcher.TimeoutFromActionSet
	}
	d.Retries = bpPhase.Retries
	d.NonRetryableExitCodes = bpPhase.NonRetryableExitCodes
	return bpPhase, d, nil
}

func (run *actionSetRun) observe(k phaseKey) (jobResult, bool) {
	job, ok := run.jobs[run.jobName(k)]
	if !ok {
		return run.missingJob(k)
	}
	recorded := run.phaseStatus(k).Attempts
	finished := finishedCondition(job)
	if !needsPods(job, recorded) {
		return jobResult{state: batonv1.StateRunning}, true
	}
	pods, err := run.phasePods(job)
	if err != nil {
		run.transient = fmt.Errorf("read pods of job %s: %w", job.Name, err)
		return jobResult{state: batonv1.StateRunning}, true
	}
	attempts := mergeAttempts(recorded, pods, job.Status.Failed)
	switch {
	case finished == nil:
		return jobResult{state: batonv1.StateRunning, attempts: attempts}, true
	case finished.Type == batchv1.JobComplete:
		out, err := run.outputsOf(job, pods)
		if err != nil {
			return jobResult{state: batonv1.StateFailed, message: err.Error(), attempts: attempts}, true
		}
		return jobResult{state: batonv1.StateComplete, outputs: out, attempts: attempts}, true
	default:
		return jobResult{state: batonv1.StateFailed, message: failureOf(job, *finished, attempts), attempts: attempts}, true
	}
}

// missingJob observes a phase recorded as running whose Job the cache does
// not hold. Usually the cache has not caught up with a Job created a
// moment ago, whose watch event brings the next reconcile; but the Job may
// also have been deleted (by hand, by a namespace cleanup), and then no
// event would ever come: the phase would run for ever. The API server
// tells the two apart.
func (run *actionSetRun) missingJob(k phaseKey) (jobResult, bool) {
	name := run.jobName(k)
	var job batchv1.Job
	err := run.r.APIReader.Get(run.ctx, client.ObjectKey{Namespace: run.as.Namespace, Name: name}, &job)
	switch {
	case err == nil:
		return jobResult{state: batonv1.StateRunning}, true
	case apierrors.IsNotFound(err) && !k.deferred && isCancelled(run.as):
		// Stopped by a cancellation whose status write did not land:
		// advance marks it cancelled, as it was. (Cancellations never
		// stop deferPhases.)
		return jobResult{state: batonv1.StateRunning}, true
	case apierrors.IsNotFound(err):
		if _, expired := run.expired(); expired {
			// Stopped by the ActionSet's timeout: advance fails it
			// for that, as it did.
			return jobResult{state: batonv1.StateRunning}, true
		}
		// lost: if this reconcile finds another phase failed, that one
		// is the cause (it had this Job stopped), not the deletion.
		return jobResult{state: batonv1.StateFailed, lost: true,
			message: fmt.Sprintf("its job %s was deleted before it finished", name)}, true
	default:
		run.transient = fmt.Errorf("read job %s: %w", name, err)
		return jobResult{state: batonv1.StateRunning}, true
	}
}

// phaseStatus is the recorded status of phase k.
func (run *actionSetRun) phaseStatus(k phaseKey) *batonv1.Phase {
	return phaseIn(&run.as.Status.Actions[k.action], k)
}

// phasePods lists a Job's pods straight from the API server: only Jobs that
// finished or failed an attempt are read, rarely enough not to need a pod
// cache.
func (run *actionSetRun) phasePods(job *batchv1.Job) ([]corev1.Pod, error) {
	if pods, ok := run.pods[job.Name]; ok {
		return pods, nil // read by prefetch
	}
	pods, err := run.r.Kube.CoreV1().Pods(job.Namespace).List(run.ctx, metav1.ListOptions{
		LabelSelector: batchv1.JobNameLabel + "=" + job.Name,
	})
	if err != nil {
		return nil, err
	}
	return pods.Items, nil
}

func (run *actionSetRun) outputsOf(job *batchv1.Job, pods []corev1.Pod) (map[string]any, error) {
	for _, pod := range pods {
		t := terminated(pod)
		if pod.Status.Phase != corev1.PodSucceeded || t == nil {
			continue
		}
		readLog := func() (io.ReadCloser, error) {
			return run.r.Kube.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: dispatcher.MainContainer}).Stream(run.ctx)
		}
		return outputs.Decode(t.Message, readLog)
	}
	return nil, fmt.Errorf("job %s completed but its pod is gone: outputs cannot be read", job.Name)
}

// failureOf explains a failed Job: the runner's own message when it wrote
// one, else the container's exit, else the Job's condition; with how many
// attempts it took and why no more were made.
func failureOf(job *batchv1.Job, c batchv1.JobCondition, attempts []batonv1.PhaseAttempt) string {
	if c.Reason == batchv1.JobReasonDeadlineExceeded && job.Spec.ActiveDeadlineSeconds != nil {
		// The pod was killed for it: its exit says nothing useful.
		which := ""
		if from, ok := timeoutSources[job.Annotations[dispatcher.AnnotationTimeoutFrom]]; ok {
			which = "set by " + from + "; "
		}
		return fmt.Sprintf("timed out: the phase ran longer than its timeout of %s (%sjob %s)",
			time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second, which, job.Name)
	}
	last := lastFailure(attempts)
	if last == nil {
		return fmt.Sprintf("job %s: %s: %s", job.Name, c.Reason, c.Message)
	}
	msg := last.Message
	if last.Pod != "" && isBareExit(msg) {
		msg += fmt.Sprintf("; logs: kubectl logs -n %s %s", job.Namespace, last.Pod)
	}
	switch {
	case c.Reason == batchv1.JobReasonPodFailurePolicy && last.ExitCode != nil:
		return fmt.Sprintf("exit code %d is declared non-retryable, no retry: %s", *last.ExitCode, msg)
	case countFailed(attempts) > 1:
		return fmt.Sprintf("failed %d attempts, the last: %s", countFailed(attempts), msg)
	}
	return msg
}

// timeoutSources name, in a timed-out phase's message, where its limit was
// set (the Job's dispatcher.AnnotationTimeoutFrom).
var timeoutSources = map[string]string{
	dispatcher.TimeoutFromBlueprint:  "the Blueprint phase's timeout",
	dispatcher.TimeoutFromActionSet:  "the ActionSet's spec.phaseTimeout",
	dispatcher.TimeoutFromController: "the controller's --phase-deadline",
}

// isBareExit tells a message that only gives the exit code (the runner
// wrote none): pointing at the log then helps.
func isBareExit(msg string) bool { return strings.HasPrefix(msg, "container exited with code") }

// start renders phase k, stores it in the phase Secret and creates the Job.
// AlreadyExists is success: a Job created by an earlier reconcile (or an
// earlier controller) is adopted, never duplicated.
func (run *actionSetRun) start(k phaseKey) error {
	bpPhase, d, err := run.phaseOf(k)
	if err != nil {
		return run.retryOr(err, err)
	}
	params, err := run.params(k.action)
	if err != nil {
		return run.retryOr(err, err)
	}
	object := run.as.Spec.Actions[k.action].Object
	res := resolver{reader: run.r.APIReader, mapper: run.r.RESTMapper(), as: run.as}
	objects, fetched, err := res.phaseObjects(run.ctx, bpPhase.Objects, params, objectNamespace(object))
	if err != nil {
		return run.retryOr(err, err)
	}
	params.Phases[d.Name] = fetched
	args, err := renderPhaseArgs(bpPhase.Func, bpPhase.Args, params)
	if err != nil {
		return err
	}
	if err := checkRenderedArgs(bpPhase.Func, args); err != nil {
		return err
	}
	doc := phase.Spec{
		ActionSet: run.as.Name, Namespace: run.as.Namespace, ActionSetUID: string(run.as.UID),
		Action: d.Action, Phase: d.Name, Function: bpPhase.Func, Args: args,
		Object: toPhaseRef(object), Objects: map[string]phase.ObjectRef{},
	}
	for name, ref := range objects {
		doc.Objects[name] = toPhaseRef(ref)
	}
	if err := userContainers(bpPhase.Func, args, &d); err != nil {
		return err
	}
	job, err := dispatcher.Build(d, run.r.Settings)
	if err != nil {
		return err
	}
	if err := run.createSecret(d, job, doc, params.Profile); err != nil {
		return run.retryLater(err)
	}
	err = run.r.Create(run.ctx, job)
	switch {
	case err == nil:
		phaseDispatch.Observe(time.Since(run.started).Seconds())
	case apierrors.IsAlreadyExists(err):
	case apierrors.IsInvalid(err) || apierrors.IsForbidden(err):
		return fmt.Errorf("create job: %w", err)
	default:
		return run.retryLater(err)
	}
	return nil
}

// retryOr sorts an error met while reading what the ActionSet or a phase
// needs: one the next attempt may not meet is retried (errNotStarted: the
// phase stays pending, the ActionSet unfailed); any other is failure, the
// words the phase or ActionSet fails with.
func (run *actionSetRun) retryOr(err, failure error) error {
	if retryable(err) {
		return run.retryLater(err)
	}
	return failure
}

// retryable tells an error the next attempt may not meet — the API server
// or the network failing (a timeout, a 5xx, throttling, a refused
// connection) — from one about the ActionSet's input: a referent not found
// or forbidden, a request refused as invalid, or the controller's own words
// (a Blueprint without the action, a Secret without the key, a kind the
// cluster does not serve).
func retryable(err error) bool {
	var urlErr *url.Error
	var netErr net.Error
	switch {
	case errors.As(err, &urlErr), errors.As(err, &netErr),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF),
		// The controller stopping (a leader losing its Lease, a pod
		// deleted): whoever carries on starts the phase.
		errors.Is(err, context.Canceled):
		return true
	case !isAPIError(err):
		return false
	}
	return !(apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsInvalid(err) ||
		apierrors.IsBadRequest(err) || apierrors.IsMethodNotSupported(err) || apierrors.IsGone(err))
}

// retryLater records an API error met while starting a phase, which the
// next reconcile may not meet, and leaves the phase pending: whether its
// Job exists is not known, and a phase recorded as running whose Job was
// never created would wait for it for ever. The next attempt creates the
// Job or, if this one did after all, adopts it (AlreadyExists).
func (run *actionSetRun) retryLater(err error) error {
	run.transient = err
	return errNotStarted
}

// createSecret stores the rendered phase, and the action's Profile with its
// credentials, in the Secret the phase pod mounts: the only way credentials
// reach a phase (never the Job's spec, env or args).
func (run *actionSetRun) createSecret(d dispatcher.Phase, job *batchv1.Job, doc phase.Spec, profile *render.ProfileParams) error {
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	data := map[string][]byte{phase.SpecFile: raw}
	if profile != nil {
		// The shape of {{ toJson .Profile }}, which `kando location
		// --profile` also takes.
		if data[phase.ProfileFile], err = json.Marshal(profile); err != nil {
			return err
		}
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.SpecSecret, Namespace: job.Namespace, Labels: job.Labels,
			OwnerReferences: job.OwnerReferences,
		},
		Type: "baton.dev/phase",
		Data: data,
	}
	if err := run.r.Create(run.ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// expired implements stepper: the ActionSet's spec.timeout, counted from
// its creation, has passed.
func (run *actionSetRun) expired() (string, bool) {
	t := run.as.Spec.Timeout
	if t == nil || t.Duration <= 0 || time.Since(run.as.CreationTimestamp.Time) < t.Duration {
		return "", false
	}
	return fmt.Sprintf("timed out: the ActionSet ran longer than its timeout of %s", t.Duration), true
}

// untilExpiry is how long a running ActionSet with a timeout has left: the
// reconcile is asked for again then, as no Job event may come in time.
func untilExpiry(as *batonv1.ActionSet) time.Duration {
	if as.Spec.Timeout == nil || as.Spec.Timeout.Duration <= 0 || (as.Status.State != batonv1.StateRunning && as.Status.State != batonv1.StateQueued) {
		return 0
	}
	left := time.Until(as.CreationTimestamp.Add(as.Spec.Timeout.Duration))
	if left <= 0 {
		return 0 // already acted on: Job events drive the rest
	}
	// The API's timestamps have whole seconds: never wake up early.
	return left + time.Second
}

// stop deletes a running phase's Job. Background propagation: the API's
// default for batch/v1 Jobs would orphan the pod, which would keep running.
func (run *actionSetRun) stop(k phaseKey) {
	job, ok := run.jobs[run.jobName(k)]
	if !ok {
		return
	}
	err := run.r.Delete(run.ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		log.FromContext(run.ctx).Error(err, "stop job", "job", job.Name)
		run.transient = err
	}
}

func (run *actionSetRun) renderOutputArtifacts() {
	for i := range run.as.Status.Actions {
		bpAction, err := run.blueprintAction(i)
		if err != nil || len(bpAction.OutputArtifacts) == 0 {
			continue
		}
		params, err := run.params(i)
		if err == nil {
			var arts map[string]batonv1.Artifact
			if arts, err = render.Artifacts("outputArtifacts", bpAction.OutputArtifacts, params); err == nil {
				run.as.Status.Actions[i].Artifacts = arts
				continue
			}
		}
		run.as.Status.State = batonv1.StateFailed
		run.as.Status.Error = &batonv1.ActionSetError{Message: fmt.Sprintf("action %q: %v", run.as.Status.Actions[i].Name, err)}
		return
	}
}

// objectNamespace is the namespace an action's object lives in (a
// Namespace's own name): the default for phase objects that name none.
func objectNamespace(ref batonv1.ObjectReference) string {
	if strings.EqualFold(ref.Kind, "Namespace") || strings.EqualFold(ref.Resource, "namespaces") {
		return ref.Name
	}
	return ref.Namespace
}

// isAPIError tells an error from the API server (worth retrying unless it
// is NotFound) from a user's mistake such as a bad template.
func isAPIError(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}

func toPhaseRef(r batonv1.ObjectReference) phase.ObjectRef {
	return phase.ObjectRef{APIVersion: r.APIVersion, Group: r.Group, Resource: r.Resource, Kind: r.Kind, Name: r.Name, Namespace: r.Namespace}
}
