package report

import (
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/projection"
)

// The rows a Store returns, declared here rather than by the store so that
// the API, which sends some of them (StuckRow), needs only the reports.

// Versions is how far the projection has got, per region.
type Versions struct {
	// Epoch names the projection: a rebuilt one has another.
	Epoch string
	// Of maps each region with aggregates to the version of the last
	// transaction that changed it; a region missing has none (version 0).
	Of map[string]int64
	// Latest maps each region to the latest occurred_at of the events
	// folded into it: a report as of an earlier time must derive the
	// records as they stood (see pointintime.go).
	Latest map[string]time.Time
}

// PastRegion is what a report as of a past time derives a region from:
// its records that had begun by then, with the changes of each that
// AsOf needs (projection.App.AsOf), the campaigns they belong to and the
// thresholds, read in one snapshot of the projection at Version of
// Epoch.
type PastRegion struct {
	Epoch      string
	Version    int64
	Apps       []*projection.App
	Changes    map[string][]projection.Change
	Campaigns  map[string]*projection.Campaign
	Thresholds map[string]projection.Thresholds
}

// CampaignKey is a campaign id in binary form (the zero key is "no
// campaign").
type CampaignKey [16]byte

// RegionRows is a region's aggregates as of one version: its counters and
// histogram rows for some of its campaigns (all of them, or those changed
// after a given version) and all of its stuck clocks.
type RegionRows struct {
	Epoch   string
	Version int64
	// Full: Campaigns is every campaign of the region with rows. Otherwise
	// it is the campaigns changed since the version asked for, whose rows
	// replace what the caller holds (a changed campaign may have none left).
	Full      bool
	Campaigns []CampaignKey
	Durations []DurationRow
	Counts    []CountRow
	Stuck     []StuckRow
}

// DurationRow is one non-zero histogram cell: N applications of a
// campaign completed Measure on End (days since 1970-01-01) after Days
// calendar and WorkingDays working days.
type DurationRow struct {
	Campaign    CampaignKey
	Measure     projection.Measure
	End         int32
	Role        commonv1.JobRole
	Days        int32
	WorkingDays int32
	N           int32
}

// CountRow is one non-zero funnel counter of a campaign.
type CountRow struct {
	Campaign CampaignKey
	Kind     projection.CountKind
	Stage    commonv1.Stage
	N        int
}

// StuckRow is one stuck clock.
type StuckRow struct {
	ApplicationID string
	CampaignID    string
	Role          commonv1.JobRole
	projection.Clock
}

// CaseRow is an open case: a stage record in progress (see CaseQuery), its
// assignee ("" when nobody is), and the stuck clocks of its application
// that are the record's (projection.Clock.Record).
type CaseRow struct {
	ApplicationID string
	CampaignID    string
	Region        string
	Role          commonv1.JobRole
	Stage         commonv1.Stage
	// Since is when the application entered its stage.
	Since    time.Time
	Record   projection.Record
	Assignee string
	Clocks   []projection.Clock
}

// CaseKey is a case's place in a list of cases: oldest in its stage
// first, then by application and record.
type CaseKey struct {
	Since  time.Time
	App    string
	Record projection.Record
}

// CaseQuery selects open cases: sift cases in SIFT and INTERVIEW, offers in
// OFFER and PRE_EMPLOYMENT, vetting cases from the offer's acceptance until
// vetting clears (in PRE_EMPLOYMENT, or started subject to vetting).
type CaseQuery struct {
	Regions []string
	// Assignee, if set, keeps that person's cases only.
	Assignee string
	// After, if set, lists after that case; Limit, if above 0, stops there.
	After *CaseKey
	Limit int
}
