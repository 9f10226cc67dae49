package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// TestForgedEventsDoNotMoveACandidate: the services run as their own NATS
// users, so none can publish another's events (pkg/natsperm proves the
// server refuses); should a forged vetting.failed reach the stream all the
// same (say, through a leaked administrator credential), offers refuses
// it, counts it, and goes on to act on the real one.
func TestForgedEventsDoNotMoveACandidate(t *testing.T) {
	t.Parallel()
	st := start(t)
	ctx := context.Background()
	c := newCandidate(t, st, commonv1.JobRole_JOB_ROLE_ADMINISTRATOR)
	c.passInterview()
	vc := c.acceptOffer()

	failed := func(producer string) *eventsv1.Event {
		ev := event.New(producer, event.SystemActor(producer), time.Now(), event.Record{
			ApplicationID: c.id, CampaignID: c.campaignID, Region: "london", Version: 99,
		})
		ev.Payload = &eventsv1.Event_VettingFailed{VettingFailed: &eventsv1.VettingFailed{ReasonCode: "forged"}}
		return ev
	}
	for _, f := range []struct {
		subject string
		ev      *eventsv1.Event
	}{
		{"recruitment.london.vetting.failed", failed("applications")}, // not the owner
		{"recruitment.wales.vetting.failed", failed("vetting")},       // not its subject
	} {
		b, err := event.Marshal(f.ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.js.PublishMsg(ctx, &nats.Msg{Subject: f.subject, Data: b}, jetstream.WithMsgID(f.ev.GetEventId())); err != nil {
			t.Fatal(err)
		}
	}
	for _, reason := range []string{"producer", "subject"} {
		line := fmt.Sprintf(`consumer_events_forged_total{consumer="offers",reason=%q} 1`, reason)
		testenv.Eventually(t, "offers to count the forged event ("+reason+")", func() (bool, string) {
			m := metrics(t, st.admins["offers"])
			return strings.Contains(m, line), "no " + line
		})
	}
	if o := c.offer(offersv1.OfferStatus_OFFER_STATUS_ACCEPTED, nil); o.GetReasonCode() != "" {
		t.Errorf("offer after the forged events = %v, want it accepted as before", o)
	}

	// The real failure, published by vetting, withdraws the offer.
	_, err := c.vetting.FailCase(ctx, &vettingv1.FailCaseRequest{
		RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: vc.GetVersion(), ReasonCode: "identity_not_verified",
	}, c.vetter)
	c.must(err)
	if o := c.offer(offersv1.OfferStatus_OFFER_STATUS_WITHDRAWN, nil); o.GetReasonCode() != "vetting_failed" {
		t.Errorf("offer withdrawn with reason %q, want vetting_failed", o.GetReasonCode())
	}
}

// metrics reads a service's /metrics.
func metrics(t *testing.T, adminAddr string) string {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
