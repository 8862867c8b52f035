package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// waitActionSet follows an ActionSet until it is complete or failed,
// reading it every interval and reporting changes to p. It returns nil only
// if the ActionSet completed.
func waitActionSet(ctx context.Context, c client.Reader, key client.ObjectKey, timeout, interval time.Duration, p *progressPrinter) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var as batonv1.ActionSet
	var lastErr error
	seen := false
	for {
		err := c.Get(ctx, key, &as)
		switch {
		case err == nil:
			seen, lastErr = true, nil
			p.Update(&as)
			if as.Status.State.IsTerminal() {
				return p.Summary(&as)
			}
		case apierrors.IsNotFound(err):
			return fmt.Errorf("actionset %s/%s was deleted while waiting for it", key.Namespace, key.Name)
		case ctx.Err() == nil:
			lastErr = err // retried until the deadline
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				where := "state unknown"
				if seen {
					where = describeProgress(&as)
				}
				msg := fmt.Sprintf("timed out after %s waiting for actionset %s (%s)", timeout, key.Name, where)
				if lastErr != nil {
					msg += "; last error: " + oneLine(lastErr.Error())
				}
				return errors.New(msg)
			}
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// describeProgress says where a running ActionSet is: "running, phase
// dump".
func describeProgress(as *batonv1.ActionSet) string {
	state := string(as.Status.State)
	if state == "" {
		state = "not started"
	}
	if as.Status.Progress != nil && as.Status.Progress.RunningPhase != "" {
		state += ", phase " + as.Status.Progress.RunningPhase
	}
	return state
}

// progressPrinter prints an ActionSet's progress as it changes: one line
// per change of the ActionSet's or a phase's state, then a summary.
type progressPrinter struct {
	w      io.Writer
	now    func() time.Time
	start  time.Time
	state  batonv1.State
	phases map[string]batonv1.State
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	return &progressPrinter{w: w, now: time.Now, phases: map[string]batonv1.State{}}
}

func (p *progressPrinter) elapsed() string {
	return fmt.Sprintf("[%5s]", p.now().Sub(p.start).Round(time.Second))
}

// phaseRun is one phase of one action, as the status lists it.
type phaseRun struct {
	action   int
	index    int    // of the phase in its action (0 for the deferPhase)
	label    string // action/phase, as printed
	phase    *batonv1.Phase
	deferred bool
}

// phaseRuns lists every phase of every action in order, deferPhases last
// in their action. Actions sharing a name are told apart by index.
func phaseRuns(as *batonv1.ActionSet) []phaseRun {
	count := map[string]int{}
	for _, a := range as.Status.Actions {
		count[a.Name]++
	}
	var out []phaseRun
	for i := range as.Status.Actions {
		a := &as.Status.Actions[i]
		name := a.Name
		if count[name] > 1 {
			name = fmt.Sprintf("%s[%d]", name, i)
		}
		for j := range a.Phases {
			out = append(out, phaseRun{action: i, index: j, label: name + "/" + a.Phases[j].Name, phase: &a.Phases[j]})
		}
		if a.DeferPhase != nil {
			out = append(out, phaseRun{action: i, label: name + "/" + a.DeferPhase.Name + " (defer)", phase: a.DeferPhase, deferred: true})
		}
	}
	return out
}

// Update prints what changed since the last call.
func (p *progressPrinter) Update(as *batonv1.ActionSet) {
	if p.start.IsZero() {
		p.start = p.now()
	}
	if as.Status.State != p.state && as.Status.State != "" && !as.Status.State.IsTerminal() {
		fmt.Fprintf(p.w, "%s actionset %s: %s\n", p.elapsed(), as.Name, as.Status.State)
	}
	for _, r := range phaseRuns(as) {
		if old, ok := p.phases[r.label]; ok && old == r.phase.State {
			continue
		} else if !ok && r.phase.State == batonv1.StatePending {
			p.phases[r.label] = r.phase.State
			continue
		}
		p.phases[r.label] = r.phase.State
		fmt.Fprintf(p.w, "%s %s: %s\n", p.elapsed(), r.label, r.phase.State)
	}
	p.state = as.Status.State
}

// Summary prints the outcome of a finished ActionSet: its state, phases
// completed and artifacts. It returns the ActionSet's error if it failed.
func (p *progressPrinter) Summary(as *batonv1.ActionSet) error {
	runs := phaseRuns(as)
	done := 0
	for _, r := range runs {
		if r.phase.State == batonv1.StateComplete {
			done++
		}
	}
	took := ""
	if !p.start.IsZero() {
		took = " after " + p.now().Sub(p.start).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "actionset %s %s%s: %d/%d phases complete\n", as.Name, as.Status.State, took, done, len(runs))
	if as.Status.State == batonv1.StateComplete {
		for _, a := range as.Status.Actions {
			for _, name := range sortedKeys(a.Artifacts) {
				fmt.Fprintf(p.w, "  artifact %s/%s: %s\n", a.Name, name, artifactString(a.Artifacts[name]))
			}
		}
		return nil
	}
	msg := "no error recorded"
	if as.Status.Error != nil && as.Status.Error.Message != "" {
		msg = oneLine(as.Status.Error.Message)
	}
	return fmt.Errorf("actionset %s %s: %s", as.Name, as.Status.State, msg)
}

// artifactString prints an artifact on one line: key=value pairs, sorted.
func artifactString(a batonv1.Artifact) string {
	var parts []string
	for _, k := range sortedKeys(a.KeyValue) {
		parts = append(parts, k+"="+a.KeyValue[k])
	}
	if a.KopiaSnapshot != "" {
		parts = append(parts, "kopiaSnapshot="+a.KopiaSnapshot)
	}
	return strings.Join(parts, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
