package main

import (
	"flag"

	"github.com/batonhq/baton/controller"
)

// limitFlags are the controller's caps on what it runs and keeps.
type limitFlags struct {
	running      controller.Limits
	historyLimit int
}

func (l *limitFlags) bindFlags(fs *flag.FlagSet) {
	fs.IntVar(&l.running.Total, "max-running-actionsets", 0,
		"most ActionSets run at once; the rest wait, queued, and start in creation order (0: no limit)")
	fs.IntVar(&l.running.PerNamespace, "max-running-actionsets-per-namespace", 0,
		"most ActionSets run at once in any one namespace (0: no limit)")
	fs.IntVar(&l.historyLimit, "actionset-history-limit", 0,
		"keep at most this many ended ActionSets in each namespace, deleting the oldest with their Jobs (0: keep all)")
}

func (l limitFlags) apply(r *controller.Reconciler) {
	r.Limits = l.running
	r.HistoryLimit = l.historyLimit
}
