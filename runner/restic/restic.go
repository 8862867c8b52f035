// Package restic drives the restic CLI for the data functions (BackupData,
// RestoreData, DeleteData, ...): one repository per backupArtifactPrefix,
// addressed the way Kanister addresses it, so the same blueprint values
// point at the same repository:
//
//	s3:<endpoint, default s3.amazonaws.com>/<bucket>/<backupArtifactPrefix>
//
// where the bucket is prepended unless the prefix already starts with it
// (the Profile's own prefix is not used, as in Kanister).
//
// Credentials (the Profile's key pair and the encryption key) reach restic
// only through its process environment: never its arguments, which any
// process on the node may read, and never a log line; restic's stderr is
// scrubbed of them before it is logged or quoted in an error.
//
// Bounded failure. restic retries a failing object store for many minutes
// before giving up. Two guards make a dead store fail quickly:
//
//   - before restic starts, the bucket is checked with the object-store
//     client (runner/location), whose retries stop after 30 s: a wrong
//     endpoint, bucket or credential fails there with a clear message;
//   - while restic runs, a watchdog reads its stderr: once restic reports a
//     request "returned error, retrying" and nothing has moved since (no
//     input consumed, no output produced), it is killed after StallTimeout
//     (45 s by default). A store that answers only intermittently but still
//     lets data through is not killed; a store that stops answering is.
//
// Every call also ends with its context, which carries the phase's deadline.
package restic

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/batonhq/baton/runner/location"
)

// BinaryEnv names the variable that may point at the restic binary; by
// default restic is looked up on PATH (/usr/local/bin/restic in the runner
// image).
const BinaryEnv = "BATON_RESTIC"

// DefaultStallTimeout is how long restic may keep retrying a store that
// lets nothing through before it is killed.
const DefaultStallTimeout = 45 * time.Second

// awsEndpoint is the endpoint restic uses when the Profile names none
// (Kanister's default too).
const awsEndpoint = "s3.amazonaws.com"

// Config locates one repository.
type Config struct {
	Profile location.Profile
	// ArtifactPrefix is the blueprint's backupArtifactPrefix.
	ArtifactPrefix string
	// Password is the blueprint's encryptionKey. Required: unlike Kanister,
	// Baton has no default key (a default key is no encryption).
	Password string
	// InsecureTLS skips TLS verification (insecureTLS argument, or the
	// Profile's SkipSSLVerify).
	InsecureTLS bool
	// Binary is the restic executable; empty means $BATON_RESTIC, else
	// "restic" on PATH.
	Binary string
	// StallTimeout overrides DefaultStallTimeout (tests).
	StallTimeout time.Duration
}

// Repo is a restic repository and the means to run restic against it.
type Repo struct {
	url      string
	location string // bucket/prefix, the repository's place in the store
	env      []string
	secrets  []string
	args     []string
	binary   string
	stall    time.Duration
	store    *location.Store
}

// New checks cfg and prepares the repository. Nothing is contacted yet.
func New(cfg Config) (*Repo, error) {
	if cfg.Password == "" {
		return nil, errors.New("encryptionKey is required (Baton has no default encryption key)")
	}
	prefix := strings.Trim(cfg.ArtifactPrefix, "/")
	if prefix == "" {
		return nil, errors.New("backupArtifactPrefix must not be empty")
	}
	store, err := location.Open(cfg.Profile)
	if err != nil {
		return nil, err
	}
	loc := ResolvePrefix(prefix, cfg.Profile.Location.Bucket)
	endpoint := strings.TrimRight(cfg.Profile.Location.Endpoint, "/")
	if endpoint == "" {
		endpoint = awsEndpoint
	}
	kp := cfg.Profile.Credential.KeyPair
	r := &Repo{
		url:      "s3:" + endpoint + "/" + loc,
		location: loc,
		binary:   cfg.Binary,
		stall:    cfg.StallTimeout,
		store:    store,
		secrets:  []string{kp.ID, kp.Secret, cfg.Password},
		// --no-cache: every phase pod starts empty, a cache would only cost
		// writes to the container's filesystem.
		args: []string{"--no-cache"},
		env: []string{
			"AWS_ACCESS_KEY_ID=" + kp.ID,
			"AWS_SECRET_ACCESS_KEY=" + kp.Secret,
			"RESTIC_PASSWORD=" + cfg.Password,
		},
	}
	r.env = append(r.env, "RESTIC_REPOSITORY="+r.url)
	if region := cfg.Profile.Location.Region; region != "" {
		r.env = append(r.env, "AWS_DEFAULT_REGION="+region)
	}
	if cfg.InsecureTLS || cfg.Profile.SkipSSLVerify {
		r.args = append(r.args, "--insecure-tls")
	}
	if r.binary == "" {
		r.binary = os.Getenv(BinaryEnv)
	}
	if r.binary == "" {
		r.binary = "restic"
	}
	if r.stall <= 0 {
		r.stall = DefaultStallTimeout
	}
	return r, nil
}

// ResolvePrefix is where a backupArtifactPrefix lives in the store:
// bucket/prefix, unless the prefix already starts with the bucket (Kanister's
// rule, so that CopyVolumeData's backupArtifactLocation output can be passed
// back as a prefix).
func ResolvePrefix(prefix, bucket string) string {
	prefix = strings.Trim(prefix, "/")
	if first, _, _ := strings.Cut(prefix, "/"); first == bucket {
		return prefix
	}
	return path.Join(bucket, prefix)
}

// URL is the repository as restic names it (no credentials in it).
func (r *Repo) URL() string { return r.url }

// Location is bucket/prefix, the repository's place in the object store.
func (r *Repo) Location() string { return r.location }

// scrub replaces every credential in s.
func (r *Repo) scrub(s string) string {
	for _, secret := range r.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	return s
}

// FormatBytes formats n the way restic prints sizes ("1.500 MiB"), which
// is how Kanister's size outputs read.
func FormatBytes(n uint64) string {
	f := float64(n)
	switch {
	case n >= 1<<40:
		return fmt.Sprintf("%.3f TiB", f/(1<<40))
	case n >= 1<<30:
		return fmt.Sprintf("%.3f GiB", f/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.3f MiB", f/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.3f KiB", f/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
