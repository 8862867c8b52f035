package admission

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// The objects the webhook's certificate ties together: the Secret holding
// it (in the controller's namespace), the Service the API server calls, and
// the ValidatingWebhookConfiguration whose caBundle must trust it.
const (
	SecretName               = "baton-webhook-tls"
	ServiceName              = "baton-webhook"
	WebhookConfigurationName = "baton-validation"
)

const (
	// certValidity is how long a CA and serving certificate are valid;
	// renewBefore is how long before the end they are replaced, which
	// leaves the other replicas weeks to pick up the new one (they check
	// every checkInterval) while the old one is still trusted.
	certValidity  = 365 * 24 * time.Hour
	renewBefore   = 30 * 24 * time.Hour
	checkInterval = 10 * time.Minute
	// caKey is the Secret's key for the CA bundle: the CA that signed
	// tls.crt first, then the previous CA while it is valid, so that a
	// replica still serving a certificate of the previous CA is trusted.
	caKey = "ca.crt"
)

// Certificates keeps the webhook's serving certificate, without
// cert-manager: a self-signed CA and a certificate for the Service, kept in
// the Secret baton-webhook-tls so that every replica serves the same one.
// Ensure makes the Secret if there is none (or its certificate is unusable
// or ends within 30 days), writes the certificate where the webhook server
// reads it, and puts the CA in the caBundle of every webhook of
// baton-validation. Every replica does all of it: each step is idempotent,
// and concurrent replicas converge on one Secret (the first created wins).
type Certificates struct {
	Kube kubernetes.Interface
	// Namespace is the controller's, where the Secret and Service are.
	Namespace string
	// CertDir receives tls.crt and tls.key (the webhook server's CertDir).
	CertDir string
	// Now is the clock, time.Now if nil.
	Now func() time.Time
	// Interval is how often Start checks again; checkInterval if zero.
	Interval time.Duration
	Log      logr.Logger
}

func (c *Certificates) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// dnsNames are the names the API server may call the Service by.
func (c *Certificates) dnsNames() []string {
	return []string{ServiceName + "." + c.Namespace + ".svc", ServiceName + "." + c.Namespace + ".svc.cluster.local"}
}

// Ensure makes sure a valid certificate is in the Secret, trusted by the
// webhook configuration and on disk, in that order: the API server must
// trust a CA before this replica serves a certificate it signed.
func (c *Certificates) Ensure(ctx context.Context) error {
	secret, err := c.secret(ctx)
	if err != nil {
		return err
	}
	if err := c.patchCABundle(ctx, secret.Data[caKey]); err != nil {
		return err
	}
	return c.writeFiles(secret.Data)
}

// Start checks the certificate every Interval until ctx ends, so that a
// long-running replica renews it, picks up another replica's renewal and
// restores a caBundle lost when the configuration was re-created. A failed
// check is logged and tried again: the certificate in use is still good for
// weeks.
func (c *Certificates) Start(ctx context.Context) error {
	interval := c.Interval
	if interval == 0 {
		interval = checkInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := c.Ensure(ctx); err != nil {
				c.Log.Error(err, "webhook certificate check failed; trying again later", "in", interval)
			}
		}
	}
}

// NeedLeaderElection is false: every replica serves the webhook.
func (c *Certificates) NeedLeaderElection() bool { return false }

// secret returns the Secret with a usable certificate, creating or
// renewing it. A replica that loses a race (the Secret was created or
// changed in between) reads the winner's and uses that.
func (c *Certificates) secret(ctx context.Context) (*corev1.Secret, error) {
	secrets := c.Kube.CoreV1().Secrets(c.Namespace)
	where := c.Namespace + "/" + SecretName
	for range 5 {
		s, err := secrets.Get(ctx, SecretName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			data, err := c.issue(nil)
			if err != nil {
				return nil, err
			}
			s = &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: c.Namespace,
					Labels: map[string]string{"app.kubernetes.io/name": "baton", "app.kubernetes.io/component": "webhook"}},
				Type: corev1.SecretTypeTLS,
				Data: data,
			}
			created, err := secrets.Create(ctx, s, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("create Secret %s: %w", where, err)
			}
			c.Log.Info("created the webhook's certificate", "secret", where, "notAfter", c.now().Add(certValidity).UTC())
			return created, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read Secret %s: %w", where, err)
		}
		why := c.unusable(s.Data)
		if why == nil {
			return s, nil
		}
		data, err := c.issue(s.Data[caKey])
		if err != nil {
			return nil, err
		}
		s.Data = data
		updated, err := secrets.Update(ctx, s, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("renew the certificate in Secret %s: %w", where, err)
		}
		c.Log.Info("renewed the webhook's certificate", "secret", where, "reason", why.Error())
		return updated, nil
	}
	return nil, fmt.Errorf("the Secret %s kept changing while its certificate was checked", where)
}

// unusable says why the Secret's certificate cannot be served (nil: it can).
func (c *Certificates) unusable(data map[string][]byte) error {
	pair, err := tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return fmt.Errorf("no usable %s and %s: %w", corev1.TLSCertKey, corev1.TLSPrivateKeyKey, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return err
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data[caKey]) {
		return fmt.Errorf("no CA certificate in %s", caKey)
	}
	now := c.now()
	for _, name := range c.dnsNames() {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			return fmt.Errorf("the certificate does not serve %s: %w", name, err)
		}
	}
	if left := leaf.NotAfter.Sub(now); left < renewBefore {
		return fmt.Errorf("the certificate ends in %s, at %s", left.Round(time.Hour), leaf.NotAfter.UTC())
	}
	return nil
}

// issue makes a new CA and a serving certificate signed by it. The CA
// bundle is the new CA followed by the CAs of previous that are still valid
// (the previous bundle), so replicas not yet serving the new certificate
// stay trusted.
func (c *Certificates) issue(previous []byte) (map[string][]byte, error) {
	now := c.now()
	caKeyPair, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTemplate := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "baton-webhook-ca"},
		NotBefore:             now.Add(-time.Hour), // clocks differ a little
		NotAfter:              now.Add(certValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	if caTemplate.SerialNumber, err = serialNumber(); err != nil {
		return nil, err
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKeyPair.PublicKey, caKeyPair)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	names := c.dnsNames()
	template := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		DNSNames:    names,
		NotBefore:   caTemplate.NotBefore,
		NotAfter:    caTemplate.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if template.SerialNumber, err = serialNumber(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKeyPair)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	bundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for rest := previous; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if old, err := x509.ParseCertificate(block.Bytes); err == nil && old.IsCA && now.Before(old.NotAfter) {
			bundle = append(bundle, pem.EncodeToMemory(block)...)
		}
	}
	return map[string][]byte{
		corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		caKey:                   bundle,
	}, nil
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// patchCABundle sets the caBundle of every webhook of the configuration
// that does not have it yet. The patch carries the resourceVersion read,
// so a concurrent change (another replica, an upgrade) is a conflict, read
// again and retried with backoff, never overwritten.
func (c *Certificates) patchCABundle(ctx context.Context, bundle []byte) error {
	configs := c.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		vwc, err := configs.Get(ctx, WebhookConfigurationName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("ValidatingWebhookConfiguration %s is not installed (config/webhook; or run the controller with --webhook-port=0): %w", WebhookConfigurationName, err)
		}
		if err != nil {
			return fmt.Errorf("read ValidatingWebhookConfiguration %s: %w", WebhookConfigurationName, err)
		}
		var hooks []any
		for _, w := range vwc.Webhooks {
			if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
				hooks = append(hooks, map[string]any{"name": w.Name, "clientConfig": map[string]any{"caBundle": bundle}})
			}
		}
		if len(hooks) == 0 {
			return nil
		}
		// A strategic merge patch: webhooks are merged by name, so only
		// caBundle changes.
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": vwc.ResourceVersion},
			"webhooks": hooks,
		})
		if err != nil {
			return err
		}
		if _, err := configs.Patch(ctx, WebhookConfigurationName, types.StrategicMergePatchType, patch,
			metav1.PatchOptions{FieldManager: "baton-controller"}); err != nil {
			return err
		}
		c.Log.Info("trusted the webhook's CA", "validatingWebhookConfiguration", WebhookConfigurationName, "webhooks", len(hooks))
		return nil
	})
}

// writeFiles puts the certificate and key where the webhook server reads
// them. Each file is replaced by a rename, so the server's file watcher
// never reads half a file; unchanged files are left alone.
func (c *Certificates) writeFiles(data map[string][]byte) error {
	if err := os.MkdirAll(c.CertDir, 0o700); err != nil {
		return err
	}
	for _, name := range []string{corev1.TLSPrivateKeyKey, corev1.TLSCertKey} {
		path := filepath.Join(c.CertDir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data[name]) {
			continue
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		tmp, err := os.CreateTemp(c.CertDir, "."+name+".*")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(data[name])
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr); err != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
