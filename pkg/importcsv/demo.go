package importcsv

import (
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/region"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
)

// demoCampaign is a kind of campaign every region runs in the demo.
type demoCampaign struct {
	ref, title string
	role       commonv1.JobRole
	posts      int32
	// apps is how many applications a region's campaign draws (±20%).
	apps int
	// closedDaysAgo is when it closed, opensDays how long it was open.
	closedDaysAgo, opensDays int
	siftPass                 float64
	// national: one campaign over every region, posts in each (the
	// 300-post admin campaign), rather than one campaign per region.
	national bool
}

// The demo's campaigns: a national admin campaign of 300 posts (one
// campaign, 25 posts in each region) drawing about 900 applications of which about half pass the
// sift, probation officer and PSO campaigns further along, and recent
// campaigns still in their sift.
var demoCampaigns = []demoCampaign{
	{ref: "ADMIN-NATIONAL", title: "Administrative officers (national campaign)", role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR,
		posts: 25, apps: 75, closedDaysAgo: 120, opensDays: 28, siftPass: 0.5, national: true},
	{ref: "PO", title: "Probation officers", role: commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER,
		posts: 12, apps: 60, closedDaysAgo: 180, opensDays: 35, siftPass: 0.45},
	{ref: "PSO", title: "Probation services officers", role: commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER,
		posts: 15, apps: 70, closedDaysAgo: 75, opensDays: 28, siftPass: 0.5},
	{ref: "UPW", title: "Unpaid work supervisors", role: commonv1.JobRole_JOB_ROLE_UPW_SUPERVISOR,
		posts: 6, apps: 25, closedDaysAgo: 30, opensDays: 21, siftPass: 0.55},
	{ref: "VLO", title: "Victim liaison officers", role: commonv1.JobRole_JOB_ROLE_VICTIM_LIAISON_OFFICER,
		posts: 3, apps: 20, closedDaysAgo: 12, opensDays: 21, siftPass: 0.5},
}

// email is a demo candidate's address: unique in the campaign, which for
// the national one spans the regions.
func email(i int, dc demoCampaign, reg string) string {
	if dc.national {
		return fmt.Sprintf("candidate%04d.%s.%s@example.org", i, dc.ref, reg)
	}
	return fmt.Sprintf("candidate%04d.%s@example.org", i, dc.ref)
}

var (
	firstNames = []string{"Amina", "Ben", "Chloe", "Dev", "Ellie", "Femi", "Grace", "Harry", "Isla", "Jack", "Kiran", "Leah",
		"Mo", "Nia", "Owen", "Priya", "Rhys", "Sara", "Tom", "Uma", "Wes", "Yusuf", "Zara", "Liam"}
	lastNames = []string{"Ahmed", "Brown", "Clarke", "Davies", "Evans", "Francis", "Green", "Hughes", "Iqbal", "Jones", "Khan",
		"Lewis", "Morgan", "Nowak", "Owusu", "Patel", "Quinn", "Roberts", "Singh", "Taylor", "Walker", "Wright", "Young", "Zhou"}
	blockReasons = []commonv1.BlockReason{
		commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS, commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE,
		commonv1.BlockReason_BLOCK_REASON_IDENTITY_MISMATCH, commonv1.BlockReason_BLOCK_REASON_AWAITING_THIRD_PARTY,
		commonv1.BlockReason_BLOCK_REASON_OVERSEAS_CHECKS,
	}
)

// Demo returns a realistic history for the twelve regions as it stands at
// now: several campaigns per region at different points, candidates stuck
// in the sift, waiting for offers and blocked in vetting, and conditional
// starts before vetting cleared. The same seed and day give the same rows.
// demoSources are the application sources the demo spreads its
// applications over (pkg/reason Source).
var demoSources = []string{"jobs_site", "jobs_site", "social_media", "job_centre", "referral", "university", "agency", "internal", "jobs_site"}

func Demo(now time.Time, seed uint64) []*applicationsv1.ImportRow {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	// The monitoring answers draw from their own source, so they leave the
	// pipeline's history as it would be without them.
	answers := rand.New(rand.NewPCG(seed, 0xe9a1))
	today := time.Date(now.In(London).Year(), now.In(London).Month(), now.In(London).Day(), 0, 0, 0, 0, London)
	var rows []*applicationsv1.ImportRow
	for _, reg := range region.All {
		for _, dc := range demoCampaigns {
			closes := today.AddDate(0, 0, -dc.closedDaysAgo)
			opens := closes.AddDate(0, 0, -dc.opensDays)
			n := dc.apps + rng.IntN(dc.apps*2/5+1) - dc.apps/5
			if reg == DisparityRegion && !dc.national {
				// London's own campaigns draw six times the applications
				// of a region's, so its equality report by ethnic group has
				// groups above the threshold.
				n *= 6
			}
			campaignRef := fmt.Sprintf("DEMO-%s-%s", reg, dc.ref)
			title, posts, regions, campaignReference := dc.title+" — "+reg, dc.posts, []*commonv1.CampaignRegion(nil), campaignRef
			if dc.national {
				title, posts, campaignReference = dc.title, 0, "DEMO-"+dc.ref
				for _, r := range region.All {
					regions = append(regions, &commonv1.CampaignRegion{Region: r, Posts: dc.posts})
				}
			}
			for i := range n {
				g := demoCandidate{rng: rng, now: now}
				r := &applicationsv1.ImportRow{
					Reference: fmt.Sprintf("%s-%04d", campaignRef, i+1), CampaignReference: campaignReference,
					Region: reg, Role: dc.role, CampaignTitle: title, Posts: posts, CampaignRegions: regions,
					OpensOn: civil(opens), ClosesOn: civil(closes),
					Candidate: &applicationsv1.Candidate{
						Name:  firstNames[rng.IntN(len(firstNames))] + " " + lastNames[rng.IntN(len(lastNames))],
						Email: email(i+1, dc, reg),
					},
				}
				submitted := g.workTime(opens.Add(time.Duration(rng.Int64N(int64(closes.Sub(opens))))))
				if submitted.After(closes) {
					submitted = closes.Add(10 * time.Hour) // a weekend moved it past the closing day
				}
				r.SubmittedAt = timestamppb.New(submitted)
				r.Monitoring = demoAnswers(answers, reg)
				rc := dc
				if reg == DisparityRegion && r.GetMonitoring().GetEthnicGroup() == DisparityGroup {
					rc.siftPass /= 2
				}
				if h := g.history(submitted, closes, rc, reg); proto.Size(h) > 0 {
					r.History = h
				}
				if g.withdrawn != nil {
					r.WithdrawnAt, r.WithdrawReasonCode = timestamppb.New(*g.withdrawn), "candidate_request"
				}
				// A source for every fourth-but-one application in turn, from
				// its position rather than the generator, so the rest of the
				// demo stays as it was; the others have none ("unknown").
				if i%4 != 3 {
					r.Source = demoSources[(i/4+i)%len(demoSources)]
				}
				rows = append(rows, r)
			}
			if dc.ref == "PSO" {
				rows = append(rows, showcase(rows[len(rows)-1], today))
			}
		}
	}
	return rows
}

// The demo's built-in disparity: in DisparityRegion, candidates of
// DisparityGroup (ethnic group) pass the sift half as often as others, so
// its equality report by ethnic group flags the sift.
const (
	DisparityRegion = "london"
	DisparityGroup  = "black"
)

// demoQuestion is one monitoring question's demo answers: the share who
// declare a category, who prefer not to say (the rest leave it blank), and
// the categories' weights.
type demoQuestion struct {
	declared, preferNot float64
	categories          []string
	weights             []float64
}

// demoQuestions have declaration rates as recruitment monitoring sees
// them: high for age and sex, lower for sexual orientation, and below the
// reports' 60% for lived experience of the justice system, whose report
// is therefore withheld.
var demoQuestions = []struct {
	set func(*equalityv1.MonitoringAnswers, string)
	q   demoQuestion
}{
	{func(m *equalityv1.MonitoringAnswers, v string) { m.AgeBand = v }, demoQuestion{0.92, 0.03,
		[]string{"16_24", "25_34", "35_44", "45_54", "55_64", "65_plus"}, []float64{12, 32, 26, 18, 10, 2}}},
	{func(m *equalityv1.MonitoringAnswers, v string) { m.Sex = v }, demoQuestion{0.9, 0.04, []string{"female", "male"}, []float64{65, 35}}},
	{func(m *equalityv1.MonitoringAnswers, v string) { m.GenderIdentity = v }, demoQuestion{0.85, 0.06, []string{"yes", "no"}, []float64{97, 3}}},
	{func(m *equalityv1.MonitoringAnswers, v string) { m.EthnicGroup = v }, demoQuestion{0.88, 0.05,
		[]string{"white", "asian", "black", "mixed", "other"}, []float64{72, 11, 9, 5, 3}}},
	{func(m *equalityv1.MonitoringAnswers, v string) { m.Disability = v }, demoQuestion{0.82, 0.08, []string{"yes", "no"}, []float64{14, 86}}},
	{func(m *equalityv1.MonitoringAnswers, v string) { m.ReligionOrBelief = v }, demoQuestion{0.78, 0.08,
		[]string{"no_religion", "christian", "muslim", "hindu", "sikh", "jewish", "buddhist", "other"}, []float64{45, 38, 8, 3, 2, 1, 1, 2}}},
	{func(m *equalityv1.MonitoringAnswers, v string) { m.SexualOrientation = v }, demoQuestion{0.72, 0.12,
		[]string{"straight", "gay_lesbian", "bisexual", "other"}, []float64{88, 5, 5, 2}}},
	{func(m *equalityv1.MonitoringAnswers, v string) { m.CaringResponsibilities = v }, demoQuestion{0.8, 0.05, []string{"yes", "no"}, []float64{22, 78}}},
	{func(m *equalityv1.MonitoringAnswers, v string) { m.JusticeExperience = v }, demoQuestion{0.55, 0.15, []string{"yes", "no"}, []float64{12, 88}}},
}

// londonEthnicity is London's mix of ethnic groups, more diverse than the
// country's.
var londonEthnicity = []float64{45, 20, 22, 8, 5}

// demoAnswers draws one candidate's answers (nil when they answered
// nothing).
func demoAnswers(rng *rand.Rand, reg string) *equalityv1.MonitoringAnswers {
	m := &equalityv1.MonitoringAnswers{}
	for i, dq := range demoQuestions {
		q := dq.q
		if i == 3 && reg == DisparityRegion {
			q.weights = londonEthnicity
		}
		switch p := rng.Float64(); {
		case p < q.declared:
			dq.set(m, q.categories[pick(rng, q.weights)])
		case p < q.declared+q.preferNot:
			dq.set(m, "prefer_not_to_say")
		}
	}
	if proto.Size(m) == 0 {
		return nil
	}
	return m
}

func pick(rng *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// showcase is a candidate every region has, stuck only because vetting is
// blocked: an offer accepted twelve days ago, the case blocked for a week
// on missing documents. Unblocking it takes the region's stuck count down.
func showcase(like *applicationsv1.ImportRow, today time.Time) *applicationsv1.ImportRow {
	r := proto.CloneOf(like)
	r.Reference = like.GetCampaignReference() + "-SHOWCASE"
	r.Candidate = &applicationsv1.Candidate{Name: "Sam Showcase", Email: "showcase.PSO@example.org"}
	closes := londonDate(like.GetClosesOn())
	day := func(d time.Time, hour int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, London))
	}
	r.SubmittedAt = day(closes.AddDate(0, 0, -3), 11)
	r.History = &commonv1.ImportedHistory{
		Sift: &commonv1.ImportedSift{DecidedAt: day(closes.AddDate(0, 0, 5), 10), Passed: true},
		Interview: &commonv1.ImportedInterview{BookedAt: day(closes.AddDate(0, 0, 6), 10), ScheduledFor: day(closes.AddDate(0, 0, 15), 10),
			DecidedAt: day(closes.AddDate(0, 0, 16), 15), Passed: true},
		Offer: &commonv1.ImportedOffer{MadeAt: day(today.AddDate(0, 0, -15), 10), SalaryBandCode: "band_3",
			Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}, AcceptedAt: day(today.AddDate(0, 0, -12), 10)},
		Vetting: &commonv1.ImportedVetting{FormsReceivedAt: day(today.AddDate(0, 0, -10), 10), BlockedAt: day(today.AddDate(0, 0, -7), 10),
			BlockReason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS},
	}
	r.WithdrawnAt, r.WithdrawReasonCode = nil, ""
	return r
}

func londonDate(d *commonv1.Date) time.Time {
	return time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, London)
}

func civil(t time.Time) *commonv1.Date {
	return &commonv1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
}

// demoCandidate walks one candidate through the pipeline until a step
// would be in the future.
type demoCandidate struct {
	rng       *rand.Rand
	now       time.Time
	withdrawn *time.Time
}

// workTime moves t into working hours (London), on a weekday.
func (g *demoCandidate) workTime(t time.Time) time.Time {
	t = t.In(London)
	for t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
		t = t.AddDate(0, 0, 1)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 9+g.rng.IntN(8), g.rng.IntN(4)*15, 0, 0, London)
}

// after is a working time days (min..max) after t, and whether it has happened.
func (g *demoCandidate) after(t time.Time, minDays, maxDays int) (time.Time, bool) {
	next := g.workTime(t.AddDate(0, 0, minDays+g.rng.IntN(maxDays-minDays+1)))
	if !next.After(t) {
		next = t.Add(time.Hour)
	}
	return next, !next.After(g.now)
}

// withdraw may end the candidate's part at a non-terminal point after t.
func (g *demoCandidate) withdraw(t time.Time, p float64) bool {
	if g.rng.Float64() >= p {
		return false
	}
	if at, ok := g.after(t, 1, 10); ok {
		g.withdrawn = &at
		return true
	}
	return false
}

func (g *demoCandidate) history(submitted, closes time.Time, dc demoCampaign, reg string) *commonv1.ImportedHistory {
	h := &commonv1.ImportedHistory{}
	// Sifts start after the campaign closes; some regions are slow.
	siftFrom := closes
	if submitted.After(siftFrom) {
		siftFrom = submitted
	}
	if g.withdraw(submitted, 0.03) {
		return h
	}
	decided, ok := g.after(siftFrom, 3, 30)
	if !ok {
		return h
	}
	h.Sift = &commonv1.ImportedSift{DecidedAt: timestamppb.New(decided), Passed: g.rng.Float64() < dc.siftPass}
	if !h.Sift.Passed {
		h.Sift.ReasonCode = "insufficient_evidence"
		return h
	}
	if g.withdraw(decided, 0.05) {
		return h
	}
	booked, ok := g.after(decided, 1, 6)
	if !ok {
		return h
	}
	heldAt, _ := g.after(booked, 5, 15)
	iv := &commonv1.ImportedInterview{BookedAt: timestamppb.New(booked), ScheduledFor: timestamppb.New(heldAt)}
	h.Interview = iv
	ivDecided, ok := g.after(heldAt, 0, 4)
	if !ok {
		return h
	}
	iv.DecidedAt, iv.Passed = timestamppb.New(ivDecided), g.rng.Float64() < 0.65
	if !iv.Passed {
		iv.ReasonCode = "below_interview_standard"
		return h
	}
	// Offers: most within a fortnight, some waiting much longer.
	made, ok := g.after(ivDecided, 2, 12+g.rng.IntN(3)*15)
	if !ok || g.withdraw(ivDecided, 0.04) {
		return h
	}
	o := &commonv1.ImportedOffer{MadeAt: timestamppb.New(made), SalaryBandCode: "band_" + fmt.Sprint(3+g.rng.IntN(2)),
		Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING, commonv1.OfferCondition_OFFER_CONDITION_REFERENCES}}
	h.Offer = o
	answered, ok := g.after(made, 1, 8)
	if !ok {
		return h
	}
	if g.rng.Float64() < 0.08 {
		o.DeclinedAt, o.DeclineReasonCode = timestamppb.New(answered), "accepted_other_offer"
		return h
	}
	o.AcceptedAt = timestamppb.New(answered)
	cleared, failed, last := g.vetting(h, answered)
	g.start(o, answered, cleared, failed, reg)
	if failed == nil && (o.StartedAt == nil) {
		if l := latest(last, o); g.withdraw(l, 0.03) {
			return h
		}
	}
	return h
}

// vetting fills the vetting history and returns when it cleared or failed.
func (g *demoCandidate) vetting(h *commonv1.ImportedHistory, accepted time.Time) (cleared, failed *time.Time, last time.Time) {
	last = accepted
	forms, ok := g.after(accepted, 2, 12)
	if !ok {
		return nil, nil, last
	}
	v := &commonv1.ImportedVetting{}
	h.Vetting = v
	v.FormsReceivedAt, last = timestamppb.New(forms), forms
	if g.rng.Float64() < 0.22 {
		blocked, ok := g.after(forms, 2, 20)
		if !ok {
			return nil, nil, last
		}
		v.BlockedAt, v.BlockReason, last = timestamppb.New(blocked), blockReasons[g.rng.IntN(len(blockReasons))], blocked
		unblocked, ok := g.after(blocked, 5, 45)
		if !ok || g.rng.Float64() < 0.35 {
			return nil, nil, last // still blocked
		}
		v.UnblockedAt, last = timestamppb.New(unblocked), unblocked
	}
	outcome, ok := g.after(last, 10, 50)
	if !ok {
		return nil, nil, last
	}
	if g.rng.Float64() < 0.03 {
		v.FailedAt, v.FailReasonCode = timestamppb.New(outcome), "adverse_information"
		return nil, &outcome, outcome
	}
	v.ClearedAt = timestamppb.New(outcome)
	return &outcome, nil, outcome
}

// start sets a start date once vetting has cleared, or before that as a
// conditional start approved by the region's manager, and starts the
// candidate when the day has come.
func (g *demoCandidate) start(o *commonv1.ImportedOffer, accepted time.Time, cleared, failed *time.Time, reg string) {
	set, ok := g.after(accepted, 7, 25)
	if !ok {
		return
	}
	conditional := cleared == nil || cleared.After(set)
	if conditional && g.rng.Float64() < 0.55 {
		// Wait for vetting to clear, if it has.
		if cleared == nil {
			return
		}
		if set, ok = g.after(*cleared, 1, 5); !ok {
			return
		}
		conditional = false
	}
	if failed != nil && !failed.After(set) {
		return
	}
	day := set.In(London).AddDate(0, 0, 14+g.rng.IntN(21))
	for day.Weekday() != time.Monday {
		day = day.AddDate(0, 0, 1)
	}
	o.StartDateSetAt, o.StartDate = timestamppb.New(set), civil(day)
	if conditional {
		o.ApprovedBy = "rm-" + reg + "-1"
	}
	started := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, London)
	if started.After(g.now) || (failed != nil && !failed.After(started)) {
		return
	}
	o.StartedAt = timestamppb.New(started)
}

func latest(t time.Time, o *commonv1.ImportedOffer) time.Time {
	for _, ts := range []*timestamppb.Timestamp{o.GetStartDateSetAt(), o.GetStartedAt()} {
		if ts != nil && ts.AsTime().After(t) {
			t = ts.AsTime()
		}
	}
	return t
}
