//go:build integration

package controller_test

import (
	"encoding/json"
	"errors"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func assertErr(msg string) error          { return errors.New(msg) }
