package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/webhook"
)

// A fixed delivery for the tests. The expected signature was computed
// outside Go, with openssl and with the standardwebhooks npm package:
//
//	printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' |
//	  openssl dgst -sha256 -mac HMAC -macopt hexkey:<hex of the decoded key> -binary | base64
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorUnix   = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var vectorTime = time.Unix(vectorUnix, 0)

// referenceVerify checks a delivery the way the Standard Webhooks
// specification describes it, written from the specification alone and
// sharing no code with the package, so that a mistake in both the signer and
// Verify cannot cancel out: strip "whsec_", base64-decode the rest into the
// key, HMAC-SHA256 "id.timestamp.body", and look for "v1,<base64 of it>"
// among the space-separated entries of webhook-signature. The timestamp's
// age is checked by the callers that care.
func referenceVerify(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp")
	if id == "" || ts == "" {
		return false
	}

	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))

	for _, entry := range strings.Split(h.Get("Webhook-Signature"), " ") {
		if hmac.Equal([]byte(entry), []byte(want)) {
			return true
		}
	}
	return false
}

func signedHeaders(t *testing.T, secret string, ts time.Time, body string) http.Header {
	t.Helper()
	h, err := webhook.Headers(secret, vectorID, ts, []byte(body))
	if err != nil {
		t.Fatalf("Headers: %v", err)
	}
	return h
}

func TestSignMatchesKnownVector(t *testing.T) {
	got, err := webhook.Sign(vectorSecret, vectorID, vectorTime, []byte(vectorBody))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if got != vectorSig {
		t.Fatalf("Sign = %q, want %q", got, vectorSig)
	}
}

func TestHeadersCarryIDTimestampSignatureAndJSON(t *testing.T) {
	h := signedHeaders(t, vectorSecret, vectorTime, vectorBody)

	want := map[string]string{
		"webhook-id":        vectorID,
		"webhook-timestamp": strconv.Itoa(vectorUnix),
		"webhook-signature": vectorSig,
		"Content-Type":      "application/json",
	}
	for name, value := range want {
		if got := h.Get(name); got != value {
			t.Fatalf("header %s = %q, want %q", name, got, value)
		}
	}
	if got := len(h); got != len(want) {
		t.Fatalf("got %d headers, want %d: %v", got, len(want), h)
	}
}

func TestSignedDeliveryPassesReferenceVerifier(t *testing.T) {
	secret := webhook.NewSecret()
	body := `{"type":"order.completed","data":{"id":"ord_1","note":"tea & cake"}}`
	h := signedHeaders(t, secret, time.Now(), body)

	if !referenceVerify(secret, h, []byte(body)) {
		t.Fatalf("reference verifier refused %v", h)
	}
	if referenceVerify(secret, h, []byte(body+" ")) {
		t.Fatalf("reference verifier accepted a tampered body")
	}
}

func TestVerifyAcceptsWhatHeadersSigns(t *testing.T) {
	secret := webhook.NewSecret()
	now := time.Now()
	h := signedHeaders(t, secret, now, vectorBody)

	if err := webhook.Verify(secret, h, []byte(vectorBody), now); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyAcceptsWithinToleranceBothWays(t *testing.T) {
	h := signedHeaders(t, vectorSecret, vectorTime, vectorBody)

	for _, skew := range []time.Duration{-webhook.Tolerance, webhook.Tolerance} {
		now := vectorTime.Add(skew)
		if err := webhook.Verify(vectorSecret, h, []byte(vectorBody), now); err != nil {
			t.Fatalf("Verify at %s skew: %v", skew, err)
		}
	}
}

func TestVerifyRefusesBadDeliveries(t *testing.T) {
	other := webhook.NewSecret()
	without := func(name string) http.Header {
		h := signedHeaders(t, vectorSecret, vectorTime, vectorBody)
		h.Del(name)
		return h
	}
	with := func(name, value string) http.Header {
		h := signedHeaders(t, vectorSecret, vectorTime, vectorBody)
		h.Set(name, value)
		return h
	}
	good := signedHeaders(t, vectorSecret, vectorTime, vectorBody)

	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"wrong secret", other, good, vectorBody, vectorTime, webhook.ErrSignature},
		{"tampered body", vectorSecret, good, `{"test": 2432232315}`, vectorTime, webhook.ErrSignature},
		{"6 minutes old", vectorSecret, good, vectorBody, vectorTime.Add(6 * time.Minute),
			webhook.ErrTimestamp},
		{"6 minutes ahead", vectorSecret, good, vectorBody, vectorTime.Add(-6 * time.Minute),
			webhook.ErrTimestamp},
		{"no id", vectorSecret, without("webhook-id"), vectorBody, vectorTime, webhook.ErrHeaders},
		{"no timestamp", vectorSecret, without("webhook-timestamp"), vectorBody, vectorTime,
			webhook.ErrHeaders},
		{"no signature", vectorSecret, without("webhook-signature"), vectorBody, vectorTime,
			webhook.ErrHeaders},
		{"no headers", vectorSecret, http.Header{}, vectorBody, vectorTime, webhook.ErrHeaders},
		{"other id", vectorSecret, with("webhook-id", "msg_other"), vectorBody, vectorTime,
			webhook.ErrSignature},
		{"timestamp not a number", vectorSecret, with("webhook-timestamp", "soon"), vectorBody,
			vectorTime, webhook.ErrTimestamp},
		{"timestamp with a plus", vectorSecret, with("webhook-timestamp", "+1614265330"),
			vectorBody, vectorTime, webhook.ErrTimestamp},
		{"v1a entry only", vectorSecret, with("webhook-signature", "v1a"+vectorSig[2:]),
			vectorBody, vectorTime, webhook.ErrSignature},
		{"secret without prefix", strings.TrimPrefix(vectorSecret, "whsec_"), good, vectorBody,
			vectorTime, webhook.ErrSecret},
		{"secret too short", "whsec_c2hvcnQ=", good, vectorBody, vectorTime, webhook.ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.h, []byte(tt.body), tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyAcceptsRotationWithSecondSignatureRight(t *testing.T) {
	oldSig, err := webhook.Sign(webhook.NewSecret(), vectorID, vectorTime, []byte(vectorBody))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	h := signedHeaders(t, vectorSecret, vectorTime, vectorBody)
	h.Set("webhook-signature", oldSig+" "+vectorSig)

	if err := webhook.Verify(vectorSecret, h, []byte(vectorBody), vectorTime); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !referenceVerify(vectorSecret, h, []byte(vectorBody)) {
		t.Fatalf("reference verifier refused the rotation header")
	}
}

func TestNewSecretIsPrefixedRandomAndUsable(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	if a == b {
		t.Fatalf("two secrets are equal: %q", a)
	}

	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if err != nil {
		t.Fatalf("secret is not base64 after its prefix: %v", err)
	}
	if got, want := len(key), 24; got != want {
		t.Fatalf("secret has %d key bytes, want %d", got, want)
	}
	if !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secret %q lacks the whsec_ prefix", a)
	}
	if _, err := webhook.Sign(a, vectorID, vectorTime, nil); err != nil {
		t.Fatalf("Sign with a new secret: %v", err)
	}
}

func TestSignRefusesBadSecretsAndIDs(t *testing.T) {
	tests := []struct {
		name, secret, id string
		want             error
	}{
		{"empty secret", "", vectorID, webhook.ErrSecret},
		{"not base64", "whsec_not*base64", vectorID, webhook.ErrSecret},
		{"empty id", vectorSecret, "", webhook.ErrMessageID},
		{"dot in id", vectorSecret, "msg.1", webhook.ErrMessageID},
		{"space in id", vectorSecret, "msg 1", webhook.ErrMessageID},
		{"newline in id", vectorSecret, "msg\n1", webhook.ErrMessageID},
		{"id too long", vectorSecret, strings.Repeat("m", 256), webhook.ErrMessageID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.Sign(tt.secret, tt.id, vectorTime, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Sign = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSecretErrorsDoNotQuoteTheSecret(t *testing.T) {
	secret := "whsec_AAAA%%%%leaked-secret-text"
	_, err := webhook.Sign(secret, vectorID, vectorTime, nil)
	if err == nil {
		t.Fatalf("Sign accepted %q", secret)
	}
	if strings.Contains(err.Error(), "leaked") {
		t.Fatalf("error %q quotes the secret", err)
	}
}

// FuzzVerify feeds Verify arbitrary headers and bodies: it must never panic,
// and must refuse whatever the reference verifier refuses.
func FuzzVerify(f *testing.F) {
	f.Add(vectorID, strconv.Itoa(vectorUnix), vectorSig, vectorBody)
	f.Add("", "", "", "")
	f.Add(vectorID, "01614265330", "v1, v1,"+vectorSig[3:], "{}")
	f.Fuzz(func(t *testing.T, id, ts, sig, body string) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)

		err := webhook.Verify(vectorSecret, h, []byte(body), vectorTime)
		if err == nil && !referenceVerify(vectorSecret, h, []byte(body)) {
			t.Fatalf("Verify accepted what the reference verifier refuses: %v", h)
		}
	})
}
