//go:build e2e

package e2e

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/internal/testenv"
)

// s3ForPods starts a real S3 server (MinIO, from BATON_MINIO) for one test,
// listening only on this machine's address on the cluster nodes' network,
// which pods reach through their node; its credentials are made up per run.
func (c *cluster) s3ForPods(t testing.TB) *testenv.S3 {
	t.Helper()
	return testenv.StartS3On(t, c.hostAddressForPods(t))
}

// hostAddressForPods finds the address of this machine on the network of a
// node of the cluster (a kind node's Docker network). A cluster with no
// node on a network of this machine cannot reach a server here: the data
// tests are skipped there, saying so.
func (c *cluster) hostAddressForPods(t testing.TB) string {
	t.Helper()
	nodes, err := c.client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, node := range nodes.Items {
		for _, a := range node.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			nodeIP := net.ParseIP(a.Address)
			for _, addr := range addrs {
				if ipNet, ok := addr.(*net.IPNet); ok && ipNet.Contains(nodeIP) && !ipNet.IP.Equal(nodeIP) {
					return ipNet.IP.String()
				}
			}
		}
	}
	t.Skip("no node of this cluster is on a network of this machine: a test S3 server here would be unreachable from pods")
	return ""
}

// profileFor stores a Profile for the server in Baton's namespace, with its
// credentials in a Secret beside it; secretKey overrides the server's own
// (to test refused credentials).
func (e *engine) profileFor(t testing.TB, s3 *testenv.S3, name, prefix, secretKey string) {
	t.Helper()
	if secretKey == "" {
		secretKey = s3.SecretKey
	}
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-creds"},
		Type:       "secrets.kanister.io/aws",
		StringData: map[string]string{"aws_access_key_id": s3.AccessKey, "aws_secret_access_key": secretKey},
	}
	prof := &batonv1.Profile{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Location: batonv1.Location{Type: batonv1.LocationTypeS3Compliant, Bucket: s3.Bucket, Endpoint: s3.Endpoint,
			Prefix: prefix, Region: "us-east-1"},
		Credential: batonv1.Credential{Type: batonv1.CredentialTypeKeyPair, KeyPair: &batonv1.KeyPair{
			IDField: "aws_access_key_id", SecretField: "aws_secret_access_key",
			Secret: batonv1.ObjectReference{Name: name + "-creds", Namespace: batonNamespace}}},
	}
	e.create(t, creds, prof)
}
