// Command batonctl is Baton's command-line client (package cli). Installed
// as kubectl-baton it is the kubectl plugin `kubectl baton`:
//
//	ln -s batonctl kubectl-baton
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/batonhq/baton/cli"
)

func main() {
	os.Exit(run(os.Args))
}

func run(argv []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	name := cli.DisplayName(argv[0])
	root := cli.NewRootCommand(cli.StdStreams(), name)
	root.SetArgs(argv[1:])
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %s\n", name, cli.OneLine(err.Error()))
		return 1
	}
	return 0
}
