package cli

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// run builds an ActionSet whose action "backup" has phases dump and upload
// and deferPhase cleanup, in the states given.
func run(state batonv1.State, dump, upload, cleanup batonv1.State) *batonv1.ActionSet {
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: "backup-abc", Namespace: "baton"}}
	as.Status.State = state
	if dump == "" {
		return as
	}
	as.Status.Actions = []batonv1.ActionStatus{{Name: "backup", Phases: []batonv1.Phase{
		{Name: "dump", State: dump}, {Name: "upload", State: upload}},
		DeferPhase: &batonv1.Phase{Name: "cleanup", State: cleanup}}}
	return as
}

const (
	P = batonv1.StatePending
	R = batonv1.StateRunning
	C = batonv1.StateComplete
	F = batonv1.StateFailed
)

func TestProgressPrinter(t *testing.T) {
	tests := []struct {
		name    string
		steps   []*batonv1.ActionSet
		want    string
		wantErr string
	}{{
		name: "complete",
		steps: []*batonv1.ActionSet{
			run("", "", "", ""),
			run(R, R, P, P),
			run(R, R, P, P), // nothing changed: nothing printed
			run(R, C, R, P),
			run(R, C, C, R),
			func() *batonv1.ActionSet {
				as := run(C, C, C, C)
				as.Status.Actions[0].Artifacts = map[string]batonv1.Artifact{
					"cloudObject": {KeyValue: map[string]string{"path": "a/b", "size": "10"}}}
				return as
			}(),
		},
		want: `[   1s] actionset backup-abc: running
[   1s] backup/dump: running
[   3s] backup/dump: complete
[   3s] backup/upload: running
[   4s] backup/upload: complete
[   4s] backup/cleanup (defer): running
[   5s] backup/cleanup (defer): complete
actionset backup-abc complete after 5s: 3/3 phases complete
  artifact backup/cloudObject: path=a/b size=10
`,
	}, {
		name: "failed",
		steps: []*batonv1.ActionSet{
			run(R, C, R, P), // first seen mid-run: what already happened is printed
			func() *batonv1.ActionSet {
				as := run(F, C, F, C)
				as.Status.Error = &batonv1.ActionSetError{Message: "action \"backup\" phase \"upload\":\nexit code 1"}
				return as
			}(),
		},
		want: `[   0s] actionset backup-abc: running
[   0s] backup/dump: complete
[   0s] backup/upload: running
[   1s] backup/upload: failed
[   1s] backup/cleanup (defer): complete
actionset backup-abc failed after 1s: 2/3 phases complete
`,
		wantErr: `actionset backup-abc failed: action "backup" phase "upload": exit code 1`,
	}, {
		name: "failed before starting",
		steps: []*batonv1.ActionSet{func() *batonv1.ActionSet {
			as := run(F, "", "", "")
			as.Status.Error = &batonv1.ActionSetError{Message: "blueprint baton/x: not found"}
			return as
		}()},
		want: "actionset backup-abc failed after 0s: 0/0 phases complete\n", wantErr: "actionset backup-abc failed: blueprint baton/x: not found",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newProgressPrinter(&out)
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := start
			p.now = func() time.Time { return clock }
			for i, as := range tt.steps {
				clock = start.Add(time.Duration(i) * time.Second)
				p.Update(as)
			}
			err := p.Summary(tt.steps[len(tt.steps)-1])
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, out.String())
		})
	}
}

func TestProgressPrinterTellsSameNamedActionsApart(t *testing.T) {
	as := run(R, R, P, P)
	as.Status.Actions = append(as.Status.Actions, batonv1.ActionStatus{Name: "backup", Phases: []batonv1.Phase{{Name: "dump", State: batonv1.StateRunning}}})
	var out bytes.Buffer
	p := newProgressPrinter(&out)
	p.now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	p.Update(as)
	assert.Equal(t, "[   0s] actionset backup-abc: running\n[   0s] backup[0]/dump: running\n[   0s] backup[1]/dump: running\n", out.String())
}

// waitActionSet against a fake client: a finished ActionSet ends the wait
// at once, with its outcome; an unfinished one times out.
func TestWaitActionSet(t *testing.T) {
	key := client.ObjectKey{Namespace: "baton", Name: "backup-abc"}
	for _, tt := range []struct {
		name    string
		as      *batonv1.ActionSet
		wantErr string
	}{
		{name: "complete", as: run(batonv1.StateComplete, batonv1.StateComplete, batonv1.StateComplete, batonv1.StateComplete)},
		{name: "failed", as: func() *batonv1.ActionSet {
			as := run(batonv1.StateFailed, batonv1.StateFailed, batonv1.StatePending, batonv1.StateComplete)
			as.Status.Error = &batonv1.ActionSetError{Message: "boom"}
			return as
		}(), wantErr: "actionset backup-abc failed: boom"},
		{name: "running", as: run(batonv1.StateRunning, batonv1.StateRunning, batonv1.StatePending, batonv1.StatePending),
			wantErr: "timed out after 50ms waiting for actionset backup-abc (running)"},
		{name: "missing", wantErr: "actionset baton/backup-abc was deleted while waiting for it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := fake.NewClientBuilder().WithScheme(Scheme())
			if tt.as != nil {
				b = b.WithObjects(tt.as)
			}
			var out bytes.Buffer
			err := waitActionSet(context.Background(), b.Build(), key, 50*time.Millisecond, 10*time.Millisecond, newProgressPrinter(&out))
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Contains(t, out.String(), "actionset backup-abc complete")
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}
