package session

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	c := mustCodec(t, RandomKey())
	sealed := c.Seal(CookieName, []byte(`{"sub":"dashboard-london"}`))
	if strings.Contains(sealed, "dashboard-london") {
		t.Fatalf("sealed value shows its contents: %s", sealed)
	}
	got, err := c.Open(CookieName, sealed)
	if err != nil || string(got) != `{"sub":"dashboard-london"}` {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := c.Seal(CookieName, []byte(`{"sub":"dashboard-london"}`)); again == sealed {
		t.Error("two seals of the same value are equal: the nonce is not fresh")
	}
}

// Every change to a sealed value, and every value sealed by anyone else,
// is refused.
func TestCodecRefusesWhatItDidNotSeal(t *testing.T) {
	t.Parallel()
	c := mustCodec(t, RandomKey())
	sealed := c.Seal(CookieName, []byte(`{"sub":"dashboard-london","regions":["london"]}`))
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	for i := range raw {
		changed := bytes.Clone(raw)
		changed[i] ^= 0x01
		if _, err := c.Open(CookieName, base64.RawURLEncoding.EncodeToString(changed)); err == nil {
			t.Fatalf("a value with byte %d changed was accepted", i)
		}
	}
	// So is every change to the cookie's text, the last character's unused
	// bits included (sealed lengths of every remainder mod 3).
	for _, plain := range []string{"ab", "abc", "abcd"} {
		sealed := c.Seal(CookieName, []byte(plain))
		for i := range sealed {
			for _, r := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
				if rune(sealed[i]) == r {
					continue
				}
				if _, err := c.Open(CookieName, sealed[:i]+string(r)+sealed[i+1:]); err == nil {
					t.Fatalf("%q sealed, with character %d changed to %q, was accepted", plain, i, r)
				}
			}
		}
	}
	other := mustCodec(t, RandomKey())
	forged := other.Seal(CookieName, []byte(`{"sub":"admin"}`))
	for name, value := range map[string]string{
		"sealed with another key":         forged,
		"cut short":                       sealed[:len(sealed)-4],
		"empty":                           "",
		"not base64":                      "!!!" + sealed,
		"shorter than a nonce":            "AAAA",
		"plain JSON, as a forger writes":  base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)),
		"another cookie's value (signin)": c.Seal(flowCookiePrefix+"abc", []byte(`{"sub":"admin"}`)),
	} {
		if got, err := c.Open(CookieName, value); err == nil {
			t.Errorf("%s: accepted, opened to %q", name, got)
		}
	}
}

// A new key first and the old one after it: new cookies are sealed with
// the new key, and old ones still open.
func TestCodecKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := RandomKey(), RandomKey()
	old := mustCodec(t, oldKey)
	sealedBefore := old.Seal(CookieName, []byte("before"))
	list := base64.StdEncoding.EncodeToString(newKey) + ", " + base64.RawURLEncoding.EncodeToString(oldKey)
	both, err := ParseKeys(list)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := both.Open(CookieName, sealedBefore); err != nil || string(got) != "before" {
		t.Errorf("old cookie with the old key second: %q, %v", got, err)
	}
	if _, err := old.Open(CookieName, both.Seal(CookieName, []byte("after"))); err == nil {
		t.Error("a new cookie was sealed with the old key")
	}
	if _, err := mustCodec(t, newKey).Open(CookieName, both.Seal(CookieName, []byte("after"))); err != nil {
		t.Errorf("a new cookie does not open with the new key: %v", err)
	}
}

func TestParseKeysRefusesBadKeys(t *testing.T) {
	t.Parallel()
	for _, list := range []string{
		"",
		" , ",
		"not base64 at all!",
		base64.StdEncoding.EncodeToString([]byte("sixteen byte key")),
		base64.StdEncoding.EncodeToString(RandomKey()) + ",short",
	} {
		if _, err := ParseKeys(list); err == nil {
			t.Errorf("ParseKeys(%q) accepted it", list)
		}
	}
}

func mustCodec(t *testing.T, keys ...[]byte) *Codec {
	t.Helper()
	c, err := NewCodec(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
