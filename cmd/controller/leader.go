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
type leaderFlags struct {
	leaseDuration, renewDeadline, retryPeriod time.Duration
}

func (l *leaderFlags) bindFlags(fs *flag.FlagSet) {
	fs.DurationVar(&l.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a standby waits for a silent leader before taking over")
	fs.DurationVar(&l.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew its Lease before it stops")
	fs.DurationVar(&l.retryPeriod, "leader-elect-retry-period", 2*time.Second, "how often candidates try to take or renew the Lease")
}

func (l leaderFlags) apply(o *ctrl.Options) {
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = &l.leaseDuration, &l.renewDeadline, &l.retryPeriod
	// A leader stopping on purpose (SIGTERM on a rollout) hands over at
	// once instead of making the standby wait out the lease.
	o.LeaderElectionReleaseOnCancel = true
}
