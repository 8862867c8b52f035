package functions

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	utilptr "k8s.io/utils/ptr"

	"github.com/batonhq/baton/dispatcher"
)

// Data pods are the pods the data functions start in the application's
// namespace to reach its volumes: the runner image (or, for PrepareData,
// the user's image with the runner copied in), idling as root until the
// phase pod has exec'd what it needs, then deleted. Credentials never reach
// them: restic runs in the phase pod and only tar streams cross.
const (
	dataContainer = "data"
	// dataPodLeakGuard bounds a data pod's life should its phase pod vanish
	// without deleting it (activeDeadlineSeconds).
	dataPodLeakGuard = 6 * time.Hour
	// Env names the dispatcher sets on phase pods.
	podNameEnv      = "POD_NAME"
	podNamespaceEnv = "POD_NAMESPACE"
)

// volumeMount is one PVC a data pod mounts.
type volumeMount struct {
	PVC, MountPath string
	ReadOnly       bool
}

// dataPodSpec says what a data pod needs.
type dataPodSpec struct {
	Function  string // names the pod and its messages
	Namespace string
	Volumes   []volumeMount
	// UserImage, when set, runs that image with the runner copied in by an
	// init container (PrepareData); otherwise the runner image runs.
	UserImage      string
	ServiceAccount string
	Labels         map[string]string
	Annotations    map[string]string
	// Override is the podOverride argument, a strategic-merge patch.
	Override map[string]any
}

// dataPods starts and removes data pods.
type dataPods struct {
	Client kubernetes.Interface
	// Poll is how often a starting pod is looked at (default 1 s);
	// StartTimeout how long it may take to run (default 5 min).
	Poll, StartTimeout time.Duration
	// Getenv reads the phase pod's environment (os.Getenv by default).
	Getenv func(string) string
}

// dataPod is a running data pod.
type dataPod struct {
	Namespace, Name string
	// Runner is the runner's path inside it.
	Runner string
}

// runnerCommand is argv for a runner subcommand in the pod.
func (p *dataPod) runnerCommand(args ...string) []string {
	return append([]string{p.Runner}, args...)
}

func (d *dataPods) getenv(name string) string {
	if d.Getenv != nil {
		return d.Getenv(name)
	}
	return os.Getenv(name)
}

// run starts a data pod, waits for it to run, calls fn with it and deletes
// it, also when fn fails or ctx ends.
func (d *dataPods) run(ctx context.Context, spec dataPodSpec, fn func(*dataPod) error) error {
	pod, err := d.build(ctx, spec)
	if err != nil {
		return err
	}
	created, err := d.Client.CoreV1().Pods(spec.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create data pod in namespace %s: %w", spec.Namespace, err)
	}
	defer d.remove(created.Namespace, created.Name)
	if err := d.waitRunning(ctx, created); err != nil {
		return err
	}
	runner := dispatcher.RunnerPath
	if spec.UserImage != "" {
		runner = dispatcher.ToolsDir + "/baton-runner"
	}
	return fn(&dataPod{Namespace: created.Namespace, Name: created.Name, Runner: runner})
}

func (d *dataPods) build(ctx context.Context, spec dataPodSpec) (*corev1.Pod, error) {
	runnerImage := d.getenv(dispatcher.RunnerImageEnv)
	if runnerImage == "" {
		return nil, fmt.Errorf("%s is not set: the runner needs its own image to start data pods", dispatcher.RunnerImageEnv)
	}
	labels, owner, err := d.phaseIdentity(ctx, spec.Namespace)
	if err != nil {
		return nil, err
	}
	maps.Copy(labels, spec.Labels)
	labels[dispatcher.LabelManagedBy] = "baton"
	labels[dispatcher.LabelComponent] = dispatcher.ComponentDataPod

	podSpec := corev1.PodSpec{
		RestartPolicy:         corev1.RestartPolicyNever,
		ActiveDeadlineSeconds: utilptr.To(int64(dataPodLeakGuard / time.Second)),
		ServiceAccountName:    spec.ServiceAccount,
		// No API access is needed inside: the phase pod execs into it.
		AutomountServiceAccountToken:  utilptr.To(spec.ServiceAccount != ""),
		TerminationGracePeriodSeconds: utilptr.To[int64](5),
		// Root: the files on the volumes belong to the application's user,
		// and a restore must be able to write them and keep their owners.
		SecurityContext: &corev1.PodSecurityContext{RunAsUser: utilptr.To[int64](0), RunAsGroup: utilptr.To[int64](0)},
	}
	main := corev1.Container{Name: dataContainer, Image: runnerImage, Command: []string{dispatcher.RunnerPath, "idle"}}
	if spec.UserImage != "" {
		tools := corev1.VolumeMount{Name: "baton-tools", MountPath: dispatcher.ToolsDir}
		podSpec.Volumes = append(podSpec.Volumes, corev1.Volume{Name: tools.Name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		podSpec.InitContainers = []corev1.Container{{
			Name: "baton-tools", Image: runnerImage, Args: []string{"install", dispatcher.ToolsDir}, VolumeMounts: []corev1.VolumeMount{tools},
		}}
		main.Image = spec.UserImage
		main.Command = []string{dispatcher.ToolsDir + "/baton-runner", "idle"}
		main.VolumeMounts = append(main.VolumeMounts, tools)
	}
	for i, v := range spec.Volumes {
		name := fmt.Sprintf("vol-%d", i)
		podSpec.Volumes = append(podSpec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.PVC, ReadOnly: v.ReadOnly},
		}})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: v.MountPath, ReadOnly: v.ReadOnly})
	}
	podSpec.Containers = []corev1.Container{main}
	if podSpec, err = dispatcher.ApplyPodOverride(podSpec, spec.Override); err != nil {
		return nil, fmt.Errorf("%s: argument \"podOverride\": %w", spec.Function, err)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    "baton-" + strings.ToLower(spec.Function) + "-",
			Namespace:       spec.Namespace,
			Labels:          labels,
			Annotations:     spec.Annotations,
			OwnerReferences: owner,
		},
		Spec: podSpec,
	}, nil
}

// phaseIdentity returns the Baton labels of the phase pod this runner runs
// in (so that data pods are found with their ActionSet) and, when the data
// pod lives in the same namespace, an owner reference to the phase pod, so
// that deleting the phase pod collects the data pod too.
func (d *dataPods) phaseIdentity(ctx context.Context, namespace string) (map[string]string, []metav1.OwnerReference, error) {
	labels := map[string]string{}
	name, ns := d.getenv(podNameEnv), d.getenv(podNamespaceEnv)
	if name == "" || ns == "" {
		return labels, nil, nil
	}
	self, err := d.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read this phase's pod %s/%s for its labels: %w", ns, name, err)
	}
	for k, v := range self.Labels {
		if strings.HasPrefix(k, "baton.dev/") {
			labels[k] = v
		}
	}
	if ns != namespace {
		return labels, nil, nil
	}
	return labels, []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: self.Name, UID: self.UID}}, nil
}

// waitRunning waits for the pod's containers to run. Image errors fail at
// once; anything else (unschedulable, a volume still attached elsewhere) is
// waited out until StartTimeout, then reported with the pod's conditions
// and warning events.
func (d *dataPods) waitRunning(ctx context.Context, pod *corev1.Pod) error {
	timeout, poll := d.StartTimeout, d.Poll
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	if poll <= 0 {
		poll = time.Second
	}
	deadline := time.Now().Add(timeout)
	where := fmt.Sprintf("data pod %s/%s", pod.Namespace, pod.Name)
	for {
		p, err := d.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		switch p.Status.Phase {
		case corev1.PodRunning:
			return nil
		case corev1.PodFailed, corev1.PodSucceeded:
			return fmt.Errorf("%s ended (%s) before it could be used: %s", where, p.Status.Phase, podProblem(p))
		}
		if reason := imageProblem(p); reason != "" {
			return fmt.Errorf("%s can not start: %s", where, reason)
		}
		if time.Now().After(deadline) {
			msg := podProblem(p)
			if ev := d.warnings(ctx, p); ev != "" {
				msg += "; events: " + ev
			}
			return fmt.Errorf("%s did not start within %v (a ReadWriteOnce volume still used by a pod on another node, or no node fits?): %s", where, timeout, msg)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", where, context.Cause(ctx))
		case <-time.After(poll):
		}
	}
}

func imageProblem(p *corev1.Pod) string {
	for _, s := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		if w := s.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError":
				return fmt.Sprintf("container %s: %s: %s", s.Name, w.Reason, w.Message)
			}
		}
	}
	return ""
}

// podProblem summarises why a pod is not running.
func podProblem(p *corev1.Pod) string {
	var parts []string
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && (c.Reason != "" || c.Message != "") {
			parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s: %s %s", c.Type, c.Reason, c.Message)))
		}
	}
	for _, s := range p.Status.ContainerStatuses {
		if w := s.State.Waiting; w != nil {
			parts = append(parts, fmt.Sprintf("container %s waiting: %s %s", s.Name, w.Reason, w.Message))
		}
		if t := s.State.Terminated; t != nil {
			parts = append(parts, fmt.Sprintf("container %s terminated: %s (exit %d) %s", s.Name, t.Reason, t.ExitCode, t.Message))
		}
	}
	if len(parts) == 0 {
		return "phase " + string(p.Status.Phase)
	}
	return strings.Join(parts, "; ")
}

// warnings lists the pod's warning events (FailedAttachVolume,
// FailedScheduling, ...), the usual explanation of a pod that does not start.
func (d *dataPods) warnings(ctx context.Context, p *corev1.Pod) string {
	list, err := d.Client.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.name", p.Name), fields.OneTermEqualSelector("type", corev1.EventTypeWarning)).String(),
	})
	if err != nil {
		return ""
	}
	var msgs []string
	for _, e := range list.Items {
		msgs = append(msgs, e.Reason+": "+e.Message)
	}
	if len(msgs) > 3 {
		msgs = msgs[len(msgs)-3:]
	}
	return strings.Join(msgs, "; ")
}

// remove deletes a data pod and waits (up to a minute) for it to be gone,
// so its volumes are free for the application when the phase ends. It runs
// after the phase's context may have ended, so it uses its own.
func (d *dataPods) remove(namespace, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods := d.Client.CoreV1().Pods(namespace)
	err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: utilptr.To[int64](1)})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "warning: delete data pod %s/%s: %v (activeDeadlineSeconds stops it within %v)\n", namespace, name, err, dataPodLeakGuard)
		return
	}
	poll := d.Poll
	if poll <= 0 {
		poll = time.Second
	}
	for {
		if _, err := pods.Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}

// podVolumes returns the PVCs a pod mounts and where: the mount paths of
// its first container that mounts each (the application's view of them).
func podVolumes(ctx context.Context, client kubernetes.Interface, namespace, name string) ([]volumeMount, error) {
	p, err := client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get pod %s/%s for its volumes: %w", namespace, name, err)
	}
	claims := map[string]string{}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	var out []volumeMount
	seen := map[string]bool{}
	for _, c := range p.Spec.Containers {
		for _, m := range c.VolumeMounts {
			pvc, ok := claims[m.Name]
			if !ok || seen[pvc] || m.SubPath != "" || m.SubPathExpr != "" {
				continue
			}
			seen[pvc] = true
			out = append(out, volumeMount{PVC: pvc, MountPath: m.MountPath})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pod %s/%s mounts no PersistentVolumeClaim (subPath mounts are not used)", namespace, name)
	}
	return out, nil
}

// volumesArg turns a `volumes` argument (PVC name → mount path) into
// mounts, checking that each PVC exists.
func volumesArg(ctx context.Context, client kubernetes.Interface, namespace string, vols map[string]string) ([]volumeMount, error) {
	var out []volumeMount
	for _, pvc := range slices.Sorted(maps.Keys(vols)) {
		if _, err := client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, pvc, metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("PersistentVolumeClaim %s/%s: %w", namespace, pvc, err)
		}
		out = append(out, volumeMount{PVC: pvc, MountPath: vols[pvc]})
	}
	return out, nil
}
