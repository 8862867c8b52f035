package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
)

func actionSetAt(name, resourceVersion string) *batonv1.ActionSet {
	return &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Namespace: "baton", Name: name, ResourceVersion: resourceVersion}}
}

func TestWrittenVersions(t *testing.T) {
	var w writtenVersions
	assert.False(t, w.stale(actionSetAt("a", "5")), "nothing written: the cache is all there is")

	w.wrote(actionSetAt("a", "120"))
	assert.True(t, w.stale(actionSetAt("a", "99")), "older than our write (shorter is older)")
	assert.True(t, w.stale(actionSetAt("a", "119")))
	assert.False(t, w.stale(actionSetAt("b", "1")), "other ActionSets are unaffected")

	assert.False(t, w.stale(actionSetAt("a", "120")), "caught up")
	assert.Empty(t, w.versions, "and forgotten")
	assert.False(t, w.stale(actionSetAt("a", "99")), "once caught up the record is gone")

	w.wrote(actionSetAt("a", "200"))
	assert.False(t, w.stale(actionSetAt("a", "201")), "newer: someone else wrote since")
	w.wrote(actionSetAt("a", "300"))
	assert.False(t, w.stale(actionSetAt("a", "opaque")), "versions that do not compare: trust the cache")

	w.wrote(actionSetAt("c", "7"))
	w.forget(types.NamespacedName{Namespace: "baton", Name: "c"})
	assert.False(t, w.stale(actionSetAt("c", "6")), "a deleted ActionSet is forgotten")
}
