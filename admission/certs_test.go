package admission

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

const testNamespace = "baton"

func webhookConfiguration() *admissionregistrationv1.ValidatingWebhookConfiguration {
	hook := func(name string) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{Name: name, ClientConfig: admissionregistrationv1.WebhookClientConfig{
			Service: &admissionregistrationv1.ServiceReference{Name: ServiceName, Namespace: testNamespace}}}
	}
	return &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: WebhookConfigurationName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{hook("a.baton.dev"), hook("b.baton.dev")}}
}

func certificates(t *testing.T, kube kubernetes.Interface, now time.Time) *Certificates {
	return &Certificates{Kube: kube, Namespace: testNamespace, CertDir: t.TempDir(), Log: testr.New(t),
		Now: func() time.Time { return now }}
}

func getSecret(t *testing.T, kube kubernetes.Interface) *corev1.Secret {
	t.Helper()
	s, err := kube.CoreV1().Secrets(testNamespace).Get(context.Background(), SecretName, metav1.GetOptions{})
	require.NoError(t, err)
	return s
}

// verifies checks the certificate in certPEM is served for the Service's
// name at the given time by a client trusting bundle, as the API server does.
func verifies(t *testing.T, certPEM, bundle []byte, at time.Time) error {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block)
	leaf, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(bundle))
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: "baton-webhook.baton.svc", Roots: roots, CurrentTime: at})
	return err
}

func caBundles(t *testing.T, kube kubernetes.Interface) [][]byte {
	t.Helper()
	vwc, err := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(context.Background(), WebhookConfigurationName, metav1.GetOptions{})
	require.NoError(t, err)
	var out [][]byte
	for _, w := range vwc.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	return out
}

func TestCertificatesCreatedOnceAndShared(t *testing.T) {
	kube := fake.NewClientset(webhookConfiguration())
	now := time.Now()
	first := certificates(t, kube, now)
	require.NoError(t, first.Ensure(context.Background()))

	s := getSecret(t, kube)
	assert.Equal(t, corev1.SecretTypeTLS, s.Type)
	require.NoError(t, verifies(t, s.Data[corev1.TLSCertKey], s.Data[caKey], now))
	_, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	require.NoError(t, err)
	for _, b := range caBundles(t, kube) {
		assert.Equal(t, s.Data[caKey], b, "every webhook trusts the CA")
	}
	for _, name := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
		got, err := os.ReadFile(filepath.Join(first.CertDir, name))
		require.NoError(t, err)
		assert.Equal(t, s.Data[name], got, "%s on disk", name)
	}

	// Another replica, and this one again: the same certificate, nothing
	// written to the API.
	second := certificates(t, kube, now.Add(time.Hour))
	kube.ClearActions()
	require.NoError(t, second.Ensure(context.Background()))
	require.NoError(t, first.Ensure(context.Background()))
	for _, a := range kube.Actions() {
		assert.Equal(t, "get", a.GetVerb(), "%s %s", a.GetVerb(), a.GetResource().Resource)
	}
	got, err := os.ReadFile(filepath.Join(second.CertDir, corev1.TLSCertKey))
	require.NoError(t, err)
	assert.Equal(t, s.Data[corev1.TLSCertKey], got)
}

// Two replicas starting at once: the one whose create fails reads the
// winner's Secret and serves that.
func TestCertificatesLosingTheRace(t *testing.T) {
	kube := fake.NewClientset(webhookConfiguration())
	winner := certificates(t, kube, time.Now())
	winnerData, err := winner.issue(nil)
	require.NoError(t, err)
	kube.PrependReactor("create", "secrets", func(action clienttesting.Action) (bool, runtime.Object, error) {
		// The winner's create lands just before ours.
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: testNamespace}, Type: corev1.SecretTypeTLS, Data: winnerData}
		require.NoError(t, kube.Tracker().Add(s))
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, SecretName)
	})
	loser := certificates(t, kube, time.Now())
	require.NoError(t, loser.Ensure(context.Background()))
	got, err := os.ReadFile(filepath.Join(loser.CertDir, corev1.TLSCertKey))
	require.NoError(t, err)
	assert.Equal(t, winnerData[corev1.TLSCertKey], got)
	for _, b := range caBundles(t, kube) {
		assert.Equal(t, winnerData[caKey], b)
	}
}

// Less than 30 days before the end, the CA and certificate are replaced;
// the caBundle trusts the old CA too, so a replica still serving the old
// certificate is not cut off.
func TestCertificatesRenewedBeforeTheyEnd(t *testing.T) {
	kube := fake.NewClientset(webhookConfiguration())
	start := time.Now()
	require.NoError(t, certificates(t, kube, start).Ensure(context.Background()))
	old := getSecret(t, kube)

	// Well within its life: kept.
	require.NoError(t, certificates(t, kube, start.Add(300*24*time.Hour)).Ensure(context.Background()))
	assert.Equal(t, old.Data, getSecret(t, kube).Data)

	late := start.Add(certValidity - 20*24*time.Hour)
	require.NoError(t, certificates(t, kube, late).Ensure(context.Background()))
	renewed := getSecret(t, kube)
	assert.NotEqual(t, old.Data[corev1.TLSCertKey], renewed.Data[corev1.TLSCertKey])
	require.NoError(t, verifies(t, renewed.Data[corev1.TLSCertKey], renewed.Data[caKey], late))
	require.NoError(t, verifies(t, old.Data[corev1.TLSCertKey], renewed.Data[caKey], late), "the old certificate is still trusted")
	for _, b := range caBundles(t, kube) {
		assert.Equal(t, renewed.Data[caKey], b)
	}

	// A year on, the CA before is over and leaves the bundle.
	later := late.Add(certValidity - 20*24*time.Hour)
	require.NoError(t, certificates(t, kube, later).Ensure(context.Background()))
	again := getSecret(t, kube)
	assert.Equal(t, 2, countPEM(again.Data[caKey]), "the new CA and the one before")
	assert.Equal(t, 2, countPEM(renewed.Data[caKey]))
}

func countPEM(data []byte) int {
	n := 0
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			return n
		}
		n++
	}
}

func TestCertificatesReplaceAnUnusableSecret(t *testing.T) {
	broken := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: testNamespace},
		Data: map[string][]byte{corev1.TLSCertKey: []byte("not a certificate")}}
	kube := fake.NewClientset(webhookConfiguration(), broken)
	c := certificates(t, kube, time.Now())
	require.NoError(t, c.Ensure(context.Background()))
	s := getSecret(t, kube)
	require.NoError(t, verifies(t, s.Data[corev1.TLSCertKey], s.Data[caKey], time.Now()))

	// A certificate for another Service (or namespace) is not served either.
	other := certificates(t, kube, time.Now())
	other.Namespace = "elsewhere"
	assert.ErrorContains(t, other.unusable(s.Data), "does not serve baton-webhook.elsewhere.svc")
}

func TestCertificatesCABundleConflictIsRetried(t *testing.T) {
	kube := fake.NewClientset(webhookConfiguration())
	conflicts := 2
	kube.PrependReactor("patch", "validatingwebhookconfigurations", func(clienttesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			return false, nil, nil
		}
		conflicts--
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "validatingwebhookconfigurations"}, WebhookConfigurationName, nil)
	})
	require.NoError(t, certificates(t, kube, time.Now()).Ensure(context.Background()))
	assert.Zero(t, conflicts)
	for _, b := range caBundles(t, kube) {
		assert.NotEmpty(t, b)
	}
}

func TestCertificatesWithoutWebhookConfiguration(t *testing.T) {
	err := certificates(t, fake.NewClientset(), time.Now()).Ensure(context.Background())
	assert.ErrorContains(t, err, "ValidatingWebhookConfiguration baton-validation is not installed")
	assert.ErrorContains(t, err, "--webhook-port=0")
}
