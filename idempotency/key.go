package idempotency

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
)

// Header is the request header that carries the idempotency key.
const Header = "Idempotency-Key"

// ReplayedHeader is the response header that says whether a response is a
// replay of a stored one ("true") or the result of this request ("false").
const ReplayedHeader = "Idempotent-Replayed"

// MaxKeyLength is the longest key accepted, in bytes.
const MaxKeyLength = 255

var (
	// ErrKeyMissing means the request carried no Idempotency-Key header.
	ErrKeyMissing = errors.New("idempotency key missing")

	// ErrKeyInvalid means the Idempotency-Key header was present but not a
	// usable key: empty, too long, not printable ASCII, a list, or repeated.
	ErrKeyInvalid = errors.New("idempotency key invalid")
)

// ParseKey returns the idempotency key of a request's headers.
//
// The key may be sent bare (abc) or as a structured-field string ("abc"),
// which means the same key. It must be 1 to MaxKeyLength printable ASCII
// characters. Empty values, lists and repeated header lines are refused with
// an error wrapping ErrKeyInvalid, so that a client never has its request
// deduplicated under a key it did not mean.
func ParseKey(h http.Header) (string, error) {
	values := h.Values(Header)
	switch {
	case len(values) == 0:
		return "", ErrKeyMissing
	case len(values) > 1:
		return "", keyError("the header appears more than once")
	}

	raw := strings.Trim(values[0], " \t")
	key, err := unquote(raw)
	if err != nil {
		return "", err
	}

	switch {
	case key == "":
		return "", keyError("the key is empty")
	case len(key) > MaxKeyLength:
		return "", keyError("the key is longer than 255 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return "", keyError("the key has a character that is not printable ASCII")
		}
	}
	return key, nil
}

// unquote turns a header value into a key: a structured-field string loses its
// quotes and escapes, a bare value is taken as it is unless it looks like a
// list.
func unquote(raw string) (string, error) {
	if !strings.HasPrefix(raw, `"`) {
		if strings.Contains(raw, ",") {
			return "", keyError("the header holds a list; send one key")
		}
		return raw, nil
	}

	var b strings.Builder
	for i := 1; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '\\':
			i++
			if i == len(raw) || (raw[i] != '"' && raw[i] != '\\') {
				return "", keyError("the quoted key has an invalid escape")
			}
			b.WriteByte(raw[i])
		case '"':
			if i != len(raw)-1 {
				return "", keyError("the header holds more than one quoted key or parameters")
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", keyError("the quoted key has no closing quote")
}

// KeyError describes why a key was refused. It wraps ErrKeyInvalid.
type KeyError struct {
	Reason string
}

func keyError(reason string) error { return &KeyError{Reason: reason} }

// Error implements error.
func (e *KeyError) Error() string { return "idempotency key invalid: " + e.Reason }

// Unwrap makes errors.Is(err, ErrKeyInvalid) true.
func (e *KeyError) Unwrap() error { return ErrKeyInvalid }

// HashKey returns the hex SHA-256 of a key. Records are stored and logged under
// this hash, never under the key itself.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
