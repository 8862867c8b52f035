package controller

import (
	"fmt"
	"strings"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// What data functions need before any of their Jobs may run. Checking here,
// in the controller, fails an ActionSet that cannot succeed before it has
// touched anything, instead of after earlier phases have changed the app
// (scaled it down, say).
var (
	// needsProfile: functions that read or write the action's Profile.
	needsProfile = setOf("BackupData", "BackupDataAll", "RestoreData", "RestoreDataAll",
		"DeleteData", "DeleteDataAll", "BackupDataStats", "CheckRepository", "CopyVolumeData", "LocationDelete")
	// needsEncryptionKey: functions that open an encrypted restic repository.
	// Kanister falls back to a built-in key; Baton has none on purpose, so a
	// backup is never readable by whoever knows the default.
	needsEncryptionKey = setOf("BackupData", "BackupDataAll", "RestoreData", "RestoreDataAll",
		"DeleteData", "DeleteDataAll", "BackupDataStats", "CheckRepository", "CopyVolumeData")
)

const encryptionKeyArg = "encryptionKey"

func setOf(names ...string) map[string]bool {
	s := make(map[string]bool, len(names))
	for _, n := range names {
		s[strings.ToLower(n)] = true
	}
	return s
}

// checkPhaseRequirements checks, from the Blueprint alone, that a phase's
// function can run with what the ActionSet gives it.
func checkPhaseRequirements(p batonv1.BlueprintPhase, spec batonv1.ActionSpec) error {
	fn := strings.ToLower(p.Func)
	if needsProfile[fn] && spec.Profile == nil {
		return fmt.Errorf("phase %q: %s needs a Profile (where the data goes), and the ActionSet names none", p.Name, p.Func)
	}
	if needsEncryptionKey[fn] {
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
	if !needsEncryptionKey[strings.ToLower(function)] {
		return nil
	}
	if key, _ := args[encryptionKeyArg].(string); strings.TrimSpace(key) == "" {
		return fmt.Errorf("%s: argument %q rendered empty: Baton has no default encryption key", function, encryptionKeyArg)
	}
	return nil
}
