package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Names of the Standard Webhooks headers.
const (
	// HeaderID carries the message id, the same on every retry.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the Unix seconds of the attempt.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries space-separated "v1,<base64>" signatures.
	HeaderSignature = "webhook-signature"
)

const (
	// SecretPrefix starts every secret, so that a secret is recognisable
	// wherever it turns up.
	SecretPrefix = "whsec_"

	// SecretBytes is the number of random bytes in a secret from NewSecret,
	// and the least Sign and Verify accept (the scheme asks for 24 to 64).
	SecretBytes = 24

	// Tolerance is how far a timestamp may be from the verifier's clock, in
	// either direction, before Verify refuses the delivery as a replay.
	Tolerance = 5 * time.Minute

	// MaxMessageIDLength is the longest message id Sign accepts, in bytes.
	MaxMessageIDLength = 255
)

var (
	// ErrSignature means no signature in the headers matches the delivery.
	ErrSignature = errors.New("webhook: signature does not match")

	// ErrTimestamp means webhook-timestamp is not Unix seconds, or is
	// further than Tolerance from the verifier's clock.
	ErrTimestamp = errors.New("webhook: bad timestamp")

	// ErrHeaders means a signature header is missing or empty.
	ErrHeaders = errors.New("webhook: missing signature header")

	// ErrSecret means a secret is not "whsec_" followed by the standard
	// base64 of 24 to 64 bytes.
	ErrSecret = errors.New("webhook: invalid secret")

	// ErrMessageID means a message id is empty, too long, or holds a byte
	// other than printable ASCII. A dot is refused too: the signed content
	// joins the id and the timestamp with dots, and an id with a dot could
	// pass for another id and timestamp.
	ErrMessageID = errors.New("webhook: invalid message id")
)

// NewSecret returns a new random signing secret: "whsec_" and the base64 of
// SecretBytes random bytes. Give each endpoint its own.
func NewSecret() string {
	key := make([]byte, SecretBytes)
	// crypto/rand.Read never returns an error; it crashes the program
	// rather than return weak bytes.
	_, _ = rand.Read(key)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign returns the webhook-signature value for one attempt: "v1," and the
// base64 HMAC-SHA256 of "msgID.unixSeconds.body", keyed with the decoded
// secret. ts is the time of the attempt, not of the event.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	if err := checkMessageID(msgID); err != nil {
		return "", err
	}
	mac := signature(key, msgID, strconv.FormatInt(ts.Unix(), 10), body)
	return "v1," + base64.StdEncoding.EncodeToString(mac), nil
}

// Headers returns the headers of one attempt: webhook-id, webhook-timestamp
// and webhook-signature as Sign makes them, and Content-Type
// application/json.
func Headers(secret, msgID string, ts time.Time, body []byte) (http.Header, error) {
	sig, err := Sign(secret, msgID, ts, body)
	if err != nil {
		return nil, err
	}

	h := make(http.Header, 4)
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	h.Set("Content-Type", "application/json")
	return h, nil
}

// Verify checks a delivery as a receiver does: the three headers are
// present, the timestamp is within Tolerance of now in either direction, and
// at least one v1 signature in webhook-signature (several during a secret
// rotation, separated by spaces) matches body, compared in constant time.
// Entries of other versions never match. Its errors match ErrHeaders,
// ErrTimestamp, ErrSignature or ErrSecret.
//
// Verify does not remember ids: a receiver drops duplicates by webhook-id.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}

	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, kv := range [][2]string{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if kv[1] == "" {
			return fmt.Errorf("%w: %s", ErrHeaders, kv[0])
		}
	}
	if err := checkTimestamp(ts, now); err != nil {
		return err
	}

	want := "v1," + base64.StdEncoding.EncodeToString(signature(key, id, ts, body))
	if !anySignatureMatches(sigs, want) {
		return fmt.Errorf("%w: no v1 signature matches", ErrSignature)
	}
	return nil
}

// checkTimestamp checks a webhook-timestamp value against now. Only the
// canonical decimal form is accepted ("+12" or "012" are not), because the
// signature covers the header's text as the sender wrote it.
func checkTimestamp(raw string, now time.Time) error {
	secs, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || strconv.FormatInt(secs, 10) != raw {
		return fmt.Errorf("%w: not unix seconds", ErrTimestamp)
	}

	age := now.Sub(time.Unix(secs, 0))
	switch {
	case age > Tolerance:
		return fmt.Errorf("%w: %s old, tolerance %s", ErrTimestamp, age.Round(time.Second), Tolerance)
	case age < -Tolerance:
		return fmt.Errorf("%w: %s ahead, tolerance %s", ErrTimestamp, -age.Round(time.Second),
			Tolerance)
	}
	return nil
}

// anySignatureMatches reports whether one entry of a webhook-signature value
// is want, comparing the text in constant time. Comparing the canonical
// base64 text rather than decoded bytes refuses what the reference verifiers
// refuse, such as base64 with stray bits or without padding.
func anySignatureMatches(header, want string) bool {
	for _, entry := range strings.Split(header, " ") {
		if hmac.Equal([]byte(entry), []byte(want)) {
			return true
		}
	}
	return false
}

// signature returns the HMAC-SHA256 of "id.ts.body" under key.
func signature(key []byte, id, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// decodeSecret returns the key bytes of a "whsec_" secret. Its errors never
// quote the secret.
func decodeSecret(secret string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: want prefix %s", ErrSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard base64", ErrSecret)
	}
	if len(key) < SecretBytes || len(key) > 64 {
		return nil, fmt.Errorf("%w: %d bytes, want %d to 64", ErrSecret, len(key), SecretBytes)
	}
	return key, nil
}

// checkMessageID refuses ids that could not travel in a header unchanged or
// that contain the signed content's separator.
func checkMessageID(id string) error {
	if id == "" || len(id) > MaxMessageIDLength {
		return fmt.Errorf("%w: want 1 to %d bytes", ErrMessageID, MaxMessageIDLength)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '.' {
			return fmt.Errorf("%w: byte %d is not printable ASCII other than '.'", ErrMessageID, i)
		}
	}
	return nil
}
