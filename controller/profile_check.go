package controller

import (
	"context"
	"encoding/json"

	"github.com/batonhq/baton/render"
	"github.com/batonhq/baton/runner/location"
)

// CheckProfileBucket reaches a Profile's bucket with its credentials, the
// same way phases will (runner/location): an unsupported location type, a
// refused credential or a missing or unreachable bucket is an error.
func CheckProfileBucket(ctx context.Context, p *render.ProfileParams) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	parsed, err := location.ParseProfile(raw)
	if err != nil {
		return err
	}
	store, err := location.Open(parsed)
	if err != nil {
		return err
	}
	return store.CheckBucket(ctx)
}
