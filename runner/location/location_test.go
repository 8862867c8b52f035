package location

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goodProfile = `{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://minio:9000","prefix":"backups"},
  "Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIA","Secret":"sekrit"}},"SkipSSLVerify":false}`

func TestParseProfile(t *testing.T) {
	tests := []struct {
		name, json, wantErr string
	}{
		{"valid", goodProfile, ""},
		{"typed AWS secret", `{"Location":{"type":"s3Compliant","bucket":"b"},"Credential":{"Type":"secret",
			"Secret":{"type":"secrets.kanister.io/aws","data":{"aws_access_key_id":"QUtJQQ==","aws_secret_access_key":"c2Vrcml0"}}}}`, ""},
		{"typed secret without keys", `{"Location":{"type":"s3Compliant","bucket":"b"},"Credential":{"Type":"secret","Secret":{"data":{}}}}`, "no credentials"},
		{"not json", `{"Location":`, "not valid JSON"},
		{"gcs is not implemented", `{"Location":{"type":"gcs","bucket":"b"},"Credential":{"KeyPair":{"ID":"a","Secret":"s"}}}`, `"gcs" is accepted by the API but not implemented yet`},
		{"azure is not implemented", `{"Location":{"type":"azure","bucket":"b"}}`, "not implemented yet"},
		{"unknown type", `{"Location":{"type":"ftp","bucket":"b"}}`, `"ftp" is unknown`},
		{"no bucket", `{"Location":{"type":"s3Compliant"},"Credential":{"KeyPair":{"ID":"a","Secret":"s"}}}`, "no bucket"},
		{"no credentials", `{"Location":{"type":"s3Compliant","bucket":"b"}}`, "no credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(tt.json))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.NotContains(t, err.Error(), "sekrit", "errors never quote credentials")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "b", p.Location.Bucket)
			assert.Equal(t, "AKIA", p.Credential.KeyPair.ID)
		})
	}
}

func TestSplitEndpoint(t *testing.T) {
	tests := []struct {
		endpoint, region, host string
		secure                 bool
	}{
		{"http://minio:9000", "", "minio:9000", false},
		{"https://s3.example.com", "", "s3.example.com", true},
		{"s3.example.com:9000", "", "s3.example.com:9000", true},
		{"", "", "s3.amazonaws.com", true},
		{"", "eu-west-1", "s3.eu-west-1.amazonaws.com", true},
	}
	for _, tt := range tests {
		host, secure, err := splitEndpoint(tt.endpoint, tt.region)
		require.NoError(t, err, tt.endpoint)
		assert.Equal(t, tt.host, host, tt.endpoint)
		assert.Equal(t, tt.secure, secure, tt.endpoint)
	}
	_, _, err := splitEndpoint("http://", "")
	assert.Error(t, err)
}

func TestKeyIsUnderThePrefix(t *testing.T) {
	p, err := ParseProfile([]byte(goodProfile))
	require.NoError(t, err)
	s, err := Open(p)
	require.NoError(t, err)
	assert.Equal(t, "backups/db/dump.sql", s.Key("/db/dump.sql"))
	assert.Equal(t, "backups/db/dump.sql", s.Key("db/dump.sql"))
}
