// Package location moves phase data to and from a Profile's object store:
// the runner's `location push|pull|delete` commands (Kanister's `kando
// location`). Data is streamed: a push reads its input part by part and a
// pull writes as it receives, so a multi-GiB dump passes in bounded memory.
package location

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Location types a Profile may name (Kanister's spellings).
const (
	TypeS3Compliant = "s3Compliant"
	TypeGCS         = "gcs"
	TypeAzure       = "azure"
)

// partSize is the multipart chunk a push buffers at a time: the bound on a
// push's memory, and large enough that a 100 GiB stream stays under S3's
// 10,000-part limit.
const partSize = 16 << 20

// Profile is the part of a rendered Profile the object store needs, in the
// JSON shape `{{ toJson .Profile }}` produces (the same as Kanister's), so
// blueprints can pass it with --profile unchanged.
type Profile struct {
	Location struct {
		Type     string `json:"type"`
		Bucket   string `json:"bucket"`
		Endpoint string `json:"endpoint"`
		Prefix   string `json:"prefix"`
		Region   string `json:"region"`
	} `json:"Location"`
	Credential struct {
		Type    string   `json:"Type"`
		KeyPair *KeyPair `json:"KeyPair"`
		// Secret is a typed credential Secret (Kanister's
		// secrets.kanister.io/aws), as Kubernetes serialises it.
		Secret *struct {
			Type string            `json:"type"`
			Data map[string][]byte `json:"data"`
		} `json:"Secret"`
	} `json:"Credential"`
	SkipSSLVerify bool `json:"SkipSSLVerify"`
}

// KeyPair is an access key id and secret.
type KeyPair struct {
	ID     string `json:"ID"`
	Secret string `json:"Secret"`
}

// Keys of a typed AWS credential Secret (type secrets.kanister.io/aws).
const (
	AWSAccessKeyID     = "aws_access_key_id"
	AWSSecretAccessKey = "aws_secret_access_key"
)

// ParseProfile reads a Profile from JSON. A typed credential Secret is read
// into KeyPair, so callers look at KeyPair only. Errors never quote the
// input: it holds credentials.
func ParseProfile(raw []byte) (Profile, error) {
	var p Profile
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, errors.New("profile is not valid JSON (expected the output of {{ toJson .Profile }})")
	}
	if c := &p.Credential; c.KeyPair == nil && c.Secret != nil {
		c.KeyPair = &KeyPair{ID: string(c.Secret.Data[AWSAccessKeyID]), Secret: string(c.Secret.Data[AWSSecretAccessKey])}
	}
	return p, p.validate()
}

func (p Profile) validate() error {
	switch p.Location.Type {
	case TypeS3Compliant:
	case TypeGCS, TypeAzure:
		return fmt.Errorf("profile location type %q is accepted by the API but not implemented yet; use %s", p.Location.Type, TypeS3Compliant)
	default:
		return fmt.Errorf("profile location type %q is unknown", p.Location.Type)
	}
	if p.Location.Bucket == "" {
		return errors.New("profile names no bucket")
	}
	if p.Credential.KeyPair == nil || p.Credential.KeyPair.ID == "" || p.Credential.KeyPair.Secret == "" {
		return fmt.Errorf("profile has no credentials: a keyPair, or a Secret with %s and %s, is required", AWSAccessKeyID, AWSSecretAccessKey)
	}
	return nil
}

// Store is an object store under a Profile's bucket and prefix.
type Store struct {
	client *minio.Client
	bucket string
	prefix string
	// retry bounds the retries of calls that are safe to repeat.
	retry func() backoff.BackOff
}

// Open connects to the Profile's object store. Nothing is sent yet.
func Open(p Profile) (*Store, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	endpoint, secure, err := splitEndpoint(p.Location.Endpoint, p.Location.Region)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if p.SkipSSLVerify {
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the Profile asks for it explicitly
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(p.Credential.KeyPair.ID, p.Credential.KeyPair.Secret, ""),
		Secure:    secure,
		Region:    p.Location.Region,
		Transport: transport,
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", p.Location.Endpoint, err)
	}
	return &Store{
		client: client, bucket: p.Location.Bucket, prefix: p.Location.Prefix,
		retry: func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval = 200 * time.Millisecond
			b.MaxElapsedTime = 30 * time.Second
			return b
		},
	}, nil
}

// splitEndpoint turns a Profile endpoint ("http://minio:9000", or empty for
// AWS) into minio-go's host and TLS flag.
func splitEndpoint(endpoint, region string) (host string, secure bool, err error) {
	if endpoint == "" {
		if region == "" {
			return "s3.amazonaws.com", true, nil
		}
		return "s3." + region + ".amazonaws.com", true, nil
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", false, fmt.Errorf("profile endpoint %q is not a URL", endpoint)
	}
	return u.Host, u.Scheme == "https", nil
}

// Key is where a path lands in the bucket: under the Profile's prefix.
func (s *Store) Key(p string) string {
	return strings.TrimPrefix(path.Join(s.prefix, p), "/")
}

// Push streams r to path. The bucket is checked first (with retries) so a
// wrong bucket or credential fails before any input is consumed.
func (s *Store) Push(ctx context.Context, p string, r io.Reader) (int64, error) {
	if err := s.CheckBucket(ctx); err != nil {
		return 0, err
	}
	info, err := s.client.PutObject(ctx, s.bucket, s.Key(p), r, -1, minio.PutObjectOptions{PartSize: partSize})
	if err != nil {
		return 0, s.explain("push to", p, err)
	}
	return info.Size, nil
}

// Pull streams path to w. Retries happen only before the first byte is
// written, so w never receives data twice.
func (s *Store) Pull(ctx context.Context, p string, w io.Writer) (int64, error) {
	var obj *minio.Object
	err := backoff.Retry(func() error {
		o, err := s.client.GetObject(ctx, s.bucket, s.Key(p), minio.GetObjectOptions{})
		if err == nil {
			_, err = o.Stat()
		}
		if err != nil {
			if permanent(err) {
				return backoff.Permanent(err)
			}
			return err
		}
		obj = o
		return nil
	}, backoff.WithContext(s.retry(), ctx))
	if err != nil {
		return 0, s.explain("pull from", p, err)
	}
	defer obj.Close()
	n, err := io.Copy(w, obj)
	if err != nil {
		return n, s.explain("pull from", p, err)
	}
	return n, nil
}

// Delete removes path, or every object under it when it is a prefix.
// Deleting what is not there succeeds: delete phases are retried and must be
// idempotent.
func (s *Store) Delete(ctx context.Context, p string) error {
	key := s.Key(p)
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: key, Recursive: true}) {
		if obj.Err != nil {
			return s.explain("list", p, obj.Err)
		}
		if obj.Key != key && !strings.HasPrefix(obj.Key, strings.TrimSuffix(key, "/")+"/") {
			continue // a sibling sharing the prefix, e.g. key "a" and object "ab"
		}
		if err := s.removeWithRetry(ctx, obj.Key); err != nil {
			return s.explain("delete", p, err)
		}
	}
	return nil
}

func (s *Store) removeWithRetry(ctx context.Context, key string) error {
	return backoff.Retry(func() error {
		err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
		if err != nil && permanent(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(s.retry(), ctx))
}

// CheckBucket tells whether the bucket can be reached with the Profile's
// credentials, retrying transient errors for a bounded time.
func (s *Store) CheckBucket(ctx context.Context) error {
	var exists bool
	err := backoff.Retry(func() error {
		var err error
		exists, err = s.client.BucketExists(ctx, s.bucket)
		if err != nil && permanent(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(s.retry(), ctx))
	if err != nil {
		return s.explain("reach bucket of", "", err)
	}
	if !exists {
		return fmt.Errorf("bucket %q does not exist at %s", s.bucket, s.client.EndpointURL())
	}
	return nil
}

// permanent reports errors no retry will fix: bad credentials, missing
// buckets or objects, refused access.
func permanent(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket", "NoSuchKey", "InvalidBucketName":
		return true
	}
	return false
}

func (s *Store) explain(op, p string, err error) error {
	resp := minio.ToErrorResponse(err)
	where := fmt.Sprintf("s3://%s/%s", s.bucket, s.Key(p))
	switch resp.Code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fmt.Errorf("%s %s: the profile's credentials were refused (%s)", op, where, resp.Code)
	case "AccessDenied":
		return fmt.Errorf("%s %s: access denied", op, where)
	case "NoSuchBucket":
		return fmt.Errorf("%s %s: bucket %q does not exist", op, where, s.bucket)
	case "NoSuchKey":
		return fmt.Errorf("%s %s: no such object", op, where)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}
