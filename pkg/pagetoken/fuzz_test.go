package pagetoken

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A token that decodes is one Encode makes for those filters: anything
// else (another spelling of the same JSON, other filters, stray bits in
// the base64) is ErrInvalid. Decoding never panics.
func FuzzDecode(f *testing.F) {
	id := "0190a4c2-6f1e-7000-8000-000000000001"
	key := Key{At: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), ID: id}.String()
	for _, seed := range [][3]string{
		{Encode(id, "london", ""), "london", ""},
		{Encode(key, "london", "c1"), "london", "c1"},
		{Encode(id), "", ""},
		{"", "", ""},
		{"!!", "", ""},
		{"bm90IGpzb24", "", ""},
		{"eyJhIjoieCIsImYiOiJ4In0", "", ""},           // {"a":"x","f":"x"}
		{"eyJBIjoiayIsImYiOiJRYWJjIn0", "london", ""}, // "A" for "a"
		{Encode("k", "london") + "A", "london", ""},
		{Encode(id, "a\x00b"), "a", "b"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, tok, f1, f2 string) {
		after, err := Decode(tok, f1, f2)
		switch {
		case tok == "":
			if after != "" || err != nil {
				t.Fatalf("Decode(\"\") = %q, %v; want the start", after, err)
			}
		case err != nil:
			if err != ErrInvalid || after != "" {
				t.Fatalf("Decode(%q) = %q, %v; want only ErrInvalid", tok, after, err)
			}
		case after == "":
			t.Fatalf("Decode(%q) accepted an empty key", tok)
		case Encode(after, f1, f2) != tok:
			t.Fatalf("Decode(%q) = %q, which encodes as %q: a token the server never made was accepted", tok, after, Encode(after, f1, f2))
		}
		// The typed readers accept only what their keys allow.
		if _, k, err := PageByKey(0, tok, f1, f2); err == nil && tok != "" {
			if back, err := ParseKey(k.String()); err != nil || back != k {
				t.Fatalf("PageByKey(%q) = %+v, which does not read back (%+v, %v)", tok, k, back, err)
			}
			if !canonical(k.ID) {
				t.Fatalf("PageByKey(%q) accepted id %q", tok, k.ID)
			}
		}
		if _, a, err := PageByID(0, tok, f1, f2); err == nil && a != "" && !canonical(a) {
			t.Fatalf("PageByID(%q) accepted id %q", tok, a)
		}
	})
}

// Encode's tokens decode to their key under the same filters.
func FuzzEncode(f *testing.F) {
	f.Add("0190a4c2-6f1e-7000-8000-000000000001", "london", "")
	f.Add("2026-11-02T09:00:00Z 0190a4c2-6f1e-7000-8000-000000000001", "wales", "0190a4c2-6f1e-7000-8000-000000000002")
	f.Add("k\"\\\u2028<>&", "", "SIFT")
	f.Fuzz(func(t *testing.T, after, f1, f2 string) {
		if after == "" || !utf8.ValidString(after) {
			t.Skip("keys are non-empty UTF-8 (ids and times)")
		}
		tok := Encode(after, f1, f2)
		if got, err := Decode(tok, f1, f2); err != nil || got != after {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", after, got, err)
		}
		if strings.ContainsRune(f1+f2, 0) {
			return // filters are joined with NUL: ("a\x00b") and ("a", "b") are one digest
		}
		if _, err := Decode(tok, f1+"x", f2); err != ErrInvalid {
			t.Fatalf("token for filters %q, %q accepted for %q: %v", f1, f2, f1+"x", err)
		}
	})
}

// canonical: what validate.UUID accepts, the 8-4-4-4-12 hex form.
func canonical(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
