package api

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/writepath/writepath/internal/problem"
)

// switchBreaker is the operator's manual switch of a circuit breaker:
// {"state": "open"} holds it open (every call is refused, truthfully, as not
// sent) until {"state": "auto"} hands it back to its failure counting.
func (s *Server) switchBreaker(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State string `json:"state"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || (in.State != "open" && in.State != "auto") {
		problem.Write(w, problem.New(problem.InvalidRequest,
			`The body must be {"state": "open"} or {"state": "auto"}.`))
		return
	}
	var b interface {
		ForceOpen()
		Reset()
	}
	if s.opts.Breakers != nil {
		if found := s.opts.Breakers(r.PathValue("name")); found != nil {
			b = found
		}
	}
	if b == nil {
		problem.Write(w, problem.New(problem.NotFound, "No circuit breaker has this name."))
		return
	}
	if in.State == "open" {
		b.ForceOpen()
	} else {
		b.Reset()
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": r.PathValue("name"), "state": in.State})
}
