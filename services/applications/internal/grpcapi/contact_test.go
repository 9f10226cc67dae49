package grpcapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	auditv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/audit/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	privacyv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
)

const getCandidateContact = "/recruitment.applications.v1.ApplicationsService/GetCandidateContact"

var (
	notifier     = auth.Claims{Subject: "notifier-1", Role: auth.RoleNotifier}
	vettingWales = auth.Claims{Subject: "vetting-wales", Role: auth.RoleVetting, Regions: []string{"wales"}}
)

// vettingEvent applies the vetting service's vetting.<name> ("opened",
// "cleared") about a, at the case's version, as the stage consumer would.
func (e *env) vettingEvent(t *testing.T, a *pb.Application, version int64, name string) {
	t.Helper()
	ev := &eventsv1.Event{EventId: event.NewID(), ApplicationId: a.GetId(), Region: a.GetRegion(), CampaignId: a.GetCampaignId(),
		Role: a.GetRole(), OccurredAt: a.GetSubmittedAt(), Producer: "vetting", AggregateVersion: version,
		Actor: &commonv1.Actor{Subject: "system:vetting", Role: commonv1.CallerRole_CALLER_ROLE_SYSTEM}}
	switch name {
	case "opened":
		ev.Payload = &eventsv1.Event_VettingOpened{VettingOpened: &eventsv1.VettingOpened{}}
	case "cleared":
		ev.Payload = &eventsv1.Event_VettingCleared{VettingCleared: &eventsv1.VettingCleared{}}
	default:
		t.Fatalf("vettingEvent: unhandled %s", name)
	}
	if err := e.svc.ApplyStageEvent(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
}

func (e *env) contact(t *testing.T, caller auth.Claims, id string) (*pb.GetCandidateContactResponse, error) {
	t.Helper()
	return e.as(t, caller).GetCandidateContact(t.Context(), &pb.GetCandidateContactRequest{ApplicationId: id})
}

// TestGetCandidateContact asks for a candidate's contact as each kind of
// caller: the region's SPOC, the region's vetting contact point while the
// case is open (and after it closes), another region's, the notifier, an
// admin and a dashboard; and checks what the answer holds and what the
// audit trail keeps.
func TestGetCandidateContact(t *testing.T) {
	t.Parallel()
	e := setup(t)
	spoc := e.as(t, spocLondon)
	c := e.openCampaign(t, "london")
	ada := candidate("Ada Lovelace")
	ada.Phone = "07700 900123"
	inVetting := e.submit(t, spoc, c.GetId(), ada)
	e.moveTo(t, inVetting, &eventsv1.Event_SiftPassed{SiftPassed: &eventsv1.SiftPassed{}},
		&eventsv1.Event_InterviewPassed{InterviewPassed: &eventsv1.InterviewPassed{}}, &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}})
	e.vettingEvent(t, inVetting, 1, "opened")
	inSift := e.submit(t, spoc, c.GetId(), candidate("Grace Hopper"))
	wales := e.submit(t, e.as(t, spocWales), e.openCampaign(t, "wales").GetId(), candidate("Gwen John"))

	want := &pb.GetCandidateContactResponse{ApplicationId: inVetting.GetId(), Region: "london", CampaignId: c.GetId(),
		Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Candidate: ada}

	t.Run("allowed: the name, email and phone, the ids, region and role, nothing else", func(t *testing.T) {
		for _, caller := range []auth.Claims{spocLondon, vetting, notifier, admin} {
			got, err := e.contact(t, caller, inVetting.GetId())
			if err != nil {
				t.Fatalf("%s: %v", caller.Subject, err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("%s: %v\nwant %v", caller.Subject, got, want)
			}
		}
		// The SPOC and the notifier read a candidate with no vetting case;
		// the notifier any region's.
		for _, read := range []struct {
			caller auth.Claims
			id     string
		}{{spocLondon, inSift.GetId()}, {notifier, inSift.GetId()}, {notifier, wales.GetId()}, {spocWales, wales.GetId()}} {
			if got, err := e.contact(t, read.caller, read.id); err != nil || got.GetCandidate().GetName() == "" {
				t.Errorf("%s reading %s: %v, %v", read.caller.Subject, read.id, got, err)
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		// Another region's application reads as a missing one, word for
		// word, to a SPOC and to a vetting contact point (the attack of a
		// vetting user of another region on an open case).
		for _, caller := range []auth.Claims{spocWales, vettingWales} {
			_, other := e.contact(t, caller, inVetting.GetId())
			_, missing := e.contact(t, caller, event.NewID())
			testenv.WantSameAsMissing(t, other, missing, codes.NotFound)
		}
		// The region's vetting contact point, for an application with no
		// vetting case.
		_, err := e.contact(t, vetting, inSift.GetId())
		testenv.WantStatus(t, err, codes.PermissionDenied, "vetting case is open")
		// Roles that may not ask at all.
		_, err = e.contact(t, dashboard, inVetting.GetId())
		testenv.WantStatus(t, err, codes.PermissionDenied, "role")
		_, err = e.dial(t, "").GetCandidateContact(t.Context(), &pb.GetCandidateContactRequest{ApplicationId: inVetting.GetId()})
		testenv.WantStatus(t, err, codes.Unauthenticated)
		_, err = e.contact(t, notifier, "not-a-uuid")
		testenv.WantField(t, err, "application_id")
	})

	// These change the case, so they run after the reads above.
	t.Run("the vetting contact point loses the contact when the case clears", func(t *testing.T) {
		e.vettingEvent(t, inVetting, 4, "cleared")
		// A late vetting.opened (an older version) does not reopen it.
		e.vettingEvent(t, inVetting, 1, "opened")
		_, err := e.contact(t, vetting, inVetting.GetId())
		testenv.WantStatus(t, err, codes.PermissionDenied, "vetting case is open")
		if got, err := e.contact(t, spocLondon, inVetting.GetId()); err != nil || !proto.Equal(got, want) {
			t.Errorf("the SPOC after clearance: %v, %v", got, err)
		}
	})

	t.Run("a withdrawn application's case is closed to vetting", func(t *testing.T) {
		b := e.submit(t, spoc, c.GetId(), candidate("Mary Seacole"))
		e.moveTo(t, b, &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}})
		e.vettingEvent(t, b, 1, "opened")
		if _, err := e.contact(t, vetting, b.GetId()); err != nil {
			t.Fatalf("vetting, case open: %v", err)
		}
		if _, err := spoc.WithdrawApplication(t.Context(), &pb.WithdrawApplicationRequest{RequestId: reqID(), ApplicationId: b.GetId(),
			ExpectedVersion: b.GetVersion(), ReasonCode: "candidate_request"}); err != nil {
			t.Fatal(err)
		}
		_, err := e.contact(t, vetting, b.GetId())
		testenv.WantStatus(t, err, codes.PermissionDenied, "vetting case is open")
	})

	t.Run("an erased candidate is erased, with no contact", func(t *testing.T) {
		b := e.submit(t, spoc, c.GetId(), candidate("Florence Nightingale"))
		e.moveTo(t, b, &eventsv1.Event_OfferAccepted{OfferAccepted: &eventsv1.OfferAccepted{}})
		e.vettingEvent(t, b, 1, "opened")
		if _, err := e.as(t, admin).EraseCandidate(t.Context(), &pb.EraseCandidateRequest{RequestId: reqID(), ApplicationId: b.GetId(), ReasonCode: "right_to_erasure"}); err != nil {
			t.Fatal(err)
		}
		wantErased := &pb.GetCandidateContactResponse{ApplicationId: b.GetId(), Region: "london", CampaignId: c.GetId(),
			Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, Erased: true}
		for _, caller := range []auth.Claims{spocLondon, vetting, notifier} {
			got, err := e.contact(t, caller, b.GetId())
			if err != nil || !proto.Equal(got, wantErased) {
				t.Errorf("%s: %v, %v; want %v", caller.Subject, got, err, wantErased)
			}
		}
		_, err := e.contact(t, vetting, inSift.GetId())
		testenv.WantStatus(t, err, codes.PermissionDenied)
	})

	t.Run("every call is in the audit trail: who, the role, the record, the outcome; never the values", func(t *testing.T) {
		rows := e.auditRows(t, getCandidateContact)
		count := func(subject, id, outcome string) int {
			n := 0
			for _, r := range rows {
				if r.subject == subject && r.kind == "read" && slices.Equal(r.recordIDs, []string{id}) && r.outcome == outcome {
					n++
				}
			}
			return n
		}
		for _, w := range []struct {
			subject, id, outcome string
			atLeast              int
		}{
			{spocLondon.Subject, inVetting.GetId(), "OK", 2},
			{vetting.Subject, inVetting.GetId(), "OK", 1},
			{vetting.Subject, inVetting.GetId(), "PERMISSION_DENIED", 1},
			{vetting.Subject, inSift.GetId(), "PERMISSION_DENIED", 2},
			{notifier.Subject, wales.GetId(), "OK", 1},
			{vettingWales.Subject, inVetting.GetId(), "NOT_FOUND", 1},
			{spocWales.Subject, inVetting.GetId(), "NOT_FOUND", 1},
			{dashboard.Subject, inVetting.GetId(), "PERMISSION_DENIED", 1},
			{admin.Subject, inVetting.GetId(), "OK", 1},
		} {
			if n := count(w.subject, w.id, w.outcome); n < w.atLeast {
				t.Errorf("%d audit rows of %s reading %s with %s, want at least %d", n, w.subject, w.id, w.outcome, w.atLeast)
			}
		}
		for _, r := range rows {
			if r.role == "notifier" && r.subject != notifier.Subject {
				t.Errorf("row %+v: role notifier for another subject", r)
			}
		}
		// No row of the trail holds a candidate's name, email or phone.
		var text string
		if err := e.Pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(a::text, ' '), '') FROM audit_event a`).Scan(&text); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{ada.GetName(), ada.GetEmail(), ada.GetPhone(), "Grace Hopper", "Gwen John"} {
			if strings.Contains(text, v) {
				t.Errorf("the audit trail holds %q", v)
			}
		}
	})
}

// TestNotifierMayCallNothingElse: the notifier role's token is refused by
// every other RPC this service serves (applications, its part of the
// subject access export, its audit trail).
func TestNotifierMayCallNothingElse(t *testing.T) {
	t.Parallel()
	e := setup(t)
	testenv.WantRoleRefused(t, e.As(t, notifier), []protoreflect.ServiceDescriptor{
		pb.File_recruitment_applications_v1_applications_proto.Services().Get(0),
		privacyv1.File_recruitment_privacy_v1_privacy_proto.Services().Get(0),
		auditv1.File_recruitment_audit_v1_audit_proto.Services().Get(0),
	}, "ApplicationsService/GetCandidateContact")
}
