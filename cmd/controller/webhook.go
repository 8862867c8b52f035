package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/batonhq/baton/admission"
)

// webhookOptions are the flags of the validating admission webhook.
type webhookOptions struct {
	port    int
	certDir string
}

func (o *webhookOptions) bindFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.port, "webhook-port", webhook.DefaultPort,
		"port of the validating admission webhook (0: no webhook and no certificate management; objects are then only checked when an ActionSet runs)")
	// controller-runtime's own default, where the Deployment mounts an
	// emptyDir (the root filesystem is read-only).
	fs.StringVar(&o.certDir, "webhook-cert-dir", filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs"),
		"directory the webhook's serving certificate is written to, from the Secret "+admission.SecretName)
}

// server is the manager's webhook server; it only starts if setup
// registers the webhooks. It speaks HTTP/1.1 only: the API server's calls
// do not need HTTP/2, whose stream handling has been a denial-of-service
// vector (CVE-2023-44487).
func (o webhookOptions) server() webhook.Server {
	return webhook.NewServer(webhook.Options{Port: o.port, CertDir: o.certDir,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}})
}

// setup readies the webhook before the manager starts: the certificate
// (made, or read from the Secret another replica made) is in the cert
// directory and trusted by baton-validation, so the server starts with it;
// the validators are registered; readiness waits for the server to listen;
// and the certificate is checked again every few minutes while running.
func (o webhookOptions) setup(mgr ctrl.Manager, kube kubernetes.Interface) error {
	if o.port == 0 {
		return nil
	}
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		return errors.New("POD_NAMESPACE is not set: the webhook's certificate is kept in the controller's namespace (the Deployment sets it from metadata.namespace); set it, or run with --webhook-port=0")
	}
	log := ctrl.Log.WithName("webhook-certs")
	certs := &admission.Certificates{Kube: kube, Namespace: ns, CertDir: o.certDir, Log: log}
	// Retried for a minute: the API server may be restarting, or the
	// configuration may be applied just after the Deployment. Then the
	// controller exits, saying why, and is restarted.
	var err error
	_ = wait.PollUntilContextTimeout(context.Background(), 2*time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err = certs.Ensure(ctx); err != nil {
			log.Error(err, "webhook certificate not ready; trying again")
		}
		return err == nil, nil
	})
	if err != nil {
		return err
	}
	if err := admission.Register(mgr); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return err
	}
	return mgr.Add(certs)
}
