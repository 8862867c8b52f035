package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// capabilityNumbers maps the capability names used in OCI specs to their
// bit numbers in the kernel's capability sets (linux/capability.h).
var capabilityNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// ownBoundingSet reads CapBnd from a /proc/<pid>/status file.
func ownBoundingSet(statusPath string) (uint64, error) {
	f, err := os.Open(statusPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if value, ok := strings.CutPrefix(scanner.Text(), "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(value), 16, 64)
		}
	}
	return 0, fmt.Errorf("no CapBnd line in %s", statusPath)
}

// allowed reports whether a capability name may be requested under bounding.
// Names this wrapper does not know are kept: runc knows better than we do.
func allowed(name string, bounding uint64) bool {
	bit, known := capabilityNumbers[name]
	return !known || bounding&(1<<bit) != 0
}

// filterCapabilities removes capabilities outside bounding from every set
// ("bounding", "effective", ...) of an OCI capabilities object, keeping
// every other field of the document as it was.
func filterCapabilities(caps map[string]any, bounding uint64) {
	for set, value := range caps {
		names, ok := value.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(names))
		for _, n := range names {
			if s, ok := n.(string); !ok || allowed(s, bounding) {
				kept = append(kept, n)
			}
		}
		caps[set] = kept
	}
}

// specCapabilities finds the capabilities object in a bundle's config.json.
func specCapabilities(doc map[string]any) map[string]any {
	process, _ := doc["process"].(map[string]any)
	return processCapabilities(process)
}

// processCapabilities finds it in a process.json given to `runc exec`.
func processCapabilities(process map[string]any) map[string]any {
	caps, _ := process["capabilities"].(map[string]any)
	return caps
}

// filterSpecFile rewrites path in place with capabilities filtered.
func filterSpecFile(path string, bounding uint64, find func(map[string]any) map[string]any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := filterSpec(raw, bounding, find)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, info.Mode().Perm())
}

func filterSpec(raw []byte, bounding uint64, find func(map[string]any) map[string]any) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	caps := find(doc)
	if caps == nil {
		return raw, nil
	}
	filterCapabilities(caps, bounding)
	return json.Marshal(doc)
}
