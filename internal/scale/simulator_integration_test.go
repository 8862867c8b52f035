//go:build integration

package scale

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/client-go/util/retry"

	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/runner/outputs"
)

// phaseRun is what the simulator saw of one phase's Job.
type phaseRun struct {
	job       string
	actionSet string
	index     int
	// seen is when the simulator's watch first delivered the Job;
	// completed when its write of the Job's Complete status returned.
	seen, completed time.Time
}

// simulator plays kubelet and Job controller for the phase Jobs of one
// namespace: every new Job gets a pod that has already succeeded, with the
// runner's termination message, then the Job is marked Complete — at once,
// so the only waits left are the controller's and the API server's.
type simulator struct {
	kube kubernetes.Interface
	ns   string

	mu   sync.Mutex
	runs map[string]*phaseRun // by Job name
	err  error

	work chan *batchv1.Job
}

// startSimulator watches the namespace's Baton Jobs and finishes each one
// with workers goroutines until ctx ends.
func startSimulator(ctx context.Context, kube kubernetes.Interface, ns string, workers, expectedJobs int) (*simulator, error) {
	s := &simulator{kube: kube, ns: ns, runs: map[string]*phaseRun{},
		// Room for every Job: the watch never waits for a worker, so the
		// time it records is when the API server delivered the event.
		work: make(chan *batchv1.Job, expectedJobs+1024)}
	selector := dispatcher.LabelManagedBy + "=baton"
	list, err := kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return kube.BatchV1().Jobs(ns).Watch(ctx, o)
		},
	})
	if err != nil {
		return nil, err
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				if job, isJob := ev.Object.(*batchv1.Job); isJob && ev.Type == watch.Added {
					s.see(job, time.Now())
				}
			}
		}
	}()
	for range workers {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-s.work:
					if err := s.finish(ctx, job); err != nil && ctx.Err() == nil {
						s.fail(fmt.Errorf("finish job %s: %w", job.Name, err))
					}
				}
			}
		}()
	}
	return s, nil
}

func (s *simulator) see(job *batchv1.Job, at time.Time) {
	index, err := strconv.Atoi(job.Annotations[dispatcher.AnnotationPhaseIndex])
	if err != nil {
		s.fail(fmt.Errorf("job %s: phase index: %w", job.Name, err))
		return
	}
	s.mu.Lock()
	_, dup := s.runs[job.Name]
	if !dup {
		s.runs[job.Name] = &phaseRun{job: job.Name, actionSet: job.Labels[dispatcher.LabelActionSet], index: index, seen: at}
	}
	s.mu.Unlock()
	if !dup {
		s.work <- job
	}
}

func (s *simulator) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// finish is what kubelet and the Job controller would do for a phase that
// succeeds at once: a pod found by its job-name label (as the controller
// finds it), Succeeded with the main container terminated with the
// runner's report, then the Job's terminal status.
func (s *simulator) finish(ctx context.Context, job *batchv1.Job) error {
	labels := map[string]string{batchv1.JobNameLabel: job.Name}
	for k, v := range job.Spec.Template.Labels {
		labels[k] = v
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-sim", Namespace: s.ns, Labels: labels},
		Spec:       job.Spec.Template.Spec,
	}
	created, err := s.kube.CoreV1().Pods(s.ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod: %w", err)
	}
	msg, _, err := outputs.Report(outputs.Outputs{"phase": job.Labels[dispatcher.LabelPhase]})
	if err != nil {
		return err
	}
	now := metav1.Now()
	created.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, StartTime: &now, ContainerStatuses: []corev1.ContainerStatus{{
		Name: dispatcher.MainContainer, Image: pod.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", Message: msg, StartedAt: now, FinishedAt: now}},
	}}}
	if _, err := s.kube.CoreV1().Pods(s.ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("pod status: %w", err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		job.Status = batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}}
		_, err := s.kube.BatchV1().Jobs(s.ns).UpdateStatus(ctx, job, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			latest, getErr := s.kube.BatchV1().Jobs(s.ns).Get(ctx, job.Name, metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			job = latest
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("job status: %w", err)
	}
	done := time.Now()
	s.mu.Lock()
	s.runs[job.Name].completed = done
	s.mu.Unlock()
	return nil
}

// snapshot returns a copy of the runs so far and the first error.
func (s *simulator) snapshot() ([]phaseRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]phaseRun, 0, len(s.runs))
	for _, r := range s.runs {
		out = append(out, *r)
	}
	return out, s.err
}
