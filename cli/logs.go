package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

type logsFlags struct {
	action string
	phase  string
	follow bool
}

func newLogsCommand(o *Options) *cobra.Command {
	var f logsFlags
	cmd := &cobra.Command{
		Use:   "logs ACTIONSET [--action A] [--phase P] [-f]",
		Short: "Print the logs of an ActionSet's phase pods, in phase order",
		Long: `Print the logs of the pods that ran the ActionSet's phases, phase after phase
in the order the Blueprint lists them (each action in turn, its deferPhase
last), every line prefixed with [action/phase]. A phase retried by its Job
has one pod per attempt, printed oldest first.

Pods are found by their labels (baton.dev/actionset, baton.dev/action,
baton.dev/phase, and baton.dev/actionset-uid) and their Job's name, which
tells apart two actions of the same name. Logs are those of the phase's main
container; they last as long as the Jobs do.

With -f, running phases are followed, and phases not started yet are waited
for, until the ActionSet has finished.`,
		Example: `  batonctl logs backup-x7k2p
  batonctl logs backup-x7k2p --phase pgDump
  batonctl logs backup-x7k2p --action backup -f`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clients, err := o.Clients()
			if err != nil {
				return err
			}
			l := &logPrinter{c: clients.Client, kube: clients.Kube, out: o.Out, errOut: o.Err, interval: time.Second}
			return l.run(cmd.Context(), client.ObjectKey{Namespace: o.Namespace(), Name: args[0]}, f)
		},
	}
	cmd.Flags().StringVar(&f.action, "action", "", "only this action's phases")
	cmd.Flags().StringVar(&f.phase, "phase", "", "only this phase")
	cmd.Flags().BoolVarP(&f.follow, "follow", "f", false, "follow running phases and wait for the next ones until the ActionSet ends")
	return cmd
}

type logPrinter struct {
	c        client.Reader
	kube     kubernetes.Interface
	out      io.Writer
	errOut   io.Writer
	interval time.Duration
}

// selectRuns keeps the phases --action and --phase name.
func selectRuns(as *batonv1.ActionSet, action, phase string) ([]phaseRun, error) {
	var out []phaseRun
	actionFound := action == ""
	for _, r := range phaseRuns(as) {
		name := as.Status.Actions[r.action].Name
		if action != "" && name != action {
			continue
		}
		actionFound = true
		if phase != "" && r.phase.Name != phase {
			continue
		}
		out = append(out, r)
	}
	if len(as.Status.Actions) > 0 {
		switch {
		case !actionFound:
			return nil, fmt.Errorf("actionset %s has no action %q", as.Name, action)
		case len(out) == 0:
			return nil, fmt.Errorf("actionset %s has no phase %q", as.Name, phase)
		}
	}
	return out, nil
}

func (l *logPrinter) get(ctx context.Context, key client.ObjectKey) (*batonv1.ActionSet, error) {
	var as batonv1.ActionSet
	if err := l.c.Get(ctx, key, &as); err != nil {
		return nil, fmt.Errorf("actionset %s/%s: %w", key.Namespace, key.Name, err)
	}
	return &as, nil
}

func (l *logPrinter) sleep(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(l.interval):
		return nil
	}
}

func (l *logPrinter) run(ctx context.Context, key client.ObjectKey, f logsFlags) error {
	as, err := l.get(ctx, key)
	if err != nil {
		return err
	}
	// Phases are listed once the controller has started the ActionSet.
	for f.follow && len(as.Status.Actions) == 0 && !as.Status.State.IsTerminal() {
		if err := l.sleep(ctx); err != nil {
			return err
		}
		if as, err = l.get(ctx, key); err != nil {
			return err
		}
	}
	runs, err := selectRuns(as, f.action, f.phase)
	if err != nil {
		return err
	}
	printed := 0
	for _, r := range runs {
		n, err := l.phaseLogs(ctx, key, as, r, f.follow)
		if err != nil {
			return err
		}
		printed += n
	}
	if printed == 0 {
		fmt.Fprintf(l.errOut, "no phase pods found for actionset %s (%s)\n", as.Name, describeProgress(as))
	}
	return nil
}

// phaseLogs prints the logs of one phase's pods; with follow, until the
// phase has finished (or, if it never starts, the ActionSet has). It
// returns how many pods it printed.
func (l *logPrinter) phaseLogs(ctx context.Context, key client.ObjectKey, as *batonv1.ActionSet, r phaseRun, follow bool) (int, error) {
	label := "[" + r.label + "] "
	done := map[string]bool{}
	for {
		pods, err := l.phasePods(ctx, as, r)
		if err != nil {
			return len(done), err
		}
		for _, pod := range pods {
			if done[pod.Name] {
				continue
			}
			if follow {
				if err := l.waitStarted(ctx, &pod); err != nil {
					return len(done), err
				}
			}
			if err := l.podLogs(ctx, pod, label, follow); err != nil {
				fmt.Fprintf(l.errOut, "%spod %s: %s\n", label, pod.Name, oneLine(err.Error()))
			}
			done[pod.Name] = true
		}
		if !follow {
			return len(done), nil
		}
		fresh, err := l.get(ctx, key)
		if err != nil {
			return len(done), err
		}
		phase := findPhase(fresh, r)
		finished := phase == nil || phase.State.IsTerminal() ||
			(fresh.Status.State.IsTerminal() && phase.State != batonv1.StateRunning)
		if finished {
			// A last look for an attempt that started meanwhile.
			if pods, err := l.phasePods(ctx, as, r); err == nil {
				for _, pod := range pods {
					if !done[pod.Name] {
						if err := l.podLogs(ctx, pod, label, false); err != nil {
							fmt.Fprintf(l.errOut, "%spod %s: %s\n", label, pod.Name, oneLine(err.Error()))
						}
						done[pod.Name] = true
					}
				}
			}
			return len(done), nil
		}
		if err := l.sleep(ctx); err != nil {
			return len(done), err
		}
	}
}

func findPhase(as *batonv1.ActionSet, r phaseRun) *batonv1.Phase {
	if r.action >= len(as.Status.Actions) {
		return nil
	}
	a := &as.Status.Actions[r.action]
	if r.deferred {
		return a.DeferPhase
	}
	if r.index < len(a.Phases) {
		return &a.Phases[r.index]
	}
	return nil
}

// phasePods lists a phase's pods, oldest first: selected by the baton.dev
// labels, then by their Job's name.
func (l *logPrinter) phasePods(ctx context.Context, as *batonv1.ActionSet, r phaseRun) ([]corev1.Pod, error) {
	set := labels.Set{dispatcher.LabelActionSetUID: string(as.UID)}
	for k, v := range map[string]string{
		dispatcher.LabelActionSet: as.Name,
		dispatcher.LabelAction:    as.Status.Actions[r.action].Name,
		dispatcher.LabelPhase:     r.phase.Name,
	} {
		// Names that are not label values are hashed on the pods; the
		// Job's name still finds them.
		if len(validation.IsValidLabelValue(v)) == 0 {
			set[k] = v
		}
	}
	list, err := l.kube.CoreV1().Pods(as.Namespace).List(ctx, metav1.ListOptions{LabelSelector: set.String()})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", r.label, err)
	}
	job := phaseJobName(as, r)
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.Labels[batchv1.JobNameLabel] == job {
			pods = append(pods, p)
		}
	}
	sort.SliceStable(pods, func(i, j int) bool {
		return pods[i].CreationTimestamp.Before(&pods[j].CreationTimestamp)
	})
	return pods, nil
}

// waitStarted waits until a pod's main container has started (or the pod
// has ended), so that its log can be read.
func (l *logPrinter) waitStarted(ctx context.Context, pod *corev1.Pod) error {
	for {
		if pod.Status.Phase != corev1.PodPending || mainStarted(pod) {
			return nil
		}
		if err := l.sleep(ctx); err != nil {
			return err
		}
		fresh, err := l.kube.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return nil // gone: reading its log will say so
		}
		*pod = *fresh
	}
}

func mainStarted(pod *corev1.Pod) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == dispatcher.MainContainer {
			return cs.State.Running != nil || cs.State.Terminated != nil
		}
	}
	return false
}

func (l *logPrinter) podLogs(ctx context.Context, pod corev1.Pod, prefix string, follow bool) error {
	finished := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	req := l.kube.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{
		Container: dispatcher.MainContainer, Follow: follow && !finished,
	})
	stream, err := req.Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	return copyPrefixed(l.out, stream, prefix)
}

// copyPrefixed copies r to w line by line, each line prefixed; a last line
// without a newline gets one.
func copyPrefixed(w io.Writer, r io.Reader, prefix string) error {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line += "\n"
			}
			if _, werr := io.WriteString(w, prefix+line); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
