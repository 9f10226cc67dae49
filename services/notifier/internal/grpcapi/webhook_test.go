package grpcapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	"github.com/probation-recruitment/pipeline/services/notifier/internal/channel"
)

const webhookSecret = "a-webhook-secret-of-32-characters"

// receiver is a webhook endpoint that checks each post's signature and
// fails the first `fail` posts with 503.
type receiver struct {
	t     *testing.T
	now   func() time.Time
	mu    sync.Mutex
	fail  int
	got   [][]byte
	keys  []string
	tries int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	if err := channel.Verify(webhookSecret, req.Header, body, r.now(), 5*time.Minute); err != nil {
		r.t.Errorf("post refused: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	if r.fail > 0 {
		r.fail--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	r.got = append(r.got, body)
	r.keys = append(r.keys, req.Header.Get(channel.HeaderIdempotencyKey))
}

// newHook serves r on a loopback port and returns its URL.
func newHook(t *testing.T, r *receiver) string {
	t.Helper()
	hook := httptest.NewServer(r)
	t.Cleanup(hook.Close)
	return hook.URL + "/hooks/recruitment"
}

func (r *receiver) counts() (tries, delivered int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries, len(r.got)
}

// TestWebhookSignedRetriedThenDeadLettered: a webhook receives the
// message signed with its secret (checked by the receiver as a real one
// would), retried with doubling waits while it fails; a webhook that
// keeps failing is dead-lettered after the last try, listed for an admin,
// and sent again when the admin retries it. The email goes out on its own.
func TestWebhookSignedRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := &receiver{t: t, now: e.clock.Now, fail: 2}
	e.prefs(t, spocLondon, &pb.SetPreferencesRequest{Email: "spoc1@probation.example", WebhookUrl: newHook(t, r), WebhookSecret: webhookSecret})
	a := newApp("london")
	breach := a.stuck("stuck.breach", commonv1.Stage_STAGE_SIFT, start.Add(-14*day), 14, spocLondon.Subject, start)
	e.publish(t, breach)

	// Try 1 fails (email sent); 1 minute later try 2 fails; 2 minutes
	// after that try 3 succeeds. A run before a wait is over tries nothing.
	if n := e.runOnce(t); n != 1 {
		t.Errorf("first run delivered %d, want 1 (the email)", n)
	}
	wantEmails(t, e.smtp.take(), [2]string{"spoc1@probation.example", "Breach: application " + a.id + " stuck in SIFT past 14 days"})
	for _, step := range []struct {
		advance          time.Duration
		tries, delivered int
	}{{59 * time.Second, 1, 0}, {time.Second, 2, 0}, {119 * time.Second, 2, 0}, {time.Second, 3, 1}} {
		e.clock.Advance(step.advance)
		e.runOnce(t)
		if tries, delivered := r.counts(); tries != step.tries || delivered != step.delivered {
			t.Fatalf("at %s: %d tries, %d delivered; want %d, %d", e.clock.Now().Sub(start), tries, delivered, step.tries, step.delivered)
		}
	}
	var body struct {
		ID, Kind, Text string
		Items          []struct {
			EventID       string `json:"event_id"`
			ApplicationID string `json:"application_id"`
			Stage         string
			Days          int
			ThresholdDays int `json:"threshold_days"`
		}
	}
	if err := json.Unmarshal(r.got[0], &body); err != nil {
		t.Fatal(err)
	}
	if body.ID != breach.GetEventId() || r.keys[0] != breach.GetEventId() || body.Kind != "stuck.breach" || len(body.Items) != 1 ||
		body.Items[0].ApplicationID != a.id || body.Items[0].Stage != "SIFT" || body.Items[0].ThresholdDays != 14 || body.Items[0].Days != 14 {
		t.Errorf("webhook body %s (key %q)", r.got[0], r.keys[0])
	}

	// A webhook that never answers well: 3 tries, then the dead letters.
	r.mu.Lock()
	r.fail = 1000
	r.mu.Unlock()
	b := newApp("london")
	e.publish(t, b.stuck("stuck.breach", commonv1.Stage_STAGE_SIFT, e.clock.Now().Add(-14*day), 14, spocLondon.Subject, e.clock.Now()))
	for range 3 {
		e.runOnce(t)
		e.clock.Advance(time.Hour)
	}
	e.smtp.take()
	tries, _ := r.counts()
	if tries != 6 {
		t.Errorf("%d tries in all, want 3 + 3", tries)
	}
	dead, err := e.client(t, admin).ListDeadLetters(t.Context(), &pb.ListDeadLettersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead.GetDeadLetters()) != 1 {
		t.Fatalf("dead letters %v, want 1", dead.GetDeadLetters())
	}
	d := dead.GetDeadLetters()[0]
	if d.GetChannel() != pb.Channel_CHANNEL_WEBHOOK || d.GetRecipient() != spocLondon.Subject || d.GetAttempts() != 3 ||
		d.GetLastError() != "webhook: answered 503" || d.GetKind() != "stuck.breach" {
		t.Errorf("dead letter %v", d)
	}
	e.runOnce(t)
	if now, _ := r.counts(); now != tries {
		t.Errorf("a dead letter was tried again by itself")
	}

	// Only an admin sees or retries dead letters.
	_, err = e.client(t, spocLondon).ListDeadLetters(t.Context(), &pb.ListDeadLettersRequest{})
	testenv.WantStatus(t, err, codes.PermissionDenied)
	_, err = e.client(t, spocLondon).RetryDeadLetter(t.Context(), &pb.RetryDeadLetterRequest{Id: d.GetId()})
	testenv.WantStatus(t, err, codes.PermissionDenied)

	// The receiver is mended; the admin retries.
	r.mu.Lock()
	r.fail = 0
	r.mu.Unlock()
	if _, err := e.client(t, admin).RetryDeadLetter(t.Context(), &pb.RetryDeadLetterRequest{Id: d.GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client(t, admin).RetryDeadLetter(t.Context(), &pb.RetryDeadLetterRequest{Id: d.GetId()})
	testenv.WantStatus(t, err, codes.FailedPrecondition, "not dead-lettered")
	if n := e.runOnce(t); n != 1 {
		t.Errorf("the retried dead letter: %d delivered, want 1", n)
	}
	if _, delivered := r.counts(); delivered != 2 {
		t.Errorf("%d delivered in all, want 2", delivered)
	}
	dead, err = e.client(t, admin).ListDeadLetters(t.Context(), &pb.ListDeadLettersRequest{})
	if err != nil || len(dead.GetDeadLetters()) != 0 {
		t.Errorf("dead letters after the retry: %v, %v", dead.GetDeadLetters(), err)
	}
}
