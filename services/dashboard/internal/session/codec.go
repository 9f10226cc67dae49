package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a session key: AES-256.
const KeySize = 32

// Codec seals cookie values with AES-256-GCM: encrypted, so a browser (or
// anyone who copies the cookie out of it) cannot read the tokens inside,
// and authenticated, so a changed or forged value is refused. The cookie's
// name is the additional data, so one cookie's value cannot be passed off
// as another's (a sign-in's state as a session, say).
//
// It seals with its first key and opens with any of them: to change keys
// without signing everyone out, put the new key first and keep the old one
// after it until the longest session has ended.
type Codec struct {
	aeads []cipher.AEAD
}

// ParseKeys reads a comma-separated list of base64 keys (standard or URL
// alphabet, padded or not) of KeySize bytes each.
func ParseKeys(list string) (*Codec, error) {
	var keys [][]byte
	for i, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		k, err := decodeKey(s)
		if err != nil {
			return nil, fmt.Errorf("session key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("session key: none given")
	}
	return NewCodec(keys...)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("is %d bytes, want %d (make one with: head -c %d /dev/urandom | base64)", len(k), KeySize, KeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("is not base64")
}

// NewCodec seals with keys[0] and opens with any of keys.
func NewCodec(keys ...[]byte) (*Codec, error) {
	c := &Codec{}
	for _, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("session key is %d bytes, want %d", len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		c.aeads = append(c.aeads, aead)
	}
	if len(c.aeads) == 0 {
		return nil, errors.New("session key: none given")
	}
	return c, nil
}

// RandomKey is a new random key, for a dashboard on a developer's machine
// that was given none: its sessions end when it stops.
func RandomKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // never fails (crypto/rand)
	return k
}

// errBadCookie is any value Open refuses; which check failed is nobody's
// business but the log's.
var errBadCookie = errors.New("cookie value is not one this dashboard sealed")

// Seal encrypts plaintext for the cookie called name.
func (c *Codec) Seal(name string, plaintext []byte) string {
	aead := c.aeads[0]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plaintext, []byte(name)))
}

// Open decrypts a value Seal made for the cookie called name.
func (c *Codec) Open(name, value string) ([]byte, error) {
	// Strict: one value has one encoding, so no changed character passes
	// as the same value.
	b, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil {
		return nil, errBadCookie
	}
	for _, aead := range c.aeads {
		if len(b) < aead.NonceSize()+aead.Overhead() {
			return nil, errBadCookie
		}
		if plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(name)); err == nil {
			return plain, nil
		}
	}
	return nil, errBadCookie
}
