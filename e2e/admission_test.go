//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// The deployed admission webhook: its certificate is in the Secret
// baton-webhook-tls and trusted by every webhook of baton-validation; a
// Blueprint with an unknown function is refused before anything runs,
// naming the field; an ActionSet's actions cannot change, its cancel can.
func TestAdmissionWebhookRefusesWhatCannotRun(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ctx := context.Background()

	secret, err := e.client.CoreV1().Secrets(batonNamespace).Get(ctx, "baton-webhook-tls", metav1.GetOptions{})
	require.NoError(t, err, "the controller made its webhook certificate")
	vwc, err := e.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "baton-validation", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, vwc.Webhooks, 3)
	for _, w := range vwc.Webhooks {
		assert.Equal(t, secret.Data["ca.crt"], w.ClientConfig.CABundle, "caBundle of %s", w.Name)
	}

	bad := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("refused"), Namespace: batonNamespace},
		Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{
			kubeTask("first", "true"), {Name: "second", Func: "KubeTsak"}}}}}
	err = e.c.Create(ctx, bad)
	require.Error(t, err, "a Blueprint with an unknown function is refused")
	assert.Contains(t, err.Error(), `admission webhook "blueprints.baton.dev" denied the request`)
	assert.Contains(t, err.Error(), `actions.backup.phases[1].func: Invalid value: unknown function "KubeTsak"`)

	// It names a Blueprint that does not exist: the controller fails it at
	// once, which is what only run time can know.
	as := namespaceActionSet(uniqueName("immutable"), uniqueName("missing"), "backup")
	e.create(t, as)
	changed := as.DeepCopy()
	changed.Spec.Actions[0].Name = "restore"
	// A patch without a resourceVersion: the controller may write the
	// status in between, which an update would meet as a conflict first.
	err = e.c.Patch(ctx, changed, client.MergeFrom(as))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `admission webhook "actionsets.baton.dev" denied the request`)
	assert.Contains(t, err.Error(), "spec.actions: Forbidden")
	require.NoError(t, e.c.Patch(ctx, as, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"cancel":{"reason":"e2e"}}}`))),
		"spec.cancel may change")
	got := e.waitFinished(t, as.Name)
	assert.NotEqual(t, batonv1.StateComplete, got.Status.State)
}

// createThroughWebhook creates obj, retrying while the API server cannot
// reach the admission webhook: its failurePolicy is Fail, and for a moment
// after a controller replica is killed or restarted (the fault tests, a
// redeploy) the Service may still route to it. A refusal by the webhook is
// returned at once, as is any other error.
func (e *engine) createThroughWebhook(ctx context.Context, obj client.Object) error {
	var err error
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err = e.c.Create(ctx, obj)
		return err == nil || !strings.Contains(err.Error(), "failed calling webhook"), nil
	})
	return err
}
