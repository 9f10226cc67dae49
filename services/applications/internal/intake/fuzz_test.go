package intake

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// The request rules of docs/design.md and docs/import.md, written out
// again for the fuzz targets to hold the code to.

// text is validate.Text's rule: not blank, UTF-8, at most max characters,
// no control characters.
func text(v string, max int) bool {
	return strings.TrimSpace(v) != "" && utf8.ValidString(v) && utf8.RuneCountInString(v) <= max &&
		strings.IndexFunc(v, unicode.IsControl) < 0
}

// wantField fails unless err is a FieldError on one of fields.
func wantField(t *testing.T, err error, fields ...string) {
	t.Helper()
	var fe *validate.FieldError
	if !errors.As(err, &fe) || fe.Rule == "" || !strings.Contains(" "+strings.Join(fields, " ")+" ", " "+fe.Field+" ") {
		t.Fatalf("err = %v, want a FieldError on one of %v", err, fields)
	}
}

func FuzzCandidate(f *testing.F) {
	for _, c := range [][3]string{
		{"Ada Lovelace", "ada@example.org", ""},
		{"Ada", "ada@example.org", "+44 (0)20 7946 0000"},
		{"Ada", "Ada <ada@example.org>", ""},
		{"Ada", "ada@localhost", ""},
		{"Ada", "a@b.c, d@e.f", ""},
		{"Ada", "\"a b\"@example.org", ""},
		{"Ada", "ada@example.org", "123456"},
		{"Ada", "ada@example.org", "+1 555 0100 ext 4"},
		{" ", "ada@example.org", ""},
		{"Ada\x00", "ada@example.org", ""},
	} {
		f.Add(c[0], c[1], c[2])
	}
	f.Fuzz(func(t *testing.T, name, email, phone string) {
		err := ValidateCandidate(Candidate{Name: name, Email: email, Phone: phone})
		if err != nil {
			wantField(t, err, "candidate.name", "candidate.email", "candidate.phone")
			return
		}
		if !text(name, MaxNameLen) || !text(email, MaxEmailLen) {
			t.Fatalf("accepted name %q, email %q", name, email)
		}
		addr, perr := mail.ParseAddress(email)
		at := strings.LastIndexByte(email, '@')
		if perr != nil || addr.Address != email || at < 1 || !strings.Contains(email[at+1:], ".") {
			t.Fatalf("accepted email %q, which is not one plain address with a dotted domain", email)
		}
		if phone == "" {
			return
		}
		digits := 0
		for _, r := range phone {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case strings.ContainsRune(" ()-+", r):
			default:
				t.Fatalf("accepted phone %q with %q", phone, r)
			}
		}
		if digits < 7 || digits > 20 || strings.LastIndexByte(phone, '+') > 0 {
			t.Fatalf("accepted phone %q (%d digits)", phone, digits)
		}
	})
}

func FuzzCampaignDetails(f *testing.F) {
	f.Add("Admin officers", 300, int32(0), int32(30), true)
	f.Add("", 1, int32(0), int32(0), false)
	f.Add("PO", 0, int32(0), int32(0), false)
	f.Add("PO", 10001, int32(0), int32(0), false)
	f.Add("PO", 5, int32(10), int32(9), true)
	f.Fuzz(func(t *testing.T, title string, posts int, opens, closes int32, hasClose bool) {
		d := CampaignDetails{Title: title, Posts: posts}
		if opens != 0 {
			d.OpensOn = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(opens))
		}
		if hasClose {
			c := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(closes))
			d.ClosesOn = &c
		}
		err := d.validate()
		if err != nil {
			wantField(t, err, "title", "posts", "opens_on", "closes_on")
			return
		}
		if !text(title, MaxTitleLen) || posts < 1 || posts > MaxPosts || d.OpensOn.IsZero() || (d.ClosesOn != nil && d.ClosesOn.Before(d.OpensOn)) {
			t.Fatalf("accepted %+v", d)
		}
	})
}

// importNow is the clock of FuzzCheckImport: rows are checked as of then.
var importNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// FuzzCheckImport checks an import row whose history is any bytes that
// decode as an ImportedHistory: refused naming a field of the row, or
// accepted only with every time in it valid, not before the submission
// and not in the future, and the stage at withdrawal one a candidate can
// withdraw from (docs/import.md, Rules).
func FuzzCheckImport(f *testing.F) {
	ts := func(h int) *timestamppb.Timestamp {
		return timestamppb.New(submitted.Add(time.Duration(h) * time.Hour))
	}
	for _, h := range []*commonv1.ImportedHistory{
		nil,
		{Sift: &commonv1.ImportedSift{DecidedAt: ts(24), Passed: true}},
		{Sift: &commonv1.ImportedSift{DecidedAt: ts(24), ReasonCode: "weak_evidence"}},
		{Sift: &commonv1.ImportedSift{DecidedAt: ts(-1), Passed: true}},
		{Sift: &commonv1.ImportedSift{DecidedAt: ts(24), Passed: true}, Interview: &commonv1.ImportedInterview{
			BookedAt: ts(25), ScheduledFor: ts(48), DecidedAt: ts(49), Passed: true},
			Offer: &commonv1.ImportedOffer{MadeAt: ts(50), SalaryBandCode: "band_3", Conditions: []commonv1.OfferCondition{1},
				AcceptedAt: ts(60), StartDateSetAt: ts(61), StartDate: &commonv1.Date{Year: 2026, Month: 11, Day: 20}, ApprovedBy: "head"},
			Vetting: &commonv1.ImportedVetting{FormsReceivedAt: ts(62), BlockedAt: ts(70), BlockReason: 2, UnblockedAt: ts(80), ClearedAt: ts(90)}},
		{Sift: &commonv1.ImportedSift{DecidedAt: &timestamppb.Timestamp{Seconds: 1 << 62}, Passed: true}},
		{Sift: &commonv1.ImportedSift{DecidedAt: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}, Passed: true}},
	} {
		b, err := proto.Marshal(h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int64(0), false, int64(0), "")
		f.Add(b, int64(0), true, int64(100*time.Hour), "candidate_request")
	}
	f.Fuzz(func(t *testing.T, history []byte, submittedOffset int64, withdrawn bool, withdrawnOffset int64, withdrawReason string) {
		h := &commonv1.ImportedHistory{}
		if proto.Unmarshal(history, h) != nil {
			return
		}
		row := ImportRow{
			Reference: "R-1", CampaignReference: "C-1", History: h, WithdrawReason: withdrawReason, Region: region.All[0],
			Campaign:    NewCampaign{Role: RoleAdministrator, CampaignDetails: CampaignDetails{Title: "PO", Regions: []RegionPosts{{Region: region.All[0], Posts: 3}}, OpensOn: submitted.AddDate(0, -1, 0)}},
			Candidate:   Candidate{Name: "Ada", Email: "ada@example.org"},
			SubmittedAt: submitted.Add(time.Duration(submittedOffset)),
		}
		if withdrawn {
			w := row.SubmittedAt.Add(time.Duration(withdrawnOffset))
			row.WithdrawnAt = &w
		}
		svc := NewService(newMemStore(), func() time.Time { return importNow }, time.UTC)
		stage, err := svc.checkImport(row)
		if err != nil {
			var fe *validate.FieldError
			if !errors.As(err, &fe) || fe.Rule == "" {
				t.Fatalf("refused with %v, not a FieldError", err)
			}
			return
		}
		if row.SubmittedAt.After(importNow) {
			t.Fatalf("accepted a submission at %v, after now", row.SubmittedAt)
		}
		var bad string
		walkTimes(h.ProtoReflect(), "history", func(field string, ts *timestamppb.Timestamp) {
			if at := ts.AsTime(); ts.CheckValid() != nil || at.Before(row.SubmittedAt) || at.After(importNow) && field != "history.interview.scheduled_for" {
				bad = field + " = " + ts.String()
			}
		})
		if bad != "" {
			t.Fatalf("accepted %s (submitted %v, now %v)", bad, row.SubmittedAt, importNow)
		}
		if row.WithdrawnAt != nil && (stage.Terminal() || row.WithdrawnAt.After(importNow) || row.WithdrawnAt.Before(row.SubmittedAt) || validate.ReasonCode("x", withdrawReason) != nil) {
			t.Fatalf("accepted a withdrawal at %v from %s with reason %q", row.WithdrawnAt, stage, withdrawReason)
		}
	})
}

// walkTimes calls fn for every timestamp set in m, named by its path.
func walkTimes(m protoreflect.Message, path string, fn func(string, *timestamppb.Timestamp)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
			return true
		}
		name := path + "." + string(fd.Name())
		if ts, ok := v.Message().Interface().(*timestamppb.Timestamp); ok {
			fn(name, ts)
		} else {
			walkTimes(v.Message(), name, fn)
		}
		return true
	})
}
