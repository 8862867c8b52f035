// Package outputs carries a phase's outputs from the pod that produced them
// to the controller.
//
// Inside a phase, outputs are emitted as log lines in Kanister's format,
//
//	###Phase-output###: {"key":"version","value":"16.2"}
//
// printed by `baton-runner output KEY VALUE` (also installed as `kando`, so
// Kanister blueprints that call `kando output` work unchanged) or by any
// program, including commands run in other pods through KubeExec.
//
// When the phase ends, the runner reports the collected outputs:
//
//   - small (the usual case): the JSON object itself is the container's
//     termination message, which the kubelet stores in the pod status;
//   - larger than a termination message may be (4096 bytes): the outputs are
//     printed as one final log line, "###Baton-outputs### <sha256>: <base64>",
//     and the termination message holds only a pointer to it with the digest.
//     The controller reads that line from the pod log (bounded only by the
//     kubelet's log rotation, 10 MiB by default) and checks the digest, so a
//     truncated or forged line is an error, never a wrong output.
package outputs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Marker starts a Kanister-format output line.
const Marker = "###Phase-output###:"

// logMarker starts the line that carries outputs too large for the
// termination message.
const logMarker = "###Baton-outputs### "

// MaxTerminationMessage is the kubelet's limit for one container's
// termination message.
const MaxTerminationMessage = 4096

// maxLine bounds one output line; larger values are refused rather than
// split silently.
const maxLine = 8 << 20

// Outputs maps output keys to values (any JSON value, as in Kanister).
type Outputs map[string]any

type line struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// FormatLine returns the log line that emits one output.
func FormatLine(key string, value any) (string, error) {
	if key == "" {
		return "", errors.New("output key must not be empty")
	}
	b, err := json.Marshal(line{Key: key, Value: value})
	if err != nil {
		return "", fmt.Errorf("output %q: %w", key, err)
	}
	return Marker + " " + string(b), nil
}

// Collect copies r to passthrough line by line and returns the outputs
// found in it; a later value for a key replaces an earlier one. Malformed
// output lines are errors: an output the user asked for must not vanish.
func Collect(r io.Reader, passthrough io.Writer) (Outputs, error) {
	out := Outputs{}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64<<10), maxLine)
	var errs []error
	for scanner.Scan() {
		text := scanner.Text()
		if passthrough != nil {
			fmt.Fprintln(passthrough, text)
		}
		idx := strings.Index(text, Marker)
		if idx < 0 {
			continue
		}
		var l line
		if err := json.Unmarshal([]byte(strings.TrimSpace(text[idx+len(Marker):])), &l); err != nil || l.Key == "" {
			errs = append(errs, fmt.Errorf("malformed output line %q", truncate(text, 120)))
			continue
		}
		out[l.Key] = l.Value
	}
	if err := scanner.Err(); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// report is what the termination message holds.
type report struct {
	Outputs Outputs `json:"outputs,omitempty"`
	// InLog is the sha256 of the outputs' JSON when they were written to the
	// log instead.
	InLog string `json:"outputsInLog,omitempty"`
	// Error is why the phase failed, for the ActionSet's status.
	Error string `json:"error,omitempty"`
}

// maxErrorMessage leaves room for the JSON around a failure message.
const maxErrorMessage = MaxTerminationMessage - 64

// ReportFailure returns the termination message of a failed phase.
func ReportFailure(err error) string {
	msg := err.Error()
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage] + "…"
	}
	b, _ := json.Marshal(report{Error: msg})
	return string(b)
}

// FailureMessage returns the failure a termination message reports, or ""
// when it reports none.
func FailureMessage(terminationMessage string) string {
	var r report
	if json.Unmarshal([]byte(terminationMessage), &r) != nil {
		return ""
	}
	return r.Error
}

// Report returns the termination message for outputs and, when they are
// too large for it, the log line to print before exiting.
func Report(o Outputs) (terminationMessage, logLine string, err error) {
	if len(o) == 0 {
		return "", "", nil
	}
	inline, err := json.Marshal(report{Outputs: o})
	if err != nil {
		return "", "", err
	}
	if len(inline) <= MaxTerminationMessage {
		return string(inline), "", nil
	}
	payload, err := json.Marshal(o)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(payload)
	digest := hex.EncodeToString(sum[:])
	pointer, err := json.Marshal(report{InLog: digest})
	if err != nil {
		return "", "", err
	}
	return string(pointer), logMarker + digest + ": " + base64.StdEncoding.EncodeToString(payload), nil
}

// Decode reads the outputs back from a termination message; when they were
// written to the log, readLog is called for the pod's log.
func Decode(terminationMessage string, readLog func() (io.ReadCloser, error)) (Outputs, error) {
	if strings.TrimSpace(terminationMessage) == "" {
		return Outputs{}, nil
	}
	var r report
	if err := json.Unmarshal([]byte(terminationMessage), &r); err != nil {
		return nil, fmt.Errorf("termination message is not a Baton output report: %w", err)
	}
	if r.InLog == "" {
		if r.Outputs == nil {
			return Outputs{}, nil
		}
		return r.Outputs, nil
	}
	logs, err := readLog()
	if err != nil {
		return nil, fmt.Errorf("read outputs from the pod log: %w", err)
	}
	defer logs.Close()
	return findInLog(logs, r.InLog)
}

func findInLog(logs io.Reader, digest string) (Outputs, error) {
	prefix := []byte(logMarker + digest + ": ")
	scanner := bufio.NewScanner(logs)
	scanner.Buffer(make([]byte, 64<<10), 4*maxLine)
	for scanner.Scan() {
		text := scanner.Bytes()
		idx := bytes.Index(text, prefix)
		if idx < 0 {
			continue
		}
		payload, err := base64.StdEncoding.DecodeString(string(text[idx+len(prefix):]))
		if err != nil {
			return nil, fmt.Errorf("outputs line in the pod log is damaged: %w", err)
		}
		sum := sha256.Sum256(payload)
		if hex.EncodeToString(sum[:]) != digest {
			return nil, errors.New("outputs line in the pod log does not match its digest")
		}
		var o Outputs
		if err := json.Unmarshal(payload, &o); err != nil {
			return nil, err
		}
		return o, nil
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("the pod log has no outputs line %s (log rotated or truncated?)", digest[:12])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
