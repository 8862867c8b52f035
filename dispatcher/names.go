package dispatcher

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxNameLength is the longest Job name Baton creates. The Job controller
// copies the name into the pod label batch.kubernetes.io/job-name, and label
// values are limited to 63 characters.
const MaxNameLength = 63

// hashLength is how many hex digits of the identity hash a shortened name
// keeps: 10 digits make an accidental collision between two phases of the
// same namespace vanishingly unlikely.
const hashLength = 10

// dnsLabel turns s into something valid inside a DNS-1123 label: lower case
// letters, digits and single dashes, no dash at either end.
func dnsLabel(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// shortHash is a stable digest of the parts, used to keep shortened names
// unique and deterministic.
func shortHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])[:hashLength]
}

// fitName joins readable parts with dashes when they fit in max characters
// and are already valid; otherwise it keeps as much of the readable form as
// fits and appends a hash of identity. The result is deterministic: the same
// inputs always give the same name, which is what lets a restarted
// controller find the Jobs it created instead of creating them again.
func fitName(max int, identity []string, readable ...string) string {
	var cleaned []string
	for _, p := range readable {
		if c := dnsLabel(p); c != "" {
			cleaned = append(cleaned, c)
		}
	}
	name := strings.Join(cleaned, "-")
	suffix := "-" + shortHash(identity...)
	if len(name)+len(suffix) > max {
		name = strings.TrimRight(name[:max-len(suffix)], "-")
	}
	if name == "" {
		return suffix[1:]
	}
	return name + suffix
}

// labelValue returns v itself when it is a valid label value (so users can
// select with the names they wrote, e.g. baton.dev/phase=takeBackup), else a
// shortened, hashed form of it.
func labelValue(v string) string {
	if len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	return fitName(MaxNameLength, []string{v}, v)
}
