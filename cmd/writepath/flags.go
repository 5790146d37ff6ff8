package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// flags is a command's flag set whose flags take their defaults from
// environment variables, so that each flag has an environment twin.
type flags struct {
	*flag.FlagSet
	envErrs []string
}

func newFlags(name string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{FlagSet: fs}
}

func (f *flags) stringVar(p *string, name, env, def, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	f.StringVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

func (f *flags) boolVar(p *bool, name, env string, def bool, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.envErrs = append(f.envErrs, fmt.Sprintf("%s=%q is not a boolean", env, v))
		}
		def = b
	}
	f.BoolVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

func (f *flags) durationVar(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			f.envErrs = append(f.envErrs, fmt.Sprintf("%s=%q is not a positive duration", env, v))
		}
		def = d
	}
	f.DurationVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

// parse parses the command line, reporting bad environment values and
// stray arguments as usage errors.
func (f *flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return &usageError{err.Error()}
	}
	if len(f.envErrs) > 0 {
		return &usageError{strings.Join(f.envErrs, "; ")}
	}
	if f.NArg() > 0 {
		return &usageError{fmt.Sprintf("%s: unexpected argument %q", f.Name(), f.Arg(0))}
	}
	return nil
}

// databaseFlag registers --database.
func (f *flags) databaseFlag(p *string) {
	f.stringVar(p, "database", "WRITEPATH_DATABASE", "sqlite:./writepath.db",
		"database: sqlite:PATH or postgres://...")
}

// logFlag registers --log-level and returns a function that builds the JSON
// logger once the flags are parsed.
func (f *flags) logFlag(stderr io.Writer) func() (*slog.Logger, error) {
	var level string
	f.stringVar(&level, "log-level", "WRITEPATH_LOG_LEVEL", "info", "debug, info, warn or error")
	return func() (*slog.Logger, error) {
		var l slog.Level
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return nil, &usageError{fmt.Sprintf("log level %q: want debug, info, warn or error", level)}
		}
		return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: l})), nil
	}
}
