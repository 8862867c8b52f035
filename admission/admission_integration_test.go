//go:build integration

package admission_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/batonhq/baton/admission"
	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/internal/testenv"
)

const ns = "baton"

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, batonv1.AddToScheme(scheme))
	return scheme
}

// startWebhook runs kube-apiserver and etcd with Baton's CRDs and the
// shipped webhook configuration, pointed by envtest at a local webhook
// server (envtest makes its certificate and the caBundle), and serves
// Baton's validators there.
func startWebhook(t *testing.T) client.Client {
	t.Helper()
	hooks := &envtest.WebhookInstallOptions{Paths: []string{webhookManifest}}
	cfg := testenv.Start(t, testenv.Options{CRDDirectoryPaths: []string{filepath.Join("..", "config", "crd", "bases")}, Webhooks: hooks})
	require.Len(t, hooks.ValidatingWebhooks, 1)
	ctrl.SetLogger(testr.New(t))
	scheme := newScheme(t)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: hooks.LocalServingHost, Port: hooks.LocalServingPort, CertDir: hooks.LocalServingCertDir}),
	})
	require.NoError(t, err)
	require.NoError(t, admission.Register(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	started := mgr.GetWebhookServer().StartedChecker()
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return started(nil) == nil, nil }), "webhook server started")

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	return c
}

// refused checks the API server refused the request through the named
// webhook, with a message naming each field.
func refused(t *testing.T, err error, webhookName string, fields ...string) {
	t.Helper()
	require.Error(t, err)
	t.Logf("refused: %v", err)
	assert.True(t, apierrors.IsInvalid(err), "422 Invalid, as the API server's own validation: %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("admission webhook %q denied the request", webhookName))
	for _, f := range fields {
		assert.Contains(t, err.Error(), f+": ", "the message names %s", f)
	}
}

func kubeTask(name string) batonv1.BlueprintPhase {
	return batonv1.BlueprintPhase{Name: name, Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"true"}}}
}

func blueprint(name string, phases ...batonv1.BlueprintPhase) *batonv1.Blueprint {
	return &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: phases}}}
}

func actionSet(name string, actions ...batonv1.ActionSpec) *batonv1.ActionSet {
	return &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: batonv1.ActionSetSpec{Actions: actions}}
}

func backupOf(object batonv1.ObjectReference) batonv1.ActionSpec {
	return batonv1.ActionSpec{Name: "backup", Blueprint: "good", Object: object}
}

func TestIntegrationAdmission(t *testing.T) {
	c := startWebhook(t)
	ctx := context.Background()

	t.Run("shipped objects are admitted", func(t *testing.T) {
		kanister := func(s string) string {
			return strings.ReplaceAll(s, "apiVersion: cr.kanister.io/v1alpha1", "apiVersion: baton.dev/v1alpha1")
		}
		files := []string{"../examples/demo/blueprint.yaml", "../examples/demo/actionset.yaml",
			"../examples/postgres/blueprint.yaml", "../examples/postgres/volume-blueprint.yaml",
			"../examples/postgres/profile.yaml", "../examples/postgres/actionset-backup.yaml"}
		testdata, err := filepath.Glob("../e2e/testdata/*.yaml")
		require.NoError(t, err)
		created := 0
		for _, f := range append(files, testdata...) {
			for _, obj := range documents(t, f, kanister) {
				if obj.GetNamespace() == "" {
					obj.SetNamespace(ns) // as kubectl apply -n does
				}
				if strings.Contains(f, "testdata") && obj.GetName() != "" {
					obj.SetName("kanister-" + obj.GetName()) // the examples use the same names
				}
				require.NoError(t, c.Create(ctx, obj), "%s: %s %s", f, obj.GetKind(), obj.GetName())
				if obj.GetAPIVersion() == batonv1.GroupVersion.String() {
					created++
				}
			}
		}
		assert.GreaterOrEqual(t, created, 9)
	})

	t.Run("bad Blueprints are refused, naming the field", func(t *testing.T) {
		const hook = "blueprints.baton.dev"
		unknown := kubeTask("dump")
		unknown.Func = "KubeTsak"
		err := c.Create(ctx, blueprint("unknown-function", unknown))
		refused(t, err, hook, "actions.backup.phases[0].func")
		assert.Contains(t, err.Error(), `unknown function "KubeTsak"`)

		err = c.Create(ctx, blueprint("duplicate-phases", kubeTask("dump"), kubeTask("dump")))
		refused(t, err, hook, "actions.backup.phases[1].name")

		badTemplate := kubeTask("dump")
		badTemplate.Args["image"] = "{{ .StatefulSet.Name "
		err = c.Create(ctx, blueprint("bad-template", badTemplate))
		refused(t, err, hook, "actions.backup.phases[0].args.image")
		assert.Contains(t, err.Error(), "template:")

		missing := kubeTask("dump")
		delete(missing.Args, "command")
		err = c.Create(ctx, blueprint("missing-argument", kubeTask("first"), missing))
		refused(t, err, hook, "actions.backup.phases[1].args.command")
		assert.Contains(t, err.Error(), `KubeTask needs argument "command"`)

		// A good Blueprint changed into a bad one is refused too.
		good := blueprint("good", kubeTask("dump"))
		require.NoError(t, c.Create(ctx, good))
		changed := good.DeepCopy()
		changed.Actions["backup"] = batonv1.BlueprintAction{Phases: []batonv1.BlueprintPhase{unknown}}
		refused(t, c.Update(ctx, changed), hook, "actions.backup.phases[0].func")
	})

	t.Run("bad ActionSets are refused, naming the field", func(t *testing.T) {
		const hook = "actionsets.baton.dev"
		refused(t, c.Create(ctx, actionSet("no-actions")), hook, "spec.actions")
		err := c.Create(ctx, actionSet("bad-object", backupOf(batonv1.ObjectReference{Kind: "StatefulSet", Name: "db"})))
		refused(t, err, hook, "spec.actions[0].object.namespace")
		err = c.Create(ctx, actionSet("no-object", backupOf(batonv1.ObjectReference{})))
		refused(t, err, hook, "spec.actions[0].object.kind", "spec.actions[0].object.name")
	})

	t.Run("an ActionSet's actions are immutable, cancel is not", func(t *testing.T) {
		const hook = "actionsets.baton.dev"
		as := actionSet("immutable", backupOf(batonv1.ObjectReference{Kind: "Namespace", Name: ns}))
		require.NoError(t, c.Create(ctx, as))

		changed := as.DeepCopy()
		changed.Spec.Actions[0].Object.Name = "default"
		err := c.Update(ctx, changed)
		refused(t, err, hook, "spec.actions")
		assert.Contains(t, err.Error(), "immutable")

		// As batonctl cancel does it: a merge patch of spec.cancel.
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"cancel":{"reason":"maintenance"}}}`))
		require.NoError(t, c.Patch(ctx, as, patch))
		require.Equal(t, "maintenance", as.Spec.Cancel.Reason)

		// The controller's status writes go to the status subresource,
		// which the configuration does not send to the webhook.
		as.Status.State = batonv1.StateCancelled
		require.NoError(t, c.Status().Update(ctx, as))
	})

	t.Run("bad Profiles are refused, naming the field", func(t *testing.T) {
		p := &batonv1.Profile{ObjectMeta: metav1.ObjectMeta{Name: "no-secret-namespace", Namespace: ns},
			Location: batonv1.Location{Type: batonv1.LocationTypeS3Compliant, Bucket: "backups", Endpoint: "ftp://minio:9000"},
			Credential: batonv1.Credential{Type: batonv1.CredentialTypeKeyPair, KeyPair: &batonv1.KeyPair{
				IDField: "id", SecretField: "secret", Secret: batonv1.ObjectReference{Name: "s3"}}}}
		refused(t, c.Create(ctx, p), "profiles.baton.dev", "location.endpoint", "credential.keyPair.secret.namespace")

		// What the CRD's own rules refuse never reaches the webhook; the API
		// server names the field itself.
		p.Location.Bucket, p.Location.Endpoint, p.Credential.KeyPair.Secret.Namespace = "", "", ns
		err := c.Create(ctx, p)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "location: Invalid value")
		assert.Contains(t, err.Error(), "needs a bucket")
	})
}

// The certificate bootstrap against a real API server, as the controller's
// ServiceAccount with the shipped RBAC: the Secret is created once, every
// replica uses it, the caBundle of every webhook trusts it, and a server
// with the written files is trusted under the Service's name.
func TestIntegrationWebhookCertificates(t *testing.T) {
	cfg := testenv.Start(t, testenv.Options{})
	ctx := context.Background()
	admin, err := client.New(cfg, client.Options{Scheme: newScheme(t)})
	require.NoError(t, err)
	require.NoError(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	for _, f := range []string{webhookManifest, "../config/rbac/service_accounts.yaml", "../config/rbac/role.yaml",
		"../config/rbac/bindings.yaml", "../config/rbac/webhook_role.yaml"} {
		for _, obj := range documents(t, f, nil) {
			if obj.GetKind() == "ServiceAccount" {
				obj.SetNamespace(ns)
			}
			require.NoError(t, admin.Create(ctx, obj), "%s: %s %s", f, obj.GetKind(), obj.GetName())
		}
	}
	asController := rest.CopyConfig(cfg)
	asController.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":baton-controller"}
	kube, err := kubernetes.NewForConfig(asController)
	require.NoError(t, err)
	replica := func(now time.Time) *admission.Certificates {
		return &admission.Certificates{Kube: kube, Namespace: ns, CertDir: t.TempDir(), Log: testr.New(t),
			Now: func() time.Time { return now }}
	}
	secret := func() *corev1.Secret {
		s, err := kube.CoreV1().Secrets(ns).Get(ctx, admission.SecretName, metav1.GetOptions{})
		require.NoError(t, err)
		return s
	}
	trusted := func(s *corev1.Secret) {
		vwc, err := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, admission.WebhookConfigurationName, metav1.GetOptions{})
		require.NoError(t, err)
		require.Len(t, vwc.Webhooks, 3)
		for _, w := range vwc.Webhooks {
			assert.Equal(t, s.Data["ca.crt"], w.ClientConfig.CABundle, "caBundle of %s", w.Name)
		}
	}

	// Three replicas starting at once agree on one certificate.
	now := time.Now()
	replicas := []*admission.Certificates{replica(now), replica(now), replica(now)}
	var wg sync.WaitGroup
	errs := make([]error, len(replicas))
	for i, r := range replicas {
		wg.Go(func() { errs[i] = r.Ensure(ctx) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	first := secret()
	trusted(first)
	for _, r := range replicas {
		got, err := os.ReadFile(filepath.Join(r.CertDir, "tls.crt"))
		require.NoError(t, err)
		assert.Equal(t, first.Data["tls.crt"], got, "every replica serves the Secret's certificate")
	}

	// A restart reuses it, changing nothing.
	require.NoError(t, replica(now.Add(time.Hour)).Ensure(ctx))
	assert.Equal(t, first.ResourceVersion, secret().ResourceVersion)

	// A server with the written files is trusted under the Service's name,
	// by the caBundle.
	served := serveWith(t, replicas[0].CertDir)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(first.Data["ca.crt"]))
	conn, err := tls.Dial("tcp", served, &tls.Config{RootCAs: roots, ServerName: "baton-webhook." + ns + ".svc"})
	require.NoError(t, err, "TLS handshake trusting only the caBundle")
	require.NoError(t, conn.Close())

	// Near its end it is renewed (an update the Role allows), trusted
	// alongside the old CA.
	late := replica(now.Add(340 * 24 * time.Hour))
	require.NoError(t, late.Ensure(ctx))
	renewed := secret()
	assert.NotEqual(t, first.Data["tls.crt"], renewed.Data["tls.crt"])
	assert.True(t, bytes.Contains(renewed.Data["ca.crt"], first.Data["ca.crt"]), "the old CA stays trusted")
	trusted(renewed)
}

// serveWith starts a webhook server with the certificate in certDir and
// returns its address.
func serveWith(t *testing.T, certDir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	srv := webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, CertDir: certDir})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	started := srv.StartedChecker()
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return started(nil) == nil, nil }))
	return fmt.Sprintf("127.0.0.1:%d", port)
}
