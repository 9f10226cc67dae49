// Package intake holds the rules of the applications service: campaigns,
// the submission of applications, candidate withdrawal, and the stage each
// application has reached as its owners report it (docs/design.md §3).
package intake

import (
	"errors"
	"time"
)

// Stage is where an application stands (docs/design.md §3).
type Stage string

// Stages, in pipeline order.
const (
	StageSift          Stage = "SIFT"
	StageInterview     Stage = "INTERVIEW"
	StageOffer         Stage = "OFFER"
	StagePreEmployment Stage = "PRE_EMPLOYMENT"
	StageHired         Stage = "HIRED"
	StageRejected      Stage = "REJECTED"
	StageWithdrawn     Stage = "WITHDRAWN"
)

// rank orders stages so that an application only moves forward, whatever
// order its owners' events arrive in. HIRED can still become WITHDRAWN: a
// candidate who started subject to vetting and then failed it.
var rank = map[Stage]int{
	StageSift: 1, StageInterview: 2, StageOffer: 3, StagePreEmployment: 4, StageHired: 5,
	StageRejected: 6, StageWithdrawn: 6,
}

// Terminal reports whether no candidate action can move the application on.
func (s Stage) Terminal() bool {
	return s == StageHired || s == StageRejected || s == StageWithdrawn
}

// Describe says the stage in a sentence, for the error that refuses a change.
func (s Stage) Describe() string { return "application is " + string(s) }

// Role is the kind of post a campaign recruits for.
type Role string

// Roles.
const (
	RoleProbationOfficer         Role = "probation_officer"
	RoleProbationServicesOfficer Role = "probation_services_officer"
	RoleAdministrator            Role = "administrator"
	RoleUPWSupervisor            Role = "upw_supervisor"
	RoleVictimLiaisonOfficer     Role = "victim_liaison_officer"
	RoleOther                    Role = "other"
)

// Campaign is a recruitment campaign for one role in one region or
// several, with posts per region.
type Campaign struct {
	ID string
	// Region is the lead region, Regions[0].Region: the campaign's events
	// are published on its subject.
	Region string
	Role   Role
	Title  string
	// Posts is the total over Regions.
	Posts   int
	Regions []RegionPosts
	// Status is OPEN, CLOSED or CANCELLED; StatusReason the code of the
	// last change of it.
	Status       CampaignStatus
	StatusReason string
	// OpensOn and ClosesOn are dates (midnight UTC); ClosesOn is nil for a
	// rolling campaign.
	OpensOn   time.Time
	ClosesOn  *time.Time
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
	CreatedBy string
	// ImportReference is the campaign's reference in the system it was
	// imported from; empty for one created here.
	ImportReference string
}

// Candidate is the person applying; this service alone stores it.
type Candidate struct {
	Name  string
	Email string
	Phone string
}

// Application is one candidate's application to one campaign.
type Application struct {
	ID             string
	CampaignID     string
	Region         string
	Role           Role
	Candidate      Candidate
	Stage          Stage
	StageEnteredAt time.Time
	Version        int64
	SubmittedAt    time.Time
	SubmittedBy    string
	WithdrawnAt    *time.Time
	WithdrawReason string
	// ImportReference is the application's reference in the system it
	// was imported from; empty for one submitted here.
	ImportReference string
	// PendingWithdrawal is an imported withdrawal waiting for the
	// application to reach the stage it happened in.
	PendingWithdrawal *Withdrawal
	// ErasedAt is set once the candidate's personal data is erased
	// (Candidate is then empty), ErasureReason says why.
	ErasedAt      *time.Time
	ErasureReason string
	// Vetting is the state of the application's vetting case as the
	// vetting service reports it.
	Vetting VettingState
	// Source is where the application came from, a code of reason.Source;
	// empty when not recorded (reports say "unknown").
	Source string
}

// VettingState is what this service knows of an application's vetting
// case: whether vetting.opened has been seen and neither vetting.cleared
// nor vetting.failed since, and the case's aggregate_version of the last
// of those applied (so an event arriving late is ignored).
type VettingState struct {
	Open    bool
	Version int64
}

// VettingCaseOpen reports whether the application has a vetting case in
// progress: opened, not cleared or failed, and the application not
// withdrawn or rejected since (the vetting service closes a withdrawn
// application's case without an event of its own).
func (a *Application) VettingCaseOpen() bool {
	return a.Vetting.Open && a.Stage != StageWithdrawn && a.Stage != StageRejected
}

// ErrDuplicate: the record already exists (AlreadyExists); the other
// errors of this package are pkg/record's.
var ErrDuplicate = errors.New("already exists")
