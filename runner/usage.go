package runner

import (
	"fmt"
	"syscall"
	"time"
)

// RunsUserCommand tells whether a function's pod runs the user's commands
// (whose log is theirs) rather than a function of the runner.
func RunsUserCommand(function string) bool {
	return function == KubeTask || function == MultiContainerRun
}

// ResourceUsage describes what the runner and the processes it waited for
// (restic, tar) used: peak resident memory and CPU time. The line has a
// fixed prefix so benchmarks can find it in a phase's log.
func ResourceUsage() string {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	cpu := func(u syscall.Rusage) time.Duration {
		return time.Duration(u.Utime.Nano() + u.Stime.Nano()).Round(time.Millisecond)
	}
	// Maxrss is in KiB on Linux.
	return fmt.Sprintf("baton-runner resources: runner peak RSS %.1f MiB, cpu %s; children peak RSS %.1f MiB, cpu %s",
		float64(self.Maxrss)/1024, cpu(self), float64(children.Maxrss)/1024, cpu(children))
}
