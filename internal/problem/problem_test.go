package problem

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// contract is the list of names and statuses fixed by the API contract.
var contract = []struct {
	name   string
	status int
}{
	{IdempotencyKeyMissing, 400},
	{IdempotencyKeyInvalid, 400},
	{InvalidRequest, 400},
	{Unauthorized, 401},
	{NotFound, 404},
	{MethodNotAllowed, 405},
	{IdempotencyKeyInUse, 409},
	{OrderNotPayable, 409},
	{DeliveryNotReplayable, 409},
	{RequestTooLarge, 413},
	{UnsupportedMediaType, 415},
	{IdempotencyKeyReused, 422},
	{RateLimited, 429},
	{InternalError, 500},
	{PaymentsUnavailable, 503},
	{Overloaded, 503},
}

func TestCatalogueMatchesContract(t *testing.T) {
	if got, want := len(catalogue), len(contract); got != want {
		t.Fatalf("catalogue has %d names, contract %d", got, want)
	}
	for _, c := range contract {
		k, ok := byName[c.name]
		if !ok {
			t.Fatalf("%s: not in the catalogue", c.name)
		}
		if k.Status != c.status {
			t.Fatalf("%s: status %d, want %d", c.name, k.Status, c.status)
		}
		if k.Title == "" || k.Meaning == "" || k.Action == "" {
			t.Fatalf("%s: title, meaning and action must all be written", c.name)
		}
	}
}

func TestWriteSendsEveryProblemAsProblemJSON(t *testing.T) {
	for _, c := range contract {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, New(c.name, "what happened this time"))

			if rec.Code != c.status {
				t.Fatalf("status %d, want %d", rec.Code, c.status)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/problem+json" {
				t.Fatalf("Content-Type %q", got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Fatalf("Cache-Control %q", got)
			}
			if got := rec.Header().Get("Retry-After"); got != "" {
				t.Fatalf("Retry-After %q without RetryAfter set", got)
			}

			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			fields := map[string]any{
				"type":   "/problems/" + c.name,
				"title":  byName[c.name].Title,
				"status": float64(c.status),
				"detail": "what happened this time",
			}
			for field, want := range fields {
				if got := body[field]; got != want {
					t.Fatalf("%s = %v, want %v", field, got, want)
				}
			}
			for _, absent := range []string{"instance", "errors"} {
				if _, ok := body[absent]; ok {
					t.Fatalf("%s present although empty", absent)
				}
			}
		})
	}
}

func TestWriteRoundsRetryAfterUpToWholeSeconds(t *testing.T) {
	tests := []struct {
		after time.Duration
		want  string
	}{
		{0, ""},
		{-time.Second, ""},
		{time.Nanosecond, "1"},
		{500 * time.Millisecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Millisecond, "2"},
		{2 * time.Second, "2"},
		{90*time.Second + time.Nanosecond, "91"},
	}
	for _, tt := range tests {
		p := New(IdempotencyKeyInUse, "still running")
		p.RetryAfter = tt.after
		rec := httptest.NewRecorder()
		Write(rec, p)

		if got := rec.Header().Get("Retry-After"); got != tt.want {
			t.Fatalf("RetryAfter %v: header %q, want %q", tt.after, got, tt.want)
		}
	}
}

func TestWriteIncludesFieldErrorsAndInstance(t *testing.T) {
	p := New(InvalidRequest, "2 fields are invalid")
	p.Instance = "/v1/orders"
	p.Errors = []FieldError{
		{Field: "items[0].quantity", Detail: "must be at least 1"},
		{Field: "currency", Detail: "must be a 3-letter ISO code"},
	}
	rec := httptest.NewRecorder()
	Write(rec, p)

	var got Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if got.Instance != "/v1/orders" {
		t.Fatalf("instance %q", got.Instance)
	}
	if len(got.Errors) != 2 || got.Errors[0] != p.Errors[0] || got.Errors[1] != p.Errors[1] {
		t.Fatalf("errors %+v, want %+v", got.Errors, p.Errors)
	}
}

func TestWriteNilIsInternalError(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, nil)

	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
}

func TestNewPanicsOnUnknownName(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatalf("New did not panic on an unknown name")
		}
	}()
	New("no-such-problem", "")
}

func TestErrorNamesTheProblem(t *testing.T) {
	tests := []struct {
		p    *Problem
		want string
	}{
		{New(NotFound, ""), "not-found"},
		{New(RateLimited, "slow down"), "rate-limited: slow down"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Fatalf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestPagesExplainEveryProblem(t *testing.T) {
	for _, k := range catalogue {
		t.Run(k.Name, func(t *testing.T) {
			code, body := getPage(t, "/problems/"+k.Name)

			if code != http.StatusOK {
				t.Fatalf("status %d, want 200", code)
			}
			for _, want := range []string{
				"<h1>" + k.Title + "</h1>",
				fmt.Sprintf("HTTP %d %s", k.Status, http.StatusText(k.Status)),
				template.HTMLEscapeString(k.Meaning),
				template.HTMLEscapeString(k.Action),
			} {
				if !strings.Contains(body, want) {
					t.Fatalf("page lacks %q", want)
				}
			}
		})
	}
}

func TestPagesIndexListsEveryProblem(t *testing.T) {
	code, body := getPage(t, "/problems/")

	if code != http.StatusOK {
		t.Fatalf("status %d, want 200", code)
	}
	for _, k := range catalogue {
		if link := `href="/problems/` + k.Name + `"`; !strings.Contains(body, link) {
			t.Fatalf("index lacks %s", link)
		}
	}
}

func TestPagesUnknownNameIsNotFound(t *testing.T) {
	for _, path := range []string{
		"/problems/no-such-problem",
		"/problems/not-found/extra",
		"/problems/%3Cscript%3E",
	} {
		code, body := getPage(t, path)

		if code != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", path, code)
		}
		if !strings.Contains(body, "Unknown problem type") {
			t.Fatalf("%s: not the unknown-type page", path)
		}
		if strings.Contains(body, "<script>") {
			t.Fatalf("%s: path echoed without escaping", path)
		}
	}
}

func TestPagesLoadNothingExternal(t *testing.T) {
	paths := []string{"/problems/", "/problems/nope"}
	for _, k := range catalogue {
		paths = append(paths, "/problems/"+k.Name)
	}
	for _, path := range paths {
		_, body := getPage(t, path)
		for _, external := range []string{"http://", "https://", "src=", "<link"} {
			if strings.Contains(body, external) {
				t.Fatalf("%s: page refers to something external (%s)", path, external)
			}
		}
	}
}

func TestPagesRefuseWrites(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/problems/not-found", nil)
	rec := httptest.NewRecorder()
	Pages().ServeHTTP(rec, req)

	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status %d, want 405", rec.Code)
	}
}

// getPage fetches path from Pages and checks the headers every page carries.
func getPage(t *testing.T, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	Pages().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))

	if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Fatalf("%s: Content-Type %q", path, got)
	}
	return rec.Code, rec.Body.String()
}
