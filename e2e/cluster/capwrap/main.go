// Command capwrap is an OCI runtime shim for hosts whose capability bounding
// set is smaller than the full kernel set (some sandboxed VMs drop
// CAP_SYS_RESOURCE, for example). Docker asks for every capability it knows
// for --privileged containers, which runc then fails to apply ("unable to
// apply caps: operation not permitted"). kind's node containers are
// privileged, so on such hosts no cluster can start.
//
// capwrap is installed as dockerd's default runtime only when cluster-up
// detects such a host. For `create` and `run` it rewrites the bundle's
// config.json, for `exec` the --process file, dropping every capability the
// wrapper itself cannot hold, then execs the real runc with unchanged
// arguments. On any other command it is a plain exec of runc.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

func main() {
	if err := run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "capwrap: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	bounding, err := ownBoundingSet("/proc/self/status")
	if err != nil {
		return err
	}
	inv := parseInvocation(args[1:])
	switch inv.command {
	case "create", "run":
		bundle := inv.bundle
		if bundle == "" {
			if bundle, err = os.Getwd(); err != nil {
				return err
			}
		}
		if err := filterSpecFile(filepath.Join(bundle, "config.json"), bounding, specCapabilities); err != nil {
			return err
		}
	case "exec":
		if inv.process != "" {
			if err := filterSpecFile(inv.process, bounding, processCapabilities); err != nil {
				return err
			}
		}
	}
	runc, err := realRunc(args[0])
	if err != nil {
		return err
	}
	return syscall.Exec(runc, append([]string{runc}, args[1:]...), os.Environ())
}

// realRunc finds the runc binary on PATH, skipping this wrapper in case it
// was installed under the same name.
func realRunc(self string) (string, error) {
	selfPath, _ := filepath.EvalSymlinks(self)
	for _, dir := range filepath.SplitList(os.Getenv("PATH") + ":/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin") {
		candidate := filepath.Join(dir, "runc")
		resolved, err := filepath.EvalSymlinks(candidate)
		if err != nil || resolved == selfPath {
			continue
		}
		if _, err := exec.LookPath(candidate); err == nil {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("no runc found on PATH")
}
