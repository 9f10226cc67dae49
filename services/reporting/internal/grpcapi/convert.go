package grpcapi

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/validate"
	"github.com/probation-recruitment/pipeline/pkg/weekly"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/stats"
)

func wholeDays(d time.Duration) int32 {
	if d < 0 {
		return 0
	}
	return int32(d / (24 * time.Hour))
}

func stuckToProto(r report.StuckRow, region string, asOf time.Time) *pb.StuckCandidate {
	// As the list orders it: a breach only once past its warning too.
	breach, overdue := r.Overdue(asOf.Truncate(time.Microsecond))
	sev := pb.Severity_SEVERITY_WARNING
	if breach {
		sev = pb.Severity_SEVERITY_BREACH
	}
	return &pb.StuckCandidate{
		ApplicationId: r.ApplicationID, CampaignId: r.CampaignID, Region: region, Role: r.Role, Stage: r.Stage,
		Kind: pb.StuckKind(r.Kind), Since: timestamppb.New(r.Since), Days: wholeDays(asOf.Sub(r.Since)),
		DaysOverdue: int32(overdue), Severity: sev, BlockedReason: r.BlockedReason, NextActor: pb.NextActor(r.NextActor),
		Assignee: r.Assignee,
	}
}

func statsToProto(s stats.Summary) *pb.Statistics {
	return &pb.Statistics{Count: int32(s.Count), Mean: s.Mean, Median: s.Median, P90: s.P90}
}

func timeToHireToProto(a *report.TimeToHireAnswer) any {
	resp := &pb.GetTimeToHireResponse{StartedBeforeVettingCleared: int32(a.StartedEarly)}
	for _, m := range a.Measures {
		resp.Measures = append(resp.Measures, measureToProto(m))
	}
	return resp
}

func measureToProto(m report.MeasureResult) *pb.MeasureResult {
	r := &pb.MeasureResult{Measure: pb.Measure(m.Measure), CalendarDays: statsToProto(m.Calendar), WorkingDays: statsToProto(m.Working)}
	points := make([]weekly.Point, len(m.Weekly))
	for i, w := range m.Weekly {
		points[i] = weekly.Point{Week: w.Week, Count: w.Calendar.Count, Mean: w.Calendar.Mean, Median: w.Calendar.Median, P90: w.Calendar.P90}
	}
	r.WeeklyTrend = weekly.Trend(points)
	return r
}

func summaryToProto(s report.Summary) *pb.RegionSummary {
	p := &pb.RegionSummary{Region: s.Region, StuckCount: int32(s.Stuck), MedianTimeToHireDays: s.MedianTimeToHireDays,
		TimeToHireCount: int32(s.TimeToHireCount), AsOf: timestamppb.New(s.AsOf)}
	for _, st := range report.AllStages {
		p.StageCounts = append(p.StageCounts, &pb.StageCount{Stage: st, Count: int32(s.StageCounts[st])})
	}
	return p
}

// thresholdStages are the stages with stage thresholds, in order.
var thresholdStages = []commonv1.Stage{
	commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER, commonv1.Stage_STAGE_PRE_EMPLOYMENT,
}

func thresholdsToProto(region string, th projection.Thresholds) *pb.Thresholds {
	p := &pb.Thresholds{Region: region, VettingBlockedWarningDays: int32(th.Blocked.WarningDays),
		VettingBlockedBreachDays: int32(th.Blocked.BreachDays), Version: th.Version}
	for _, st := range thresholdStages {
		l := th.Stages[st]
		p.Stages = append(p.Stages, &pb.StageThreshold{Stage: st, WarningDays: int32(l.WarningDays), BreachDays: int32(l.BreachDays)})
	}
	return p
}

const maxThresholdDays = 365

func checkLimit(field string, warning, breach int32) (projection.Limit, error) {
	if warning < 1 || breach > maxThresholdDays || warning >= breach {
		return projection.Limit{}, validate.Field(field, fmt.Sprintf("warning and breach days must satisfy 1 <= warning < breach <= %d", maxThresholdDays))
	}
	return projection.Limit{WarningDays: int(warning), BreachDays: int(breach)}, nil
}

// thresholdsFromProto checks a full set: each of the four stages once,
// and the vetting-blocked limit.
func thresholdsFromProto(p *pb.Thresholds) (projection.Thresholds, error) {
	th := projection.Thresholds{Stages: map[commonv1.Stage]projection.Limit{}}
	for i, st := range p.GetStages() {
		field := fmt.Sprintf("thresholds.stages[%d]", i)
		if _, dup := th.Stages[st.GetStage()]; dup || !isThresholdStage(st.GetStage()) {
			return th, validate.Field(field+".stage", "must be SIFT, INTERVIEW, OFFER or PRE_EMPLOYMENT, each once")
		}
		l, err := checkLimit(field, st.GetWarningDays(), st.GetBreachDays())
		if err != nil {
			return th, err
		}
		th.Stages[st.GetStage()] = l
	}
	if len(th.Stages) != len(thresholdStages) {
		return th, validate.Field("thresholds.stages", "must give all four stages: SIFT, INTERVIEW, OFFER and PRE_EMPLOYMENT")
	}
	var err error
	th.Blocked, err = checkLimit("thresholds.vetting_blocked", p.GetVettingBlockedWarningDays(), p.GetVettingBlockedBreachDays())
	return th, err
}

func isThresholdStage(s commonv1.Stage) bool {
	for _, t := range thresholdStages {
		if s == t {
			return true
		}
	}
	return false
}
