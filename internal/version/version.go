// Package version holds the build's version, set at link time:
//
//	go build -ldflags "-X github.com/batonhq/baton/internal/version.Version=v0.1.0"
package version

// Version is the Baton release this binary belongs to; "dev" for local builds.
var Version = "dev"
