package projection

import (
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// StuckKind says which rule can make an application stuck.
type StuckKind int

// Kinds, numbered as in the contract's StuckKind.
const (
	StuckStage          StuckKind = 1
	StuckVettingBlocked StuckKind = 2
	StuckVettingOverdue StuckKind = 3
	// StuckCheckOutstanding: a pre-employment check outstanding (checks.go).
	StuckCheckOutstanding StuckKind = 4
)

// NextActor is who must act to unstick an application.
type NextActor int

// Next actors, numbered as in the contract.
const (
	ActorSPOC    NextActor = 1
	ActorVetting NextActor = 2
)

// Limit is a warning and a breach threshold in days.
type Limit struct {
	WarningDays int
	BreachDays  int
}

// Thresholds are a region's stuck thresholds, with overrides for job roles.
type Thresholds struct {
	Stages  map[commonv1.Stage]Limit
	Blocked Limit
	// Checks is the limit of a pre-employment check outstanding.
	Checks Limit
	// Roles override some limits for one job role's applications (an
	// SC-cleared role's vetting takes longer); absent for most.
	Roles   map[commonv1.JobRole]Overrides
	Version int64
}

// Overrides are one job role's limits where they differ from the region's:
// the stages given, and the vetting-blocked limit if set.
type Overrides struct {
	Stages  map[commonv1.Stage]Limit
	Blocked *Limit
	Checks  *Limit
}

// For returns the thresholds that apply to role's applications: the
// region's, with role's overrides in place of theirs.
func (th Thresholds) For(role commonv1.JobRole) Thresholds {
	o, ok := th.Roles[role]
	if !ok {
		return th
	}
	out := Thresholds{Stages: make(map[commonv1.Stage]Limit, len(th.Stages)), Blocked: th.Blocked, Checks: th.Checks, Version: th.Version}
	for st, l := range th.Stages {
		out.Stages[st] = l
	}
	for st, l := range o.Stages {
		out.Stages[st] = l
	}
	if o.Blocked != nil {
		out.Blocked = *o.Blocked
	}
	if o.Checks != nil {
		out.Checks = *o.Checks
	}
	return out
}

// DefaultThresholds are docs/design.md §5's: SIFT 10/14, INTERVIEW 14/21, OFFER
// 7/10, PRE_EMPLOYMENT 28/42, vetting blocked 3/5; and a pre-employment check
// outstanding 14/28 (DefaultChecks).
func DefaultThresholds() Thresholds {
	return Thresholds{
		Stages: map[commonv1.Stage]Limit{
			commonv1.Stage_STAGE_SIFT:           {10, 14},
			commonv1.Stage_STAGE_INTERVIEW:      {14, 21},
			commonv1.Stage_STAGE_OFFER:          {7, 10},
			commonv1.Stage_STAGE_PRE_EMPLOYMENT: {28, 42},
		},
		Blocked: Limit{3, 5},
		Checks:  DefaultChecks,
	}
}

// DefaultChecks is the check-outstanding limit of a region that has not
// set one (thresholds stored before the rule existed included).
var DefaultChecks = Limit{14, 28}

// ThresholdsFor returns one region's thresholds: those in all (the ones
// set), or the defaults.
func ThresholdsFor(all map[string]Thresholds, region string) Thresholds {
	if th, ok := all[region]; ok {
		return th
	}
	return DefaultThresholds()
}

// Clock is a stuck rule's clock for one application: from Since, it is a
// warning at WarningAt and a breach at BreachAt. Whether it is stuck is a
// question of "now", asked by the report; the clock itself never changes
// with time, so it can be stored and indexed.
type Clock struct {
	Kind          StuckKind
	Stage         commonv1.Stage
	Since         time.Time
	WarningAt     time.Time
	BreachAt      time.Time
	BlockedReason commonv1.BlockReason
	NextActor     NextActor
	// Assignee is the named owner of the record whose owner must act next
	// (see Clocks); "" when it has none.
	Assignee string
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// Clocks lists the stuck clocks running for the application:
//   - its time in a SIFT, INTERVIEW, OFFER or PRE_EMPLOYMENT stage; in
//     INTERVIEW with an interview booked, from the interview (an outcome
//     not recorded in time is what is stuck, not waiting for the day), and
//     in PRE_EMPLOYMENT the vetting contact point's to act on while the
//     case is blocked or its forms are in and it has not cleared;
//   - its vetting case blocked, while in PRE_EMPLOYMENT or started subject
//     to vetting;
//   - a start subject to vetting whose vetting has not cleared: stuck, as
//     a breach, from the day after the vetting due date;
//   - a pre-employment check outstanding, from the offer being made, while
//     the offer is made or accepted (checks.go).
//
// Each clock names the assignee of the record its next actor works on:
// the sift case's in SIFT and INTERVIEW, the offer's in OFFER and
// PRE_EMPLOYMENT, and the vetting case's for the vetting clocks and for a
// PRE_EMPLOYMENT clock that the vetting contact point must act on (so the
// assignee is always someone of the role named as next actor).
func (a *App) Clocks(th Thresholds) []Clock {
	var out []Clock
	stage, since := a.Stage()
	if lim, ok := th.Stages[stage]; ok {
		next := ActorSPOC
		withVetting := a.VettingBlocked || (a.VettingFormsReceivedAt != nil && a.VettingClearedAt == nil)
		assignee := a.OfferAssignee
		if stage == commonv1.Stage_STAGE_SIFT || stage == commonv1.Stage_STAGE_INTERVIEW {
			assignee = a.SiftAssignee
		}
		if stage == commonv1.Stage_STAGE_PRE_EMPLOYMENT && withVetting {
			next, assignee = ActorVetting, a.VettingAssignee
		}
		if stage == commonv1.Stage_STAGE_INTERVIEW && a.InterviewAt != nil && a.InterviewAt.After(since) {
			since = *a.InterviewAt
		}
		out = append(out, Clock{Kind: StuckStage, Stage: stage, Since: since,
			WarningAt: since.Add(days(lim.WarningDays)), BreachAt: since.Add(days(lim.BreachDays)), NextActor: next, Assignee: assignee})
	}
	awaitingVetting := stage == commonv1.Stage_STAGE_PRE_EMPLOYMENT ||
		(stage == commonv1.Stage_STAGE_HIRED && a.SubjectToVetting && a.VettingClearedAt == nil)
	if awaitingVetting && a.VettingBlocked && a.BlockedSince != nil {
		out = append(out, Clock{Kind: StuckVettingBlocked, Stage: stage, Since: *a.BlockedSince,
			WarningAt: a.BlockedSince.Add(days(th.Blocked.WarningDays)), BreachAt: a.BlockedSince.Add(days(th.Blocked.BreachDays)),
			BlockedReason: a.BlockedReason, NextActor: ActorVetting, Assignee: a.VettingAssignee})
	}
	out = append(out, a.checkClock(th, stage)...)
	if stage == commonv1.Stage_STAGE_HIRED && a.SubjectToVetting && a.VettingClearedAt == nil && a.VettingDueBy != nil {
		due := time.Date(a.VettingDueBy.Year(), a.VettingDueBy.Month(), a.VettingDueBy.Day()+1, 0, 0, 0, 0, London)
		out = append(out, Clock{Kind: StuckVettingOverdue, Stage: stage, Since: due, WarningAt: due, BreachAt: due, NextActor: ActorVetting, Assignee: a.VettingAssignee})
	}
	return out
}

// StuckStages are the stages a candidate can be stuck in (HIRED: started
// subject to vetting that is blocked or overdue).
var StuckStages = map[commonv1.Stage]bool{
	commonv1.Stage_STAGE_SIFT: true, commonv1.Stage_STAGE_INTERVIEW: true, commonv1.Stage_STAGE_OFFER: true,
	commonv1.Stage_STAGE_PRE_EMPLOYMENT: true, commonv1.Stage_STAGE_HIRED: true,
}
