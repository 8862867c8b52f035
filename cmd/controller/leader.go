package main

import (
	"flag"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// leaderFlags time the leader election. A standby takes over at most
// lease-duration after the leader died without releasing its Lease; a
// leader that cannot renew for renew-deadline (the API server unreachable)
// stops, and its process exits, rather than risk two leaders.
//
// The defaults are longer than client-go's usual 15 s / 10 s on purpose.
// Phases are Jobs: while no controller leads, running phases carry on and
// only the start of the next one waits, so a slow takeover costs little.
// An exit costs more: every replica cut off from the API server for longer
// than the renew deadline exits, kubelet restarts it into a crash-loop
// backoff while the API server is still away, and recovery waits for that
// backoff. An API server stopped for 30 s and restarted was unreachable
// from pods for about 50 s on the local cluster (kubelet picks the
// manifest up again only every 20 s); 100 s rides that out with a margin.
type leaderFlags struct {
	leaseDuration, renewDeadline, retryPeriod time.Duration
}

func (l *leaderFlags) bindFlags(fs *flag.FlagSet) {
	fs.DurationVar(&l.leaseDuration, "leader-elect-lease-duration", 120*time.Second, "how long a standby waits for a silent leader before taking over")
	fs.DurationVar(&l.renewDeadline, "leader-elect-renew-deadline", 100*time.Second, "how long the leader keeps trying to renew its Lease before it stops (must be below the lease duration)")
	fs.DurationVar(&l.retryPeriod, "leader-elect-retry-period", 10*time.Second, "how often candidates try to take or renew the Lease")
}

func (l leaderFlags) apply(o *ctrl.Options) {
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = &l.leaseDuration, &l.renewDeadline, &l.retryPeriod
	// A leader stopping on purpose (SIGTERM on a rollout) hands over at
	// once instead of making the standby wait out the lease.
	o.LeaderElectionReleaseOnCancel = true
}
