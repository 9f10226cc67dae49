package main

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
)

func TestFormatting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
	}{
		{fmtFloat(12.5), "12.5"},
		{fmtFloat(1.0 / 3), "0.33"},
		{fmtFloat(7), "7"},
		{fmtFloat(-2.675), "-2.68"},
		{fmtDate(&commonv1.Date{Year: 2027, Month: 1, Day: 4}), "2027-01-04"},
		{fmtDate(nil), ""},
		{fmtTime(timestamppb.New(mustTime(t, "2026-12-01T10:00:00.123+01:00"))), "2026-12-01T09:00:00Z"},
		{fmtTime(nil), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func testOffer() *offersv1.Offer {
	return &offersv1.Offer{
		ApplicationId: "a-1", Region: "london", Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR,
		Status: offersv1.OfferStatus_OFFER_STATUS_MADE, SalaryBandCode: "band_3", Version: 2,
		Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING, commonv1.OfferCondition_OFFER_CONDITION_MEDICAL},
		History:    []*commonv1.HistoryEntry{{Event: "offer.made", Version: 2, Actor: &commonv1.Actor{Subject: "spoc-1", Role: commonv1.CallerRole_CALLER_ROLE_SPOC}}},
	}
}

func TestTableOfARecord(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := writeTable(&out, offerRecord(testOffer())); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for _, want := range []string{"status              made", "conditions          vetting medical", "start_date          -", "History:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table does not have %q:\n%s", want, out.String())
		}
	}
	if !strings.HasPrefix(lines[0], "application_id") {
		t.Errorf("first line = %q, want the first field", lines[0])
	}
}

func TestTableAndCSVOfAList(t *testing.T) {
	t.Parallel()
	v := offerView(testOffer(), testOffer())
	v.notes = pageNote("next-1")

	var table bytes.Buffer
	if err := writeTable(&table, v); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "APPLICATION_ID  CAMPAIGN_ID") || lines[4] != "more results: add --page-token next-1" {
		t.Errorf("table =\n%s", table.String())
	}
	if strings.Index(lines[0], "STATUS") != strings.Index(lines[1], "made") {
		t.Errorf("columns not aligned:\n%s", table.String())
	}

	var csv bytes.Buffer
	if err := writeCSV(&csv, v); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(csv.String()), "\n")
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "application_id,campaign_id,region,role,status") ||
		!strings.HasPrefix(rows[1], "a-1,,london,administrator,made,band_3,vetting medical,,no,no") {
		t.Errorf("csv =\n%s", csv.String())
	}
}

func TestEmptyList(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := writeTable(&out, offerView()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "(none)\n") {
		t.Errorf("empty table =\n%s", out.String())
	}
}
