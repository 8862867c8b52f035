//go:build integration

package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/batonhq/baton/internal/testenv"
	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

// The snapshot CRDs are external-snapshotter's, taken from its client
// module in the Go module cache at test time rather than copied into this
// repository. Any v8 release serves snapshot.storage.k8s.io/v1.
const (
	snapshotterModule  = "github.com/kubernetes-csi/external-snapshotter/client/v8"
	snapshotterVersion = "v8.7.0"
)

// snapshotCRDs returns the paths of the three snapshot.storage.k8s.io CRDs
// (not the group-snapshot ones beside them, which nothing here uses).
func snapshotCRDs(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", snapshotterModule+"@"+snapshotterVersion)
	// Run outside this module so that go.mod and go.sum stay untouched.
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jsonErr := json.Unmarshal(raw, &info); jsonErr == nil && info.Error != "" {
		t.Fatalf("go mod download %s@%s: %s", snapshotterModule, snapshotterVersion, info.Error)
	}
	require.NoError(t, err, "go mod download %s@%s: %s", snapshotterModule, snapshotterVersion, stderr.String())
	require.NotEmpty(t, info.Dir, "go mod download reported no directory")
	var paths []string
	for _, kind := range []string{"volumesnapshotclasses", "volumesnapshotcontents", "volumesnapshots"} {
		p := filepath.Join(info.Dir, "config", "crd", "snapshot.storage.k8s.io_"+kind+".yaml")
		_, err := os.Stat(p)
		require.NoError(t, err, "the module's layout changed")
		paths = append(paths, p)
	}
	return paths
}

// runAsync runs a function as the runner would and returns its result on
// a channel, so the test can act as the snapshot controller meanwhile.
type csiResult struct {
	out    outputs.Outputs
	stdout string
	err    error
}

func runAsync(ctx context.Context, fn interface {
	Run(context.Context, phase.Spec, io.Writer, io.Writer) (outputs.Outputs, error)
}, args map[string]any) <-chan csiResult {
	ch := make(chan csiResult, 1)
	go func() {
		var stdout bytes.Buffer
		out, err := fn.Run(ctx, phase.Spec{Args: args}, &stdout, io.Discard)
		ch <- csiResult{out, stdout.String(), err}
	}()
	return ch
}

// eventually returns the object once the function under test has created
// it.
func eventually(t *testing.T, res dynamic.ResourceInterface, name string) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	require.Eventually(t, func() bool {
		var err error
		obj, err = res.Get(context.Background(), name, metav1.GetOptions{})
		return err == nil
	}, 20*time.Second, 20*time.Millisecond, "%s was never created", name)
	return obj
}

// setStatus writes a VolumeSnapshot's status through the status
// subresource, as the snapshot controller does.
func setStatus(t *testing.T, res dynamic.ResourceInterface, obj *unstructured.Unstructured, status map[string]any) {
	t.Helper()
	obj = obj.DeepCopy()
	obj.Object["status"] = status
	_, err := res.UpdateStatus(context.Background(), obj, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func TestIntegrationCSISnapshot(t *testing.T) {
	cfg := testenv.Start(t, testenv.Options{CRDDirectoryPaths: snapshotCRDs(t)})
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	kube, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	ctx := context.Background()

	const ns = "csi"
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = dyn.Resource(volumeSnapshotClassesGVR).Create(ctx, snapshotClassObject("csi-retain", "Retain"), metav1.CreateOptions{})
	require.NoError(t, err)

	snapshots := dyn.Resource(volumeSnapshotsGVR).Namespace(ns)
	const poll = 50 * time.Millisecond

	t.Run("CreateCSISnapshot waits for the controller and outputs its status", func(t *testing.T) {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done := runAsync(rctx, &CreateCSISnapshot{Client: dyn, PollInterval: poll}, map[string]any{
			"pvc": "data", "namespace": ns, "snapshotClass": "csi-retain", "labels": map[string]any{"app": "db"},
		})
		// The default name is random: find the snapshot by its label.
		var snap *unstructured.Unstructured
		require.Eventually(t, func() bool {
			list, err := snapshots.List(ctx, metav1.ListOptions{LabelSelector: "app=db"})
			if err != nil || len(list.Items) != 1 {
				return false
			}
			snap = &list.Items[0]
			return true
		}, 20*time.Second, 20*time.Millisecond)
		assert.Regexp(t, `^data-snapshot-[a-z0-9]{5}$`, snap.GetName(), "the server accepts Kanister's default name")
		pvc, _, _ := unstructured.NestedString(snap.Object, "spec", "source", "persistentVolumeClaimName")
		assert.Equal(t, "data", pvc)

		// Not ready yet: the function must still be waiting.
		setStatus(t, snapshots, snap, map[string]any{"readyToUse": false})
		select {
		case r := <-done:
			t.Fatalf("returned before the snapshot was ready: %+v", r)
		case <-time.After(5 * poll):
		}
		snap, err := snapshots.Get(ctx, snap.GetName(), metav1.GetOptions{})
		require.NoError(t, err)
		setStatus(t, snapshots, snap, map[string]any{
			"readyToUse":                     true,
			"creationTime":                   "2026-01-02T03:04:05Z",
			"restoreSize":                    "2Gi",
			"boundVolumeSnapshotContentName": "snapcontent-1234",
		})
		r := <-done
		require.NoError(t, r.err)
		assert.Equal(t, outputs.Outputs{
			"name": snap.GetName(), "pvc": "data", "namespace": ns, "restoreSize": "2Gi", "snapshotContent": "snapcontent-1234",
		}, r.out)
	})

	t.Run("CreateCSISnapshot fails with status.error's message", func(t *testing.T) {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done := runAsync(rctx, &CreateCSISnapshot{Client: dyn, PollInterval: poll}, map[string]any{
			"pvc": "data", "namespace": ns, "snapshotClass": "csi-retain", "name": "broken",
		})
		snap := eventually(t, snapshots, "broken")
		setStatus(t, snapshots, snap, map[string]any{
			"readyToUse": false,
			"error":      map[string]any{"message": "Failed to check and update snapshot content: driver refused", "time": "2026-01-02T03:04:05Z"},
		})
		r := <-done
		require.EqualError(t, r.err, "CreateCSISnapshot: VolumeSnapshot csi/broken: snapshot failed: Failed to check and update snapshot content: driver refused")
		require.NoError(t, rctx.Err(), "it failed at once, not at the deadline")
	})

	t.Run("CreateCSISnapshot reports the deadline clearly", func(t *testing.T) {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := (&CreateCSISnapshot{Client: dyn, PollInterval: poll}).Run(rctx, phase.Spec{Args: map[string]any{
			"pvc": "data", "namespace": ns, "snapshotClass": "csi-retain", "name": "never-ready",
		}}, io.Discard, io.Discard)
		require.EqualError(t, err, "CreateCSISnapshot: VolumeSnapshot csi/never-ready not ready to use before the phase's deadline: "+
			"it has no status: is a snapshot controller running, and a CSI driver that supports snapshots installed?: context deadline exceeded")
	})

	t.Run("CreateCSISnapshot of a missing PVC", func(t *testing.T) {
		_, err := (&CreateCSISnapshot{Client: dyn, PollInterval: poll}).Run(ctx, phase.Spec{Args: map[string]any{
			"pvc": "absent", "namespace": ns, "snapshotClass": "csi-retain",
		}}, io.Discard, io.Discard)
		require.EqualError(t, err, "CreateCSISnapshot: PersistentVolumeClaim csi/absent not found")
	})

	t.Run("CreateCSISnapshotStatic binds a new content to a new snapshot", func(t *testing.T) {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done := runAsync(rctx, &CreateCSISnapshotStatic{Client: dyn, PollInterval: poll}, map[string]any{
			"name": "imported", "namespace": ns, "driver": "hostpath.csi.k8s.io", "snapshotHandle": "7bdd0de3-aaeb-11e8", "snapshotClass": "csi-retain",
		})
		snap := eventually(t, snapshots, "imported")
		contentName, _, _ := unstructured.NestedString(snap.Object, "spec", "source", "volumeSnapshotContentName")
		require.Regexp(t, `^imported-content-[0-9a-f-]{36}$`, contentName)
		content, err := dyn.Resource(volumeSnapshotContentsGVR).Get(ctx, contentName, metav1.GetOptions{})
		require.NoError(t, err, "the content exists before the snapshot that names it")
		spec, _, _ := unstructured.NestedMap(content.Object, "spec")
		assert.Equal(t, "Retain", spec["deletionPolicy"], "taken from the class")
		assert.Equal(t, "hostpath.csi.k8s.io", spec["driver"])
		assert.Equal(t, map[string]any{"snapshotHandle": "7bdd0de3-aaeb-11e8"}, spec["source"])
		assert.Equal(t, map[string]any{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "name": "imported", "namespace": ns}, spec["volumeSnapshotRef"])

		setStatus(t, snapshots, snap, map[string]any{
			"readyToUse":                     true,
			"creationTime":                   "2026-01-02T03:04:05Z",
			"restoreSize":                    int64(1 << 30),
			"boundVolumeSnapshotContentName": contentName,
		})
		r := <-done
		require.NoError(t, r.err)
		assert.Equal(t, outputs.Outputs{"name": "imported", "namespace": ns, "restoreSize": "1073741824", "snapshotContent": contentName}, r.out)
	})

	t.Run("CreateCSISnapshotStatic with a missing class creates nothing", func(t *testing.T) {
		_, err := (&CreateCSISnapshotStatic{Client: dyn, PollInterval: poll}).Run(ctx, phase.Spec{Args: map[string]any{
			"name": "nope", "namespace": ns, "driver": "d", "handle": "h", "snapshotClass": "absent",
		}}, io.Discard, io.Discard)
		require.EqualError(t, err, "CreateCSISnapshotStatic: VolumeSnapshotClass absent not found")
		_, err = snapshots.Get(ctx, "nope", metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err))
	})

	t.Run("RestoreCSISnapshot creates a PVC the API server accepts", func(t *testing.T) {
		out, err := (&RestoreCSISnapshot{Client: dyn}).Run(ctx, phase.Spec{Args: map[string]any{
			"name": "imported", "pvc": "restored", "namespace": ns, "storageClass": "csi-hostpath-sc", "restoreSize": "1073741824",
			"accessModes": []any{"ReadWriteOnce"}, "volumeMode": "Filesystem", "labels": map[string]any{"restored-from": "imported"},
		}}, io.Discard, io.Discard)
		require.NoError(t, err)
		assert.Empty(t, out)
		pvc, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "restored", metav1.GetOptions{})
		require.NoError(t, err)
		require.NotNil(t, pvc.Spec.DataSource)
		assert.Equal(t, corev1.TypedLocalObjectReference{APIGroup: ptr(snapshotGroup), Kind: "VolumeSnapshot", Name: "imported"}, *pvc.Spec.DataSource)
		require.NotNil(t, pvc.Spec.DataSourceRef, "the server mirrors dataSource into dataSourceRef")
		assert.Equal(t, "imported", pvc.Spec.DataSourceRef.Name)
		assert.Equal(t, "csi-hostpath-sc", *pvc.Spec.StorageClassName)
		assert.Equal(t, corev1.PersistentVolumeFilesystem, *pvc.Spec.VolumeMode)
		assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes)
		assert.True(t, resource.MustParse("1Gi").Equal(pvc.Spec.Resources.Requests[corev1.ResourceStorage]))
		assert.Equal(t, map[string]string{"restored-from": "imported"}, pvc.Labels)
		assert.Equal(t, corev1.ClaimPending, pvc.Status.Phase, "returned without waiting for Bound, as Kanister does")
	})

	t.Run("DeleteCSISnapshot waits out finalizers and is idempotent", func(t *testing.T) {
		snap, err := snapshots.Get(ctx, "imported", metav1.GetOptions{})
		require.NoError(t, err)
		// What the snapshot controller adds while a snapshot is in use.
		const finalizer = "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection"
		snap.SetFinalizers([]string{finalizer})
		snap, err = snapshots.Update(ctx, snap, metav1.UpdateOptions{})
		require.NoError(t, err)

		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = (&DeleteCSISnapshot{Client: dyn, PollInterval: poll}).Run(short, phase.Spec{Args: map[string]any{"name": "imported", "namespace": ns}}, io.Discard, io.Discard)
		require.EqualError(t, err, "DeleteCSISnapshot: VolumeSnapshot csi/imported still exists at the phase's deadline, held by finalizers "+finalizer+": context deadline exceeded")

		rctx, cancel2 := context.WithTimeout(ctx, 30*time.Second)
		defer cancel2()
		done := runAsync(rctx, &DeleteCSISnapshot{Client: dyn, PollInterval: poll}, map[string]any{"name": "imported", "namespace": ns})
		time.Sleep(3 * poll)
		snap, err = snapshots.Get(ctx, "imported", metav1.GetOptions{})
		require.NoError(t, err)
		require.NotNil(t, snap.GetDeletionTimestamp())
		snap.SetFinalizers(nil) // the controller lets go
		_, err = snapshots.Update(ctx, snap, metav1.UpdateOptions{})
		require.NoError(t, err)
		r := <-done
		require.NoError(t, r.err)
		assert.Empty(t, r.out)
		assert.Equal(t, "DeleteCSISnapshot: deleted VolumeSnapshot csi/imported\n", r.stdout)

		out, err := (&DeleteCSISnapshot{Client: dyn, PollInterval: poll}).Run(ctx, phase.Spec{Args: map[string]any{"name": "imported", "namespace": ns}}, io.Discard, io.Discard)
		require.NoError(t, err, "already gone is success")
		assert.Empty(t, out)
	})
}
