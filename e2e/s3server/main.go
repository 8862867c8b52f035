// Command s3server runs a throw-away S3 server (MinIO, a separate AGPL
// process) for the demo and benchmarks: on one address of this machine,
// with credentials and a bucket made up for this run, written as shell
// variables to --env-file. It stops MinIO when it is signalled.
//
//	s3server --minio BIN --host 172.18.0.1 --dir DIR --env-file FILE
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/batonhq/baton/internal/testenv"
)

func main() {
	minioBin := flag.String("minio", os.Getenv(testenv.MinIOEnv), "MinIO server binary")
	host := flag.String("host", "127.0.0.1", "address to listen on (only this one)")
	port := flag.Int("port", 0, "port to listen on (0: a free one)")
	dir := flag.String("dir", "", "data directory")
	envFile := flag.String("env-file", "", "where to write S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET")
	flag.Parse()
	if *minioBin == "" || *dir == "" || *envFile == "" {
		fmt.Fprintln(os.Stderr, "s3server: --minio (or BATON_MINIO), --dir and --env-file are required")
		os.Exit(2)
	}
	if err := run(*minioBin, *host, *port, *dir, *envFile); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
}

func run(bin, host string, port int, dir, envFile string) error {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	s3, err := testenv.RunS3(bin, host, port, dir)
	if s3 != nil {
		defer s3.Stop()
	}
	if err != nil {
		return err
	}
	env := fmt.Sprintf("S3_ENDPOINT=%q\nS3_ACCESS_KEY=%q\nS3_SECRET_KEY=%q\nS3_BUCKET=%q\n", s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Bucket)
	// Written whole under another name, then renamed: a reader polling for
	// the file never sees half of it.
	if err := os.WriteFile(envFile+".tmp", []byte(env), 0o600); err != nil {
		return err
	}
	if err := os.Rename(envFile+".tmp", envFile); err != nil {
		return err
	}
	<-signals
	return nil
}
