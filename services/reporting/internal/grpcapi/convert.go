package grpcapi

import (
	"fmt"
	"slices"
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
		VettingBlockedBreachDays: int32(th.Blocked.BreachDays), Version: th.Version,
		CheckOutstandingWarningDays: int32(th.Checks.WarningDays), CheckOutstandingBreachDays: int32(th.Checks.BreachDays)}
	for _, st := range thresholdStages {
		l := th.Stages[st]
		p.Stages = append(p.Stages, &pb.StageThreshold{Stage: st, WarningDays: int32(l.WarningDays), BreachDays: int32(l.BreachDays)})
	}
	roles := make([]commonv1.JobRole, 0, len(th.Roles))
	for r := range th.Roles {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	for _, r := range roles {
		o := th.Roles[r]
		rp := &pb.RoleThresholds{Role: r}
		for _, st := range thresholdStages {
			if l, ok := o.Stages[st]; ok {
				rp.Stages = append(rp.Stages, &pb.StageThreshold{Stage: st, WarningDays: int32(l.WarningDays), BreachDays: int32(l.BreachDays)})
			}
		}
		if o.Blocked != nil {
			rp.VettingBlockedWarningDays, rp.VettingBlockedBreachDays = int32(o.Blocked.WarningDays), int32(o.Blocked.BreachDays)
		}
		if o.Checks != nil {
			rp.CheckOutstandingWarningDays, rp.CheckOutstandingBreachDays = int32(o.Checks.WarningDays), int32(o.Checks.BreachDays)
		}
		p.Roles = append(p.Roles, rp)
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
// the vetting-blocked limit, and each role's overrides.
func thresholdsFromProto(p *pb.Thresholds) (projection.Thresholds, error) {
	th := projection.Thresholds{}
	var err error
	if th.Stages, err = stageLimits("thresholds.stages", p.GetStages()); err != nil {
		return th, err
	}
	if len(th.Stages) != len(thresholdStages) {
		return th, validate.Field("thresholds.stages", "must give all four stages: SIFT, INTERVIEW, OFFER and PRE_EMPLOYMENT")
	}
	th.Blocked, err = checkLimit("thresholds.vetting_blocked", p.GetVettingBlockedWarningDays(), p.GetVettingBlockedBreachDays())
	if err != nil {
		return th, err
	}
	// Both 0 keeps the default check-outstanding limit (a client written
	// before the rule sends none).
	th.Checks = projection.DefaultChecks
	if w, b := p.GetCheckOutstandingWarningDays(), p.GetCheckOutstandingBreachDays(); w != 0 || b != 0 {
		if th.Checks, err = checkLimit("thresholds.check_outstanding", w, b); err != nil {
			return th, err
		}
	}
	for i, r := range p.GetRoles() {
		field := fmt.Sprintf("thresholds.roles[%d]", i)
		if _, known := commonv1.JobRole_name[int32(r.GetRole())]; !known || r.GetRole() == commonv1.JobRole_JOB_ROLE_UNSPECIFIED {
			return th, validate.Field(field+".role", "must be a job role")
		}
		if _, dup := th.Roles[r.GetRole()]; dup {
			return th, validate.Field(field+".role", "must appear once: give all of a role's overrides together")
		}
		var o projection.Overrides
		if o.Stages, err = stageLimits(field+".stages", r.GetStages()); err != nil {
			return th, err
		}
		if w, b := r.GetVettingBlockedWarningDays(), r.GetVettingBlockedBreachDays(); w != 0 || b != 0 {
			l, err := checkLimit(field+".vetting_blocked", w, b)
			if err != nil {
				return th, err
			}
			o.Blocked = &l
		}
		if w, b := r.GetCheckOutstandingWarningDays(), r.GetCheckOutstandingBreachDays(); w != 0 || b != 0 {
			l, err := checkLimit(field+".check_outstanding", w, b)
			if err != nil {
				return th, err
			}
			o.Checks = &l
		}
		if len(o.Stages) == 0 && o.Blocked == nil && o.Checks == nil {
			return th, validate.Field(field, "must override a stage, the vetting-blocked or the check-outstanding limit")
		}
		if th.Roles == nil {
			th.Roles = map[commonv1.JobRole]projection.Overrides{}
		}
		th.Roles[r.GetRole()] = o
	}
	return th, nil
}

// stageLimits checks stage limits: stages with thresholds, each once.
func stageLimits(field string, stages []*pb.StageThreshold) (map[commonv1.Stage]projection.Limit, error) {
	out := map[commonv1.Stage]projection.Limit{}
	for i, st := range stages {
		f := fmt.Sprintf("%s[%d]", field, i)
		if _, dup := out[st.GetStage()]; dup || !isThresholdStage(st.GetStage()) {
			return nil, validate.Field(f+".stage", "must be SIFT, INTERVIEW, OFFER or PRE_EMPLOYMENT, each once")
		}
		l, err := checkLimit(f, st.GetWarningDays(), st.GetBreachDays())
		if err != nil {
			return nil, err
		}
		out[st.GetStage()] = l
	}
	return out, nil
}

func isThresholdStage(s commonv1.Stage) bool {
	for _, t := range thresholdStages {
		if s == t {
			return true
		}
	}
	return false
}
