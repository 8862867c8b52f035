package render

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// pod builds a test pod: name, age in seconds, containers, claims by volume.
func pod(name string, age int, containers []string, claims map[string]string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name,
		CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(age) * time.Second))}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	// Each volume is mounted at /mnt/<volume> by the first container.
	for vol, claim := range claims {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: "/mnt/" + vol})
	}
	return p
}

func deploymentParams() Params {
	return Params{
		Object:     map[string]any{"metadata": map[string]any{"name": "db", "labels": map[string]any{"app": "pg"}}},
		Deployment: Workload("db", "app", []corev1.Pod{pod("db-new", 10, []string{"postgres", "exporter"}, nil), pod("db-old", 100, []string{"postgres"}, map[string]string{"data": "db-data"})}),
		Options:    map[string]string{"retention": "7d"},
		Secrets:    map[string]corev1.Secret{"pg": {Data: map[string][]byte{"password": []byte("s3cret")}}},
		ConfigMaps: map[string]corev1.ConfigMap{"cfg": {Data: map[string]string{"db": "orders"}}},
		Phases:     map[string]*PhaseParams{"dump": {Output: map[string]any{"path": "/backups/1.sql", "size": float64(42)}}},
		ArtifactsIn: map[string]batonv1.Artifact{
			"backupInfo": {KeyValue: map[string]string{"path": "s3://bucket/db/1"}},
		},
		Profile: &ProfileParams{Location: batonv1.Location{Bucket: "backups", Endpoint: "http://minio:9000"},
			Credential: CredentialParams{KeyPair: &KeyPairParams{ID: "AKIA", Secret: "shh"}}},
		Time: "2026-11-26T10:00:00Z",
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name, template, want, wantErr string
	}{
		{"plain text is untouched", "no templates here", "no templates here", ""},
		{"workload name", "{{ .Deployment.Namespace }}/{{ .Deployment.Name }}", "app/db", ""},
		{"pods oldest first", "{{ index .Deployment.Pods 0 }}", "db-old", ""},
		{"containers of a pod", "{{ index (index .Deployment.Containers 1) 1 }}", "exporter", ""},
		{"claims of a pod, with their mount paths", "{{ index .Deployment.PersistentVolumeClaims \"db-old\" \"db-data\" }}", "/mnt/data", ""},
		{"claims by range", "{{ range $claim, $path := index .Deployment.PersistentVolumeClaims \"db-old\" }}{{ $claim }}={{ $path }}{{ end }}", "db-data=/mnt/data", ""},
		{"object fields", "{{ .Object.metadata.labels.app }}", "pg", ""},
		{"phase output", "{{ .Phases.dump.Output.path }}", "/backups/1.sql", ""},
		{"input artifact", "{{ .ArtifactsIn.backupInfo.KeyValue.path }}", "s3://bucket/db/1", ""},
		{"options", "{{ .Options.retention }}", "7d", ""},
		{"secret data", "{{ .Secrets.pg.Data.password | toString }}", "s3cret", ""},
		{"config map", "{{ .ConfigMaps.cfg.Data.db }}", "orders", ""},
		{"profile", "{{ .Profile.Location.Bucket }} {{ .Profile.Credential.KeyPair.ID }}", "backups AKIA", ""},
		{"time", "{{ .Time }}", "2026-11-26T10:00:00Z", ""},
		{"sprig", `{{ .Deployment.Name | upper }}-{{ list 1 2 | len }}`, "DB-2", ""},
		{"missing option", "{{ .Options.nope }}", "", `map has no entry for key "nope"`},
		{"missing phase", "{{ .Phases.later.Output.x }}", "", `map has no entry for key "later"`},
		{"missing output", "{{ .Phases.dump.Output.nope }}", "", `map has no entry for key "nope"`},
		{"wrong workload kind", "{{ .StatefulSet.Name }}", "", "nil pointer evaluating *render.WorkloadParams.Name"},
		{"syntax error", "{{ .Options.x ", "", "unclosed action"},
		{"environment is not readable", `{{ env "HOME" }}`, "", `function "env" not defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := String("args.command[0]", tt.template, deploymentParams())
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), "args.command[0]", "the error names the field")
				var rerr *Error
				assert.True(t, errors.As(err, &rerr))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestArgsRenderMapKeys(t *testing.T) {
	got, err := Args(batonv1.JSONMap{"volumes": map[string]any{"{{ .Deployment.Name }}-data": "/data"}}, deploymentParams())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"volumes": map[string]any{"db-data": "/data"}}, got)

	_, err = Args(batonv1.JSONMap{"volumes": map[string]any{"{{ .Deployment.Name }}": "/a", "db": "/b"}}, deploymentParams())
	assert.ErrorContains(t, err, `key renders to "db", which another key of the map already has`)
	_, err = Args(batonv1.JSONMap{"volumes": map[string]any{"{{ .Options.nope }}": "/a"}}, deploymentParams())
	assert.ErrorContains(t, err, "args.volumes.{{ .Options.nope }}")
}

func TestArgsRendersNestedValues(t *testing.T) {
	args := batonv1.JSONMap{
		"namespace": "{{ .Deployment.Namespace }}",
		"command":   []any{"sh", "-c", "pg_dump > {{ .Phases.dump.Output.path }}"},
		"replicas":  float64(0),
		"nested":    map[string]any{"pod": "{{ index .Deployment.Pods 0 }}", "keep": true},
	}
	got, err := Args(args, deploymentParams())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"namespace": "app",
		"command":   []any{"sh", "-c", "pg_dump > /backups/1.sql"},
		"replicas":  float64(0),
		"nested":    map[string]any{"pod": "db-old", "keep": true},
	}, got)
	assert.Equal(t, "{{ .Deployment.Namespace }}", args["namespace"], "input is not modified")

	_, err = Args(batonv1.JSONMap{"command": []any{"sh", "{{ .Options.missing }}"}}, deploymentParams())
	assert.ErrorContains(t, err, "args.command[1]: ")
}

func TestObjectReferenceAndArtifacts(t *testing.T) {
	ref, err := ObjectReference("objects.pvc", batonv1.ObjectReference{Kind: "PersistentVolumeClaim",
		Name: `{{ range $claim, $_ := index .Deployment.PersistentVolumeClaims "db-old" }}{{ $claim }}{{ end }}`, Namespace: "{{ .Deployment.Namespace }}"}, deploymentParams())
	require.NoError(t, err)
	assert.Equal(t, batonv1.ObjectReference{Kind: "PersistentVolumeClaim", Name: "db-data", Namespace: "app"}, ref)

	out, err := Artifacts("outputArtifacts", map[string]batonv1.Artifact{
		"dump": {KeyValue: map[string]string{"path": "{{ .Phases.dump.Output.path }}", "static": "x"}},
	}, deploymentParams())
	require.NoError(t, err)
	assert.Equal(t, map[string]batonv1.Artifact{"dump": {KeyValue: map[string]string{"path": "/backups/1.sql", "static": "x"}}}, out)

	_, err = Artifacts("outputArtifacts", map[string]batonv1.Artifact{
		"dump": {KeyValue: map[string]string{"path": "{{ .Phases.nope.Output.path }}"}},
	}, deploymentParams())
	assert.ErrorContains(t, err, "outputArtifacts.dump.keyValue.path")
}

func TestWorkloadSkipsTerminatingPods(t *testing.T) {
	gone := pod("db-gone", 5, []string{"c"}, nil)
	gone.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	w := Workload("db", "app", []corev1.Pod{gone, pod("db-0", 1, []string{"c"}, nil)})
	assert.Equal(t, []string{"db-0"}, w.Pods)
	assert.Equal(t, [][]string{{"c"}}, w.Containers)
}
