package main

import "strings"

// invocation is what capwrap needs to know of a runc command line.
type invocation struct {
	command string // create, run, exec, ...
	bundle  string // --bundle / -b of create and run
	process string // --process / -p of exec
}

// Global runc flags that take a value; their value must not be mistaken for
// the command name.
var globalFlagsWithValue = map[string]bool{
	"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true,
}

func parseInvocation(args []string) invocation {
	var inv invocation
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			inv.command = a
			i++
			break
		}
		if globalFlagsWithValue[a] {
			i++
		}
	}
	for ; i < len(args); i++ {
		name, value, hasValue := strings.Cut(args[i], "=")
		var target *string
		switch name {
		case "--bundle", "-b":
			target = &inv.bundle
		case "--process", "-p":
			target = &inv.process
		default:
			continue
		}
		if hasValue {
			*target = value
		} else if i+1 < len(args) {
			i++
			*target = args[i]
		}
	}
	return inv
}
