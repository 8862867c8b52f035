package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// fileMapping is one --file SRC=DST: a host path and where it lands in the image.
type fileMapping struct {
	src, dst string
}

type imageSpec struct {
	tags       []string
	out        string
	layerDirs  []string
	files      []fileMapping
	entrypoint []string
	cmd        []string
	env        []string
	labels     map[string]string
	user       string
	workdir    string
	stopSignal string
}

func (s imageSpec) validate() error {
	var errs []error
	if len(s.tags) == 0 {
		errs = append(errs, errors.New("at least one --tag is required"))
	}
	if s.out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	if len(s.layerDirs) == 0 && len(s.files) == 0 {
		errs = append(errs, errors.New("nothing to put in the image: give --layer-dir or --file"))
	}
	for _, e := range s.env {
		if !strings.Contains(e, "=") {
			errs = append(errs, fmt.Errorf("--env %q: want K=V", e))
		}
	}
	if s.stopSignal != "" && !validStopSignal(s.stopSignal) {
		errs = append(errs, fmt.Errorf("--stop-signal %q: want a signal name like SIGINT or a number", s.stopSignal))
	}
	return errors.Join(errs...)
}

// validStopSignal accepts what runtimes parse in an image's StopSignal: a
// name with or without the SIG prefix (SIGINT, INT, SIGRTMIN+3) or a number.
func validStopSignal(sig string) bool {
	if n, err := strconv.Atoi(sig); err == nil {
		return n > 0 && n < 65
	}
	name := strings.TrimPrefix(strings.ToUpper(sig), "SIG")
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-') {
			return false
		}
	}
	return true
}

func parseFileMappings(values []string) ([]fileMapping, error) {
	out := make([]fileMapping, 0, len(values))
	for _, v := range values {
		src, dst, ok := strings.Cut(v, "=")
		if !ok || src == "" || !strings.HasPrefix(dst, "/") {
			return nil, fmt.Errorf("--file %q: want SRC=/absolute/destination", v)
		}
		out = append(out, fileMapping{src: src, dst: dst})
	}
	return out, nil
}

func parseKeyValues(values []string) (map[string]string, error) {
	out := make(map[string]string, len(values))
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want K=V", v)
		}
		out[k] = val
	}
	return out, nil
}
