package main

import (
	"errors"
	"fmt"
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
	return errors.Join(errs...)
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
