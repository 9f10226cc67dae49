package grpcapi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// FuzzThresholds decodes any bytes as SetThresholds' thresholds: refused
// naming a field under thresholds, or accepted only as the documented
// set — each of SIFT, INTERVIEW, OFFER and PRE_EMPLOYMENT once and the
// vetting-blocked limit, every limit 1 <= warning < breach <= 365 — which
// reads back as it was given.
func FuzzThresholds(f *testing.F) {
	good := thresholdsToProto("london", projection.DefaultThresholds())
	for _, p := range []*pb.Thresholds{good, {}, {VettingBlockedWarningDays: 3, VettingBlockedBreachDays: 5}} {
		b, _ := proto.Marshal(p)
		f.Add(b)
	}
	dup := proto.Clone(good).(*pb.Thresholds)
	dup.Stages[1].Stage = dup.Stages[0].Stage
	bad := proto.Clone(good).(*pb.Thresholds)
	bad.Stages[2].WarningDays, bad.Stages[2].BreachDays = 10, 10
	for _, p := range []*pb.Thresholds{dup, bad} {
		b, _ := proto.Marshal(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &pb.Thresholds{}
		if proto.Unmarshal(b, p) != nil {
			return
		}
		th, err := thresholdsFromProto(p)
		if err != nil {
			var fe *validate.FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "thresholds.") {
				t.Fatalf("refused with %v, not a FieldError under thresholds", err)
			}
			return
		}
		if len(p.GetStages()) != len(thresholdStages) || len(th.Stages) != len(thresholdStages) {
			t.Fatalf("accepted %d stages: %v", len(p.GetStages()), p)
		}
		for _, st := range thresholdStages {
			l, ok := th.Stages[st]
			if !ok || l.WarningDays < 1 || l.WarningDays >= l.BreachDays || l.BreachDays > maxThresholdDays {
				t.Fatalf("accepted %v: %+v", st, l)
			}
		}
		if l := th.Blocked; l.WarningDays < 1 || l.WarningDays >= l.BreachDays || l.BreachDays > maxThresholdDays {
			t.Fatalf("accepted vetting blocked %+v", l)
		}
		back := thresholdsToProto("", th)
		for _, st := range p.GetStages() {
			want := th.Stages[st.GetStage()]
			if int(st.GetWarningDays()) != want.WarningDays || int(st.GetBreachDays()) != want.BreachDays {
				t.Fatalf("stage %v given %d/%d, kept %+v", st.GetStage(), st.GetWarningDays(), st.GetBreachDays(), want)
			}
		}
		if back.GetVettingBlockedWarningDays() != p.GetVettingBlockedWarningDays() || back.GetVettingBlockedBreachDays() != p.GetVettingBlockedBreachDays() {
			t.Fatalf("vetting blocked given %v, kept %v", p, back)
		}
	})
}

// FuzzWindow: a report's date window is refused only on "from" or "to",
// and an accepted one lies in the years the requests may name and never
// ends before it starts.
func FuzzWindow(f *testing.F) {
	f.Add(true, int64(1767225600), int32(0), true, int64(1769904000), int32(0))
	f.Add(true, int64(1769904000), int32(0), true, int64(1767225600), int32(0))
	f.Add(true, int64(1769904000), int32(0), false, int64(0), int32(0))
	f.Add(true, int64(1<<62), int32(0), true, int64(-1<<62), int32(-1))
	f.Fuzz(func(t *testing.T, hasFrom bool, fromS int64, fromN int32, hasTo bool, toS int64, toN int32) {
		var from, to *timestamppb.Timestamp
		if hasFrom {
			from = &timestamppb.Timestamp{Seconds: fromS, Nanos: fromN}
		}
		if hasTo {
			to = &timestamppb.Timestamp{Seconds: toS, Nanos: toN}
		}
		w, err := window(from, to)
		if err != nil {
			var fe *validate.FieldError
			if !errors.As(err, &fe) || (fe.Field != "to" && fe.Field != "from") {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if hasFrom && hasTo && w.To.Before(w.From) {
			t.Fatalf("accepted %v to %v", w.From, w.To)
		}
		for _, d := range []time.Time{w.From, w.To} {
			if !d.IsZero() && (d.Year() < validate.MinYear-1 || d.Year() > validate.MaxYear+1) {
				t.Fatalf("window date %v is outside the years requests may name", d)
			}
			if !d.IsZero() && (d.Location() != time.UTC || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0) {
				t.Fatalf("window date %v is not a date", d)
			}
		}
	})
}
