// Command writepath runs the writepath checkout service and its tools.
//
//	writepath serve                    API, workers and built-in provider
//	writepath provider                 the fake payment provider alone
//	writepath migrate                  apply database migrations
//	writepath tenants create --name N  create a tenant; prints its API key
//	writepath jobs dead | replay ID    dead side effects, for operators
//
// Every flag has an environment twin (WRITEPATH_...); a flag given on the
// command line wins over the environment. Run "writepath COMMAND -h" for a
// command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// usageError is a mistake on the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// run executes one command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "provider":
		return runProvider(ctx, rest, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, stdout, stderr)
	case "tenants":
		return tenants(ctx, rest, stdout, stderr)
	case "jobs":
		return jobs(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return &usageError{fmt.Sprintf("unknown command %q (try writepath help)", cmd)}
}

const usage = `writepath: a checkout service whose write path is built for failure.

Usage:
  writepath serve [flags]                    run the API, workers and web UI
  writepath provider [flags]                 run the fake payment provider alone
  writepath migrate [flags]                  apply database migrations
  writepath tenants create --name NAME       create a tenant and print its API key
  writepath jobs dead [flags]                list side effects whose jobs are dead
  writepath jobs replay ID [flags]           run a dead or delivered side effect again

Run "writepath COMMAND -h" for the flags of a command.
`

// exitCode prints err as one line and returns the process's exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "writepath: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
