package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

func TestTenantsCreatePrintsExactlyOneKey(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	out, errOut, code := runCLI(t, nil, "tenants", "create", "--name", "acme", "--database", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "wp_") {
		t.Fatalf("stdout %q, want one line with an API key", out)
	}

	// The environment twin of --database is honoured.
	out2, _, code := runCLI(t, map[string]string{"WRITEPATH_DATABASE": db},
		"tenants", "create", "--name", "globex")
	if code != 0 || out2 == out {
		t.Fatalf("second tenant: exit %d, key %q", code, out2)
	}
}

func TestMigrateReportsWhatItApplied(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	out, _, code := runCLI(t, nil, "migrate", "--database", db)
	if code != 0 || !strings.HasPrefix(out, "applied ") || strings.HasPrefix(out, "applied 0") {
		t.Fatalf("first migrate: exit %d, %q", code, out)
	}
	out, _, code = runCLI(t, nil, "migrate", "--database", db)
	if code != 0 || out != "applied 0 migrations\n" {
		t.Fatalf("second migrate: exit %d, %q", code, out)
	}
}

func TestBadCommandLinesFailWithOneLine(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"no command", nil, nil, 2},
		{"unknown command", nil, []string{"frobnicate"}, 2},
		{"unknown flag", nil, []string{"serve", "--colour"}, 2},
		{"stray argument", nil, []string{"migrate", "extra"}, 2},
		{"tenants without create", nil, []string{"tenants"}, 2},
		{"tenants without name", nil, []string{"tenants", "create"}, 2},
		{"bad boolean in env", map[string]string{"WRITEPATH_DEMO": "perhaps"}, []string{"serve"}, 2},
		{"bad log level", nil, []string{"serve", "--log-level", "loud"}, 2},
		{"bad payment policy", nil, []string{"serve", "--payment-policy", "maybe"}, 2},
		{"bad duration in env", map[string]string{"WRITEPATH_PROVIDER_TIMEOUT": "soon"},
			[]string{"serve"}, 2},
		{"bad database URL", nil, []string{"migrate", "--database", "mysql://x"}, 1},
		{"bad provider URL", nil, []string{"serve", "--addr", "127.0.0.1:0", "--provider", "ftp://x",
			"--database", "sqlite:" + filepath.Join(t.TempDir(), "x.db")}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, errOut)
			}
			last := strings.TrimSuffix(errOut, "\n")
			if i := strings.LastIndex(last, "\n"); i >= 0 {
				last = last[i+1:]
			}
			if !strings.HasPrefix(last, "writepath: ") {
				t.Errorf("stderr %q does not end with one writepath: line", errOut)
			}
		})
	}
}

func TestJobsCommands(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	out, errOut, code := runCLI(t, nil, "jobs", "dead", "--database", db)
	if code != 0 || !strings.HasPrefix(out, "ID ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("jobs dead on an empty database: exit %d, %q %q", code, out, errOut)
	}
	_, errOut, code = runCLI(t, nil, "jobs", "replay", "eff_missing", "--database", db)
	if code != 1 || !strings.Contains(errOut, `no side effect "eff_missing"`) {
		t.Fatalf("replay of an unknown id: exit %d, %q", code, errOut)
	}
	for _, args := range [][]string{{"jobs"}, {"jobs", "replay"}, {"jobs", "bury"}} {
		if _, _, code := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
