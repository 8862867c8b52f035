package render

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzString renders arbitrary templates against realistic parameters. A
// Blueprint is user input: whatever it holds, rendering must return a
// string or an *Error naming the field — never panic, never hang.
func FuzzString(f *testing.F) {
	for _, seed := range []string{
		"plain", "{{ .Deployment.Name }}", "{{ index .Deployment.Pods 0 }}", "{{ .Options.retention | upper }}",
		`{{ toJson .Profile }}`, `{{ range $k, $v := .Secrets }}{{ $k }}{{ end }}`, "{{ .Phases.dump.Output.path }}",
		`{{ toDate "2006-01-02T15:04:05Z07:00" .Time | date "2006" }}`, "{{ ", "{{ .Nope.x }}", `{{ env "HOME" }}`,
		"{{ template \"x\" }}", "{{ define \"x\" }}{{ template \"x\" }}{{ end }}{{ template \"x\" }}",
	} {
		f.Add(seed)
	}
	p := deploymentParams()
	f.Fuzz(func(t *testing.T, text string) {
		// sprig can build huge strings on purpose (repeat); such templates
		// are bounded by what a Blueprint field can hold, not checked here.
		if strings.Contains(text, "repeat") || strings.Contains(text, "until") || strings.Contains(text, "seq") {
			t.Skip()
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			out, err := String("args.x", text, p)
			if err != nil {
				var rerr *Error
				if !errors.As(err, &rerr) || rerr.Field != "args.x" {
					t.Errorf("error %v does not name the field", err)
				}
				return
			}
			if !strings.Contains(text, "{{") && out != text {
				t.Errorf("text without templates changed: %q -> %q", text, out)
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("rendering %q did not finish", text)
		}
	})
}
