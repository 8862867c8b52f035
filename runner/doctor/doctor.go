// Package doctor checks, from inside a pod, what every Baton phase relies on:
// the API server is reachable through the in-cluster `kubernetes` Service
// with the pod's ServiceAccount, and cluster DNS resolves Service names.
package doctor

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// APIServiceName is the cluster DNS name of the API server's Service.
const APIServiceName = "kubernetes.default.svc.cluster.local"

// Checks is what Run needs; the defaults talk to the real cluster, tests
// swap them out.
type Checks struct {
	InClusterConfig func() (*rest.Config, error)
	LookupHost      func(ctx context.Context, host string) ([]string, error)
}

// Default returns the checks against the pod's own cluster.
func Default() Checks {
	return Checks{InClusterConfig: rest.InClusterConfig, LookupHost: net.DefaultResolver.LookupHost}
}

// Run performs every check, writing one line per result to out, and returns
// an error naming each check that failed.
func Run(ctx context.Context, c Checks, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var failed []string

	if version, host, err := apiServerVersion(c); err != nil {
		failed = append(failed, "api server")
		fmt.Fprintf(out, "FAIL api server: %v\n", err)
	} else {
		fmt.Fprintf(out, "ok   api server %s answers at %s\n", version, host)
	}

	addrs, err := c.LookupHost(ctx, APIServiceName)
	if err == nil && len(addrs) == 0 {
		err = fmt.Errorf("no addresses")
	}
	if err != nil {
		failed = append(failed, "cluster DNS")
		fmt.Fprintf(out, "FAIL cluster DNS: %s: %v\n", APIServiceName, err)
	} else {
		fmt.Fprintf(out, "ok   cluster DNS resolves %s to %v\n", APIServiceName, addrs)
	}

	if len(failed) > 0 {
		return fmt.Errorf("doctor: %d check(s) failed: %v", len(failed), failed)
	}
	return nil
}

func apiServerVersion(c Checks) (version, host string, err error) {
	cfg, err := c.InClusterConfig()
	if err != nil {
		return "", "", err
	}
	cfg.Timeout = 10 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return "", "", err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return "", "", err
	}
	return info.GitVersion, cfg.Host, nil
}
