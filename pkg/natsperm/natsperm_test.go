package natsperm_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/natsperm"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

func TestEveryProducerIsAUser(t *testing.T) {
	t.Parallel()
	for _, producer := range event.Producers() {
		if !slices.Contains(natsperm.Services, producer) {
			t.Errorf("producer %s has no NATS user", producer)
		}
	}
	if _, err := natsperm.Users("RECRUITMENT", "recruitment", map[string]string{natsperm.Admin: "x"}); err == nil {
		t.Error("Users without the services' passwords: want an error")
	}
}

// vettingCleared is a well-formed vetting.cleared that producer says it
// published.
func vettingCleared(producer string) *eventsv1.Event {
	return &eventsv1.Event{
		EventId: event.NewID(), ApplicationId: event.NewID(), Region: "london", OccurredAt: timestamppb.Now(),
		Producer: producer, Actor: &commonv1.Actor{Subject: "x", Role: commonv1.CallerRole_CALLER_ROLE_SYSTEM},
		Payload: &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}},
	}
}

func publish(ctx context.Context, js jetstream.JetStream, subject string, ev *eventsv1.Event) error {
	b, err := event.Marshal(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: b}, jetstream.WithMsgID(ev.GetEventId()))
	return err
}

// The attack of issue 13: any service that can publish can forge
// vetting.cleared and have offers start a candidate without vetting. The
// server refuses it from anyone but vetting.
func TestOnlyTheOwnerMayPublishAnEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.NATS(t)
	_, admin := testenv.Connect(t, url)
	str, err := admin.Stream(ctx, "RECRUITMENT")
	if err != nil {
		t.Fatal(err)
	}
	for _, forger := range []string{"applications", "sifting", "offers", "reporting", "notifier"} {
		_, js := testenv.ConnectAs(t, url, forger)
		err := publish(ctx, js, "recruitment.london.vetting.cleared", vettingCleared("vetting"))
		if err == nil {
			t.Errorf("%s published vetting.cleared: want the server to refuse it", forger)
		}
	}
	// The notifier owns no event: it may publish none, not even a stuck
	// breach that would have it (and everyone else) alert on a lie.
	_, notifier := testenv.ConnectAs(t, url, "notifier")
	if err := publish(ctx, notifier, "recruitment.london.stuck.breach", vettingCleared("reporting")); err == nil {
		t.Error("notifier published stuck.breach: want the server to refuse it")
	}
	// Nor under a subject of its own, or outside the stream's.
	_, apps := testenv.ConnectAs(t, url, "applications")
	for _, subject := range []string{"recruitment.london.vetting", "recruitment.vetting.london.cleared", "other.london.vetting.cleared"} {
		if err := publish(ctx, apps, subject, vettingCleared("vetting")); err == nil {
			t.Errorf("applications published on %s: want a refusal", subject)
		}
	}
	if _, err := str.GetLastMsgForSubject(ctx, "recruitment.*.vetting.>"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("a vetting event is on the stream (%v); want none", err)
	}

	// The owner's own publish goes through, and so do each service's.
	_, vetting := testenv.ConnectAs(t, url, "vetting")
	if err := publish(ctx, vetting, "recruitment.london.vetting.cleared", vettingCleared("vetting")); err != nil {
		t.Errorf("vetting published vetting.cleared: %v", err)
	}
	for _, subject := range []string{"recruitment.london.application.submitted", "recruitment.wales.campaign.created"} {
		if err := publish(ctx, apps, subject, vettingCleared("applications")); err != nil {
			t.Errorf("applications on %s: %v", subject, err)
		}
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Errorf("stream holds %d messages, want the 3 owners' publishes", info.State.Msgs)
	}
}

// A service can neither change the stream (a new subject, a source, a
// shorter age could each forge or destroy events) nor touch another
// service's durable consumer (taking or acknowledging offers' vetting.failed
// would keep an offer alive), nor read another's replies.
func TestServicesKeepToTheirOwnStreamAndConsumer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.NATS(t)
	_, admin := testenv.Connect(t, url)
	if _, err := admin.CreateConsumer(ctx, "RECRUITMENT", jetstream.ConsumerConfig{Durable: "offers", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }

	for _, service := range []string{"applications", "reporting"} {
		nc, js := testenv.ConnectAs(t, url, service)
		str, err := js.Stream(ctx, "RECRUITMENT")
		if err != nil {
			t.Fatalf("%s reads the stream's configuration: %v", service, err)
		}
		cfg := str.CachedInfo().Config
		cfg.Subjects = append(cfg.Subjects, "forged.>")
		c, cancel := short()
		if _, err := js.UpdateStream(c, cfg); err == nil {
			t.Errorf("%s updated the stream", service)
		}
		cancel()
		c, cancel = short()
		if err := str.Purge(c); err == nil {
			t.Errorf("%s purged the stream", service)
		}
		cancel()
		c, cancel = short()
		if err := js.DeleteConsumer(c, "RECRUITMENT", "offers"); err == nil {
			t.Errorf("%s deleted offers' durable consumer", service)
		}
		cancel()
		c, cancel = short()
		if _, err := js.Consumer(c, "RECRUITMENT", "offers"); err == nil {
			t.Errorf("%s read offers' durable consumer", service)
		}
		cancel()
		c, cancel = short()
		if _, err := js.CreateOrUpdateConsumer(c, "RECRUITMENT", jetstream.ConsumerConfig{Durable: "offers", FilterSubject: "recruitment.*.sift.>"}); err == nil {
			t.Errorf("%s changed offers' durable consumer", service)
		}
		cancel()
		// The durable is unchanged.
		if info, err := admin.Consumer(ctx, "RECRUITMENT", "offers"); err != nil || info.CachedInfo().Config.FilterSubject != "" {
			t.Errorf("offers' durable after %s's attempts: %v, %+v", service, err, info)
		}
		// Its own durable: created, read, pulled from and acknowledged.
		c, cancel = short()
		own, err := js.CreateOrUpdateConsumer(c, "RECRUITMENT", jetstream.ConsumerConfig{
			Durable: service, FilterSubject: "recruitment.>", AckPolicy: jetstream.AckExplicitPolicy,
		})
		cancel()
		if err != nil {
			t.Fatalf("%s creates its own durable consumer: %v", service, err)
		}
		if err := publish(ctx, admin, "recruitment.london.vetting.cleared", vettingCleared("vetting")); err != nil {
			t.Fatal(err)
		}
		msgs, err := own.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range msgs.Messages() {
			got++
			if err := m.DoubleAck(ctx); err != nil {
				t.Errorf("%s acknowledges its own message: %v", service, err)
			}
		}
		if got != 1 || msgs.Error() != nil {
			t.Errorf("%s pulled %d messages (%v), want 1", service, got, msgs.Error())
		}
		// Subscribing to events or another's inbox is refused.
		for _, subject := range []string{"recruitment.>", "_INBOX_offers.>", "_INBOX.>"} {
			sub, err := nc.Subscribe(subject, func(*nats.Msg) {})
			if err == nil {
				err = nc.Flush()
			}
			if err == nil {
				// The refusal comes asynchronously, as the connection's last error.
				testenv.Eventually(t, service+" refused "+subject, func() (bool, string) {
					e := nc.LastError()
					if e != nil && strings.Contains(strings.ToLower(e.Error()), "permissions violation") && strings.Contains(e.Error(), subject) {
						return true, ""
					}
					return false, "last error: " + errString(e)
				})
				_ = sub.Unsubscribe()
			}
		}
	}

	// Reporting's rebuild replays the stream through an ordered consumer.
	_, js := testenv.ConnectAs(t, url, "reporting")
	str, err := js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		t.Fatal(err)
	}
	ordered, err := str.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		t.Fatalf("reporting's ordered consumer: %v", err)
	}
	msgs, err := ordered.Fetch(2, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range msgs.Messages() {
		got++
	}
	if got != 2 {
		t.Errorf("reporting replayed %d messages, want 2 (%v)", got, msgs.Error())
	}
}

func errString(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

// The events of the pre-employment checks (offer.check_recorded) are
// offers' alone: vetting, whose cases they sit beside, and every other
// service — the equality service, which publishes nothing, included — are
// refused by the server; offers' own publish goes through.
func TestOnlyOffersRecordsACheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.NATS(t)
	_, admin := testenv.Connect(t, url)
	str, err := admin.Stream(ctx, "RECRUITMENT")
	if err != nil {
		t.Fatal(err)
	}
	checkRecorded := func(producer string) *eventsv1.Event {
		ev := vettingCleared(producer)
		ev.Payload = &eventsv1.Event_OfferCheckRecorded{OfferCheckRecorded: &eventsv1.OfferCheckRecorded{}}
		return ev
	}
	const subject = "recruitment.london.offer.check_recorded"
	for _, forger := range natsperm.Services {
		if forger == "offers" {
			continue
		}
		_, js := testenv.ConnectAs(t, url, forger)
		if err := publish(ctx, js, subject, checkRecorded("offers")); err == nil {
			t.Errorf("%s published offer.check_recorded: want the server to refuse it", forger)
		}
	}
	if _, err := str.GetLastMsgForSubject(ctx, "recruitment.*.offer.>"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("a forged offer event is on the stream (%v); want none", err)
	}
	_, offers := testenv.ConnectAs(t, url, "offers")
	if err := publish(ctx, offers, subject, checkRecorded("offers")); err != nil {
		t.Errorf("offers published offer.check_recorded: %v", err)
	}
}
