// Package pagetoken encodes opaque page tokens for keyset pagination. A
// token carries the last key of a page and a digest of the request's
// filters, so it cannot be replayed against a different query.
package pagetoken

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/validate"
)

// ErrInvalid means the token is malformed or belongs to other filters.
var ErrInvalid = errors.New("page_token is not valid for this request; start again without it")

type token struct {
	After  string `json:"a"`
	Filter string `json:"f"`
}

func digest(filters []string) string {
	h := sha256.Sum256([]byte(strings.Join(filters, "\x00")))
	return base64.RawURLEncoding.EncodeToString(h[:8])
}

// Encode returns the token for the page after key under filters.
func Encode(after string, filters ...string) string {
	b, _ := json.Marshal(token{After: after, Filter: digest(filters)}) // cannot fail for strings
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns the key a token resumes after; "" for an empty token. Only
// a token Encode makes for these filters decodes: JSON and base64 each
// accept other spellings of the same token (a key "A" for "a", invalid
// UTF-8 read as U+FFFD, stray bits after the last base64 character), and
// each of those is refused, so what comes back is exactly what was issued.
func Decode(tok string, filters ...string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", ErrInvalid
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil || t.After == "" || t.Filter != digest(filters) || Encode(t.After, filters...) != tok {
		return "", ErrInvalid
	}
	return t.After, nil
}

// Size turns a requested page size into a limit: 0 means def, above max
// means max; a negative size is an error.
func Size(requested int32, def, max int) (int, error) {
	switch {
	case requested < 0:
		return 0, errors.New("page_size must not be negative")
	case requested == 0:
		return def, nil
	case int(requested) > max:
		return max, nil
	}
	return int(requested), nil
}

// Default and largest page sizes of every list call.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Page reads a list request's paging: the limit (default 50, at most 500)
// and the key to resume after. Errors are FieldErrors on page_size or
// ErrInvalid.
func Page(size int32, tok string, filters ...string) (limit int, after string, err error) {
	if limit, err = Size(size, DefaultPageSize, MaxPageSize); err != nil {
		return 0, "", validate.Field("page_size", "must not be negative")
	}
	after, err = Decode(tok, filters...)
	return limit, after, err
}

// PageByKey is Page for lists ordered by a time and an id: the key to
// resume after is a Key.
func PageByKey(size int32, tok string, filters ...string) (limit int, after Key, err error) {
	limit, s, err := Page(size, tok, filters...)
	if err != nil {
		return 0, Key{}, err
	}
	after, err = ParseKey(s)
	return limit, after, err
}

// PageByID is Page for lists ordered by id: the key to resume after is a
// UUID ("" at the start).
func PageByID(size int32, tok string, filters ...string) (limit int, after string, err error) {
	if limit, after, err = Page(size, tok, filters...); err != nil {
		return 0, "", err
	}
	after, err = ParseID(after)
	return limit, after, err
}

// Key is a keyset position for lists ordered by a time and then an id:
// the last row of a page.
type Key struct {
	At time.Time
	ID string
}

// String encodes the key for Encode.
func (k Key) String() string { return k.At.UTC().Format(time.RFC3339Nano) + " " + k.ID }

// ParseKey decodes a key from a token's payload ("" is the start). The id
// must be a UUID: a token is only base64, so a client can forge one, and
// what it holds goes into a query.
func ParseKey(s string) (Key, error) {
	if s == "" {
		return Key{ID: "00000000-0000-0000-0000-000000000000"}, nil
	}
	at, id, ok := strings.Cut(s, " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || validate.UUID("page_token", id) != nil {
		return Key{}, ErrInvalid
	}
	return Key{At: t, ID: id}, nil
}

// ParseID decodes a token's payload that is a UUID ("" is the start).
func ParseID(s string) (string, error) {
	if s != "" && validate.UUID("page_token", s) != nil {
		return "", ErrInvalid
	}
	return s, nil
}

// Next trims rows, fetched with a limit of limit+1, to one page and returns
// the token of the page after it ("" on the last page). key gives a row's
// resume key.
func Next[T any](rows []T, limit int, key func(T) string, filters ...string) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, Encode(key(rows[limit-1]), filters...)
}
