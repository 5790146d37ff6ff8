package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/webhook"
)

// verifierDir holds the npm project that runs the reference verifier.
const verifierDir = "testdata/verifier"

// requireNodeEnv makes a missing node or node_modules a failure instead of
// a skip, for CI, which installs both.
const requireNodeEnv = "WRITEPATH_REQUIRE_NODE_VERIFIER"

// nodeVerifier returns the path of node, or skips the test (fails it under
// WRITEPATH_REQUIRE_NODE_VERIFIER=1) when node or the verifier's packages
// are missing.
func nodeVerifier(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		msg := why + "; to run the reference verifier: npm ci --prefix internal/webhook/" +
			verifierDir
		if os.Getenv(requireNodeEnv) == "1" {
			t.Fatalf("%s (%s=1)", msg, requireNodeEnv)
		}
		t.Skip(msg)
	}

	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	lib := filepath.Join(verifierDir, "node_modules", "standardwebhooks")
	if _, err := os.Stat(lib); err != nil {
		missing(lib + " is absent")
	}
	return node
}

// runNodeVerifier runs verify.mjs on one delivery and reports whether the
// standardwebhooks package accepted it. Any exit status other than 0
// (valid) or 1 (invalid) fails the test.
func runNodeVerifier(t *testing.T, node, secret string, h http.Header, body []byte) bool {
	t.Helper()
	headers := map[string]string{}
	for name := range h {
		headers[strings.ToLower(name)] = h.Get(name)
	}
	input, err := json.Marshal(map[string]any{
		"secret":      secret,
		"headers":     headers,
		"body_base64": base64.StdEncoding.EncodeToString(body),
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "case.json")
	if err := os.WriteFile(path, input, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "verify.mjs", path)
	cmd.Dir = verifierDir
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return false
	default:
		t.Fatalf("node verifier: %v\n%s", err, out)
		return false
	}
}

func TestReferenceNpmVerifierAcceptsOurSignatures(t *testing.T) {
	node := nodeVerifier(t)
	secret := webhook.NewSecret()
	body := []byte(`{"type":"order.completed","data":{"id":"ord_1","total":2500,"note":"thé"}}`)
	now := time.Now()

	rotated := func() http.Header {
		old, err := webhook.Sign(webhook.NewSecret(), "msg_rot", now, body)
		if err != nil {
			t.Fatal(err)
		}
		h, err := webhook.Headers(secret, "msg_rot", now, body)
		if err != nil {
			t.Fatal(err)
		}
		h.Set("webhook-signature", old+" "+h.Get("webhook-signature"))
		return h
	}
	fresh := func() http.Header {
		h, err := webhook.Headers(secret, "msg_2xKqR8w1", now, body)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	stale, err := webhook.Headers(secret, "msg_old", now.Add(-6*time.Minute), body)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   []byte
		want   bool
	}{
		{"valid", secret, fresh(), body, true},
		{"rotation, second right", secret, rotated(), body, true},
		{"empty body", secret, mustHeaders(t, secret, now, nil), nil, true},
		{"tampered body", secret, fresh(), append([]byte(" "), body...), false},
		{"wrong secret", webhook.NewSecret(), fresh(), body, false},
		{"6 minutes old", secret, stale, body, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runNodeVerifier(t, node, tt.secret, tt.h, tt.body)
			if got != tt.want {
				t.Fatalf("standardwebhooks accepted = %v, want %v", got, tt.want)
			}
		})
	}
}

func mustHeaders(t *testing.T, secret string, ts time.Time, body []byte) http.Header {
	t.Helper()
	h, err := webhook.Headers(secret, "msg_empty", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
