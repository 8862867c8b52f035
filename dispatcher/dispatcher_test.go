package dispatcher

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

// phaseBuilder makes test phases: a valid default, changed by small methods.
type phaseBuilder struct{ p Phase }

func aPhase() *phaseBuilder {
	return &phaseBuilder{p: Phase{
		ActionSet:  ActionSetRef{Name: "backup-x7k2p", Namespace: "app", UID: "0b6e5c1a-uid"},
		Action:     "backup",
		Name:       "dumpDatabase",
		Function:   "KubeExec",
		SpecSecret: "backup-x7k2p-backup-dumpdatabase-spec",
	}}
}

func (b *phaseBuilder) actionSet(name string) *phaseBuilder { b.p.ActionSet.Name = name; return b }
func (b *phaseBuilder) uid(uid string) *phaseBuilder        { b.p.ActionSet.UID = types.UID(uid); return b }
func (b *phaseBuilder) action(name string, index int) *phaseBuilder {
	b.p.Action, b.p.ActionIndex = name, index
	return b
}
func (b *phaseBuilder) named(name string, index int) *phaseBuilder {
	b.p.Name, b.p.Index = name, index
	return b
}
func (b *phaseBuilder) deferred() *phaseBuilder { b.p.Deferred = true; return b }
func (b *phaseBuilder) user(image string) *phaseBuilder {
	b.p.User = &UserContainer{Image: image}
	return b
}
func (b *phaseBuilder) override(o map[string]any) *phaseBuilder { b.p.PodOverride = o; return b }
func (b *phaseBuilder) podLabels(l map[string]string) *phaseBuilder {
	b.p.PodLabels = l
	return b
}
func (b *phaseBuilder) retries(n int32) *phaseBuilder { b.p.Retries = ptr.To(n); return b }
func (b *phaseBuilder) nonRetryable(codes ...int32) *phaseBuilder {
	b.p.NonRetryableExitCodes = codes
	return b
}
func (b *phaseBuilder) obj() Phase { return b.p }

var settings = Settings{
	RunnerImage: "baton.local/runner:dev", ImagePullPolicy: corev1.PullIfNotPresent,
	ServiceAccount: "baton-runner", BackoffLimit: 0, ActiveDeadline: 10 * time.Minute,
}

func TestJobName(t *testing.T) {
	long := strings.Repeat("very-long-actionset-name-", 5)
	tests := []struct {
		name  string
		phase Phase
		want  string // exact, or "" to check only the invariants
	}{
		{"readable when it fits", aPhase().obj(), "backup-x7k2p-backup-dumpdatabase-"},
		{"invalid characters are folded", aPhase().action("Back Up!", 0).named("take_snapshot", 1).obj(), "backup-x7k2p-back-up-take-snapshot-"},
		{"long names are shortened", aPhase().actionSet(long).obj(), ""},
		{"names of nothing but symbols", aPhase().actionSet("x").action("!!!", 0).named("***", 0).obj(), "x-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := JobName(tt.phase)
			assert.LessOrEqual(t, len(got), MaxNameLength)
			assert.Empty(t, validation.IsDNS1123Label(got), "%q must be a DNS label", got)
			assert.Empty(t, validation.IsValidLabelValue(got), "%q must be a label value", got)
			if tt.want != "" {
				assert.True(t, strings.HasPrefix(got, tt.want), "%q should start with %q", got, tt.want)
			}
			assert.Equal(t, got, JobName(tt.phase), "deterministic")
		})
	}
}

func TestJobNamesAreDistinct(t *testing.T) {
	long := strings.Repeat("a", 80)
	phases := []Phase{
		aPhase().actionSet(long).named("p", 0).obj(),
		aPhase().actionSet(long).named("p", 1).obj(),            // same name, other index
		aPhase().actionSet(long).named("p", 0).deferred().obj(), // the deferPhase
		aPhase().actionSet(long).action("backup", 1).named("p", 0).obj(),
		aPhase().actionSet(long).uid("other-uid").named("p", 0).obj(), // a recreated ActionSet
	}
	seen := map[string]int{}
	for i, p := range phases {
		name := JobName(p)
		if j, dup := seen[name]; dup {
			t.Errorf("phases %d and %d both get %q", j, i, name)
		}
		seen[name] = i
	}
}

func TestBuildRunnerPhase(t *testing.T) {
	job, err := Build(aPhase().podLabels(map[string]string{"team": "db", LabelActionSet: "spoofed"}).obj(), settings)
	require.NoError(t, err)

	assert.Equal(t, "app", job.Namespace)
	require.Len(t, job.OwnerReferences, 1)
	owner := job.OwnerReferences[0]
	assert.Equal(t, "ActionSet", owner.Kind)
	assert.Equal(t, "backup-x7k2p", owner.Name)
	assert.True(t, *owner.Controller)

	assert.Equal(t, int32(0), *job.Spec.BackoffLimit)
	assert.Equal(t, int64(600), *job.Spec.ActiveDeadlineSeconds)
	pod := job.Spec.Template
	assert.Equal(t, corev1.RestartPolicyNever, pod.Spec.RestartPolicy)
	assert.Equal(t, "baton-runner", pod.Spec.ServiceAccountName)
	assert.Equal(t, "db", pod.Labels["team"], "user pod labels are kept")
	assert.Equal(t, "backup-x7k2p", pod.Labels[LabelActionSet], "but cannot replace Baton's")
	assert.Equal(t, "dumpDatabase", pod.Labels[LabelPhase], "label values keep the names users wrote")
	assert.Equal(t, "KubeExec", pod.Annotations[AnnotationFunction])

	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	assert.Equal(t, "baton.local/runner:dev", c.Image)
	assert.Equal(t, []string{"run", "--phase-dir=" + PhaseSpecDir}, c.Args)
	assert.Empty(t, pod.Spec.InitContainers)
	assert.Equal(t, "backup-x7k2p-backup-dumpdatabase-spec", pod.Spec.Volumes[0].Secret.SecretName)
}

func TestBuildUserContainerPhase(t *testing.T) {
	job, err := Build(aPhase().user("postgres:16").obj(), settings)
	require.NoError(t, err)
	spec := job.Spec.Template.Spec

	require.Len(t, spec.InitContainers, 1)
	assert.Equal(t, settings.RunnerImage, spec.InitContainers[0].Image)
	assert.Equal(t, []string{"install", ToolsDir}, spec.InitContainers[0].Args)
	require.Len(t, spec.Containers, 1)
	main := spec.Containers[0]
	assert.Equal(t, "postgres:16", main.Image)
	assert.Equal(t, []string{ToolsDir + "/baton-runner", "run", "--phase-dir=" + PhaseSpecDir}, main.Command,
		"the user's command is read from the phase Secret, never put in the pod spec")
}

func TestBuildPodOverride(t *testing.T) {
	tests := []struct {
		name     string
		override map[string]any
		check    func(t *testing.T, spec corev1.PodSpec)
		wantErr  string
	}{
		{
			name: "node selector and tolerations",
			override: map[string]any{
				"nodeSelector": map[string]any{"disk": "ssd"},
				"tolerations":  []any{map[string]any{"key": "dedicated", "operator": "Exists"}},
			},
			check: func(t *testing.T, spec corev1.PodSpec) {
				assert.Equal(t, "ssd", spec.NodeSelector["disk"])
				assert.Len(t, spec.Tolerations, 1)
			},
		},
		{
			name: "containers are merged by name",
			override: map[string]any{"containers": []any{map[string]any{
				"name": MainContainer, "resources": map[string]any{"limits": map[string]any{"memory": "256Mi"}},
			}}},
			check: func(t *testing.T, spec corev1.PodSpec) {
				require.Len(t, spec.Containers, 1)
				assert.Equal(t, settings.RunnerImage, spec.Containers[0].Image, "image kept")
				assert.Equal(t, "256Mi", spec.Containers[0].Resources.Limits.Memory().String())
			},
		},
		{
			name:     "unknown fields are reported",
			override: map[string]any{"nodeSelektor": map[string]any{"a": "b"}},
			wantErr:  `podOverride: result is not a valid pod spec: json: unknown field "nodeSelektor"`,
		},
		{
			name:     "wrong types are reported",
			override: map[string]any{"nodeSelector": "ssd"},
			wantErr:  "podOverride",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := Build(aPhase().override(tt.override).obj(), settings)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), `phase "dumpDatabase" of action "backup"`)
				return
			}
			require.NoError(t, err)
			tt.check(t, job.Spec.Template.Spec)
		})
	}
}

func TestBuildMultiContainerPhase(t *testing.T) {
	limit := resource.MustParse("1Gi")
	p := aPhase().user("output:1").obj()
	p.Background = &UserContainer{Image: "background:1"}
	p.Init = &UserContainer{Image: "init:1"}
	p.Shared = &SharedVolume{MountPath: "/tmp/", Medium: corev1.StorageMediumMemory, SizeLimit: &limit}
	job, err := Build(p, settings)
	require.NoError(t, err)
	spec := job.Spec.Template.Spec

	require.Len(t, spec.InitContainers, 2, "the runner is installed before the user's init container runs")
	assert.Equal(t, []string{"baton-tools", InitContainer}, []string{spec.InitContainers[0].Name, spec.InitContainers[1].Name})
	assert.Equal(t, "init:1", spec.InitContainers[1].Image)
	assert.Contains(t, spec.InitContainers[1].Command, "--part=init")
	require.Len(t, spec.Containers, 2)
	assert.Equal(t, MainContainer, spec.Containers[0].Name, "outputs come from the main (output) container")
	assert.NotContains(t, spec.Containers[0].Command, "--part=background")
	assert.Equal(t, BackgroundContainer, spec.Containers[1].Name)
	assert.Equal(t, "background:1", spec.Containers[1].Image)
	assert.Contains(t, spec.Containers[1].Command, "--part=background")
	for _, c := range append(spec.InitContainers[1:], spec.Containers...) {
		assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "shared", MountPath: "/tmp/"}, "container %s", c.Name)
	}
	var shared *corev1.Volume
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == "shared" {
			shared = &spec.Volumes[i]
		}
	}
	require.NotNil(t, shared)
	assert.Equal(t, corev1.StorageMediumMemory, shared.EmptyDir.Medium)
	assert.Equal(t, "1Gi", shared.EmptyDir.SizeLimit.String())
}

func TestBuildRejectsIncompleteInput(t *testing.T) {
	tests := []struct {
		name     string
		phase    Phase
		settings Settings
		wantErr  string
	}{
		{"no secret", func() Phase { p := aPhase().obj(); p.SpecSecret = ""; return p }(), settings, "spec Secret"},
		{"no function", func() Phase { p := aPhase().obj(); p.Function = ""; return p }(), settings, "function"},
		{"no uid", aPhase().uid("").obj(), settings, "UID"},
		{"no runner image", aPhase().obj(), Settings{}, "runner image"},
		{"user container without image", aPhase().user("").obj(), settings, "names no image"},
		{"background without a main user container", func() Phase { p := aPhase().obj(); p.Background = &UserContainer{Image: "b"}; return p }(), settings, "need a main user container"},
		{"negative retries", aPhase().retries(-1).obj(), settings, "retries must not be negative"},
		{"exit code 0 is not a failure", aPhase().nonRetryable(2, 0).obj(), settings, "nonRetryableExitCodes: 0"},
		{"exit code above 255", aPhase().nonRetryable(256).obj(), settings, "nonRetryableExitCodes: 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.phase, tt.settings)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestPhaseDeadline(t *testing.T) {
	tests := []struct {
		name             string
		controllerWide   time.Duration
		phaseTimeout     time.Duration
		wantDeadlineSecs *int64
		wantFrom         string
	}{
		{"neither", 0, 0, nil, ""},
		{"controller-wide", time.Hour, 0, ptr.To[int64](3600), TimeoutFromController},
		{"the phase's own wins", time.Hour, 90 * time.Second, ptr.To[int64](90), TimeoutFromBlueprint},
		{"without a controller-wide one", 0, 5 * time.Minute, ptr.To[int64](300), TimeoutFromBlueprint},
		{"under a second is one", 0, 200 * time.Millisecond, ptr.To[int64](1), TimeoutFromBlueprint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settings
			s.ActiveDeadline = tt.controllerWide
			p := aPhase().obj()
			p.Timeout, p.TimeoutFrom = tt.phaseTimeout, TimeoutFromBlueprint
			job, err := Build(p, s)
			require.NoError(t, err)
			assert.Equal(t, tt.wantDeadlineSecs, job.Spec.ActiveDeadlineSeconds)
			from, ok := job.Annotations[AnnotationTimeoutFrom]
			assert.Equal(t, tt.wantFrom != "", ok, "annotated only when there is a deadline")
			assert.Equal(t, tt.wantFrom, from)
			assert.NotContains(t, job.Spec.Template.Annotations, AnnotationTimeoutFrom, "the Job's, not its pods'")
		})
	}
}

func TestNoDeadlineWhenUnset(t *testing.T) {
	s := settings
	s.ActiveDeadline = 0
	job, err := Build(aPhase().obj(), s)
	require.NoError(t, err)
	assert.Nil(t, job.Spec.ActiveDeadlineSeconds)
}

func TestLabelValue(t *testing.T) {
	assert.Equal(t, "takeBackup", labelValue("takeBackup"))
	long := labelValue(strings.Repeat("x", 100))
	assert.Len(t, long, MaxNameLength)
	assert.Empty(t, validation.IsValidLabelValue(long))
	assert.Empty(t, validation.IsValidLabelValue(labelValue("has spaces/and slashes")))
}

func TestRetriesAndPodFailurePolicy(t *testing.T) {
	disruptionsDoNotCount := batchv1.PodFailurePolicyRule{
		Action: batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		}},
	}
	failAtOnceOn := func(codes ...int32) batchv1.PodFailurePolicyRule {
		return batchv1.PodFailurePolicyRule{
			Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To(MainContainer), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: codes,
			},
		}
	}
	tests := []struct {
		name           string
		controllerWide int32
		phase          Phase
		wantBackoff    int32
		wantRules      []batchv1.PodFailurePolicyRule
	}{
		{"controller-wide retries", 2, aPhase().obj(), 2, []batchv1.PodFailurePolicyRule{disruptionsDoNotCount}},
		{"the phase's own retries win", 2, aPhase().retries(5).obj(), 5, []batchv1.PodFailurePolicyRule{disruptionsDoNotCount}},
		{"zero retries of its own", 3, aPhase().retries(0).obj(), 0, []batchv1.PodFailurePolicyRule{disruptionsDoNotCount}},
		{"non-retryable codes sorted and unique", 0, aPhase().retries(4).nonRetryable(42, 3, 42).obj(), 4,
			[]batchv1.PodFailurePolicyRule{disruptionsDoNotCount, failAtOnceOn(3, 42)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settings
			s.BackoffLimit = tt.controllerWide
			job, err := Build(tt.phase, s)
			require.NoError(t, err)
			assert.Equal(t, tt.wantBackoff, *job.Spec.BackoffLimit)
			require.NotNil(t, job.Spec.PodFailurePolicy)
			assert.Equal(t, tt.wantRules, job.Spec.PodFailurePolicy.Rules)
			// podFailurePolicy is only allowed with restartPolicy Never.
			assert.Equal(t, corev1.RestartPolicyNever, job.Spec.Template.Spec.RestartPolicy)
		})
	}
}

// Containers of the runner image run as the restricted Pod Security
// Standard asks, in runner phases and in the tools copy of user phases.
func TestRunnerContainersAreRestricted(t *testing.T) {
	restricted := func(t *testing.T, c corev1.Container) {
		t.Helper()
		sc := c.SecurityContext
		require.NotNil(t, sc, c.Name)
		assert.Equal(t, ptr.To(true), sc.RunAsNonRoot, c.Name)
		assert.Equal(t, ptr.To(false), sc.AllowPrivilegeEscalation, c.Name)
		assert.Equal(t, ptr.To(true), sc.ReadOnlyRootFilesystem, c.Name)
		assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, c.Name)
		assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type, c.Name)
	}
	runnerJob, err := Build(aPhase().obj(), settings)
	require.NoError(t, err)
	restricted(t, runnerJob.Spec.Template.Spec.Containers[0])
	assert.Equal(t, ptr.To(true), runnerJob.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
	assert.Contains(t, runnerJob.Spec.Template.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: scratchVolume, MountPath: "/tmp"},
		"a writable /tmp on a read-only root")

	userJob, err := Build(aPhase().user("postgres:16").obj(), settings)
	require.NoError(t, err)
	restricted(t, userJob.Spec.Template.Spec.InitContainers[0])
	assert.Nil(t, userJob.Spec.Template.Spec.Containers[0].SecurityContext, "the user's image runs as it was built to")
}
