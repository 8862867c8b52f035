// Package testenv starts the integration-test control plane: a real
// kube-apiserver and etcd (no kubelet, no controllers) through
// controller-runtime's envtest, from the binaries `make envtest-assets`
// builds for the same Kubernetes version as the local cluster.
package testenv

import (
	"os"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv names the directory holding kube-apiserver, etcd and kubectl.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// Options tune the control plane a test gets.
type Options struct {
	// CRDDirectoryPaths are installed before Start returns.
	CRDDirectoryPaths []string
	// Webhooks, if set, are installed pointing at a local server: Start
	// fills in the host, port and directory of the certificate that
	// server must use (envtest makes it, and the caBundle trusting it).
	Webhooks *envtest.WebhookInstallOptions
	// APIServerFlags are set on kube-apiserver's command line (name without
	// dashes → value), e.g. {"profiling": "true"}.
	APIServerFlags map[string]string
}

// Start brings up a control plane for the test and stops it when the test
// ends. Without KUBEBUILDER_ASSETS the test fails with a pointer to the
// Makefile target rather than a confusing envtest error.
func Start(t testing.TB, opts Options) *rest.Config {
	t.Helper()
	assets := os.Getenv(AssetsEnv)
	if assets == "" {
		t.Fatalf("%s is not set: run integration tests with `make test-integration`, which builds and points at kube-apiserver and etcd", AssetsEnv)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     opts.CRDDirectoryPaths,
		ErrorIfCRDPathMissing: len(opts.CRDDirectoryPaths) > 0,
	}
	if opts.Webhooks != nil {
		env.WebhookInstallOptions = *opts.Webhooks
	}
	for name, value := range opts.APIServerFlags {
		env.ControlPlane.GetAPIServer().Configure().Set(name, value)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd from %s: %v", assets, err)
	}
	if opts.Webhooks != nil {
		*opts.Webhooks = env.WebhookInstallOptions
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
	})
	return cfg
}
