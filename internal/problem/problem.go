package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// typePrefix starts the type URI of every problem; the name follows it.
const typePrefix = "/problems/"

// ContentType is the media type of a problem detail (RFC 9457).
const ContentType = "application/problem+json"

// Problem is an RFC 9457 problem detail. It is also an error, so that a
// handler's helpers can return one and the handler can write it as it is.
type Problem struct {
	// Type is "/problems/<name>", where a page explains the problem.
	Type string `json:"type"`
	// Title is the catalogue's summary of the problem; it never varies.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence, for a human.
	Detail string `json:"detail"`
	// Instance optionally identifies this occurrence, such as a request path.
	Instance string `json:"instance,omitempty"`
	// RetryAfter, when positive, makes Write send a Retry-After header.
	RetryAfter time.Duration `json:"-"`
	// Errors optionally lists per-field errors of an invalid request.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is the fault of one field of an invalid request.
type FieldError struct {
	// Field is the path of the field in the request body, such as
	// "items[0].quantity".
	Field string `json:"field"`
	// Detail says what is wrong with the field, for a human.
	Detail string `json:"detail"`
}

// New returns the problem of the catalogue's name with the given detail. It
// panics on a name that is not in the catalogue: that is a programming error,
// and the names are constants of this package.
func New(name string, detail string) *Problem {
	k, ok := byName[name]
	if !ok {
		panic("problem: unknown problem name " + strconv.Quote(name))
	}
	return &Problem{
		Type:   typePrefix + k.Name,
		Title:  k.Title,
		Status: k.Status,
		Detail: detail,
	}
}

// Name returns the problem's name: its type without the /problems/ prefix.
func (p *Problem) Name() string {
	return strings.TrimPrefix(p.Type, typePrefix)
}

// Error returns the problem's name and detail.
func (p *Problem) Error() string {
	if p.Detail == "" {
		return p.Name()
	}
	return p.Name() + ": " + p.Detail
}

// Write sends p as the whole response: the problem+json content type, a
// Retry-After header when p.RetryAfter is positive, p.Status and the JSON
// body. The response is marked no-store because it describes one moment. A
// nil p is written as an internal error.
func Write(w http.ResponseWriter, p *Problem) {
	if p == nil {
		p = New(InternalError, "")
	}
	body, err := json.Marshal(p)
	if err != nil {
		// Only a broken Problem value gets here; the catalogue's own never do.
		p = New(InternalError, "")
		body, _ = json.Marshal(p)
	}

	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(p.RetryAfter), 10))
	}

	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// retryAfterSeconds rounds d up to whole seconds, and to at least one, so
// that a client that waits as told never comes back too early.
func retryAfterSeconds(d time.Duration) int64 {
	secs := int64(d / time.Second)
	if d%time.Second != 0 {
		secs++
	}
	return max(secs, 1)
}
