package web

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

func TestChecksPageRenders(t *testing.T) {
	t.Parallel()
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	made := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	resp := &pb.ListOutstandingChecksResponse{NextPageToken: "tok", Applications: []*pb.OutstandingChecks{
		{ApplicationId: "0190c0de-0000-7000-8000-000000000001", Region: "london", Role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER,
			Stage: commonv1.Stage_STAGE_PRE_EMPLOYMENT, OfferMadeAt: timestamppb.New(made), DaysOutstanding: 17, Assignee: "spoc-london",
			Checks: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_REFERENCES, commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK}},
	}}
	var buf bytes.Buffer
	if err := p.byName["checks"].ExecuteTemplate(&buf, "layout", checksToView("london", resp, false)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<title>Outstanding checks: London – Recruitment pipeline dashboard</title>`,
		`<tr data-application="0190c0de-0000-7000-8000-000000000001">`,
		`<td data-cell="checks">References, Right to work</td>`,
		`<time datetime="2026-11-02T09:00:00Z">2 Nov 2026</time>`,
		`<a href="/regions/london/checks?page_token=tok" rel="next">Next page</a>`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("checks page lacks %s", want)
		}
	}
}
