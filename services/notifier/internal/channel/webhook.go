package channel

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/services/notifier/internal/notify"
)

// The headers of a webhook post (docs/security.md, "Webhook signing").
const (
	// HeaderTimestamp is the time of signing, Unix seconds.
	HeaderTimestamp = "X-Notifier-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// webhook's secret, of the timestamp, ".", and the body.
	HeaderSignature = "X-Notifier-Signature"
	// HeaderIdempotencyKey is the message's key, the same on every retry.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Sign returns the signature header's value for body sent at timestamp.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify is what a receiver does: it checks the signature of a post and
// that it was signed within tolerance of now, so a captured post cannot be
// replayed later.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: no valid %s", HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: signed %s ago, outside the tolerance of %s", d, tolerance)
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return fmt.Errorf("webhook: bad %s", HeaderSignature)
	}
	return nil
}

// Poster sends signed webhooks; it implements notify.Poster.
type Poster struct {
	client *http.Client
	now    func() time.Time
}

// NewPoster returns a poster whose posts time out after timeout and stamp
// the time of now. It follows no redirect: a webhook answers where it was
// registered.
func NewPoster(timeout time.Duration, now func() time.Time) *Poster {
	return &Poster{now: now, client: &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Post implements notify.Poster: any 2xx answer is delivered; anything
// else, or no answer, is a failure to retry.
func (p *Poster) Post(ctx context.Context, w notify.Webhook) error {
	ts := strconv.FormatInt(p.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(w.Body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "recruitment-notifier")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.Secret, ts, w.Body))
	req.Header.Set(HeaderIdempotencyKey, w.Key)
	resp, err := p.client.Do(req)
	if err != nil {
		// The error quotes the URL, which may hold a token in its path:
		// say only what went wrong.
		return fmt.Errorf("webhook: no answer: %s", redactURL(err.Error(), w.URL))
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: answered %d", resp.StatusCode)
	}
	return nil
}

func redactURL(msg, url string) string {
	return strings.ReplaceAll(msg, url, "(webhook url)")
}
