package functions

import (
	"context"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/batonhq/baton/runner"
	"github.com/batonhq/baton/runner/phase"
)

func TestCatalogCoversEveryFunction(t *testing.T) {
	want := append(Names(), runner.KubeTask, runner.MultiContainerRun)
	assert.ElementsMatch(t, want, slices.Collect(maps.Keys(Catalog)))
	for name, spec := range Catalog {
		assert.NotEmpty(t, spec.Required, "%s: every function has a required argument", name)
		for _, g := range spec.Together {
			for _, a := range g {
				assert.Contains(t, spec.Optional, a, "%s: together-argument %q is optional", name, a)
			}
		}
		all := slices.Concat(spec.Required, spec.Optional)
		for _, g := range spec.OneOf {
			all = append(all, g...)
		}
		assert.Len(t, spec.All(), len(all), "%s: an argument is listed twice", name)
	}
}

// supportedRE reads the list parseArgs prints for an unknown argument.
var supportedRE = regexp.MustCompile(`\(supported: (.*)\)$`)

// registry builds the functions against a server that does not exist: the
// argument checks run before any request.
func catalogRegistry(t *testing.T) runner.Registry {
	reg, err := New(&rest.Config{Host: "http://127.0.0.1:1", Timeout: time.Second})
	require.NoError(t, err)
	return reg
}

func runArgs(t *testing.T, reg runner.Registry, name string, args map[string]any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := reg[name].Run(ctx, phase.Spec{Function: name, Namespace: "ns", Args: args}, io.Discard, io.Discard)
	return err
}

// TestCatalogMatchesParsedArguments checks the catalogue against what each
// registered function really accepts: the list parseArgs reports for an
// unknown argument.
func TestCatalogMatchesParsedArguments(t *testing.T) {
	reg := catalogRegistry(t)
	for _, name := range Names() {
		err := runArgs(t, reg, name, map[string]any{"zzNotAnArgument": "x"})
		require.Error(t, err, name)
		m := supportedRE.FindStringSubmatch(err.Error())
		require.NotNil(t, m, "%s: %v", name, err)
		var supported []string
		for _, q := range regexp.MustCompile(`"[^"]*"`).FindAllString(m[1], -1) {
			s, _ := strconv.Unquote(q)
			supported = append(supported, s)
		}
		assert.ElementsMatch(t, supported, Catalog[name].All(), name)
	}
}

// validValue is a value each argument accepts, so that leaving one
// required argument out is the only fault.
func validValue(arg string) any {
	switch arg {
	case "command", "outputCommand", "backgroundCommand":
		return []any{"true"}
	case "replicas":
		return int64(1)
	case "timeout":
		return "1m"
	case "conditions":
		return map[string]any{"anyOf": []any{}}
	case "backupInfo":
		return `{"p":{"PodName":"p","BackupID":"i","BackupTag":"t"}}`
	case "restoreSize":
		return "1Gi"
	case "operation":
		return "delete"
	case "volumes":
		return map[string]any{"pvc": "/mnt"}
	case "includePath", "restorePath":
		return "/data"
	}
	return "x"
}

// TestCatalogRequiredArguments leaves out each required argument, and each
// one-of group, in turn: the function must refuse, naming it.
func TestCatalogRequiredArguments(t *testing.T) {
	reg := catalogRegistry(t)
	for _, name := range Names() {
		spec := Catalog[name]
		base := map[string]any{}
		for _, a := range spec.Required {
			base[a] = validValue(a)
		}
		for _, g := range spec.OneOf {
			base[g[0]] = validValue(g[0])
		}
		for _, missing := range spec.Required {
			args := maps.Clone(base)
			delete(args, missing)
			err := runArgs(t, reg, name, args)
			if assert.Error(t, err, "%s without %s", name, missing) {
				assert.Contains(t, err.Error(), strconv.Quote(missing), "%s without %s", name, missing)
			}
		}
		for _, g := range spec.OneOf {
			args := maps.Clone(base)
			delete(args, g[0])
			err := runArgs(t, reg, name, args)
			if assert.Error(t, err, "%s without any of %v", name, g) {
				assert.Contains(t, err.Error(), strconv.Quote(g[0]), "%s without any of %v", name, g)
			}
		}
	}
}
