package report

import (
	"context"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/pagetoken"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/stats"
)

// OutstandingChecks is one application whose offer has pre-employment
// checks outstanding.
type OutstandingChecks struct {
	ApplicationID, CampaignID, Region, Assignee string
	Role                                        commonv1.JobRole
	Stage                                       commonv1.Stage
	OfferMadeAt                                 time.Time
	Checks                                      []commonv1.OfferCondition
}

// ChecksQuery selects a page of a region's outstanding checks, oldest
// offer first, after a key; Check (optional) keeps those with that check
// outstanding.
type ChecksQuery struct {
	Region string
	Check  commonv1.OfferCondition
	After  pagetoken.Key
	Limit  int
}

// OutstandingChecks lists a page of applications with checks outstanding:
// an index range of the projection (its check-outstanding clocks).
func (s *Service) OutstandingChecks(ctx context.Context, q ChecksQuery) ([]OutstandingChecks, error) {
	return s.store.OutstandingChecks(ctx, q)
}

// CheckDuration is how long one check took from the offer to being met.
type CheckDuration struct {
	Check commonv1.OfferCondition
	Days  stats.Summary
}

// Checks are the checks CheckDurations reports, in order.
var Checks = []commonv1.OfferCondition{
	commonv1.OfferCondition_OFFER_CONDITION_REFERENCES, commonv1.OfferCondition_OFFER_CONDITION_MEDICAL,
	commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK,
}

// CheckDurations summarises, per check, the days from the offer being
// made to the check being met, over checks met within q's window (and of
// its campaign and role); a check none of which was met has no entry.
func (s *Service) CheckDurations(ctx context.Context, q DurationsQuery) ([]CheckDuration, error) {
	snaps, err := s.regions(ctx, q.Regions)
	if err != nil {
		return nil, err
	}
	f := filter{campaign: q.CampaignID, role: q.Role}
	f.from, f.to = q.Window.days()
	var out []CheckDuration
	for _, c := range Checks {
		var t tally
		sum(snaps, projection.CheckMet+projection.Measure(c), f, &t)
		if d := (CheckDuration{Check: c, Days: t.cal.summary()}); d.Days.Count > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}
