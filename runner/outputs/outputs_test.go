package outputs

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCollect(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Outputs
		wantErr string
	}{
		{"no outputs", "hello\nworld\n", Outputs{}, ""},
		{"kanister line", `###Phase-output###: {"key":"version","value":"16.2"}` + "\n", Outputs{"version": "16.2"}, ""},
		{"prefixed by a log timestamp", `2026-11-26T10:00:00Z ###Phase-output###: {"key":"n","value":3}`, Outputs{"n": float64(3)}, ""},
		{"structured value", `###Phase-output###: {"key":"obj","value":{"a":[1,2]}}`, Outputs{"obj": map[string]any{"a": []any{float64(1), float64(2)}}}, ""},
		{"last value wins", "###Phase-output###: {\"key\":\"k\",\"value\":\"1\"}\n###Phase-output###: {\"key\":\"k\",\"value\":\"2\"}", Outputs{"k": "2"}, ""},
		{"malformed", "###Phase-output###: {not json}\n", Outputs{}, "malformed output line"},
		{"no key", `###Phase-output###: {"value":"x"}`, Outputs{}, "malformed output line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var passthrough bytes.Buffer
			got, err := Collect(strings.NewReader(tt.input), &passthrough)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, strings.TrimSuffix(tt.input, "\n"), strings.TrimSuffix(passthrough.String(), "\n"), "every line is passed through")
		})
	}
}

func TestFormatLineRoundTrips(t *testing.T) {
	l, err := FormatLine("key", "value with \"quotes\"\nand newline")
	require.NoError(t, err)
	assert.NotContains(t, l, "\n", "one output is one line")
	got, err := Collect(strings.NewReader(l), nil)
	require.NoError(t, err)
	assert.Equal(t, Outputs{"key": "value with \"quotes\"\nand newline"}, got)

	_, err = FormatLine("", "v")
	assert.Error(t, err)
}

func TestReportAndDecode(t *testing.T) {
	big := strings.Repeat("x", 10*MaxTerminationMessage)
	tests := []struct {
		name      string
		outputs   Outputs
		wantInLog bool
	}{
		{"none", Outputs{}, false},
		{"small outputs go in the termination message", Outputs{"a": "b", "n": float64(1)}, false},
		{"large outputs go to the log", Outputs{"big": big, "small": "s"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, logLine, err := Report(tt.outputs)
			require.NoError(t, err)
			assert.LessOrEqual(t, len(msg), MaxTerminationMessage)
			assert.Equal(t, tt.wantInLog, logLine != "")

			log := "some user output\n" + logLine + "\n"
			readLog := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(log)), nil }
			got, err := Decode(msg, readLog)
			require.NoError(t, err)
			assert.Equal(t, tt.outputs, got)
		})
	}
}

func TestDecodeRejectsDamagedLogs(t *testing.T) {
	msg, logLine, err := Report(Outputs{"big": strings.Repeat("y", 2*MaxTerminationMessage)})
	require.NoError(t, err)
	tampered := strings.Replace(logLine, "eXl5", "eXl6", 1)
	tests := []struct {
		name    string
		log     string
		readErr error
		wantErr string
	}{
		{"line missing", "nothing here\n", nil, "has no outputs line"},
		{"line altered", tampered + "\n", nil, "does not match its digest"},
		{"log unreadable", "", errors.New("forbidden"), "read outputs from the pod log: forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(msg, func() (io.ReadCloser, error) {
				if tt.readErr != nil {
					return nil, tt.readErr
				}
				return io.NopCloser(strings.NewReader(tt.log)), nil
			})
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
	_, err = Decode("not json", nil)
	assert.ErrorContains(t, err, "not a Baton output report")
}

func TestReportFailure(t *testing.T) {
	msg := ReportFailure(errors.New("exec into pod db-0: container not found"))
	assert.Equal(t, "exec into pod db-0: container not found", FailureMessage(msg))

	long := ReportFailure(errors.New(strings.Repeat("e", 3*MaxTerminationMessage)))
	assert.LessOrEqual(t, len(long), MaxTerminationMessage)
	assert.NotEmpty(t, FailureMessage(long))

	assert.Empty(t, FailureMessage(`{"outputs":{"a":"b"}}`))
	assert.Empty(t, FailureMessage("plain text"))
}
