package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseInvocation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want invocation
	}{
		{"create with global flags", []string{"--root", "/run/runc", "--log", "/x.log", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/p", "id"},
			invocation{command: "create", bundle: "/b"}},
		{"short bundle flag", []string{"run", "-b", "/b", "id"}, invocation{command: "run", bundle: "/b"}},
		{"flag=value form", []string{"create", "--bundle=/b", "id"}, invocation{command: "create", bundle: "/b"}},
		{"exec process file", []string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"},
			invocation{command: "exec", process: "/tmp/p.json"}},
		{"other command", []string{"--root", "/r", "state", "id"}, invocation{command: "state"}},
		{"no command", []string{"--version"}, invocation{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, parseInvocation(tt.args))
		})
	}
}

func TestFilterSpecDropsCapabilitiesOutsideBoundingSet(t *testing.T) {
	// Bounding set of the host this was written for: all of 0..40 but 24.
	const bounding = uint64(0x1fffeffffff)
	spec := []byte(`{"ociVersion":"1.0.2","process":{"args":["/sbin/init"],
	  "capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_FUTURE_THING"],
	  "effective":["CAP_SYS_RESOURCE"],"permitted":["CAP_SYS_ADMIN","CAP_SYS_RESOURCE"]}},"root":{"path":"rootfs"}}`)

	out, err := filterSpec(spec, bounding, specCapabilities)
	require.NoError(t, err)

	var doc struct {
		OCIVersion string `json:"ociVersion"`
		Process    struct {
			Args         []string            `json:"args"`
			Capabilities map[string][]string `json:"capabilities"`
		} `json:"process"`
		Root map[string]string `json:"root"`
	}
	require.NoError(t, json.Unmarshal(out, &doc))
	assert.Equal(t, map[string][]string{
		"bounding":  {"CAP_CHOWN", "CAP_FUTURE_THING"},
		"effective": {},
		"permitted": {"CAP_SYS_ADMIN"},
	}, doc.Process.Capabilities)
	assert.Equal(t, "1.0.2", doc.OCIVersion, "other fields are kept")
	assert.Equal(t, []string{"/sbin/init"}, doc.Process.Args)
	assert.Equal(t, "rootfs", doc.Root["path"])
}

func TestFilterSpecWithoutCapabilitiesIsUnchanged(t *testing.T) {
	spec := []byte(`{"process":{"args":["sh"]}}`)
	out, err := filterSpec(spec, 0, specCapabilities)
	require.NoError(t, err)
	assert.Equal(t, spec, out)
}

func TestFilterSpecRejectsBadJSON(t *testing.T) {
	_, err := filterSpec([]byte(`{`), 0, specCapabilities)
	assert.Error(t, err)
}

func TestOwnBoundingSet(t *testing.T) {
	status := filepath.Join(t.TempDir(), "status")
	require.NoError(t, os.WriteFile(status, []byte("Name:\tx\nCapBnd:\t000001fffeffffff\n"), 0o600))
	got, err := ownBoundingSet(status)
	require.NoError(t, err)
	assert.Equal(t, uint64(0x1fffeffffff), got)
	assert.False(t, allowed("CAP_SYS_RESOURCE", got))
	assert.True(t, allowed("CAP_SYS_ADMIN", got))
}
