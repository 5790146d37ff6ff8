package idempotency

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	cases := []struct {
		name    string
		values  []string
		want    string
		wantErr error
	}{
		{"bare", []string{"abc-123"}, "abc-123", nil},
		{"quoted", []string{`"abc-123"`}, "abc-123", nil},
		{"quoted with escapes", []string{`"a\"b\\c"`}, `a"b\c`, nil},
		{"surrounding spaces", []string{"  abc\t"}, "abc", nil},
		{"inner space", []string{"a b"}, "a b", nil},
		{"longest", []string{strings.Repeat("k", 255)}, strings.Repeat("k", 255), nil},
		{"missing", nil, "", ErrKeyMissing},
		{"empty", []string{""}, "", ErrKeyInvalid},
		{"blank", []string{"   "}, "", ErrKeyInvalid},
		{"quoted empty", []string{`""`}, "", ErrKeyInvalid},
		{"too long", []string{strings.Repeat("k", 256)}, "", ErrKeyInvalid},
		{"quoted too long", []string{`"` + strings.Repeat("k", 256) + `"`}, "", ErrKeyInvalid},
		{"control", []string{"a\x7fb"}, "", ErrKeyInvalid},
		{"newline", []string{"a\nb"}, "", ErrKeyInvalid},
		{"non-ASCII", []string{"clé"}, "", ErrKeyInvalid},
		{"bare list", []string{"a, b"}, "", ErrKeyInvalid},
		{"quoted list", []string{`"a", "b"`}, "", ErrKeyInvalid},
		{"parameters", []string{`"a";p=1`}, "", ErrKeyInvalid},
		{"unclosed", []string{`"abc`}, "", ErrKeyInvalid},
		{"bad escape", []string{`"a\nb"`}, "", ErrKeyInvalid},
		{"repeated", []string{"a", "a"}, "", ErrKeyInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add(Header, v)
			}
			got, err := ParseKey(h)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("key %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	base := Fingerprint("POST", "/v1/orders", nil, []byte(`{"a":1,"b":[1,2]}`))
	same := []struct {
		name string
		fp   string
	}{
		{"key order", Fingerprint("POST", "/v1/orders", nil, []byte(`{"b":[1,2],"a":1}`))},
		{"whitespace", Fingerprint("POST", "/v1/orders", nil, []byte(" {\n\"a\": 1, \"b\": [1, 2]}\n"))},
		{"empty query", Fingerprint("POST", "/v1/orders", url.Values{}, []byte(`{"a":1,"b":[1,2]}`))},
	}
	for _, tc := range same {
		if tc.fp != base {
			t.Errorf("%s: fingerprint differs", tc.name)
		}
	}

	differ := []struct {
		name string
		fp   string
	}{
		{"method", Fingerprint("PUT", "/v1/orders", nil, []byte(`{"a":1,"b":[1,2]}`))},
		{"path", Fingerprint("POST", "/v1/orders/x", nil, []byte(`{"a":1,"b":[1,2]}`))},
		{"query", Fingerprint("POST", "/v1/orders", url.Values{"q": {"1"}}, []byte(`{"a":1,"b":[1,2]}`))},
		{"value", Fingerprint("POST", "/v1/orders", nil, []byte(`{"a":2,"b":[1,2]}`))},
		{"array order", Fingerprint("POST", "/v1/orders", nil, []byte(`{"a":1,"b":[2,1]}`))},
		{"number text", Fingerprint("POST", "/v1/orders", nil, []byte(`{"a":1.0,"b":[1,2]}`))},
		{"not JSON", Fingerprint("POST", "/v1/orders", nil, []byte(`{"a":1,"b":[1,2]`))},
	}
	for _, tc := range differ {
		if tc.fp == base {
			t.Errorf("%s: fingerprint is the same", tc.name)
		}
	}

	if !strings.HasPrefix(base, "v1:") {
		t.Errorf("fingerprint %q has no version", base)
	}
	if !sameRequest(base, "POST", "/v1/orders", nil, []byte(`{"b":[1,2],"a":1}`)) {
		t.Error("sameRequest refuses an equivalent body")
	}
	if sameRequest("v9:abc", "POST", "/v1/orders", nil, []byte(`{}`)) {
		t.Error("sameRequest accepts an unknown version")
	}
}

// FuzzParseKey checks that every accepted key is 1 to 255 printable ASCII
// characters, and that a key sent quoted parses to itself.
func FuzzParseKey(f *testing.F) {
	for _, seed := range []string{"abc", `"abc"`, `"a\"b"`, "a,b", `"a", "b"`, "", `""`, "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		key, err := ParseKey(http.Header{Header: {v}})
		if err != nil {
			if !errors.Is(err, ErrKeyInvalid) {
				t.Fatalf("error %v does not wrap ErrKeyInvalid", err)
			}
			return
		}
		if key == "" || len(key) > MaxKeyLength {
			t.Fatalf("accepted key of length %d", len(key))
		}
		for i := 0; i < len(key); i++ {
			if key[i] < 0x20 || key[i] > 0x7e {
				t.Fatalf("accepted byte %#x", key[i])
			}
		}

		quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(key) + `"`
		again, err := ParseKey(http.Header{Header: {quoted}})
		if err != nil || again != key {
			t.Fatalf("quoted %q parsed to %q, %v; want %q", quoted, again, err, key)
		}
	})
}

// FuzzFingerprintCanonicalJSON checks that re-encoding a JSON body does not
// change its fingerprint.
func FuzzFingerprintCanonicalJSON(f *testing.F) {
	for _, seed := range []string{`{"a":1}`, `[1,"x",null]`, `{"b":{"c":[true]},"a":"é"}`, `1e3`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		canon, ok := canonicalJSON([]byte(body))
		if !ok {
			return
		}
		if Fingerprint("POST", "/", nil, []byte(body)) != Fingerprint("POST", "/", nil, canon) {
			t.Fatalf("canonical form %s changes the fingerprint of %s", canon, body)
		}
	})
}
