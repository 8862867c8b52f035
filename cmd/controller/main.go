// Command baton-controller runs Baton's ActionSet controller.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/controller"
	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/internal/version"
)

func main() {
	var (
		namespaces, metricsAddr, probeAddr string
		leaderElect                        bool
		defaultTTL                         time.Duration
		settings                           dispatcher.Settings
		pullPolicy                         string
	)
	flag.StringVar(&namespaces, "namespaces", "", "comma-separated namespaces whose ActionSets are run (default: all)")
	flag.StringVar(&settings.RunnerImage, "runner-image", "baton.local/runner:dev", "image of the phase runner")
	flag.StringVar(&pullPolicy, "runner-image-pull-policy", string(corev1.PullIfNotPresent), "pull policy of runner containers")
	flag.StringVar(&settings.ServiceAccount, "runner-service-account", "baton-runner", "ServiceAccount phase pods run as, in the ActionSet's namespace")
	var backoff int
	flag.IntVar(&backoff, "phase-backoff-limit", 0, "times a failed phase pod is retried before the phase fails")
	flag.DurationVar(&settings.ActiveDeadline, "phase-deadline", time.Hour, "longest a phase may run (0: unbounded)")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "metrics endpoint (0 to disable)")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "health and readiness probes")
	flag.BoolVar(&leaderElect, "leader-elect", false, "elect a leader, for more than one replica")
	flag.DurationVar(&defaultTTL, "actionset-ttl", 0, "delete ended ActionSets (and their Jobs) this long after they ended, unless they set ttlSecondsAfterFinished (0: keep them)")
	var tune tuning
	tune.bindFlags(flag.CommandLine)
	var limits limitFlags
	limits.bindFlags(flag.CommandLine)
	var leader leaderFlags
	leader.bindFlags(flag.CommandLine)
	var hooks webhookOptions
	hooks.bindFlags(flag.CommandLine)
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	settings.BackoffLimit = int32(backoff)
	settings.ImagePullPolicy = corev1.PullPolicy(pullPolicy)
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("baton")

	if err := run(namespaces, metricsAddr, probeAddr, leaderElect, defaultTTL, settings, tune, limits, leader, hooks); err != nil {
		log.Error(err, "controller stopped")
		os.Exit(1)
	}
}

func run(namespaces, metricsAddr, probeAddr string, leaderElect bool, defaultTTL time.Duration, settings dispatcher.Settings, tune tuning, limits limitFlags, leader leaderFlags, hooks webhookOptions) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := batonv1.AddToScheme(scheme); err != nil {
		return err
	}
	cacheOpts := controller.CacheOptions()
	if namespaces != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range strings.Split(namespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				cacheOpts.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	}
	cfg := ctrl.GetConfigOrDie()
	tune.apply(cfg)
	opts := ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "baton-controller.baton.dev",
		PprofBindAddress:       tune.pprofAddr,
		WebhookServer:          hooks.server(),
	}
	leader.apply(&opts)
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	r := &controller.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Blueprints: mgr.GetCache(), Kube: kube, Scheme: scheme,
		Recorder:     mgr.GetEventRecorderFor("baton-controller"), //nolint:staticcheck // core/v1 Events are what kubectl describe shows
		Settings:     settings,
		DefaultTTL:   defaultTTL,
		CheckProfile: controller.CheckProfileBucket,

		MaxConcurrentReconciles: tune.maxConcurrentReconciles,
	}
	limits.apply(r)
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	checker := &controller.BlueprintChecker{Client: mgr.GetClient(),
		Recorder: mgr.GetEventRecorderFor("baton-controller")} //nolint:staticcheck // as above
	if err := checker.SetupWithManager(mgr); err != nil {
		return err
	}
	if err := metrics.Registry.Register(controller.NewActionSetCounter(mgr.GetClient())); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	if err := hooks.setup(mgr, kube); err != nil {
		return fmt.Errorf("admission webhook: %w", err)
	}
	ctrl.Log.Info("starting", "version", version.Version, "runnerImage", settings.RunnerImage, "namespaces", namespaces)
	return mgr.Start(ctrl.SetupSignalHandler())
}
