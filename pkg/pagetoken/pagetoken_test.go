package pagetoken

import (
	"testing"
	"time"
)

func TestRoundTripAndFilterBinding(t *testing.T) {
	t.Parallel()
	tok := Encode("id-42", "london", "campaign-1")
	got, err := Decode(tok, "london", "campaign-1")
	if err != nil || got != "id-42" {
		t.Fatalf("Decode = %q, %v; want id-42", got, err)
	}
	if _, err := Decode(tok, "wales", "campaign-1"); err != ErrInvalid {
		t.Errorf("token replayed with other filters: err = %v, want ErrInvalid", err)
	}
	for _, bad := range []string{"!!", "bm90IGpzb24", Encode("")} {
		if _, err := Decode(bad); err != ErrInvalid {
			t.Errorf("Decode(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if got, err := Decode(""); got != "" || err != nil {
		t.Errorf("empty token = %q, %v", got, err)
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      int32
		want    int
		wantErr bool
	}{{0, 50, false}, {10, 10, false}, {501, 500, false}, {-1, 0, true}} {
		got, err := Size(tc.in, 50, 500)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Size(%d) = %d, %v", tc.in, got, err)
		}
	}
}

func TestPage(t *testing.T) {
	t.Parallel()
	limit, after, err := Page(0, "")
	if limit != DefaultPageSize || after != "" || err != nil {
		t.Errorf("Page(0, \"\") = %d, %q, %v", limit, after, err)
	}
	limit, after, err = Page(900, Encode("k", "london"), "london")
	if limit != MaxPageSize || after != "k" || err != nil {
		t.Errorf("Page(900, token) = %d, %q, %v", limit, after, err)
	}
	if _, _, err := Page(-1, ""); err == nil || err.Error() != "page_size: must not be negative" {
		t.Errorf("Page(-1) err = %v", err)
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	k := Key{At: time.Date(2026, 11, 23, 9, 30, 0, 123456789, time.UTC), ID: "0190d6a0-0000-7000-8000-000000000001"}
	got, err := ParseKey(k.String())
	if err != nil || !got.At.Equal(k.At) || got.ID != k.ID {
		t.Errorf("ParseKey(String()) = %+v, %v; want %+v", got, err, k)
	}
	if start, err := ParseKey(""); err != nil || !start.At.IsZero() || start.ID == "" {
		t.Errorf("ParseKey(\"\") = %+v, %v; want the start", start, err)
	}
	for _, bad := range []string{"nonsense", "2026-11-23T09:30:00Z", "yesterday abc", "2026-11-23T09:30:00Z x'; drop table x"} {
		if _, err := ParseKey(bad); err != ErrInvalid {
			t.Errorf("ParseKey(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	rows, next := Next([]string{"a", "b", "c"}, 2, func(s string) string { return s }, "f")
	if len(rows) != 2 || next == "" {
		t.Fatalf("Next over limit = %v, %q", rows, next)
	}
	if after, err := Decode(next, "f"); err != nil || after != "b" {
		t.Errorf("next token resumes after %q, %v; want b", after, err)
	}
	if rows, next := Next([]string{"a", "b"}, 2, func(s string) string { return s }); len(rows) != 2 || next != "" {
		t.Errorf("Next at limit = %v, %q; want the rows and no token", rows, next)
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	if id, err := ParseID("0190d6a0-0000-7000-8000-000000000001"); err != nil || id == "" {
		t.Errorf("ParseID(uuid) = %q, %v", id, err)
	}
	if _, err := ParseID("not-a-uuid"); err != ErrInvalid {
		t.Errorf("ParseID(forged) err = %v, want ErrInvalid", err)
	}
}

func TestPageByKeyAndID(t *testing.T) {
	t.Parallel()
	id := "0190a4c2-6f1e-7000-8000-000000000001"
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	limit, key, err := PageByKey(0, Encode(Key{At: at, ID: id}.String(), "london"), "london")
	if err != nil || limit != DefaultPageSize || key.ID != id || !key.At.Equal(at) {
		t.Errorf("PageByKey = %d, %+v, %v", limit, key, err)
	}
	if _, _, err := PageByKey(10, Encode("not a key", "london"), "london"); err != ErrInvalid {
		t.Errorf("PageByKey of a forged token = %v, want ErrInvalid", err)
	}
	if _, _, err := PageByKey(10, Encode(Key{At: at, ID: id}.String(), "london"), "wales"); err != ErrInvalid {
		t.Errorf("PageByKey of another filter's token = %v, want ErrInvalid", err)
	}
	if limit, after, err := PageByID(900, Encode(id), "london"); err != ErrInvalid || limit != 0 || after != "" {
		t.Errorf("PageByID of another filter's token = %d, %q, %v", limit, after, err)
	}
	if limit, after, err := PageByID(900, Encode(id)); err != nil || limit != MaxPageSize || after != id {
		t.Errorf("PageByID = %d, %q, %v", limit, after, err)
	}
	if _, _, err := PageByID(1, Encode("'; DROP TABLE x")); err != ErrInvalid {
		t.Errorf("PageByID of a forged id = %v, want ErrInvalid", err)
	}
	if _, _, err := PageByID(-1, ""); err == nil {
		t.Error("PageByID of a negative size = nil")
	}
}
