package cli

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/controller"
)

// validate profile resolves a Profile with the controller's own helper:
// checked here against a fake client, as far as reading goes (reaching the
// bucket needs a store).
func TestResolveProfileForValidate(t *testing.T) {
	prof := &batonv1.Profile{ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: "baton"},
		Location: batonv1.Location{Type: batonv1.LocationTypeS3Compliant, Bucket: "backups", Endpoint: "http://minio:9000"},
		Credential: batonv1.Credential{Type: batonv1.CredentialTypeKeyPair, KeyPair: &batonv1.KeyPair{
			IDField: "id", SecretField: "secret", Secret: batonv1.ObjectReference{Namespace: "baton", Name: "creds"}}}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "baton"},
		Data: map[string][]byte{"id": []byte("AK"), "secret": []byte("SK")}}
	c := fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(prof, secret).Build()

	got, err := controller.ResolveProfile(context.Background(), c, batonv1.ObjectReference{Name: "s3"}, "baton")
	require.NoError(t, err)
	assert.Equal(t, "backups", got.Location.Bucket)
	require.NotNil(t, got.Credential.KeyPair)
	assert.Equal(t, "AK", got.Credential.KeyPair.ID)

	_, err = controller.ResolveProfile(context.Background(), c, batonv1.ObjectReference{Name: "s3"}, "other")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "profile other/s3")

	secret.Data = map[string][]byte{"id": []byte("AK")}
	c = fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(prof, secret).Build()
	_, err = controller.ResolveProfile(context.Background(), c, batonv1.ObjectReference{Name: "s3", Namespace: "baton"}, "")
	require.EqualError(t, err, `credential secret baton/creds of profile s3 lacks key "id" or "secret"`)
}
