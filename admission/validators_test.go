package admission

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

// Builders: a valid object, changed by the test case.

func kubeTask(name string) batonv1.BlueprintPhase {
	return batonv1.BlueprintPhase{Name: name, Func: "KubeTask", Args: batonv1.JSONMap{"image": "busybox", "command": []any{"sh", "-c", "true"}}}
}

func blueprint(change func(*batonv1.Blueprint)) *batonv1.Blueprint {
	bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: "bp", Namespace: "baton"},
		Actions: map[string]batonv1.BlueprintAction{"backup": {Phases: []batonv1.BlueprintPhase{kubeTask("dump"), kubeTask("push")}}}}
	if change != nil {
		change(bp)
	}
	return bp
}

// phase changes phase i of the backup action.
func phase(i int, change func(*batonv1.BlueprintPhase)) func(*batonv1.Blueprint) {
	return func(bp *batonv1.Blueprint) {
		a := bp.Actions["backup"]
		change(&a.Phases[i])
		bp.Actions["backup"] = a
	}
}

func actionSet(change func(*batonv1.ActionSet)) *batonv1.ActionSet {
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: "as", Namespace: "baton"},
		Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{
			Name: "backup", Blueprint: "bp",
			Object:  batonv1.ObjectReference{Kind: "StatefulSet", Name: "db", Namespace: "app"},
			Profile: &batonv1.ObjectReference{Name: "store"},
			Secrets: map[string]batonv1.ObjectReference{"key": {Name: "backup-key", Namespace: "baton"}},
		}}}}
	if change != nil {
		change(as)
	}
	return as
}

func profile(change func(*batonv1.Profile)) *batonv1.Profile {
	p := &batonv1.Profile{ObjectMeta: metav1.ObjectMeta{Name: "store", Namespace: "baton"},
		Location: batonv1.Location{Type: batonv1.LocationTypeS3Compliant, Bucket: "backups", Endpoint: "http://minio:9000"},
		Credential: batonv1.Credential{Type: batonv1.CredentialTypeKeyPair, KeyPair: &batonv1.KeyPair{
			IDField: "id", SecretField: "secret", Secret: batonv1.ObjectReference{Name: "s3", Namespace: "baton"}}}}
	if change != nil {
		change(p)
	}
	return p
}

// requireInvalid checks err is the API's Invalid error naming exactly the
// fields want, each in the message as "field: ...", and containing each of
// the message fragments.
func requireInvalid(t *testing.T, err error, want []string, fragments ...string) {
	t.Helper()
	require.Error(t, err)
	var status apierrors.APIStatus
	require.True(t, errors.As(err, &status), "not an API status error: %v", err)
	require.True(t, apierrors.IsInvalid(err), "not Invalid: %v", err)
	var fields []string
	for _, c := range status.Status().Details.Causes {
		fields = append(fields, c.Field)
	}
	assert.Equal(t, want, fields, "fields named by %v", err)
	for _, f := range want {
		assert.Contains(t, err.Error(), f+": ", "the message names the field")
	}
	for _, f := range fragments {
		assert.Contains(t, err.Error(), f)
	}
}

func TestBlueprintValidator(t *testing.T) {
	tests := []struct {
		name      string
		bp        *batonv1.Blueprint
		fields    []string // nil: admitted
		fragments []string
	}{
		{name: "good", bp: blueprint(nil)},
		{name: "unknown function", bp: blueprint(phase(1, func(p *batonv1.BlueprintPhase) { p.Func = "KubeTsak" })),
			fields: []string{"actions.backup.phases[1].func"}, fragments: []string{`unknown function "KubeTsak"`}},
		{name: "duplicate phase names", bp: blueprint(phase(1, func(p *batonv1.BlueprintPhase) { p.Name = "dump" })),
			fields: []string{"actions.backup.phases[1].name"}, fragments: []string{`phase name "dump" is also the name of phases[0]`}},
		{name: "bad template", bp: blueprint(phase(0, func(p *batonv1.BlueprintPhase) { p.Args["image"] = "{{ .Deployment.Name " })),
			fields: []string{"actions.backup.phases[0].args.image"}, fragments: []string{"template:"}},
		{name: "missing required argument", bp: blueprint(phase(1, func(p *batonv1.BlueprintPhase) { delete(p.Args, "command") })),
			fields: []string{"actions.backup.phases[1].args.command"}, fragments: []string{`KubeTask needs argument "command"`}},
		{name: "undeclared secret", bp: blueprint(phase(0, func(p *batonv1.BlueprintPhase) { p.Args["image"] = "{{ .Secrets.key.Data.x }}" })),
			fields: []string{"actions.backup.phases[0].args.image"}, fragments: []string{"secretNames does not declare"}},
		{name: "no actions", bp: blueprint(func(bp *batonv1.Blueprint) { bp.Actions = nil }),
			fields: []string{"actions"}},
		{name: "action without phases", bp: blueprint(func(bp *batonv1.Blueprint) { bp.Actions["restore"] = batonv1.BlueprintAction{} }),
			fields: []string{"actions.restore.phases"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, err := BlueprintValidator{}.ValidateCreate(context.Background(), tt.bp)
			assert.Empty(t, warnings)
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, tt.fields, tt.fragments...)
			assert.Contains(t, err.Error(), `Blueprint.baton.dev "bp" is invalid`)

			// The same change made by an update is refused too.
			_, err = BlueprintValidator{}.ValidateUpdate(context.Background(), blueprint(nil), tt.bp)
			requireInvalid(t, err, tt.fields, tt.fragments...)
		})
	}
}

// A Blueprint stored before the webhook existed can still be labelled (or
// have its finalizers removed): updates that leave the actions alone pass,
// with the problems as warnings.
func TestBlueprintUpdateLeavingActionsAlone(t *testing.T) {
	bad := blueprint(phase(0, func(p *batonv1.BlueprintPhase) { p.Func = "Nope" }))
	labelled := bad.DeepCopy()
	labelled.Labels = map[string]string{"team": "db"}
	warnings, err := BlueprintValidator{}.ValidateUpdate(context.Background(), bad, labelled)
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], `actions.backup.phases[0].func: Invalid value: unknown function "Nope"`)
}

func TestActionSetValidatorCreate(t *testing.T) {
	action := func(change func(*batonv1.ActionSpec)) func(*batonv1.ActionSet) {
		return func(as *batonv1.ActionSet) { change(&as.Spec.Actions[0]) }
	}
	tests := []struct {
		name      string
		as        *batonv1.ActionSet
		fields    []string // nil: admitted
		fragments []string
	}{
		{name: "good", as: actionSet(nil)},
		{name: "a Namespace object needs no namespace", as: actionSet(action(func(a *batonv1.ActionSpec) {
			a.Object = batonv1.ObjectReference{Kind: "Namespace", Name: "app"}
		}))},
		{name: "a kind the cluster knows is not checked for a namespace", as: actionSet(action(func(a *batonv1.ActionSpec) {
			a.Object = batonv1.ObjectReference{APIVersion: "postgresql.cnpg.io/v1", Kind: "Cluster", Name: "db"}
		}))},
		{name: "a Kanister resource instead of a kind", as: actionSet(action(func(a *batonv1.ActionSpec) {
			a.Object = batonv1.ObjectReference{Resource: "deployments", Name: "web", Namespace: "app"}
		}))},
		{name: "a positive timeout", as: actionSet(func(as *batonv1.ActionSet) { as.Spec.Timeout = &metav1.Duration{Duration: time.Hour} })},
		{name: "a positive phase timeout", as: actionSet(func(as *batonv1.ActionSet) {
			as.Spec.PhaseTimeout = &metav1.Duration{Duration: 10 * time.Minute}
		})},
		{name: "no actions", as: actionSet(func(as *batonv1.ActionSet) { as.Spec.Actions = nil }),
			fields: []string{"spec.actions"}, fragments: []string{"at least one action"}},
		{name: "no name nor blueprint", as: actionSet(action(func(a *batonv1.ActionSpec) { a.Name, a.Blueprint = "", "" })),
			fields: []string{"spec.actions[0].name", "spec.actions[0].blueprint"}},
		{name: "object names nothing", as: actionSet(action(func(a *batonv1.ActionSpec) { a.Object = batonv1.ObjectReference{} })),
			fields: []string{"spec.actions[0].object.kind", "spec.actions[0].object.name"}},
		{name: "namespaced kind without namespace", as: actionSet(action(func(a *batonv1.ActionSpec) {
			a.Object = batonv1.ObjectReference{Kind: "deployment", Name: "web"}
		})), fields: []string{"spec.actions[0].object.namespace"}, fragments: []string{"deployment is namespaced"}},
		{name: "bad apiVersion", as: actionSet(action(func(a *batonv1.ActionSpec) { a.Object.APIVersion = "apps/v1/x" })),
			fields: []string{"spec.actions[0].object.apiVersion"}},
		{name: "profile without name", as: actionSet(action(func(a *batonv1.ActionSpec) { a.Profile = &batonv1.ObjectReference{Namespace: "baton"} })),
			fields: []string{"spec.actions[0].profile.name"}},
		{name: "secret and configMap references without name or namespace", as: actionSet(action(func(a *batonv1.ActionSpec) {
			a.Secrets = map[string]batonv1.ObjectReference{"key": {Namespace: "baton"}}
			a.ConfigMaps = map[string]batonv1.ObjectReference{"settings": {Name: "cm"}}
		})), fields: []string{"spec.actions[0].secrets[key].name", "spec.actions[0].configMaps[settings].namespace"}},
		{name: "pod labels", as: actionSet(action(func(a *batonv1.ActionSpec) {
			a.PodLabels = map[string]string{"not a key": "v", "ok": "not a value!"}
		})), fields: []string{"spec.actions[0].podLabels", "spec.actions[0].podLabels[ok]"}},
		{name: "zero timeout", as: actionSet(func(as *batonv1.ActionSet) { as.Spec.Timeout = &metav1.Duration{} }),
			fields: []string{"spec.timeout"}, fragments: []string{"must be positive"}},
		{name: "zero phase timeout", as: actionSet(func(as *batonv1.ActionSet) { as.Spec.PhaseTimeout = &metav1.Duration{} }),
			fields: []string{"spec.phaseTimeout"}, fragments: []string{"must be positive"}},
		{name: "second action is checked too", as: actionSet(func(as *batonv1.ActionSet) {
			as.Spec.Actions = append(as.Spec.Actions, batonv1.ActionSpec{Name: "restore", Blueprint: "bp",
				Object: batonv1.ObjectReference{Kind: "StatefulSet", Name: "db"}})
		}), fields: []string{"spec.actions[1].object.namespace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ActionSetValidator{}.ValidateCreate(context.Background(), tt.as)
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, tt.fields, tt.fragments...)
			assert.Contains(t, err.Error(), `ActionSet.baton.dev "as" is invalid`)
		})
	}
}

func TestActionSetValidatorUpdate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*batonv1.ActionSet)
		fields []string // nil: admitted
	}{
		{name: "cancel", change: func(as *batonv1.ActionSet) { as.Spec.Cancel = &batonv1.CancelRequest{Reason: "maintenance"} }},
		{name: "ttl", change: func(as *batonv1.ActionSet) { as.Spec.TTLSecondsAfterFinished = ptr.To[int32](60) }},
		{name: "phase timeout", change: func(as *batonv1.ActionSet) { as.Spec.PhaseTimeout = &metav1.Duration{Duration: time.Hour} }},
		{name: "labels", change: func(as *batonv1.ActionSet) { as.Labels = map[string]string{"a": "b"} }},
		{name: "status is not looked at", change: func(as *batonv1.ActionSet) { as.Status.State = batonv1.StateFailed }},
		{name: "an action's object", change: func(as *batonv1.ActionSet) { as.Spec.Actions[0].Object.Name = "other" },
			fields: []string{"spec.actions"}},
		{name: "another action", change: func(as *batonv1.ActionSet) {
			as.Spec.Actions = append(as.Spec.Actions, as.Spec.Actions[0])
		}, fields: []string{"spec.actions"}},
		{name: "options", change: func(as *batonv1.ActionSet) { as.Spec.Actions[0].Options = map[string]string{"a": "b"} },
			fields: []string{"spec.actions"}},
		{name: "negative timeout", change: func(as *batonv1.ActionSet) { as.Spec.Timeout = &metav1.Duration{Duration: -time.Second} },
			fields: []string{"spec.timeout"}},
		{name: "negative phase timeout", change: func(as *batonv1.ActionSet) {
			as.Spec.PhaseTimeout = &metav1.Duration{Duration: -time.Second}
		}, fields: []string{"spec.phaseTimeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := actionSet(nil)
			updated := old.DeepCopy()
			tt.change(updated)
			_, err := ActionSetValidator{}.ValidateUpdate(context.Background(), old, updated)
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, tt.fields)
		})
	}
	// An ActionSet stored before the webhook existed, invalid, can still be
	// cancelled.
	old := actionSet(func(as *batonv1.ActionSet) { as.Spec.Actions[0].Blueprint = "" })
	cancelled := old.DeepCopy()
	cancelled.Spec.Cancel = &batonv1.CancelRequest{}
	_, err := ActionSetValidator{}.ValidateUpdate(context.Background(), old, cancelled)
	require.NoError(t, err)
	_, err = ActionSetValidator{}.ValidateUpdate(context.Background(), old, actionSet(nil))
	requireInvalid(t, err, []string{"spec.actions"}, "immutable")
}

func TestProfileValidator(t *testing.T) {
	tests := []struct {
		name      string
		p         *batonv1.Profile
		fields    []string // nil: admitted
		fragments []string
		warning   string
	}{
		{name: "good", p: profile(nil)},
		{name: "typed secret", p: profile(func(p *batonv1.Profile) {
			p.Credential = batonv1.Credential{Type: batonv1.CredentialTypeSecret, Secret: &batonv1.ObjectReference{Name: "aws", Namespace: "baton"}}
		})},
		{name: "endpoint without scheme", p: profile(func(p *batonv1.Profile) { p.Location.Endpoint = "s3.example.com" })},
		{name: "gcs is accepted with a warning", p: profile(func(p *batonv1.Profile) { p.Location = batonv1.Location{Type: batonv1.LocationTypeGCS} }),
			warning: "not implemented by Baton"},
		{name: "no bucket", p: profile(func(p *batonv1.Profile) { p.Location.Bucket = "" }),
			fields: []string{"location.bucket"}},
		{name: "unknown location type", p: profile(func(p *batonv1.Profile) { p.Location.Type = "s3" }),
			fields: []string{"location.type"}, fragments: []string{`Unsupported value: "s3"`}},
		{name: "endpoint not a URL", p: profile(func(p *batonv1.Profile) { p.Location.Endpoint = "http://" }),
			fields: []string{"location.endpoint"}},
		{name: "endpoint scheme", p: profile(func(p *batonv1.Profile) { p.Location.Endpoint = "ftp://minio:9000" }),
			fields: []string{"location.endpoint"}, fragments: []string{"http or https"}},
		{name: "no credential", p: profile(func(p *batonv1.Profile) { p.Credential = batonv1.Credential{} }),
			fields: []string{"credential.type"}},
		{name: "credential secret without name or namespace", p: profile(func(p *batonv1.Profile) {
			p.Credential.KeyPair.Secret = batonv1.ObjectReference{}
		}), fields: []string{"credential.keyPair.secret.name", "credential.keyPair.secret.namespace"}},
		{name: "key pair fields", p: profile(func(p *batonv1.Profile) { p.Credential.KeyPair.IDField, p.Credential.KeyPair.SecretField = "", "" }),
			fields: []string{"credential.keyPair.idField", "credential.keyPair.secretField"}},
		{name: "type without its variant, and another variant", p: profile(func(p *batonv1.Profile) { p.Credential.Type = batonv1.CredentialTypeSecret }),
			fields: []string{"credential.keyPair", "credential.secret"}, fragments: []string{"must not be set with credential.type secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, err := ProfileValidator{}.ValidateCreate(context.Background(), tt.p)
			if tt.warning != "" {
				require.Len(t, warnings, 1)
				assert.Contains(t, warnings[0], tt.warning)
			} else {
				assert.Empty(t, warnings)
			}
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, tt.fields, tt.fragments...)
			assert.Contains(t, err.Error(), `Profile.baton.dev "store" is invalid`)
			_, err = ProfileValidator{}.ValidateUpdate(context.Background(), profile(nil), tt.p)
			requireInvalid(t, err, tt.fields, tt.fragments...)
		})
	}
	bad := profile(func(p *batonv1.Profile) { p.Location.Bucket = "" })
	labelled := bad.DeepCopy()
	labelled.Labels = map[string]string{"a": "b"}
	warnings, err := ProfileValidator{}.ValidateUpdate(context.Background(), bad, labelled)
	require.NoError(t, err)
	assert.True(t, len(warnings) == 1 && strings.Contains(warnings[0], "location.bucket"), "warnings %q", warnings)
}
