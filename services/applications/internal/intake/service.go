package intake

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	reasonpkg "github.com/probation-recruitment/pipeline/pkg/reason"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Producer is this service's name in the events it writes.
const Producer = "applications"

// Store is the storage the rules need. Every write takes the events that
// describe it and stores both in one transaction.
type Store interface {
	// InsertCampaign stores a new campaign and its event.
	InsertCampaign(ctx context.Context, c *Campaign, ev *eventsv1.Event) error
	// UpdateCampaign loads the campaign, locked, and stores it and the
	// events fn returns; fn's error aborts the update.
	UpdateCampaign(ctx context.Context, id string, fn func(*Campaign) ([]*eventsv1.Event, error)) (*Campaign, error)
	// Campaign reads a campaign in one of regions (nil: any); one in
	// another region is record.ErrNotFound, as a missing one is.
	Campaign(ctx context.Context, id string, regions []string) (*Campaign, error)
	Campaigns(ctx context.Context, f CampaignFilter) ([]*Campaign, error)

	// CampaignsByReference finds the imported campaigns of references, by
	// reference (one not found is not in the map).
	CampaignsByReference(ctx context.Context, references []string) (map[string]*Campaign, error)

	// InsertApplication returns ErrDuplicate if the candidate's email has
	// already applied to the campaign, ErrAlreadyImported if its import
	// reference is taken.
	InsertApplication(ctx context.Context, a *Application, evs ...*eventsv1.Event) error
	// UpdateApplication loads the application, locked, if it is in one of
	// regions (nil: any), and stores it and the events fn returns. fn may
	// return record.ErrUnchanged to store nothing. An application in
	// another region is record.ErrNotFound, as a missing one is.
	UpdateApplication(ctx context.Context, id string, regions []string, fn func(*Application) ([]*eventsv1.Event, error)) (*Application, error)
	// Application reads an application in one of regions (nil: any), as
	// Campaign does.
	Application(ctx context.Context, id string, regions []string) (*Application, error)
	// ApplicationsByReference finds the imported applications of
	// references, by reference (one not found is not in the map).
	ApplicationsByReference(ctx context.Context, references []string) (map[string]*Application, error)
	// InsertImports stores w's campaigns and applications with their
	// events, in one transaction (the caller's, if ctx carries one). It
	// returns each application's error, ErrAlreadyImported if its import
	// reference is taken or ErrDuplicate if its candidate's email has
	// already applied to the campaign (such an application, and its
	// events, are not stored); a campaign whose import reference is taken
	// is ErrDuplicate for the whole set, which then stores nothing.
	InsertImports(ctx context.Context, w ImportWrites) ([]error, error)
	Applications(ctx context.Context, f ApplicationFilter) ([]*Application, error)
}

// CampaignFilter selects campaigns, newest first, after the id After.
type CampaignFilter struct {
	Regions []string
	After   string
	Limit   int
}

// ApplicationFilter selects applications, oldest first, after the id After.
type ApplicationFilter struct {
	Regions    []string
	CampaignID string
	Stage      Stage
	After      string
	Limit      int
}

// Service applies the rules of campaigns and applications.
type Service struct {
	store Store
	now   func() time.Time
	// local is the time zone "today" is judged in for campaign dates.
	local *time.Location
}

// NewService returns a Service; now is the clock (time.Now outside tests).
func NewService(store Store, now func() time.Time, local *time.Location) *Service {
	return &Service{store: store, now: record.StoredPrecision(now), local: local}
}

// NewCampaign is what an admin or SPOC gives to create a campaign:
// CampaignDetails.Regions says where (one region or several).
type NewCampaign struct {
	Role Role
	CampaignDetails
}

// CreateCampaign creates a campaign. The caller must be an admin or a
// SPOC (checked by the transport); a SPOC must hold every region of it.
func (s *Service) CreateCampaign(ctx context.Context, caller auth.Claims, nc NewCampaign) (*Campaign, error) {
	if nc.Regions == nil {
		return nil, validate.Field("regions", "is required: at least one region with its posts")
	}
	if nc.Role == "" {
		return nil, validate.Field("role", "is required")
	}
	if err := nc.validate(); err != nil {
		return nil, err
	}
	c := &Campaign{Regions: nc.Regions}
	if err := requireAllRegions(caller, nil, c.RegionCodes()); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	c = &Campaign{
		ID: event.NewID(), Role: nc.Role, Title: nc.Title, Status: CampaignOpen,
		OpensOn: nc.OpensOn, ClosesOn: nc.ClosesOn, Version: 1, CreatedAt: now, UpdatedAt: now, CreatedBy: caller.Subject,
	}
	c.setRegions(nc.Regions)
	ev := campaignEvent(caller, c, now)
	ev.Payload = &eventsv1.Event_CampaignCreated{CampaignCreated: &eventsv1.CampaignCreated{Campaign: campaignDetails(c)}}
	if err := s.store.InsertCampaign(ctx, c, ev); err != nil {
		return nil, err
	}
	return c, nil
}

// UpdateCampaign replaces a campaign's details; role is fixed, and regions
// may be added, never removed (the lead region stays first). An admin, or
// a SPOC holding every region of the campaign, before and after.
func (s *Service) UpdateCampaign(ctx context.Context, caller auth.Claims, id string, expectedVersion int64, d CampaignDetails) (*Campaign, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	if err := validate.ExpectedVersion(expectedVersion); err != nil {
		return nil, err
	}
	return s.store.UpdateCampaign(ctx, id, func(c *Campaign) ([]*eventsv1.Event, error) {
		regions, err := updatedRegions(c, d)
		if err != nil {
			if err2 := requireAllRegions(caller, c.RegionCodes(), c.RegionCodes()); err2 != nil {
				return nil, err2
			}
			return nil, err
		}
		had := c.RegionCodes()
		c2 := &Campaign{Regions: regions}
		if err := requireAllRegions(caller, had, append(had, c2.RegionCodes()...)); err != nil {
			return nil, err
		}
		if c.Version != expectedVersion {
			return nil, record.StaleError(expectedVersion, c.Version)
		}
		if c.Status == CampaignCancelled {
			return nil, record.Refused(c.Status, "update")
		}
		now := s.now().UTC()
		c.Title, c.OpensOn, c.ClosesOn = d.Title, d.OpensOn, d.ClosesOn
		c.setRegions(regions)
		c.Version++
		c.UpdatedAt = now
		ev := campaignEvent(caller, c, now)
		ev.Payload = &eventsv1.Event_CampaignUpdated{CampaignUpdated: &eventsv1.CampaignUpdated{Campaign: campaignDetails(c)}}
		return []*eventsv1.Event{ev}, nil
	})
}

// updatedRegions is the campaign's regions after an update: d's, which
// must keep every region the campaign has, in its order, the lead first;
// or, for a campaign in one region, its region with d.Posts.
func updatedRegions(c *Campaign, d CampaignDetails) ([]RegionPosts, error) {
	if d.Regions == nil {
		if len(c.Regions) != 1 {
			return nil, validate.Field("regions", "is required for a campaign in several regions ("+strings.Join(c.RegionCodes(), ", ")+"); posts is for a campaign in one")
		}
		return []RegionPosts{{Region: c.Region, Posts: d.Posts}}, nil
	}
	for i, r := range c.Regions {
		if i >= len(d.Regions) || d.Regions[i].Region != r.Region {
			return nil, validate.Field("regions", "must list the campaign's regions first, in order ("+
				strings.Join(c.RegionCodes(), ", ")+"): a region is never removed, a new one goes after them")
		}
	}
	return d.Regions, nil
}

// SetCampaignStatus opens, closes or cancels a campaign (see
// CampaignStatus.CanMove); reason is required to cancel. Callers as for
// UpdateCampaign. campaign.status_changed carries the new state.
func (s *Service) SetCampaignStatus(ctx context.Context, caller auth.Claims, id string, expectedVersion int64, to CampaignStatus, reason string) (*Campaign, error) {
	if err := validate.ExpectedVersion(expectedVersion); err != nil {
		return nil, err
	}
	if _, ok := campaignStatusProto[to]; !ok {
		return nil, validate.Field("status", "must be OPEN, CLOSED or CANCELLED")
	}
	if reason != "" || to == CampaignCancelled {
		if err := validate.ReasonCode("reason_code", reason); err != nil {
			return nil, err
		}
	}
	return s.store.UpdateCampaign(ctx, id, func(c *Campaign) ([]*eventsv1.Event, error) {
		if err := requireAllRegions(caller, c.RegionCodes(), c.RegionCodes()); err != nil {
			return nil, err
		}
		if c.Version != expectedVersion {
			return nil, record.StaleError(expectedVersion, c.Version)
		}
		if !c.Status.CanMove(to) {
			return nil, record.Refused(c.Status, "make it "+string(to))
		}
		from := c.Status
		now := s.now().UTC()
		c.Status, c.StatusReason = to, reason
		c.Version++
		c.UpdatedAt = now
		ev := campaignEvent(caller, c, now)
		ev.Payload = &eventsv1.Event_CampaignStatusChanged{CampaignStatusChanged: &eventsv1.CampaignStatusChanged{
			Campaign: campaignDetails(c), From: campaignStatusProto[from], ReasonCode: reason,
		}}
		return []*eventsv1.Event{ev}, nil
	})
}

// Campaign returns a campaign in one of the caller's regions; one in
// another region is not found, as if it did not exist.
func (s *Service) Campaign(ctx context.Context, caller auth.Claims, id string) (*Campaign, error) {
	return s.store.Campaign(ctx, id, record.Scope(caller))
}

// Campaigns lists campaigns in the filter's regions.
func (s *Service) Campaigns(ctx context.Context, f CampaignFilter) ([]*Campaign, error) {
	return s.store.Campaigns(ctx, f)
}

// Submit records an application to an open campaign, for region: one of
// the campaign's and of the caller's ("" for a campaign in one region).
// source is where it came from (reason.Source), or empty when not known.
func (s *Service) Submit(ctx context.Context, caller auth.Claims, campaignID, region string, cand Candidate, source string) (*Application, error) {
	if err := ValidateCandidate(cand); err != nil {
		return nil, err
	}
	if err := checkSource("source", source); err != nil {
		return nil, err
	}
	c, err := s.store.Campaign(ctx, campaignID, record.Scope(caller))
	if err != nil {
		return nil, err
	}
	if region, err = applicationRegion(c, region, "application_region"); err != nil {
		return nil, err
	}
	if err := caller.RequireRegion(region); err != nil {
		return nil, err
	}
	if c.Status != CampaignOpen {
		return nil, record.Refused(c.Status, "submit an application").Because("applications go only to an open campaign")
	}
	now := s.now()
	today := civilDate(now.In(s.local))
	switch {
	case today.Before(c.OpensOn):
		return nil, validate.Field("campaign_id", "campaign opens on "+c.OpensOn.Format(time.DateOnly))
	case c.ClosesOn != nil && today.After(*c.ClosesOn):
		return nil, validate.Field("campaign_id", "campaign closed on "+c.ClosesOn.Format(time.DateOnly))
	}
	a := &Application{
		ID: event.NewID(), CampaignID: c.ID, Region: region, Role: c.Role, Candidate: cand,
		Stage: StageSift, StageEnteredAt: now.UTC(), Version: 1, SubmittedAt: now.UTC(), SubmittedBy: caller.Subject,
		Source: source,
	}
	ev := applicationEvent(event.Actor(caller), a, now)
	ev.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{Source: source}}
	if err := s.store.InsertApplication(ctx, a, ev); err != nil {
		return nil, err
	}
	return a, nil
}

// Application returns an application in one of the caller's regions; one
// in another region is not found, as if it did not exist.
func (s *Service) Application(ctx context.Context, caller auth.Claims, id string) (*Application, error) {
	return s.store.Application(ctx, id, record.Scope(caller))
}

// Applications lists applications in the filter's regions.
func (s *Service) Applications(ctx context.Context, f ApplicationFilter) ([]*Application, error) {
	return s.store.Applications(ctx, f)
}

// Withdraw withdraws an application from any non-terminal stage.
func (s *Service) Withdraw(ctx context.Context, caller auth.Claims, id string, expectedVersion int64, reason string) (*Application, error) {
	if err := validate.ExpectedVersion(expectedVersion); err != nil {
		return nil, err
	}
	if err := reasonpkg.Withdrawal.Check("reason_code", reason); err != nil {
		return nil, err
	}
	return s.store.UpdateApplication(ctx, id, record.Scope(caller), func(a *Application) ([]*eventsv1.Event, error) {
		if a.Version != expectedVersion {
			return nil, record.StaleError(expectedVersion, a.Version)
		}
		if a.Stage.Terminal() {
			return nil, record.Refused(a.Stage, "withdraw")
		}
		return []*eventsv1.Event{a.withdraw(event.Actor(caller), &Withdrawal{Stage: a.Stage, At: s.now(), Reason: reason})}, nil
	})
}

// StageEvents are the names of the events ApplyStageEvent acts on: the
// stage owners' moves, and the vetting case opening and closing.
var StageEvents = []string{
	"sift.passed", "sift.failed", "interview.passed", "interview.failed",
	"offer.accepted", "offer.declined", "offer.withdrawn", "candidate.started",
	"vetting.opened", "vetting.cleared", "vetting.failed",
}

// stageAfter maps the events of the stages' owners to the stage the
// application enters.
func stageAfter(ev *eventsv1.Event) (Stage, bool) {
	switch ev.GetPayload().(type) {
	case *eventsv1.Event_SiftPassed:
		return StageInterview, true
	case *eventsv1.Event_SiftFailed, *eventsv1.Event_InterviewFailed:
		return StageRejected, true
	case *eventsv1.Event_InterviewPassed:
		return StageOffer, true
	case *eventsv1.Event_OfferAccepted:
		return StagePreEmployment, true
	case *eventsv1.Event_OfferDeclined, *eventsv1.Event_OfferWithdrawn:
		return StageWithdrawn, true
	case *eventsv1.Event_CandidateStarted:
		return StageHired, true
	}
	return "", false
}

// vettingAfter maps the vetting service's events to whether the case is
// open after them.
func vettingAfter(ev *eventsv1.Event) (open, ok bool) {
	switch ev.GetPayload().(type) {
	case *eventsv1.Event_VettingOpened:
		return true, true
	case *eventsv1.Event_VettingCleared, *eventsv1.Event_VettingFailed:
		return false, true
	}
	return false, false
}

// ApplyStageEvent moves an application to the stage another service's
// event reports; an imported application whose withdrawal waits for that
// stage is then withdrawn (application.withdrawn at the historical time). Stages only move forward (see rank), and a hired
// candidate only to WITHDRAWN, so events that arrive twice or out of order
// leave the same result; an event for an application this service does
// not hold is ignored.
//
// vetting.opened, vetting.cleared and vetting.failed keep whether the
// application's vetting case is open (Application.VettingCaseOpen), in the
// case's own order: an event older than the last one applied (by the
// case's aggregate_version) changes nothing.
//
// The record's version is not bumped: it numbers this service's own
// changes (the aggregate_version of its events, where a gap means a lost
// event), and a stage reported by its owner is not one.
func (s *Service) ApplyStageEvent(ctx context.Context, ev *eventsv1.Event) error {
	stage, moves := stageAfter(ev)
	open, vetting := vettingAfter(ev)
	if (!moves && !vetting) || ev.GetProducer() == Producer {
		return nil
	}
	_, err := s.store.UpdateApplication(ctx, ev.GetApplicationId(), nil, func(a *Application) ([]*eventsv1.Event, error) {
		if vetting {
			if ev.GetAggregateVersion() <= a.Vetting.Version {
				return nil, record.ErrUnchanged
			}
			a.Vetting = VettingState{Open: open, Version: ev.GetAggregateVersion()}
			return nil, nil
		}
		if rank[stage] <= rank[a.Stage] || (a.Stage == StageHired && stage != StageWithdrawn) {
			return nil, record.ErrUnchanged
		}
		a.Stage, a.StageEnteredAt = stage, ev.GetOccurredAt().AsTime()
		if w := a.PendingWithdrawal; w != nil && w.Stage == stage {
			by := &commonv1.Actor{Subject: w.By, Role: commonv1.CallerRole_CALLER_ROLE_ADMIN}
			return []*eventsv1.Event{a.withdraw(by, w)}, nil
		}
		return nil, nil
	})
	if errors.Is(err, record.ErrNotFound) || errors.Is(err, record.ErrUnchanged) {
		return nil
	}
	return err
}

func civilDate(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

var stageProto = map[Stage]commonv1.Stage{
	StageSift: commonv1.Stage_STAGE_SIFT, StageInterview: commonv1.Stage_STAGE_INTERVIEW, StageOffer: commonv1.Stage_STAGE_OFFER,
	StagePreEmployment: commonv1.Stage_STAGE_PRE_EMPLOYMENT, StageHired: commonv1.Stage_STAGE_HIRED,
	StageRejected: commonv1.Stage_STAGE_REJECTED, StageWithdrawn: commonv1.Stage_STAGE_WITHDRAWN,
}

var roleProto = map[Role]commonv1.JobRole{
	RoleProbationOfficer: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, RoleProbationServicesOfficer: commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER,
	RoleAdministrator: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, RoleUPWSupervisor: commonv1.JobRole_JOB_ROLE_UPW_SUPERVISOR,
	RoleVictimLiaisonOfficer: commonv1.JobRole_JOB_ROLE_VICTIM_LIAISON_OFFICER, RoleOther: commonv1.JobRole_JOB_ROLE_OTHER,
}

// StageProto and RoleProto convert to the contract's enums.
func StageProto(s Stage) commonv1.Stage { return stageProto[s] }
func RoleProto(r Role) commonv1.JobRole { return roleProto[r] }

func campaignDetails(c *Campaign) *eventsv1.CampaignDetails {
	d := &eventsv1.CampaignDetails{Title: c.Title, Posts: int32(c.Posts), OpensOn: event.Date(c.OpensOn), Status: campaignStatusProto[c.Status]}
	for _, r := range c.Regions {
		d.Regions = append(d.Regions, &commonv1.CampaignRegion{Region: r.Region, Posts: int32(r.Posts)})
	}
	if c.ClosesOn != nil {
		d.ClosesOn = event.Date(*c.ClosesOn)
	}
	return d
}

// campaignEvent is the envelope of an event about campaign c.
func campaignEvent(caller auth.Claims, c *Campaign, at time.Time) *eventsv1.Event {
	return event.New(Producer, event.Actor(caller), at, event.Record{CampaignID: c.ID, Region: c.Region, Role: roleProto[c.Role], Version: c.Version})
}

// applicationEvent is the envelope of an event about application a, by actor.
// checkSource checks an optional application source (reason.Source).
func checkSource(field, source string) error {
	if source == "" {
		return nil
	}
	return reasonpkg.Source.Check(field, source)
}

func applicationEvent(actor *commonv1.Actor, a *Application, at time.Time) *eventsv1.Event {
	return event.New(Producer, actor, at, event.Record{
		ApplicationID: a.ID, CampaignID: a.CampaignID, Region: a.Region, Role: roleProto[a.Role], Version: a.Version,
	})
}
