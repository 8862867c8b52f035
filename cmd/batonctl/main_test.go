package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunExitCodes(t *testing.T) {
	assert.Equal(t, 0, run([]string{"batonctl", "version"}))
	assert.Equal(t, 0, run([]string{"kubectl-baton", "--help"}))
	assert.Equal(t, 1, run([]string{"batonctl", "cancel", "x"}))
	assert.Equal(t, 1, run([]string{"batonctl", "create", "actionset", "--dry-run"}))
}
