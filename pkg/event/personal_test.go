package event_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// notPersonal are the only text fields events may carry, each with why it
// names no candidate (docs/data-protection.md: events hold no personal
// data, which is what lets erasure leave every report unchanged). A new
// text field fails this test until someone decides it is one of these.
var notPersonal = map[protoreflect.FullName]string{
	"recruitment.events.v1.Event.event_id":                      "a UUID",
	"recruitment.events.v1.Event.application_id":                "a pseudonymous UUID",
	"recruitment.events.v1.Event.campaign_id":                   "a UUID",
	"recruitment.events.v1.Event.region":                        "a region code",
	"recruitment.events.v1.Event.producer":                      "a service name",
	"recruitment.events.v1.CampaignDetails.title":               "a campaign's title, not a person's",
	"recruitment.events.v1.OfferMade.salary_band_code":          "a code from a fixed list",
	"recruitment.events.v1.OfferStartDateSet.approved_by":       "a staff token subject (never an email address)",
	"recruitment.events.v1.CandidateStarted.approved_by":        "a staff token subject (never an email address)",
	"recruitment.events.v1.ApplicationErased.reason_code":       "a code from a fixed list",
	"recruitment.events.v1.ApplicationWithdrawn.reason_code":    "a validated reason code",
	"recruitment.events.v1.ApplicationSubmitted.source":         "a code from the fixed list of application sources (pkg/reason)",
	"recruitment.events.v1.CampaignStatusChanged.reason_code":   "a validated reason code about a campaign",
	"recruitment.common.v1.CampaignRegion.region":               "a region code (validated)",
	"recruitment.events.v1.SiftFailed.reason_code":              "a validated reason code",
	"recruitment.events.v1.InterviewFailed.reason_code":         "a validated reason code",
	"recruitment.events.v1.OfferDeclined.reason_code":           "a validated reason code",
	"recruitment.events.v1.OfferWithdrawn.reason_code":          "a validated reason code",
	"recruitment.events.v1.VettingFailed.reason_code":           "a validated reason code",
	"recruitment.events.v1.VettingAssigned.assignee":            "a staff subject id (the vetting service refuses an email address)",
	"recruitment.events.v1.VettingAssigned.previous_assignee":   "a staff subject id (the vetting service refuses an email address)",
	"recruitment.events.v1.VettingUnassigned.previous_assignee": "a staff subject id (the vetting service refuses an email address)",
	"recruitment.events.v1.CaseAssigned.assignee":               "a staff subject id (the stage services refuse an email address)",
	"recruitment.events.v1.CaseAssigned.previous_assignee":      "a staff subject id (the stage services refuse an email address)",
	"recruitment.events.v1.CaseUnassigned.previous_assignee":    "a staff subject id (the stage services refuse an email address)",
	"recruitment.events.v1.StuckChanged.assignee":               "a staff subject id, copied from an assignment event",
	"recruitment.common.v1.Actor.subject":                       "a staff token subject (never an email address)",
	"recruitment.common.v1.ImportedOffer.approved_by":           "a staff subject id (the import refuses a name or an email address)",
	"recruitment.common.v1.ImportedOffer.salary_band_code":      "a code",
	"recruitment.common.v1.ImportedOffer.decline_reason_code":   "a validated reason code",
	"recruitment.common.v1.ImportedSift.reason_code":            "a validated reason code",
	"recruitment.common.v1.ImportedInterview.reason_code":       "a validated reason code",
	"recruitment.common.v1.ImportedVetting.fail_reason_code":    "a validated reason code",
}

// TestEventsCarryNoPersonalData walks every message an event can hold,
// nested ones and those of other files included, and fails on a text or
// bytes field that is not known to name no one.
func TestEventsCarryNoPersonalData(t *testing.T) {
	seen := map[protoreflect.FullName]bool{}
	var walk func(m protoreflect.MessageDescriptor)
	walk = func(m protoreflect.MessageDescriptor) {
		if seen[m.FullName()] || m.ParentFile().Package() == "google.protobuf" {
			return
		}
		seen[m.FullName()] = true
		for i := 0; i < m.Fields().Len(); i++ {
			f := m.Fields().Get(i)
			switch f.Kind() {
			case protoreflect.StringKind, protoreflect.BytesKind:
				if _, ok := notPersonal[f.FullName()]; !ok {
					t.Errorf("%s: a text field in an event; events carry no personal data (docs/data-protection.md): add it to notPersonal with why it names no one, or leave it out of the event", f.FullName())
				}
			case protoreflect.MessageKind:
				walk(f.Message())
			}
		}
	}
	walk((&eventsv1.Event{}).ProtoReflect().Descriptor())
	if !seen["recruitment.events.v1.ApplicationSubmitted"] || !seen["recruitment.common.v1.Actor"] {
		t.Fatalf("the walk missed payloads: %d messages seen", len(seen))
	}
	for name := range notPersonal {
		if !seenField(seen, name) {
			t.Errorf("notPersonal lists %s, which no event has", name)
		}
	}
}

func seenField(seen map[protoreflect.FullName]bool, field protoreflect.FullName) bool {
	return seen[field.Parent()]
}
