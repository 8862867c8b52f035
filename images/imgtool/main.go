// Command imgtool writes container images as docker-archive tarballs without
// a Docker daemon or a registry, using go-containerregistry. The local
// cluster's images (kube-apiserver, etcd, CoreDNS, pause, ...) and Baton's
// own images are all made with it, then loaded with `ctr import` or
// `kind load image-archive`.
//
//	imgtool build --tag registry.k8s.io/pause:3.10.1 --out pause.tar \
//	    --file ./pause=/pause --entrypoint /pause
//
// Layers are written in the order given: every --layer-dir first (each a
// whole directory tree, e.g. a Debian rootfs), then one layer holding all
// --file entries. File timestamps are zeroed so the same inputs give the
// same image digest.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) < 2 || os.Args[1] != "build" {
		fmt.Fprintln(os.Stderr, "usage: imgtool build --tag REF --out FILE.tar [--layer-dir DIR]... [--file SRC=DST]... [--entrypoint ARG]... [--cmd ARG]... [--env K=V]... [--user U] [--workdir D] [--stop-signal SIG] [--label K=V]...")
		os.Exit(2)
	}
	var spec imageSpec
	var tags, layerDirs, files, env, labels multiFlag
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	fs.Var(&tags, "tag", "image reference to tag the archive with (repeatable)")
	fs.StringVar(&spec.out, "out", "", "docker-archive tarball to write")
	fs.Var(&layerDirs, "layer-dir", "directory tree to add as one layer (repeatable, in order)")
	fs.Var(&files, "file", "SRC=DST file or directory to add to the last layer (repeatable)")
	fs.Var((*multiFlag)(&spec.entrypoint), "entrypoint", "entrypoint argument (repeatable, in order)")
	fs.Var((*multiFlag)(&spec.cmd), "cmd", "cmd argument (repeatable, in order)")
	fs.Var(&env, "env", "K=V environment variable (repeatable)")
	fs.Var(&labels, "label", "K=V image label (repeatable)")
	fs.StringVar(&spec.user, "user", "", "user[:group] the image runs as")
	fs.StringVar(&spec.workdir, "workdir", "", "working directory")
	fs.StringVar(&spec.stopSignal, "stop-signal", "", "signal the runtime stops the container with (e.g. SIGINT); default SIGTERM")
	_ = fs.Parse(os.Args[2:])

	spec.tags = tags
	spec.layerDirs = layerDirs
	spec.env = env
	var err error
	if spec.files, err = parseFileMappings(files); err == nil {
		spec.labels, err = parseKeyValues(labels)
	}
	if err == nil {
		err = spec.validate()
	}
	if err == nil {
		err = build(spec)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "imgtool: %v\n", err)
		os.Exit(1)
	}
}
