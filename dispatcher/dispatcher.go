// Package dispatcher turns one phase of one action of an ActionSet into the
// batch/v1 Job that runs it. It is pure: no client, no clock, no randomness;
// the same input always yields the same Job, which is what makes Job names
// safe to re-derive after a controller restart.
//
// Labels on every Job and its pods (documented in docs/architecture.md):
//
//	baton.dev/actionset      the ActionSet's name
//	baton.dev/actionset-uid  its UID (owner index; survives name reuse)
//	baton.dev/action         the action name
//	baton.dev/phase          the phase name
//	app.kubernetes.io/managed-by=baton, app.kubernetes.io/component=phase
//
// so `kubectl logs -l baton.dev/actionset=NAME` shows every phase's log.
package dispatcher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"
)

// Label and annotation keys Baton puts on Jobs and pods.
const (
	LabelActionSet    = "baton.dev/actionset"
	LabelActionSetUID = "baton.dev/actionset-uid"
	LabelAction       = "baton.dev/action"
	LabelPhase        = "baton.dev/phase"
	LabelManagedBy    = "app.kubernetes.io/managed-by"
	LabelComponent    = "app.kubernetes.io/component"

	AnnotationFunction    = "baton.dev/function"
	AnnotationPhaseIndex  = "baton.dev/phase-index"
	AnnotationActionIndex = "baton.dev/action-index"
	AnnotationDeferred    = "baton.dev/deferred"
	// AnnotationTimeoutFrom on a Job with a deadline says where its
	// deadline came from (TimeoutFrom*), for the message of a phase that
	// runs out of it.
	AnnotationTimeoutFrom = "baton.dev/timeout-from"

	managedByValue = "baton"
	componentValue = "phase"
	// ComponentDataPod is the component label of the pods functions start
	// in an application's namespace to reach its volumes.
	ComponentDataPod = "data-pod"
)

// Paths inside phase pods.
const (
	// PhaseSpecDir holds the rendered phase (and any credentials it needs),
	// mounted from the Secret named by Phase.SpecSecret.
	PhaseSpecDir = "/var/run/baton/phase"
	// ToolsDir is where the runner binary is copied for phases that run in
	// the user's own image.
	ToolsDir = "/var/run/baton/tools"
	// RunnerImageEnv names the phase container's variable holding the
	// runner image.
	RunnerImageEnv = "BATON_RUNNER_IMAGE"
	// RunnerPath is the runner binary inside the runner image.
	RunnerPath = "/usr/local/bin/baton-runner"

	specVolume  = "baton-phase"
	toolsVolume = "baton-tools"
	// scratchVolume is the runner's writable /tmp.
	scratchVolume = "baton-tmp"
	// MainContainer runs the phase; its termination message carries outputs.
	MainContainer = "phase"
	initContainer = "baton-tools"
	// BackgroundContainer and InitContainer are MultiContainerRun's
	// background and init containers (Kanister's names).
	BackgroundContainer = "background"
	InitContainer       = "init"
	sharedVolume        = "shared"
	runnerUID           = 65532
)

// ownerAPIVersion and ownerKind identify ActionSets in owner references.
const (
	ownerAPIVersion = "baton.dev/v1alpha1"
	ownerKind       = "ActionSet"
)

// ActionSetRef identifies the ActionSet a phase belongs to.
type ActionSetRef struct {
	Name, Namespace string
	UID             types.UID
}

// UserContainer is set for functions (KubeTask) that run the user's image
// rather than the runner image: the runner binary is copied into the pod by
// an init container and runs the phase's command (read from the phase
// Secret, never put in the pod spec), so outputs are still captured.
type UserContainer struct {
	Image string
}

// SharedVolume is an emptyDir every container of a multi-container phase
// mounts at MountPath (MultiContainerRun's sharedVolumeDir).
type SharedVolume struct {
	MountPath string
	Medium    corev1.StorageMedium
	SizeLimit *resource.Quantity
}

// Phase is one phase run of one action.
type Phase struct {
	ActionSet   ActionSetRef
	Action      string
	ActionIndex int
	Name        string
	Index       int
	// Deferred marks the action's deferPhase.
	Deferred bool
	Function string
	// SpecSecret names the Secret holding the rendered phase; the controller
	// creates it, the pod mounts it. Nothing of the phase's arguments appears
	// in the Job itself.
	SpecSecret string
	// PodOverride is a strategic-merge patch applied to the pod spec
	// (Kanister's podOverride).
	PodOverride map[string]any
	// PhasePodOverride is the phase's podOverride argument (KubeTask,
	// MultiContainerRun), applied after PodOverride.
	PhasePodOverride map[string]any
	PodLabels        map[string]string
	PodAnnotations   map[string]string
	User             *UserContainer
	// Timeout, when set, bounds this phase instead of
	// Settings.ActiveDeadline (the Blueprint phase's timeout, or the
	// ActionSet's phaseTimeout); TimeoutFrom says which.
	Timeout     time.Duration
	TimeoutFrom string
	// Retries, when set, is the phase's own retry count instead of
	// Settings.BackoffLimit (the Blueprint phase's retries).
	Retries *int32
	// NonRetryableExitCodes of the main container fail the phase at once.
	NonRetryableExitCodes []int32
	// Background and Init are MultiContainerRun's other containers: one
	// running beside the main (output) container, one before both. Each
	// runs its own command under the runner, like User.
	Background *UserContainer
	Init       *UserContainer
	Shared     *SharedVolume
}

// Settings are the controller-wide knobs for phase Jobs.
type Settings struct {
	RunnerImage     string
	ImagePullPolicy corev1.PullPolicy
	ServiceAccount  string
	// BackoffLimit is how many times a failed phase pod is retried, for
	// phases that set no retries of their own.
	BackoffLimit int32
	// ActiveDeadline bounds a phase's run time; zero means no bound.
	ActiveDeadline time.Duration
}

// JobName is the deterministic name of the Job running a phase: readable
// ActionSet, action and phase names, shortened with a hash of the phase's
// identity when they do not fit in 63 characters.
func JobName(p Phase) string {
	kind := "phase"
	if p.Deferred {
		kind = "defer"
	}
	identity := []string{string(p.ActionSet.UID), p.ActionSet.Name, strconv.Itoa(p.ActionIndex), kind, strconv.Itoa(p.Index)}
	return fitName(MaxNameLength, identity, p.ActionSet.Name, p.Action, p.Name)
}

func (p Phase) labels() map[string]string {
	return map[string]string{
		LabelActionSet:    labelValue(p.ActionSet.Name),
		LabelActionSetUID: string(p.ActionSet.UID),
		LabelAction:       labelValue(p.Action),
		LabelPhase:        labelValue(p.Name),
		LabelManagedBy:    managedByValue,
		LabelComponent:    componentValue,
	}
}

func (p Phase) annotations() map[string]string {
	return map[string]string{
		// kubectl logs/exec pick the phase container without being told.
		"kubectl.kubernetes.io/default-container": MainContainer,
		AnnotationFunction:                        p.Function,
		AnnotationActionIndex:                     strconv.Itoa(p.ActionIndex),
		AnnotationPhaseIndex:                      strconv.Itoa(p.Index),
		AnnotationDeferred:                        strconv.FormatBool(p.Deferred),
	}
}

// deadline is how long the phase's Job may run: its own timeout, else the
// controller-wide one.
func (p Phase) deadline(s Settings) time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return s.ActiveDeadline
}

// Where a Job's deadline came from (AnnotationTimeoutFrom).
const (
	TimeoutFromBlueprint  = "blueprint"
	TimeoutFromActionSet  = "actionset"
	TimeoutFromController = "controller"
)

// timeoutFrom says where deadline's answer came from.
func (p Phase) timeoutFrom() string {
	if p.Timeout > 0 {
		return p.TimeoutFrom
	}
	return TimeoutFromController
}

// backoffLimit is how many failed attempts the Job retries: the phase's
// own count, else the controller-wide one.
func (p Phase) backoffLimit(s Settings) int32 {
	if p.Retries != nil {
		return *p.Retries
	}
	return s.BackoffLimit
}

// podFailurePolicy tells a failure worth retrying from one that is not:
//
//   - a pod disrupted (evicted, preempted, its node drained) did not fail
//     the phase, so it is replaced without using up a retry;
//   - an exit code the Blueprint declares non-retryable fails the Job at
//     once, whatever the retry count.
//
// Rules are evaluated in order, first match wins; anything else counts
// against backoffLimit as usual.
func (p Phase) podFailurePolicy() *batchv1.PodFailurePolicy {
	rules := []batchv1.PodFailurePolicyRule{{
		Action: batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		}},
	}}
	if len(p.NonRetryableExitCodes) > 0 {
		// The API wants the values sorted and unique.
		codes := slices.Clone(p.NonRetryableExitCodes)
		slices.Sort(codes)
		rules = append(rules, batchv1.PodFailurePolicyRule{
			Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr.To(MainContainer),
				Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
				Values:        slices.Compact(codes),
			},
		})
	}
	return &batchv1.PodFailurePolicy{Rules: rules}
}

func (p Phase) validate(s Settings) error {
	var errs []error
	if p.ActionSet.Name == "" || p.ActionSet.Namespace == "" || p.ActionSet.UID == "" {
		errs = append(errs, errors.New("ActionSet name, namespace and UID are required"))
	}
	if p.SpecSecret == "" {
		errs = append(errs, errors.New("the phase spec Secret is required"))
	}
	if p.Function == "" {
		errs = append(errs, errors.New("function is required"))
	}
	if s.RunnerImage == "" {
		errs = append(errs, errors.New("runner image is required"))
	}
	if p.Retries != nil && *p.Retries < 0 {
		errs = append(errs, fmt.Errorf("retries must not be negative, got %d", *p.Retries))
	}
	for _, code := range p.NonRetryableExitCodes {
		// 0 is success; the API refuses it in an In rule, and codes above
		// 255 cannot be a process's exit status.
		if code < 1 || code > 255 {
			errs = append(errs, fmt.Errorf("nonRetryableExitCodes: %d is not an exit code of a failure (1-255)", code))
		}
	}
	for _, c := range []*UserContainer{p.User, p.Background, p.Init} {
		if c != nil && c.Image == "" {
			errs = append(errs, errors.New("the phase runs a user container but names no image"))
		}
	}
	if (p.Background != nil || p.Init != nil) && p.User == nil {
		errs = append(errs, errors.New("background and init containers need a main user container"))
	}
	return errors.Join(errs...)
}

// Build returns the Job for a phase. Errors describe bad input (an invalid
// podOverride, say) in words fit for the ActionSet's status.
func Build(p Phase, s Settings) (*batchv1.Job, error) {
	if err := p.validate(s); err != nil {
		return nil, fmt.Errorf("phase %q of action %q: %w", p.Name, p.Action, err)
	}
	podSpec, err := ApplyPodOverride(p.podSpec(s), p.PodOverride)
	if err != nil {
		return nil, fmt.Errorf("phase %q of action %q: the ActionSet's podOverride: %w", p.Name, p.Action, err)
	}
	// The phase's own podOverride argument wins over the ActionSet's, as in
	// Kanister.
	if podSpec, err = ApplyPodOverride(podSpec, p.PhasePodOverride); err != nil {
		return nil, fmt.Errorf("phase %q of action %q: argument podOverride: %w", p.Name, p.Action, err)
	}

	// Users' pod labels and annotations first, Baton's on top: selection by
	// baton.dev/* labels must keep working whatever the ActionSet says.
	podLabels := maps.Clone(p.PodLabels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	maps.Copy(podLabels, p.labels())
	podAnnotations := maps.Clone(p.PodAnnotations)
	if podAnnotations == nil {
		podAnnotations = map[string]string{}
	}
	maps.Copy(podAnnotations, p.annotations())

	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        JobName(p),
			Namespace:   p.ActionSet.Namespace,
			Labels:      p.labels(),
			Annotations: p.annotations(),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: ownerAPIVersion, Kind: ownerKind,
				Name: p.ActionSet.Name, UID: p.ActionSet.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:     ptr.To(p.backoffLimit(s)),
			PodFailurePolicy: p.podFailurePolicy(),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
				Spec:       podSpec,
			},
		},
	}
	if deadline := p.deadline(s); deadline > 0 {
		// Whole seconds, at least one: the API's unit.
		job.Spec.ActiveDeadlineSeconds = ptr.To(max(int64(1), int64(deadline.Round(time.Second)/time.Second)))
		job.Annotations[AnnotationTimeoutFrom] = p.timeoutFrom()
	}
	return job, nil
}

func (p Phase) podSpec(s Settings) corev1.PodSpec {
	spec := corev1.PodSpec{
		RestartPolicy:      corev1.RestartPolicyNever,
		ServiceAccountName: s.ServiceAccount,
		// The spec Secret's files are readable by the runner's group only.
		SecurityContext: &corev1.PodSecurityContext{FSGroup: ptr.To[int64](runnerUID)},
		Volumes: []corev1.Volume{{
			Name: specVolume,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: p.SpecSecret, DefaultMode: ptr.To[int32](0o440),
			}},
		}},
	}
	specMount := corev1.VolumeMount{Name: specVolume, MountPath: PhaseSpecDir, ReadOnly: true}
	env := []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		// Functions that start pods of their own (data pods) run the runner
		// image there too.
		{Name: RunnerImageEnv, Value: s.RunnerImage},
	}
	runArgs := []string{"run", "--phase-dir=" + PhaseSpecDir}

	if p.User == nil {
		// Only the runner runs here: the pod meets the restricted Pod
		// Security Standard.
		spec.SecurityContext.RunAsNonRoot = ptr.To(true)
		spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: scratchVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		spec.Containers = []corev1.Container{{
			Name: MainContainer, Image: s.RunnerImage, ImagePullPolicy: s.ImagePullPolicy,
			Args: runArgs, Env: env,
			VolumeMounts:             []corev1.VolumeMount{specMount, {Name: scratchVolume, MountPath: "/tmp"}},
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			SecurityContext:          runnerSecurityContext(),
		}}
		return spec
	}

	// The user's image runs the user's command under the runner, copied in
	// from the runner image by an init container (Tekton's entrypoint trick).
	toolsMount := corev1.VolumeMount{Name: toolsVolume, MountPath: ToolsDir}
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: toolsVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	spec.InitContainers = []corev1.Container{{
		Name: initContainer, Image: s.RunnerImage, ImagePullPolicy: s.ImagePullPolicy,
		Args: []string{"install", ToolsDir}, VolumeMounts: []corev1.VolumeMount{toolsMount},
		// The user's image decides how the phase itself runs; the copy of
		// the runner into it needs no privilege at all.
		SecurityContext: runnerSecurityContext(),
	}}
	mounts := []corev1.VolumeMount{specMount, toolsMount}
	if p.Shared != nil {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: sharedVolume, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: p.Shared.Medium, SizeLimit: p.Shared.SizeLimit}}})
		mounts = append(mounts, corev1.VolumeMount{Name: sharedVolume, MountPath: p.Shared.MountPath})
	}
	// userContainer runs one part's command under the runner copied in.
	userContainer := func(name string, c *UserContainer, part string) corev1.Container {
		args := runArgs
		if part != "" {
			args = append(slices.Clone(runArgs), "--part="+part)
		}
		return corev1.Container{
			Name: name, Image: c.Image,
			Command: append([]string{ToolsDir + "/baton-runner"}, args...), Env: env,
			VolumeMounts:             slices.Clone(mounts),
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		}
	}
	if p.Init != nil {
		spec.InitContainers = append(spec.InitContainers, userContainer(InitContainer, p.Init, InitContainer))
	}
	spec.Containers = []corev1.Container{userContainer(MainContainer, p.User, "")}
	if p.Background != nil {
		spec.Containers = append(spec.Containers, userContainer(BackgroundContainer, p.Background, BackgroundContainer))
	}
	return spec
}

// runnerSecurityContext is how containers of the runner image run: as its
// non-root user, with no capability, no privilege escalation and a
// read-only root filesystem (the runner writes nothing but /tmp, an
// emptyDir, and restic runs without a cache).
func runnerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To[int64](runnerUID),
		RunAsGroup:               ptr.To[int64](runnerUID),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// ApplyPodOverride merges override into spec the way `kubectl patch
// --type=strategic` would: containers matched by name, lists of volumes by
// name, scalars replaced. Functions that start pods of their own apply
// podOverride with it too.
func ApplyPodOverride(spec corev1.PodSpec, override map[string]any) (corev1.PodSpec, error) {
	if len(override) == 0 {
		return spec, nil
	}
	original, err := json.Marshal(spec)
	if err != nil {
		return spec, err
	}
	patch, err := json.Marshal(override)
	if err != nil {
		return spec, err
	}
	merged, err := strategicpatch.StrategicMergePatch(original, patch, corev1.PodSpec{})
	if err != nil {
		return spec, err
	}
	// Strict decoding: a misspelt field in podOverride is an error the user
	// sees, not a setting silently dropped.
	var out corev1.PodSpec
	dec := json.NewDecoder(bytes.NewReader(merged))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return spec, fmt.Errorf("result is not a valid pod spec: %w", err)
	}
	return out, nil
}
