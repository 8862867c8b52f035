package functions

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/batonhq/baton/runner/outputs"
	"github.com/batonhq/baton/runner/phase"
)

func pvcObject(namespace, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "PersistentVolumeClaim",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
	}}
}

func snapshotClassObject(name, policy string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion":     "snapshot.storage.k8s.io/v1",
		"kind":           "VolumeSnapshotClass",
		"metadata":       map[string]any{"name": name},
		"driver":         "hostpath.csi.k8s.io",
		"deletionPolicy": policy,
	}}
}

func newCSIFake(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		volumeSnapshotsGVR:        "VolumeSnapshotList",
		volumeSnapshotContentsGVR: "VolumeSnapshotContentList",
		volumeSnapshotClassesGVR:  "VolumeSnapshotClassList",
		persistentVolumeClaimsGVR: "PersistentVolumeClaimList",
	}, objs...)
}

// readyStatus is what a snapshot controller writes once the snapshot is
// cut.
func readyStatus(content string) map[string]any {
	return map[string]any{
		"readyToUse":                     true,
		"creationTime":                   "2026-01-02T03:04:05Z",
		"restoreSize":                    "1Gi",
		"boundVolumeSnapshotContentName": content,
	}
}

// snapshotController makes the fake client act as a snapshot controller
// that sets status (when not nil) on every VolumeSnapshot as it is created.
func snapshotController(client *dynamicfake.FakeDynamicClient, status func(obj *unstructured.Unstructured) map[string]any) {
	client.PrependReactor("create", "volumesnapshots", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj := action.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured)
		if s := status(obj); s != nil {
			obj.Object["status"] = s
		}
		return false, nil, nil // the tracker stores the object
	})
}

func runCSI(t *testing.T, fn interface {
	Run(context.Context, phase.Spec, io.Writer, io.Writer) (outputs.Outputs, error)
}, ctx context.Context, args map[string]any) (outputs.Outputs, string, error) {
	t.Helper()
	var stdout bytes.Buffer
	out, err := fn.Run(ctx, phase.Spec{Args: args}, &stdout, io.Discard)
	return out, stdout.String(), err
}

func getObject(t *testing.T, client *dynamicfake.FakeDynamicClient, gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	var res dynamic.ResourceInterface = client.Resource(gvr)
	if namespace != "" {
		res = client.Resource(gvr).Namespace(namespace)
	}
	obj, err := res.Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return obj
}

func TestCSISnapshotArguments(t *testing.T) {
	createOK := map[string]any{"pvc": "data", "namespace": "app", "snapshotClass": "csi"}
	with := func(base map[string]any, kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	staticOK := map[string]any{"name": "s", "namespace": "app", "driver": "d", "snapshotHandle": "h", "snapshotClass": "csi"}
	restoreOK := map[string]any{"name": "s", "pvc": "restored", "namespace": "app", "storageClass": "sc", "restoreSize": "1Gi"}
	tests := []struct {
		name string
		fn   string
		args map[string]any
		err  string
	}{
		{name: "create: no pvc", fn: CreateCSISnapshotName, args: with(createOK, "pvc", nil), err: `CreateCSISnapshot: argument "pvc" is required`},
		{name: "create: no namespace", fn: CreateCSISnapshotName, args: with(createOK, "namespace", nil), err: `CreateCSISnapshot: argument "namespace" is required`},
		{name: "create: no snapshotClass", fn: CreateCSISnapshotName, args: with(createOK, "snapshotClass", nil), err: `CreateCSISnapshot: argument "snapshotClass" is required`},
		{name: "create: empty namespace", fn: CreateCSISnapshotName, args: with(createOK, "namespace", " "), err: `CreateCSISnapshot: argument "namespace" must not be empty`},
		{name: "create: unknown argument", fn: CreateCSISnapshotName, args: with(createOK, "volumeSnapshotClass", "x"),
			err: `CreateCSISnapshot: unknown argument "volumeSnapshotClass" (supported: "pvc", "namespace", "snapshotClass", "name", "labels")`},
		{name: "create: labels not a map", fn: CreateCSISnapshotName, args: with(createOK, "labels", "a=b"), err: `CreateCSISnapshot: argument "labels" must be a map, got a string`},
		{name: "create: label value a list", fn: CreateCSISnapshotName, args: with(createOK, "labels", map[string]any{"a": []any{"b"}}),
			err: `CreateCSISnapshot: argument "labels": the value of "a" must be a string, got a list`},
		{name: "create: invalid label", fn: CreateCSISnapshotName, args: with(createOK, "labels", map[string]any{"app": "has space"}),
			err: `CreateCSISnapshot: argument "labels": labels: Invalid value: "has space": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},

		{name: "static: no snapshotHandle", fn: CreateCSISnapshotStaticName, args: with(staticOK, "snapshotHandle", nil), err: `CreateCSISnapshotStatic: argument "snapshotHandle" is required`},
		{name: "static: no driver", fn: CreateCSISnapshotStaticName, args: with(staticOK, "driver", nil), err: `CreateCSISnapshotStatic: argument "driver" is required`},
		{name: "static: no name", fn: CreateCSISnapshotStaticName, args: with(staticOK, "name", nil), err: `CreateCSISnapshotStatic: argument "name" is required`},
		{name: "static: no snapshotClass", fn: CreateCSISnapshotStaticName, args: with(staticOK, "snapshotClass", nil), err: `CreateCSISnapshotStatic: argument "snapshotClass" is required`},
		{name: "static: both handle spellings", fn: CreateCSISnapshotStaticName, args: with(staticOK, "handle", "h2"),
			err: `CreateCSISnapshotStatic: give the snapshot's handle as "snapshotHandle" or "handle", not both`},
		{name: "static: labels unsupported", fn: CreateCSISnapshotStaticName, args: with(staticOK, "labels", map[string]any{}),
			err: `CreateCSISnapshotStatic: unknown argument "labels" (supported: "name", "namespace", "driver", "snapshotHandle", "handle", "snapshotClass")`},

		{name: "restore: no restoreSize", fn: RestoreCSISnapshotName, args: with(restoreOK, "restoreSize", nil), err: `RestoreCSISnapshot: argument "restoreSize" is required`},
		{name: "restore: no storageClass", fn: RestoreCSISnapshotName, args: with(restoreOK, "storageClass", nil), err: `RestoreCSISnapshot: argument "storageClass" is required`},
		{name: "restore: no name", fn: RestoreCSISnapshotName, args: with(restoreOK, "name", nil), err: `RestoreCSISnapshot: argument "name" is required`},
		{name: "restore: restoreSize zero", fn: RestoreCSISnapshotName, args: with(restoreOK, "restoreSize", "0"), err: `RestoreCSISnapshot: restoreSize must be greater than zero, got "0"`},
		{name: "restore: restoreSize negative", fn: RestoreCSISnapshotName, args: with(restoreOK, "restoreSize", "-1Gi"), err: `RestoreCSISnapshot: restoreSize must be greater than zero, got "-1Gi"`},
		{name: "restore: restoreSize not a quantity", fn: RestoreCSISnapshotName, args: with(restoreOK, "restoreSize", "lots"),
			err: `RestoreCSISnapshot: restoreSize must be a quantity such as "10Gi", got "lots"`},
		{name: "restore: unknown access mode", fn: RestoreCSISnapshotName, args: with(restoreOK, "accessModes", []any{"ReadWriteOnce", "RWX"}),
			err: `RestoreCSISnapshot: access mode "RWX" is not one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod`},
		{name: "restore: no access mode", fn: RestoreCSISnapshotName, args: with(restoreOK, "accessModes", []any{}),
			err: `RestoreCSISnapshot: accessModes must list at least one access mode`},
		{name: "restore: bad volumeMode", fn: RestoreCSISnapshotName, args: with(restoreOK, "volumeMode", "filesystem"),
			err: `RestoreCSISnapshot: volumeMode must be Filesystem or Block, got "filesystem"`},

		{name: "delete: no name", fn: DeleteCSISnapshotName, args: map[string]any{"namespace": "app"}, err: `DeleteCSISnapshot: argument "name" is required`},
		{name: "delete: no namespace", fn: DeleteCSISnapshotName, args: map[string]any{"name": "s"}, err: `DeleteCSISnapshot: argument "namespace" is required`},
		{name: "delete: unknown argument", fn: DeleteCSISnapshotName, args: map[string]any{"name": "s", "namespace": "app", "pvc": "data"},
			err: `DeleteCSISnapshot: unknown argument "pvc" (supported: "name", "namespace")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newCSIFake()
			reg := map[string]interface {
				Run(context.Context, phase.Spec, io.Writer, io.Writer) (outputs.Outputs, error)
			}{
				CreateCSISnapshotName:       &CreateCSISnapshot{Client: client},
				CreateCSISnapshotStaticName: &CreateCSISnapshotStatic{Client: client},
				RestoreCSISnapshotName:      &RestoreCSISnapshot{Client: client},
				DeleteCSISnapshotName:       &DeleteCSISnapshot{Client: client},
			}
			_, _, err := runCSI(t, reg[tt.fn], context.Background(), tt.args)
			require.EqualError(t, err, tt.err)
			assert.Empty(t, client.Actions(), "a bad argument fails before any request")
		})
	}
}

func TestCreateCSISnapshot(t *testing.T) {
	ctx := context.Background()

	t.Run("creates the snapshot, waits until ready, outputs as Kanister", func(t *testing.T) {
		client := newCSIFake(pvcObject("app", "data"))
		snapshotController(client, func(*unstructured.Unstructured) map[string]any { return readyStatus("snapcontent-1") })
		f := &CreateCSISnapshot{Client: client, PollInterval: time.Millisecond}
		out, stdout, err := runCSI(t, f, ctx, map[string]any{
			"pvc": "data", "namespace": "app", "snapshotClass": "csi-hostpath", "name": "snap", "labels": map[string]any{"team": "db"},
		})
		require.NoError(t, err)
		assert.Equal(t, outputs.Outputs{"name": "snap", "pvc": "data", "namespace": "app", "restoreSize": "1Gi", "snapshotContent": "snapcontent-1"}, out)
		assert.Contains(t, stdout, "VolumeSnapshot app/snap is ready to use")

		snap := getObject(t, client, volumeSnapshotsGVR, "app", "snap")
		assert.Equal(t, "snapshot.storage.k8s.io/v1", snap.GetAPIVersion())
		assert.Equal(t, "VolumeSnapshot", snap.GetKind())
		assert.Equal(t, map[string]string{"team": "db"}, snap.GetLabels())
		assert.Equal(t, map[string]any{
			"source":                  map[string]any{"persistentVolumeClaimName": "data"},
			"volumeSnapshotClassName": "csi-hostpath",
		}, snap.Object["spec"])
	})

	t.Run("default name is <pvc>-snapshot-<5 characters>", func(t *testing.T) {
		client := newCSIFake(pvcObject("app", "data"))
		snapshotController(client, func(*unstructured.Unstructured) map[string]any { return readyStatus("c") })
		f := &CreateCSISnapshot{Client: client, PollInterval: time.Millisecond}
		out, _, err := runCSI(t, f, ctx, map[string]any{"pvc": "data", "namespace": "app", "snapshotClass": "csi"})
		require.NoError(t, err)
		assert.Regexp(t, `^data-snapshot-[a-z0-9]{5}$`, out["name"])
		getObject(t, client, volumeSnapshotsGVR, "app", out["name"].(string))
	})

	t.Run("restoreSize is printed as a canonical quantity, a number included", func(t *testing.T) {
		for given, want := range map[any]string{int64(1073741824): "1073741824", "2048Mi": "2Gi", "1500M": "1500M"} {
			client := newCSIFake(pvcObject("app", "data"))
			snapshotController(client, func(*unstructured.Unstructured) map[string]any {
				s := readyStatus("c")
				s["restoreSize"] = given
				return s
			})
			f := &CreateCSISnapshot{Client: client, PollInterval: time.Millisecond}
			out, _, err := runCSI(t, f, ctx, map[string]any{"pvc": "data", "namespace": "app", "snapshotClass": "csi", "name": "s"})
			require.NoError(t, err)
			assert.Equal(t, want, out["restoreSize"], "given %v", given)
		}
	})

	t.Run("missing PVC fails before creating anything", func(t *testing.T) {
		client := newCSIFake()
		f := &CreateCSISnapshot{Client: client, PollInterval: time.Millisecond}
		_, _, err := runCSI(t, f, ctx, map[string]any{"pvc": "data", "namespace": "app", "snapshotClass": "csi"})
		require.EqualError(t, err, "CreateCSISnapshot: PersistentVolumeClaim app/data not found")
		for _, a := range client.Actions() {
			assert.NotEqual(t, "create", a.GetVerb())
		}
	})

	t.Run("status.error fails at once with its message", func(t *testing.T) {
		client := newCSIFake(pvcObject("app", "data"))
		snapshotController(client, func(*unstructured.Unstructured) map[string]any {
			return map[string]any{"readyToUse": false, "error": map[string]any{"message": "rpc error: code = Internal desc = disk busy", "time": "2026-01-02T03:04:05Z"}}
		})
		f := &CreateCSISnapshot{Client: client, PollInterval: time.Millisecond}
		start := time.Now()
		_, _, err := runCSI(t, f, ctx, map[string]any{"pvc": "data", "namespace": "app", "snapshotClass": "csi", "name": "s"})
		require.EqualError(t, err, "CreateCSISnapshot: VolumeSnapshot app/s: snapshot failed: rpc error: code = Internal desc = disk busy")
		assert.Less(t, time.Since(start), 5*time.Second)
	})

	t.Run("the conflict the controller retries is waited through", func(t *testing.T) {
		client := newCSIFake(pvcObject("app", "data"))
		gets := 0
		client.PrependReactor("get", "volumesnapshots", func(k8stesting.Action) (bool, runtime.Object, error) {
			gets++
			status := readyStatus("c")
			if gets < 3 {
				status = map[string]any{"error": map[string]any{"message": "Failed to update snapshot: Operation cannot be fulfilled: " + transientSnapshotError}}
			}
			return true, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
				"metadata": map[string]any{"name": "s", "namespace": "app"}, "status": status,
			}}, nil
		})
		f := &CreateCSISnapshot{Client: client, PollInterval: time.Millisecond}
		out, _, err := runCSI(t, f, ctx, map[string]any{"pvc": "data", "namespace": "app", "snapshotClass": "csi", "name": "s"})
		require.NoError(t, err)
		assert.Equal(t, "c", out["snapshotContent"])
		assert.Equal(t, 3, gets)
	})

	t.Run("ready needs readyToUse and creationTime, as in Kanister", func(t *testing.T) {
		for _, tc := range []struct {
			status  map[string]any
			pending string
		}{
			{nil, "it has no status: is a snapshot controller running, and a CSI driver that supports snapshots installed?"},
			{map[string]any{"readyToUse": false, "creationTime": "2026-01-02T03:04:05Z"}, "status.readyToUse is not true"},
			{map[string]any{"readyToUse": true}, "status.creationTime is not set"},
		} {
			client := newCSIFake(pvcObject("app", "data"))
			snapshotController(client, func(*unstructured.Unstructured) map[string]any { return tc.status })
			f := &CreateCSISnapshot{Client: client, PollInterval: time.Millisecond}
			tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			_, _, err := runCSI(t, f, tctx, map[string]any{"pvc": "data", "namespace": "app", "snapshotClass": "csi", "name": "s"})
			cancel()
			require.EqualError(t, err, "CreateCSISnapshot: VolumeSnapshot app/s not ready to use before the phase's deadline: "+tc.pending+": context deadline exceeded")
		}
	})

	t.Run("a snapshot deleted while waited for fails at once", func(t *testing.T) {
		client := newCSIFake(pvcObject("app", "data"))
		client.PrependReactor("get", "volumesnapshots", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewNotFound(volumeSnapshotsGVR.GroupResource(), "s")
		})
		f := &CreateCSISnapshot{Client: client, PollInterval: time.Millisecond}
		_, _, err := runCSI(t, f, ctx, map[string]any{"pvc": "data", "namespace": "app", "snapshotClass": "csi", "name": "s"})
		require.EqualError(t, err, `CreateCSISnapshot: VolumeSnapshot app/s: volumesnapshots.snapshot.storage.k8s.io "s" not found`)
	})

	t.Run("an existing snapshot of the same name is an error", func(t *testing.T) {
		existing := volumeSnapshot("app", "s", "csi", nil, map[string]any{"persistentVolumeClaimName": "other"})
		client := newCSIFake(pvcObject("app", "data"), existing)
		f := &CreateCSISnapshot{Client: client, PollInterval: time.Millisecond}
		_, _, err := runCSI(t, f, ctx, map[string]any{"pvc": "data", "namespace": "app", "snapshotClass": "csi", "name": "s"})
		require.EqualError(t, err, `CreateCSISnapshot: create VolumeSnapshot app/s: volumesnapshots.snapshot.storage.k8s.io "s" already exists`)
	})
}

func TestCreateCSISnapshotStatic(t *testing.T) {
	ctx := context.Background()
	args := map[string]any{"name": "pre", "namespace": "app", "driver": "hostpath.csi.k8s.io", "snapshotHandle": "7bdd0de3", "snapshotClass": "csi-retain"}

	t.Run("creates a content and a snapshot bound to it", func(t *testing.T) {
		client := newCSIFake(snapshotClassObject("csi-retain", "Retain"))
		snapshotController(client, func(obj *unstructured.Unstructured) map[string]any {
			content, _, _ := unstructured.NestedString(obj.Object, "spec", "source", "volumeSnapshotContentName")
			return readyStatus(content)
		})
		f := &CreateCSISnapshotStatic{Client: client, PollInterval: time.Millisecond}
		out, _, err := runCSI(t, f, ctx, args)
		require.NoError(t, err)

		contentName, _ := out["snapshotContent"].(string)
		assert.Regexp(t, `^pre-content-[0-9a-f-]{36}$`, contentName)
		assert.Equal(t, outputs.Outputs{"name": "pre", "namespace": "app", "restoreSize": "1Gi", "snapshotContent": contentName}, out)

		content := getObject(t, client, volumeSnapshotContentsGVR, "", contentName)
		assert.Equal(t, map[string]any{
			"deletionPolicy":          "Retain",
			"driver":                  "hostpath.csi.k8s.io",
			"source":                  map[string]any{"snapshotHandle": "7bdd0de3"},
			"volumeSnapshotClassName": "csi-retain",
			"volumeSnapshotRef": map[string]any{
				"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "name": "pre", "namespace": "app",
			},
		}, content.Object["spec"])
		snap := getObject(t, client, volumeSnapshotsGVR, "app", "pre")
		assert.Equal(t, map[string]any{
			"source":                  map[string]any{"volumeSnapshotContentName": contentName},
			"volumeSnapshotClassName": "csi-retain",
		}, snap.Object["spec"])
	})

	t.Run("handle, as Kanister's documentation spells it, is accepted", func(t *testing.T) {
		client := newCSIFake(snapshotClassObject("csi-retain", "Delete"))
		snapshotController(client, func(*unstructured.Unstructured) map[string]any { return readyStatus("c") })
		f := &CreateCSISnapshotStatic{Client: client, PollInterval: time.Millisecond}
		a := map[string]any{"name": "pre", "namespace": "app", "driver": "d", "handle": "h-1", "snapshotClass": "csi-retain"}
		_, _, err := runCSI(t, f, ctx, a)
		require.NoError(t, err)
		list, err := client.Resource(volumeSnapshotContentsGVR).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list.Items, 1)
		handle, _, _ := unstructured.NestedString(list.Items[0].Object, "spec", "source", "snapshotHandle")
		policy, _, _ := unstructured.NestedString(list.Items[0].Object, "spec", "deletionPolicy")
		assert.Equal(t, "h-1", handle)
		assert.Equal(t, "Delete", policy)
	})

	t.Run("missing class fails before creating anything", func(t *testing.T) {
		client := newCSIFake()
		f := &CreateCSISnapshotStatic{Client: client, PollInterval: time.Millisecond}
		_, _, err := runCSI(t, f, ctx, args)
		require.EqualError(t, err, "CreateCSISnapshotStatic: VolumeSnapshotClass csi-retain not found")
		for _, a := range client.Actions() {
			assert.NotEqual(t, "create", a.GetVerb())
		}
	})

	t.Run("a failed snapshot leaves the content and names it", func(t *testing.T) {
		client := newCSIFake(snapshotClassObject("csi-retain", "Delete"))
		client.PrependReactor("create", "volumesnapshots", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(volumeSnapshotsGVR.GroupResource(), "pre", nil)
		})
		f := &CreateCSISnapshotStatic{Client: client, PollInterval: time.Millisecond}
		_, _, err := runCSI(t, f, ctx, args)
		require.Error(t, err)
		assert.Regexp(t, `^CreateCSISnapshotStatic: create VolumeSnapshot app/pre \(VolumeSnapshotContent pre-content-[0-9a-f-]{36} was created and is left in place\): `, err.Error())
		list, lerr := client.Resource(volumeSnapshotContentsGVR).List(ctx, metav1.ListOptions{})
		require.NoError(t, lerr)
		assert.Len(t, list.Items, 1)
	})
}

func TestRestoreCSISnapshot(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		args     map[string]any
		wantSpec map[string]any
		labels   map[string]string
	}{
		{
			name: "defaults: ReadWriteOnce, Filesystem",
			args: map[string]any{"name": "snap", "pvc": "restored", "namespace": "app", "storageClass": "csi-sc", "restoreSize": "1Gi"},
			wantSpec: map[string]any{
				"accessModes":      []any{"ReadWriteOnce"},
				"volumeMode":       "Filesystem",
				"storageClassName": "csi-sc",
				"dataSource":       map[string]any{"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
				"resources":        map[string]any{"requests": map[string]any{"storage": "1Gi"}},
			},
		},
		{
			name: "every argument",
			args: map[string]any{
				"name": "snap", "pvc": "restored", "namespace": "app", "storageClass": "csi-sc", "restoreSize": "2048Mi",
				"accessModes": []any{"ReadWriteMany", "ReadOnlyMany"}, "volumeMode": "Block", "labels": map[string]any{"restored-from": "snap"},
			},
			wantSpec: map[string]any{
				"accessModes":      []any{"ReadWriteMany", "ReadOnlyMany"},
				"volumeMode":       "Block",
				"storageClassName": "csi-sc",
				"dataSource":       map[string]any{"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
				"resources":        map[string]any{"requests": map[string]any{"storage": "2Gi"}},
			},
			labels: map[string]string{"restored-from": "snap"},
		},
		{
			name: "one access mode as a string",
			args: map[string]any{"name": "snap", "pvc": "restored", "namespace": "app", "storageClass": "csi-sc", "restoreSize": "10Gi", "accessModes": "ReadWriteOncePod"},
			wantSpec: map[string]any{
				"accessModes":      []any{"ReadWriteOncePod"},
				"volumeMode":       "Filesystem",
				"storageClassName": "csi-sc",
				"dataSource":       map[string]any{"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
				"resources":        map[string]any{"requests": map[string]any{"storage": "10Gi"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newCSIFake()
			f := &RestoreCSISnapshot{Client: client}
			out, _, err := runCSI(t, f, ctx, tt.args)
			require.NoError(t, err)
			assert.Empty(t, out, "Kanister's RestoreCSISnapshot has no output")
			pvc := getObject(t, client, persistentVolumeClaimsGVR, "app", "restored")
			assert.Equal(t, tt.wantSpec, pvc.Object["spec"])
			if tt.labels != nil {
				assert.Equal(t, tt.labels, pvc.GetLabels())
			} else {
				assert.Empty(t, pvc.GetLabels())
			}
		})
	}

	t.Run("an existing PVC is an error", func(t *testing.T) {
		client := newCSIFake(pvcObject("app", "restored"))
		f := &RestoreCSISnapshot{Client: client}
		_, _, err := runCSI(t, f, ctx, tests[0].args)
		require.EqualError(t, err, `RestoreCSISnapshot: create PersistentVolumeClaim app/restored: persistentvolumeclaims "restored" already exists`)
	})
}

func TestDeleteCSISnapshot(t *testing.T) {
	ctx := context.Background()
	args := map[string]any{"name": "snap", "namespace": "app"}

	t.Run("deletes and waits until gone", func(t *testing.T) {
		client := newCSIFake(volumeSnapshot("app", "snap", "csi", nil, map[string]any{"persistentVolumeClaimName": "data"}))
		f := &DeleteCSISnapshot{Client: client, PollInterval: time.Millisecond}
		out, stdout, err := runCSI(t, f, ctx, args)
		require.NoError(t, err)
		assert.Empty(t, out, "Kanister's DeleteCSISnapshot has no output")
		assert.Equal(t, "DeleteCSISnapshot: deleted VolumeSnapshot app/snap\n", stdout)
		_, err = client.Resource(volumeSnapshotsGVR).Namespace("app").Get(ctx, "snap", metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err))
	})

	t.Run("already absent is success", func(t *testing.T) {
		client := newCSIFake()
		f := &DeleteCSISnapshot{Client: client, PollInterval: time.Millisecond}
		out, stdout, err := runCSI(t, f, ctx, args)
		require.NoError(t, err)
		assert.Empty(t, out)
		assert.Equal(t, "DeleteCSISnapshot: VolumeSnapshot app/snap is already absent\n", stdout)
	})

	t.Run("a snapshot held by finalizers names them at the deadline", func(t *testing.T) {
		snap := volumeSnapshot("app", "snap", "csi", nil, map[string]any{"persistentVolumeClaimName": "data"})
		snap.SetFinalizers([]string{"snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection"})
		client := newCSIFake(snap)
		// The fake deletes at once; a real server only marks an object with
		// finalizers for deletion.
		client.PrependReactor("delete", "volumesnapshots", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, nil
		})
		f := &DeleteCSISnapshot{Client: client, PollInterval: time.Millisecond}
		tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, _, err := runCSI(t, f, tctx, args)
		require.EqualError(t, err, "DeleteCSISnapshot: VolumeSnapshot app/snap still exists at the phase's deadline, held by finalizers snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection: context deadline exceeded")
	})

	t.Run("a refused delete is reported", func(t *testing.T) {
		client := newCSIFake()
		client.PrependReactor("delete", "volumesnapshots", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(volumeSnapshotsGVR.GroupResource(), "snap", nil)
		})
		f := &DeleteCSISnapshot{Client: client, PollInterval: time.Millisecond}
		_, _, err := runCSI(t, f, ctx, args)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "DeleteCSISnapshot: delete VolumeSnapshot app/snap: "), err.Error())
	})
}
