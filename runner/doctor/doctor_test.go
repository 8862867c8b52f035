package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
)

func fakeAPIServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(version.Info{GitVersion: "v1.35.4"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRun(t *testing.T) {
	srv := fakeAPIServer(t)
	inCluster := func() (*rest.Config, error) { return &rest.Config{Host: srv.URL}, nil }
	notInCluster := func() (*rest.Config, error) { return nil, rest.ErrNotInCluster }
	resolves := func(context.Context, string) ([]string, error) { return []string{"10.96.0.1"}, nil }
	noDNS := func(context.Context, string) ([]string, error) { return nil, errors.New("no such host") }

	tests := []struct {
		name     string
		checks   Checks
		wantErr  string
		wantLogs []string
	}{
		{"all good", Checks{inCluster, resolves}, "",
			[]string{"ok   api server v1.35.4 answers at " + srv.URL, "ok   cluster DNS resolves kubernetes.default.svc.cluster.local to [10.96.0.1]"}},
		{"not in a pod", Checks{notInCluster, resolves}, "1 check(s) failed: [api server]",
			[]string{"FAIL api server: unable to load in-cluster configuration"}},
		{"no DNS", Checks{inCluster, noDNS}, "1 check(s) failed: [cluster DNS]",
			[]string{"FAIL cluster DNS: kubernetes.default.svc.cluster.local: no such host"}},
		{"nothing works", Checks{notInCluster, noDNS}, "2 check(s) failed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), tt.checks, &out)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.wantErr)
			}
			for _, line := range tt.wantLogs {
				assert.Contains(t, out.String(), line)
			}
		})
	}
}
