//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// whoStatefulSet is two busybox pods, each writing its own name into its
// own volume at /data/who.
func whoStatefulSet(ns string) *appsv1.StatefulSet {
	labels := map[string]string{"app": "who"}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "who", Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Containers: []corev1.Container{{
						Name: "app", Image: e2eToolsImage, ImagePullPolicy: corev1.PullIfNotPresent,
						Command:      []string{"sh", "-c", "hostname > /data/who && exec sleep 3600"},
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
					}},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("16Mi")}}},
			}},
		},
	}
}

func (e *engine) who(t *testing.T, ns, pod string) string {
	t.Helper()
	return strings.TrimSpace(e.kubectl(t, "exec", "-n", ns, pod, "--", "cat", "/data/who"))
}

// The data functions the PostgreSQL tests do not use, on a real cluster:
// BackupDataAll over both pods of a StatefulSet, BackupData, BackupDataStats
// and CheckRepository on its repository, PrepareData mounting a pod's
// claim, LocationDelete of an object a KubeTask pushed; then RestoreDataAll
// puts both pods' files back, and DeleteDataAll forgets their snapshots.
func TestDataFunctionsOnAStatefulSet(t *testing.T) {
	t.Parallel()
	e := connectEngine(t)
	ns := e.namespace(t)
	s3 := e.s3ForPods(t)
	_, err := e.client.AppsV1().StatefulSets(ns).Create(context.Background(), whoStatefulSet(ns), metav1.CreateOptions{})
	require.NoError(t, err)
	e.kubectl(t, "rollout", "status", "-n", ns, "statefulset/who", "--timeout=180s")

	key := "{{ .Secrets.backupKey.Data.key | toString }}"
	all := "{{ .Profile.Location.Bucket }}/all"
	one := "{{ .Profile.Location.Bucket }}/one"
	bp := &batonv1.Blueprint{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("data")},
		Actions: map[string]batonv1.BlueprintAction{
			"backup": {
				SecretNames: []string{"backupKey"},
				Phases: []batonv1.BlueprintPhase{
					{Name: "all", Func: "BackupDataAll", Args: batonv1.JSONMap{"namespace": ns, "container": "app", "includePath": "/data", "backupArtifactPrefix": all, "encryptionKey": key}},
					{Name: "one", Func: "BackupData", Args: batonv1.JSONMap{"namespace": ns, "pod": "{{ index .StatefulSet.Pods 0 }}", "container": "app", "includePath": "/data", "backupArtifactPrefix": one, "encryptionKey": key}},
					{Name: "stats", Func: "BackupDataStats", Args: batonv1.JSONMap{"namespace": ns, "backupArtifactPrefix": one, "backupID": "{{ .Phases.one.Output.backupID }}", "encryptionKey": key}},
					{Name: "check", Func: "CheckRepository", Args: batonv1.JSONMap{"backupArtifactPrefix": one, "encryptionKey": key}},
					{Name: "prepare", Func: "PrepareData", Args: batonv1.JSONMap{"namespace": ns, "image": e2eToolsImage,
						"volumes": map[string]any{`{{ range $claim, $path := index .StatefulSet.PersistentVolumeClaims (index .StatefulSet.Pods 1) }}{{ $claim }}{{ end }}`: "/mnt/data"},
						"command": []any{"sh", "-c", `kando output who "$(cat /mnt/data/who)"`}}},
					{Name: "push", Func: "KubeTask", Args: batonv1.JSONMap{"image": e2eToolsImage, "command": []any{"sh", "-c",
						`echo scratch | kando location push --path "scratch/{{ .StatefulSet.Namespace }}" - && kando output path "{{ .Profile.Location.Bucket }}/scratch/{{ .StatefulSet.Namespace }}"`}}},
					{Name: "deleteScratch", Func: "LocationDelete", Args: batonv1.JSONMap{"artifact": "s3://{{ .Phases.push.Output.path }}"}},
				},
				OutputArtifacts: map[string]batonv1.Artifact{"all": {KeyValue: map[string]string{"info": "{{ .Phases.all.Output.BackupAllInfo }}"}}},
			},
			"restore": {
				SecretNames: []string{"backupKey"}, InputArtifactNames: []string{"all"},
				Phases: []batonv1.BlueprintPhase{{Name: "restore", Func: "RestoreDataAll", Args: batonv1.JSONMap{
					"namespace": ns, "image": runnerImage, "backupArtifactPrefix": all, "backupInfo": "{{ .ArtifactsIn.all.KeyValue.info }}",
					"restorePath": "/", "encryptionKey": key}}},
			},
			"delete": {
				SecretNames: []string{"backupKey"}, InputArtifactNames: []string{"all"},
				Phases: []batonv1.BlueprintPhase{{Name: "delete", Func: "DeleteDataAll", Args: batonv1.JSONMap{
					"namespace": ns, "backupArtifactPrefix": all, "backupInfo": "{{ .ArtifactsIn.all.KeyValue.info }}",
					"reclaimSpace": true, "encryptionKey": key}}},
			},
		},
	}
	e.create(t, bp)
	profile := uniqueName("store")
	e.profileFor(t, s3, profile, "", "")
	secrets := map[string]batonv1.ObjectReference{"backupKey": e.encryptionKeySecret(t, rand.String(32))}
	sts := batonv1.ObjectReference{Kind: "StatefulSet", Name: "who", Namespace: ns}

	backup := e.runActionWith(t, bp.Name, "backup", profile, sts, nil, secrets)
	requireComplete(t, backup)
	out := phaseOutputs(backup, 0)
	t.Logf("outputs: %v", out)
	var info map[string]map[string]string
	require.NoError(t, json.Unmarshal([]byte(out["all"]["BackupAllInfo"].(string)), &info))
	require.Len(t, info, 2, "one snapshot per pod")
	for _, pod := range []string{"who-0", "who-1"} {
		assert.NotEmpty(t, info[pod]["BackupID"], "pod %s", pod)
	}
	assert.Equal(t, "restore-size", out["stats"]["mode"])
	assert.NotEmpty(t, out["stats"]["size"])
	assert.Equal(t, "false", out["check"]["passwordIncorrect"])
	assert.Equal(t, "false", out["check"]["repoUnavailable"])
	assert.Equal(t, "who-1", out["prepare"]["who"], "PrepareData mounted who-1's claim")
	_, err = s3.Client(t).StatObject(context.Background(), s3.Bucket, "scratch/"+ns, minio.StatObjectOptions{})
	assert.Equal(t, "NoSuchKey", minio.ToErrorResponse(err).Code, "LocationDelete removed the pushed object: %v", err)

	for _, pod := range []string{"who-0", "who-1"} {
		e.kubectl(t, "exec", "-n", ns, pod, "--", "sh", "-c", "echo overwritten > /data/who")
	}
	restore := e.runActionWith(t, bp.Name, "restore", profile, sts, backup.Status.Actions[0].Artifacts, secrets)
	requireComplete(t, restore)
	for _, pod := range []string{"who-0", "who-1"} {
		assert.Equal(t, pod, e.who(t, ns, pod), "RestoreDataAll put %s's own file back", pod)
	}

	repo := func(pod string) string { return "all/" + pod }
	require.Equal(t, 1, snapshotsUnder(t, s3, repo("who-0")))
	del := e.runActionWith(t, bp.Name, "delete", profile, sts, backup.Status.Actions[0].Artifacts, secrets)
	requireComplete(t, del)
	for _, pod := range []string{"who-0", "who-1"} {
		assert.Equal(t, 0, snapshotsUnder(t, s3, repo(pod)), "DeleteDataAll forgot %s's snapshot", pod)
	}
}
