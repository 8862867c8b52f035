package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
)

func newDescribeCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "describe",
		Short:   "Show an ActionSet in detail",
		Example: `  batonctl describe actionset backup-x7k2p`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New(`what to describe? "actionset" (see --help)`)
		},
	}
	cmd.AddCommand(newDescribeActionSetCommand(o))
	return cmd
}

func newDescribeActionSetCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "actionset NAME",
		Aliases: []string{"actionsets", "as"},
		Short:   "Show an ActionSet's actions, phases (state, duration, outputs), artifacts, error and Events",
		Long: `Show an ActionSet: each action with its object and Blueprint, each phase with
its state and how long its Job ran (when the Job is still there), the phases'
outputs, the action's artifacts, the ActionSet's error and its Events.
Long outputs are cut to one line of 200 characters (get actionset -o yaml has
them whole).`,
		Example: `  batonctl describe actionset backup-x7k2p
  kubectl baton describe as -n backups backup-x7k2p`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clients, err := o.Clients()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var as batonv1.ActionSet
			if err := clients.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace(), Name: args[0]}, &as); err != nil {
				return fmt.Errorf("actionset %s/%s: %w", o.Namespace(), args[0], err)
			}
			// Jobs and Events only add detail: without them (RBAC, say)
			// the ActionSet is still described.
			var jobs batchv1.JobList
			jobErr := clients.Client.List(ctx, &jobs, client.InNamespace(as.Namespace),
				client.MatchingLabels{dispatcher.LabelActionSetUID: string(as.UID)})
			events, evErr := clients.Kube.CoreV1().Events(as.Namespace).List(ctx, metav1.ListOptions{
				FieldSelector: fields.Set{"involvedObject.uid": string(as.UID), "involvedObject.name": as.Name}.String(),
			})
			var evs []corev1.Event
			if evErr == nil {
				evs = events.Items
			}
			describeActionSet(o.Out, &as, jobs.Items, evs, time.Now())
			if jobErr != nil {
				fmt.Fprintf(o.Err, "warning: phase durations unknown: list jobs: %s\n", oneLine(jobErr.Error()))
			}
			if evErr != nil {
				fmt.Fprintf(o.Err, "warning: events unknown: %s\n", oneLine(evErr.Error()))
			}
			return nil
		},
	}
}

// phaseJobName is the name of the Job of a phase, as the controller
// derives it.
func phaseJobName(as *batonv1.ActionSet, r phaseRun) string {
	return dispatcher.JobName(dispatcher.Phase{
		ActionSet:   dispatcher.ActionSetRef{Name: as.Name, Namespace: as.Namespace, UID: as.UID},
		Action:      as.Status.Actions[r.action].Name,
		ActionIndex: r.action,
		Name:        r.phase.Name,
		Index:       r.index,
		Deferred:    r.deferred,
	})
}

// jobDuration is how long a Job ran, if it started; running Jobs are
// measured up to now.
func jobDuration(job *batchv1.Job, now time.Time) string {
	if job == nil || job.Status.StartTime == nil {
		return "-"
	}
	end := now
	running := true
	if job.Status.CompletionTime != nil {
		end, running = job.Status.CompletionTime.Time, false
	} else {
		for _, c := range job.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				end, running = c.LastTransitionTime.Time, false
			}
		}
	}
	d := end.Sub(job.Status.StartTime.Time).Round(time.Second).String()
	if running {
		d += " so far"
	}
	return d
}

// maxValue is how much of an output or artifact value describe prints.
const maxValue = 200

func shorten(s string) string {
	cut := false
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s, cut = s[:i], true
	}
	if len(s) > maxValue {
		s, cut = s[:maxValue], true
	}
	if cut {
		s += " …"
	}
	return s
}

func objectString(ref batonv1.ObjectReference) string {
	kind := ref.Kind
	if kind == "" {
		kind = ref.Resource
	}
	if ref.Namespace == "" {
		return kind + " " + ref.Name
	}
	return kind + " " + ref.Namespace + "/" + ref.Name
}

// describeActionSet prints an ActionSet for people.
func describeActionSet(w io.Writer, as *batonv1.ActionSet, jobs []batchv1.Job, events []corev1.Event, now time.Time) {
	byName := map[string]*batchv1.Job{}
	for i := range jobs {
		byName[jobs[i].Name] = &jobs[i]
	}
	fmt.Fprintf(w, "Name:        %s\n", as.Name)
	fmt.Fprintf(w, "Namespace:   %s\n", as.Namespace)
	if !as.CreationTimestamp.IsZero() {
		fmt.Fprintf(w, "Created:     %s (%s ago)\n", as.CreationTimestamp.UTC().Format(time.RFC3339), age(as.CreationTimestamp.Time, now))
	}
	fmt.Fprintf(w, "State:       %s\n", stateOf(as.Status.State))
	fmt.Fprintf(w, "Progress:    %s\n", progressOf(as))
	if as.Status.Progress != nil && as.Status.Progress.RunningPhase != "" {
		fmt.Fprintf(w, "Running:     %s\n", as.Status.Progress.RunningPhase)
	}
	if as.Status.Error != nil && as.Status.Error.Message != "" {
		fmt.Fprintf(w, "Error:       %s\n", as.Status.Error.Message)
	}

	fmt.Fprintln(w, "Actions:")
	if len(as.Status.Actions) == 0 {
		// Not started (or failed before it started): the spec is all there is.
		for _, a := range as.Spec.Actions {
			fmt.Fprintf(w, "  %s (blueprint %s, %s): not started\n", a.Name, a.Blueprint, objectString(a.Object))
		}
	}
	runs := phaseRuns(as)
	for i, a := range as.Status.Actions {
		fmt.Fprintf(w, "  %s (blueprint %s, %s)\n", a.Name, a.Blueprint, objectString(a.Object))
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "    PHASE\tSTATE\tDURATION\tJOB")
		var withOutputs []phaseRun
		for _, r := range runs {
			if r.action != i {
				continue
			}
			name := r.phase.Name
			if r.deferred {
				name += " (defer)"
			}
			jobName := phaseJobName(as, r)
			job := byName[jobName]
			if job == nil {
				jobName = "-"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", name, stateOf(r.phase.State), jobDuration(job, now), jobName)
			if len(r.phase.Output) > 0 {
				withOutputs = append(withOutputs, r)
			}
		}
		_ = tw.Flush()
		if len(withOutputs) > 0 {
			fmt.Fprintln(w, "    Outputs:")
			for _, r := range withOutputs {
				fmt.Fprintf(w, "      %s:\n", r.phase.Name)
				for _, k := range sortedKeys(r.phase.Output) {
					fmt.Fprintf(w, "        %s: %s\n", k, shorten(fmt.Sprint(r.phase.Output[k])))
				}
			}
		}
		if len(a.Artifacts) > 0 {
			fmt.Fprintln(w, "    Artifacts:")
			for _, name := range sortedKeys(a.Artifacts) {
				art := a.Artifacts[name]
				fmt.Fprintf(w, "      %s:\n", name)
				for _, k := range sortedKeys(art.KeyValue) {
					fmt.Fprintf(w, "        %s: %s\n", k, shorten(art.KeyValue[k]))
				}
				if art.KopiaSnapshot != "" {
					fmt.Fprintf(w, "        kopiaSnapshot: %s\n", shorten(art.KopiaSnapshot))
				}
			}
		}
	}

	fmt.Fprintln(w, "Events:")
	if len(events) == 0 {
		fmt.Fprintln(w, "  <none>")
		return
	}
	sort.SliceStable(events, func(i, j int) bool { return eventTime(events[i]).Before(eventTime(events[j])) })
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tMESSAGE")
	for _, e := range events {
		seen := age(eventTime(e), now)
		if e.Count > 1 {
			seen += fmt.Sprintf(" (x%d)", e.Count)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Type, e.Reason, seen, oneLine(e.Message))
	}
	_ = tw.Flush()
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
