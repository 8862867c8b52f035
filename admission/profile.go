package admission

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	webhookadmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// ProfileValidator refuses Profiles no ActionSet could use: an s3Compliant
// location without a bucket or with an endpoint that is not a URL, a
// credential whose Secret is not named, or a credential with a variant its
// type does not select. Location types the API accepts for Kanister's sake
// but Baton does not implement (gcs, azure, kopia) are let through with a
// warning. Whether the Secret exists and the bucket answers is checked when
// an ActionSet uses the Profile (and by `batonctl validate profile`).
//
// The CRD's own rules (location.type and credential.type are enums; the
// variant credential.type names must be set; an s3Compliant bucket) are
// enforced by the API server before the webhook is called; the bucket is
// checked here too so that this validator is whole on its own.
type ProfileValidator struct{}

var _ webhookadmission.Validator[*batonv1.Profile] = ProfileValidator{}

// ValidateCreate checks the Profile.
func (ProfileValidator) ValidateCreate(_ context.Context, p *batonv1.Profile) (webhookadmission.Warnings, error) {
	errs, warnings := profileErrors(p)
	return warnings, invalid("Profile", p.Name, errs)
}

// ValidateUpdate checks the changed Profile; an update that leaves its
// location and credential as they were is let through (see unchanged).
func (ProfileValidator) ValidateUpdate(_ context.Context, old, p *batonv1.Profile) (webhookadmission.Warnings, error) {
	errs, warnings := profileErrors(p)
	if unchanged(old.Location, p.Location) && unchanged(old.Credential, p.Credential) {
		return append(warnings, stillInvalid(errs)...), nil
	}
	return warnings, invalid("Profile", p.Name, errs)
}

// ValidateDelete lets every deletion through.
func (ProfileValidator) ValidateDelete(context.Context, *batonv1.Profile) (webhookadmission.Warnings, error) {
	return nil, nil
}

func profileErrors(p *batonv1.Profile) (field.ErrorList, webhookadmission.Warnings) {
	var errs field.ErrorList
	var warnings webhookadmission.Warnings
	loc := field.NewPath("location")
	switch t := p.Location.Type; t {
	case batonv1.LocationTypeS3Compliant:
		if p.Location.Bucket == "" {
			errs = append(errs, field.Required(loc.Child("bucket"), "an s3Compliant location needs a bucket"))
		}
		if msg := endpointProblem(p.Location.Endpoint); msg != "" {
			errs = append(errs, field.Invalid(loc.Child("endpoint"), p.Location.Endpoint, msg))
		}
		// The runner signs every request: there is no anonymous access.
		if p.Credential.Type == "" {
			errs = append(errs, field.Required(field.NewPath("credential", "type"), "an s3Compliant location needs a credential: keyPair or secret"))
		}
	case batonv1.LocationTypeGCS, batonv1.LocationTypeAzure, batonv1.LocationTypeKopia:
		warnings = append(warnings, fmt.Sprintf("location.type %s is accepted for compatibility with Kanister but not implemented by Baton: ActionSets using this Profile will fail (use %s)",
			t, batonv1.LocationTypeS3Compliant))
	case "":
		errs = append(errs, field.Required(loc.Child("type"), "the kind of object store, e.g. "+string(batonv1.LocationTypeS3Compliant)))
	default:
		errs = append(errs, field.NotSupported(loc.Child("type"), t, []batonv1.LocationType{
			batonv1.LocationTypeS3Compliant, batonv1.LocationTypeGCS, batonv1.LocationTypeAzure, batonv1.LocationTypeKopia}))
	}
	return append(errs, credentialErrors(p.Credential)...), warnings
}

// endpointProblem checks an endpoint the way the runner reads it
// (runner/location): a URL with a host, https:// when no scheme is given.
func endpointProblem(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil || u.Host == "":
		return "is not a URL: want e.g. https://s3.example.com or http://minio:9000"
	case u.Scheme != "http" && u.Scheme != "https":
		return "the scheme must be http or https"
	}
	return ""
}

func credentialErrors(c batonv1.Credential) field.ErrorList {
	path := field.NewPath("credential")
	var errs field.ErrorList
	// The controller reads whichever variant is set (keyPair first), not
	// the one type names: two set would be read against the type's word.
	set := map[batonv1.CredentialType]bool{
		batonv1.CredentialTypeKeyPair: c.KeyPair != nil,
		batonv1.CredentialTypeSecret:  c.Secret != nil,
		batonv1.CredentialTypeKopia:   c.KopiaServerSecret != nil,
	}
	fields := map[batonv1.CredentialType]string{
		batonv1.CredentialTypeKeyPair: "keyPair", batonv1.CredentialTypeSecret: "secret", batonv1.CredentialTypeKopia: "kopiaServerSecret"}
	for _, t := range []batonv1.CredentialType{batonv1.CredentialTypeKeyPair, batonv1.CredentialTypeSecret, batonv1.CredentialTypeKopia} {
		switch {
		case t == c.Type && !set[t]:
			errs = append(errs, field.Required(path.Child(fields[t]), fmt.Sprintf("credential.type %s needs it", t)))
		case t != c.Type && set[t]:
			errs = append(errs, field.Forbidden(path.Child(fields[t]), fmt.Sprintf("must not be set with credential.type %s", c.Type)))
		}
	}
	if kp := c.KeyPair; kp != nil {
		p := path.Child("keyPair")
		if kp.IDField == "" {
			errs = append(errs, field.Required(p.Child("idField"), "the Secret's key holding the access key ID"))
		}
		if kp.SecretField == "" {
			errs = append(errs, field.Required(p.Child("secretField"), "the Secret's key holding the secret key"))
		}
		errs = append(errs, namespacedRefErrors(p.Child("secret"), "Secret", kp.Secret)...)
	}
	if c.Secret != nil {
		errs = append(errs, namespacedRefErrors(path.Child("secret"), "Secret", *c.Secret)...)
	}
	return errs
}
