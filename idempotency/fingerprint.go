package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// fingerprintVersion is the version of the canonical form written into new
// records. A stored fingerprint keeps the version it was made with, so a later
// change of canonical form compares old records the old way instead of turning
// their retries into 422s.
const fingerprintVersion = 1

// Fingerprint identifies a request for idempotency: two requests with the same
// key are the same request when their fingerprints are equal. It covers the
// method, the path, the query (sorted) and the body in canonical form: JSON is
// parsed and re-encoded with sorted keys and no insignificant whitespace, so
// that field order and formatting do not matter; a body that is not JSON is
// taken byte for byte.
func Fingerprint(method, path string, query url.Values, body []byte) string {
	return fingerprint(fingerprintVersion, method, path, query, body)
}

func fingerprint(version int, method, path string, query url.Values, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", method, path, query.Encode()) // Encode sorts by key.
	if canon, ok := canonicalJSON(body); ok {
		h.Write([]byte("json\n"))
		h.Write(canon)
	} else {
		h.Write([]byte("raw\n"))
		h.Write(body)
	}
	return fmt.Sprintf("v%d:%s", version, hex.EncodeToString(h.Sum(nil)))
}

// sameRequest reports whether a stored fingerprint matches a request, using
// the canonical form of the stored fingerprint's version.
func sameRequest(stored, method, path string, query url.Values, body []byte) bool {
	var version int
	if _, err := fmt.Sscanf(stored, "v%d:", &version); err != nil {
		return false
	}
	return stored == fingerprint(version, method, path, query, body)
}

// canonicalJSON re-encodes a JSON document with sorted object keys. Numbers
// keep their literal text. It reports false for anything that is not exactly
// one JSON value.
func canonicalJSON(body []byte) ([]byte, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}

	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, false
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), true
}

// queryOf parses a raw query; a malformed one is kept whole under an empty
// name so that it still takes part in the fingerprint.
func queryOf(raw string) url.Values {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return url.Values{"": {strings.Clone(raw)}}
	}
	return q
}
