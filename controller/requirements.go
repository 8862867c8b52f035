package controller

import (
	"fmt"
	"strings"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/runner/functions"
)

// What data functions need before any of their Jobs may run, from the
// runner's function catalogue. Checking here, in the controller, fails an
// ActionSet that cannot succeed before it has touched anything, instead of
// after earlier phases have changed the app (scaled it down, say).
//
// Kanister falls back to a built-in encryption key; Baton has none on
// purpose, so a backup is never readable by whoever knows the default.

const encryptionKeyArg = "encryptionKey"

// catalogEntry finds a function's catalogue entry, ignoring case: a
// Blueprint spelling "backupdata" hears about its missing key here, before
// any Job, rather than from the runner later.
func catalogEntry(function string) (functions.ArgSpec, bool) {
	for name, spec := range functions.Catalog {
		if strings.EqualFold(name, function) {
			return spec, true
		}
	}
	return functions.ArgSpec{}, false
}

// checkPhaseRequirements checks, from the Blueprint alone, that a phase's
// function can run with what the ActionSet gives it.
func checkPhaseRequirements(p batonv1.BlueprintPhase, spec batonv1.ActionSpec) error {
	entry, _ := catalogEntry(p.Func)
	if entry.NeedsProfile && spec.Profile == nil {
		return fmt.Errorf("phase %q: %s needs a Profile (where the data goes), and the ActionSet names none", p.Name, p.Func)
	}
	if entry.NeedsEncryptionKey() {
		if _, ok := p.Args[encryptionKeyArg]; !ok {
			return fmt.Errorf("phase %q: %s needs argument %q: Baton has no default encryption key", p.Name, p.Func, encryptionKeyArg)
		}
	}
	return nil
}

// checkRenderedArgs checks a phase's rendered arguments: an encryption key
// that renders empty (a Secret key that is empty, say) is as absent as a
// missing one.
func checkRenderedArgs(function string, args map[string]any) error {
	if entry, _ := catalogEntry(function); !entry.NeedsEncryptionKey() {
		return nil
	}
	if key, _ := args[encryptionKeyArg].(string); strings.TrimSpace(key) == "" {
		return fmt.Errorf("%s: argument %q rendered empty: Baton has no default encryption key", function, encryptionKeyArg)
	}
	return nil
}
