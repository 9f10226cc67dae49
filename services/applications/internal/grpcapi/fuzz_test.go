package grpcapi

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// goodDate is the documented rule for a request's date, written out again:
// a real calendar date in 2000-2100, as midnight UTC.
func goodDate(d *commonv1.Date, got time.Time) bool {
	t := time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
	return d.GetYear() >= 2000 && d.GetYear() <= 2100 && d.GetMonth() >= 1 && d.GetMonth() <= 12 &&
		t.Day() == int(d.GetDay()) && got.Equal(t)
}

// FuzzImportRow decodes any bytes as an ImportRow and converts it as
// ImportApplications does: refused naming a field of the row, or accepted
// with a known role, real dates and valid times (the rest of the row is
// the rules' to check: FuzzCheckImport).
func FuzzImportRow(f *testing.F) {
	for _, r := range []*pb.ImportRow{
		{},
		{Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 5}},
		{Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, OpensOn: &commonv1.Date{Year: 2026, Month: 2, Day: 30}},
		{Role: 99, OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 5}},
		{Role: commonv1.JobRole_JOB_ROLE_OTHER, OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 5},
			ClosesOn: &commonv1.Date{Year: 2026, Month: 13, Day: 1}},
	} {
		b, _ := proto.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &pb.ImportRow{}
		if proto.Unmarshal(b, r) != nil {
			return
		}
		row, err := importRowFromProto(r)
		if err != nil {
			var fe *validate.FieldError
			if !errors.As(err, &fe) || fe.Rule == "" {
				t.Fatalf("refused with %v, not a FieldError", err)
			}
			return
		}
		if _, ok := roles[r.GetRole()]; !ok || row.Campaign.Role == "" {
			t.Fatalf("accepted role %v", r.GetRole())
		}
		if !goodDate(r.GetOpensOn(), row.Campaign.OpensOn) {
			t.Fatalf("accepted opens_on %v as %v", r.GetOpensOn(), row.Campaign.OpensOn)
		}
		if r.GetClosesOn() != nil && (row.Campaign.ClosesOn == nil || !goodDate(r.GetClosesOn(), *row.Campaign.ClosesOn)) {
			t.Fatalf("accepted closes_on %v as %v", r.GetClosesOn(), row.Campaign.ClosesOn)
		}
		if ts := r.GetSubmittedAt(); ts != nil && (ts.CheckValid() != nil || !row.SubmittedAt.Equal(ts.AsTime())) {
			t.Fatalf("accepted submitted_at %v as %v", ts, row.SubmittedAt)
		}
		if ts := r.GetWithdrawnAt(); ts != nil && (ts.CheckValid() != nil || row.WithdrawnAt == nil || !row.WithdrawnAt.Equal(ts.AsTime())) {
			t.Fatalf("accepted withdrawn_at %v as %v", ts, row.WithdrawnAt)
		}
		if !proto.Equal(row.History, r.GetHistory()) {
			t.Fatal("the history changed on the way in")
		}
	})
}

// FuzzCreateCampaign converts a CreateCampaign request as the handler
// does: refused naming a field, or accepted with a known role and real
// dates.
func FuzzCreateCampaign(f *testing.F) {
	for _, r := range []*pb.CreateCampaignRequest{
		{Region: "london", Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, Title: "Admin", Posts: 300, OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 5}},
		{Role: 0},
		{Role: commonv1.JobRole_JOB_ROLE_OTHER, OpensOn: &commonv1.Date{Year: 1999, Month: 12, Day: 31}},
	} {
		b, _ := proto.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &pb.CreateCampaignRequest{}
		if proto.Unmarshal(b, r) != nil {
			return
		}
		nc, err := newCampaignFromProto(r)
		if err != nil {
			var fe *validate.FieldError
			if !errors.As(err, &fe) || fe.Rule == "" {
				t.Fatalf("refused with %v, not a FieldError", err)
			}
			return
		}
		if _, ok := roles[r.GetRole()]; !ok || !goodDate(r.GetOpensOn(), nc.OpensOn) ||
			(r.GetClosesOn() != nil && (nc.ClosesOn == nil || !goodDate(r.GetClosesOn(), *nc.ClosesOn))) {
			t.Fatalf("accepted %v as %+v", r, nc)
		}
		if nc.Title != r.GetTitle() || len(nc.Regions) != 1 || nc.Regions[0].Posts != int(r.GetPosts()) || nc.Regions[0].Region != r.GetRegion() {
			t.Fatalf("%v converted to %+v", r, nc)
		}
	})
}
