package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batonhq/baton/runner/functions"
)

func TestEveryFunctionIsInTheReference(t *testing.T) {
	var b strings.Builder
	require.NoError(t, write(&b, functions.Catalog))
	for name := range functions.Catalog {
		assert.Contains(t, b.String(), "| `"+name+"` |")
	}
	assert.Contains(t, b.String(), "| `RestoreData` | restore a snapshot into the volumes of a pod, or given PVCs, through a data pod | `namespace`, `backupArtifactPrefix`, `encryptionKey`, one of `backupIdentifier` / `backupTag`, one of `pod` / `volumes` |")
}
