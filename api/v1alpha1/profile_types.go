package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Profile is where actions store what they produce (an object-store
// location) and the credentials to reach it. Like Kanister's, a Profile has
// no spec: location, credential and skipSSLVerify sit at the top level.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=prof,categories=baton
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=".location.type"
// +kubebuilder:printcolumn:name="Bucket",type=string,JSONPath=".location.bucket"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
type Profile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Location is the object store.
	// +optional
	Location Location `json:"location,omitzero"`
	// Credential says how to authenticate to the location.
	// +optional
	Credential Credential `json:"credential,omitzero"`
	// SkipSSLVerify turns off TLS certificate verification when talking to
	// the location.
	// +optional
	SkipSSLVerify bool `json:"skipSSLVerify"`
}

// LocationType is the kind of object store a Location is.
// +kubebuilder:validation:Enum=gcs;s3Compliant;azure;kopia
type LocationType string

const (
	// LocationTypeGCS is Google Cloud Storage.
	LocationTypeGCS LocationType = "gcs"
	// LocationTypeS3Compliant is Amazon S3 or any store speaking its API.
	LocationTypeS3Compliant LocationType = "s3Compliant"
	// LocationTypeAzure is Azure Blob Storage.
	LocationTypeAzure LocationType = "azure"
	// LocationTypeKopia is a Kopia repository server.
	LocationTypeKopia LocationType = "kopia"
)

// Location is an object-store bucket and the path prefix within it.
//
// +kubebuilder:validation:XValidation:rule="self.type != 's3Compliant' || (has(self.bucket) && size(self.bucket) >= 3)",message="an s3Compliant location needs a bucket (S3 bucket names have at least 3 characters)"
type Location struct {
	// Type of object store.
	Type LocationType `json:"type"`
	// Bucket (or container) name.
	// +optional
	Bucket string `json:"bucket,omitempty"`
	// Endpoint of the store, for stores other than the provider's default
	// (e.g. a MinIO URL).
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// Prefix is prepended to the path of every object written.
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// Region of the bucket.
	// +optional
	Region string `json:"region,omitempty"`
}

// CredentialType says which of a Credential's variants is set.
// +kubebuilder:validation:Enum=keyPair;secret;kopia
type CredentialType string

const (
	// CredentialTypeKeyPair: an ID and a secret key read from two fields of a
	// Secret (keyPair).
	CredentialTypeKeyPair CredentialType = "keyPair"
	// CredentialTypeSecret: a whole Secret in a provider-specific format
	// (secret).
	CredentialTypeSecret CredentialType = "secret"
	// CredentialTypeKopia: credentials for a Kopia repository server
	// (kopiaServerSecret).
	CredentialTypeKopia CredentialType = "kopia"
)

// Credential is how to authenticate to a Location. Type selects the variant,
// and the field it selects must be set.
//
// +kubebuilder:validation:XValidation:rule="self.type != 'keyPair' || has(self.keyPair)",message="a keyPair credential needs keyPair"
// +kubebuilder:validation:XValidation:rule="self.type != 'secret' || has(self.secret)",message="a secret credential needs secret"
// +kubebuilder:validation:XValidation:rule="self.type != 'kopia' || has(self.kopiaServerSecret)",message="a kopia credential needs kopiaServerSecret"
type Credential struct {
	// Type of credential.
	Type CredentialType `json:"type"`
	// KeyPair is set for type keyPair.
	// +optional
	KeyPair *KeyPair `json:"keyPair,omitempty"`
	// Secret is set for type secret.
	// +optional
	Secret *ObjectReference `json:"secret,omitempty"`
	// KopiaServerSecret is set for type kopia.
	// +optional
	KopiaServerSecret *KopiaServerSecret `json:"kopiaServerSecret,omitempty"`
}

// KeyPair reads an access key ID and a secret key from two fields of a
// Secret (for GCS: the project ID and the service-account key; for Azure:
// the storage account and its key).
type KeyPair struct {
	// IDField is the Secret's key holding the access key ID.
	// +optional
	IDField string `json:"idField,omitempty"`
	// SecretField is the Secret's key holding the secret key.
	// +optional
	SecretField string `json:"secretField,omitempty"`
	// Secret holding both fields.
	// +optional
	Secret ObjectReference `json:"secret,omitzero"`
}

// KopiaServerSecret is how to connect to a Kopia repository server.
// Kanister's schema keeps unknown fields here, and so does Baton's.
//
// +kubebuilder:pruning:PreserveUnknownFields
type KopiaServerSecret struct {
	// Username to connect as.
	// +optional
	Username string `json:"username,omitempty"`
	// Hostname to connect as.
	// +optional
	Hostname string `json:"hostname,omitempty"`
	// UserPassphrase is the user's password.
	// +optional
	UserPassphrase *KopiaServerSecretRef `json:"userPassphrase,omitempty"`
	// TLSCert is the server's certificate.
	// +optional
	TLSCert *KopiaServerSecretRef `json:"tlsCert,omitempty"`
	// ConnectOptions are numeric options for the connection.
	// +optional
	ConnectOptions map[string]int `json:"connectOptions,omitempty"`
}

// KopiaServerSecretRef is one key of a Secret.
//
// +kubebuilder:pruning:PreserveUnknownFields
type KopiaServerSecretRef struct {
	// Key within the Secret.
	// +optional
	Key string `json:"key,omitempty"`
	// Secret holding the key.
	// +optional
	Secret *ObjectReference `json:"secret,omitempty"`
}

// ProfileList is a list of Profiles.
//
// +kubebuilder:object:root=true
type ProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Profile `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Profile{}, &ProfileList{})
}
