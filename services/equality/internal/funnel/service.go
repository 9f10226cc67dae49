package funnel

import (
	"context"
	"fmt"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/disclosure"
	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// Store is the storage the equality service needs.
type Store interface {
	// UpdateMilestones loads an application's milestones, locked (a new
	// one if none), and stores them if fn reports a change; in the
	// transaction ctx carries.
	UpdateMilestones(ctx context.Context, applicationID string, fn func(*Milestones) bool) error
	// EraseAnswers deletes an application's monitoring answers.
	EraseAnswers(ctx context.Context, applicationID string) error
	// Answers reads an application's answers (nil: none).
	Answers(ctx context.Context, applicationID string) (monitoring.Answers, error)
	// Window reads every application submitted in [from, to), with its
	// answer to c.
	Window(ctx context.Context, from, to time.Time, c monitoring.Characteristic) ([]Row, error)
}

// Service applies the equality rules.
type Service struct {
	store Store
	cfg   disclosure.Config
}

// NewService returns a Service publishing under cfg (validated).
func NewService(store Store, cfg disclosure.Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("disclosure: %w", err)
	}
	return &Service{store: store, cfg: cfg.WithDefaults()}, nil
}

// Policy is the disclosure configuration the service publishes under.
func (s *Service) Policy() disclosure.Config { return s.cfg }

// Readers are the roles that may read equality reports (admins always
// may): SPOCs, vetting contact points and dashboards may not, so the data
// cannot influence a decision about a candidate.
var Readers = []auth.Role{auth.RoleEquality}

// HandleEvent folds a stage event into the application's milestones, and
// on application.erased deletes its answers, in the consumer's transaction.
func (s *Service) HandleEvent(ctx context.Context, ev *eventsv1.Event) error {
	if ev.GetApplicationId() == "" {
		return nil
	}
	if _, ok := ev.GetPayload().(*eventsv1.Event_ApplicationErased); ok {
		return s.store.EraseAnswers(ctx, ev.GetApplicationId())
	}
	return s.store.UpdateMilestones(ctx, ev.GetApplicationId(), func(m *Milestones) bool { return m.Apply(ev) })
}

// Authorize checks that caller may read the equality reports of
// regionCode, or of the nation when it is empty (every region needed):
// before anything else of a request is looked at, so a caller learns
// nothing of a region it may not see.
func Authorize(caller auth.Claims, regionCode string) error {
	if regionCode != "" {
		if err := validate.Region("region", regionCode); err != nil {
			return err
		}
		return caller.RequireRegion(regionCode)
	}
	for _, r := range region.All {
		if !caller.CanAccessRegion(r) {
			return fmt.Errorf("%w: a national report needs every region; caller may not access region %q", auth.ErrPermissionDenied, r)
		}
	}
	return nil
}

// Funnel answers q for caller: admins and the equality role, for a region
// they may see; the nation only for a caller who may see every region.
func (s *Service) Funnel(ctx context.Context, caller auth.Claims, q Query) (Funnel, error) {
	if err := Authorize(caller, q.Region); err != nil {
		return Funnel{}, err
	}
	if q.CampaignID != "" {
		if err := validate.UUID("campaign_id", q.CampaignID); err != nil {
			return Funnel{}, err
		}
	}
	if q.Characteristic == "" {
		return Funnel{}, validate.Field("characteristic", "required")
	}
	if err := disclosure.ValidateWindow(q.From, q.To); err != nil {
		return Funnel{}, err
	}
	rows, err := s.store.Window(ctx, q.From, q.To, q.Characteristic)
	if err != nil {
		return Funnel{}, err
	}
	f, err := Report(s.cfg, q, rows)
	if err != nil {
		if err == ErrUnknownCampaign {
			return Funnel{}, validate.Field("campaign_id", "no application of this campaign in the region and window")
		}
		return Funnel{}, err
	}
	return f, nil
}

// Export returns what the service holds about one application's candidate:
// their monitoring answers (nil: none).
func (s *Service) Export(ctx context.Context, applicationID string) (monitoring.Answers, error) {
	return s.store.Answers(ctx, applicationID)
}
