package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
)

// MinIOEnv names the MinIO server binary `make test-integration` builds.
const MinIOEnv = "BATON_MINIO"

// S3 is a real S3 server: a MinIO process of its own with fresh credentials
// and an empty bucket. MinIO is AGPL: it runs as a separate process, never
// linked into Baton.
type S3 struct {
	Endpoint  string // http://HOST:PORT
	AccessKey string
	SecretKey string
	Bucket    string
	cmd       *exec.Cmd
}

// StartS3 starts MinIO on a free loopback port for one test and stops it
// when the test ends.
func StartS3(t testing.TB) *S3 { return StartS3On(t, "127.0.0.1") }

// StartS3On is StartS3 listening on host only: an address of this machine
// that pods can reach (the host's address on the cluster's network) in e2e
// tests, never every interface.
func StartS3On(t testing.TB, host string) *S3 {
	t.Helper()
	bin := os.Getenv(MinIOEnv)
	if bin == "" {
		t.Fatalf("%s is not set: run these tests through make, which builds MinIO", MinIOEnv)
	}
	s, err := RunS3(bin, host, 0, t.TempDir())
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RunS3 starts MinIO from bin on host:port (port 0: a free one) with its
// data in dir, waits until it is healthy and creates a bucket. The caller
// stops it, also when an error is returned with a server.
func RunS3(bin, host string, port int, dir string) (*S3, error) {
	if port == 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	s := &S3{Endpoint: "http://" + addr, AccessKey: "baton-" + rand.String(8), SecretKey: rand.String(24), Bucket: "baton-" + rand.String(6)}
	s.cmd = exec.Command(bin, "server", dir, "--address", addr, "--console-address", net.JoinHostPort(host, "0"), "--quiet")
	s.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey, "MINIO_BROWSER=off")
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start MinIO %s: %w", bin, err)
	}
	if err := s.waitHealthy(); err != nil {
		return s, err
	}
	client, err := s.client()
	if err != nil {
		return s, err
	}
	if err := client.MakeBucket(context.Background(), s.Bucket, minio.MakeBucketOptions{}); err != nil {
		return s, fmt.Errorf("create bucket: %w", err)
	}
	return s, nil
}

func (s *S3) waitHealthy() error {
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get(s.Endpoint + "/minio/health/live")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("MinIO did not become healthy at %s: %w", s.Endpoint, err)
	}
	return nil
}

func (s *S3) client() (*minio.Client, error) {
	return minio.New(s.Endpoint[len("http://"):], &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
}

// Client is an admin client of the server, for checks behind the code
// under test.
func (s *S3) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := s.client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Stop kills the server (tests use it to take the store away mid-run).
func (s *S3) Stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// Restart starts the server again on the same address and data after Stop
// (tests use it to bring the store back after an outage).
func (s *S3) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	cmd.Env = s.cmd.Env
	if err := cmd.Start(); err != nil {
		t.Fatalf("restart MinIO: %v", err)
	}
	s.cmd = cmd
	if err := s.waitHealthy(); err != nil {
		t.Fatal(err)
	}
}

// ProfileJSON is the server as a rendered Profile ({{ toJson .Profile }}).
func (s *S3) ProfileJSON(prefix string) string {
	return fmt.Sprintf(`{"Location":{"type":"s3Compliant","bucket":%q,"endpoint":%q,"prefix":%q},"Credential":{"Type":"keyPair","KeyPair":{"ID":%q,"Secret":%q}},"SkipSSLVerify":false}`,
		s.Bucket, s.Endpoint, prefix, s.AccessKey, s.SecretKey)
}
