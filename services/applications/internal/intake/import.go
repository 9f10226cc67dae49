package intake

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	reasonpkg "github.com/probation-recruitment/pipeline/pkg/reason"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// ImportRow is an application already in flight in another system, with
// its history (ApplicationsService.ImportApplications).
type ImportRow struct {
	// Reference is the application's id in the source system.
	Reference string
	// CampaignReference names the campaign in the source system; the
	// first row of a campaign creates it from Campaign.
	CampaignReference string
	Campaign          NewCampaign
	// Region is the application's: one of Campaign.Regions.
	Region         string
	Candidate      Candidate
	SubmittedAt    time.Time
	History        *commonv1.ImportedHistory
	WithdrawnAt    *time.Time
	WithdrawReason string
	// Source is where the application came from (reason.Source), or empty.
	Source string
}

// Withdrawal is a candidate withdrawal from imported history, waiting for
// the application to reach the stage it happened in: the stages' owners
// record the history first, then this service publishes the withdrawal.
type Withdrawal struct {
	Stage  Stage
	At     time.Time
	Reason string
	// By is the subject who imported it.
	By string
}

// ErrAlreadyImported: a row whose reference was imported before; the
// application it made is returned with it.
var ErrAlreadyImported = errors.New("already imported")

// bandCode is a salary band code as the offers service takes it.
var bandCode = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,31}$`)

// MaxReferenceLen bounds source-system references.
const MaxReferenceLen = 100

// Import records one application with its history: the campaign (created
// on first sight of its reference), the application as submitted at its
// historical time, and an application.submitted event carrying the history
// for the stages' owners to record. A withdrawal is published now if it
// happened at the sift, otherwise once the owners have reported the
// application at the stage it happened in. The caller must be an admin.
func (s *Service) Import(ctx context.Context, caller auth.Claims, row ImportRow) (*Application, error) {
	apps, errs, err := s.ImportAll(ctx, caller, []ImportRow{row})
	if err != nil {
		return nil, err
	}
	return apps[0], errs[0]
}

// ImportAll imports rows as Import does each, in order — a later row sees
// what an earlier one did (the campaign it created, the reference it
// imported) — with one read of the references, one of the campaigns and
// one write of everything (Store.InsertImports), whatever the number of
// rows. It returns each row's application (the one made, or for
// ErrAlreadyImported the one made before) and error; err is an error of
// the whole set, which then changed nothing.
func (s *Service) ImportAll(ctx context.Context, caller auth.Claims, rows []ImportRow) (apps []*Application, errs []error, err error) {
	apps, errs, err = s.importAll(ctx, caller, rows)
	if errors.Is(err, ErrDuplicate) {
		// A campaign reference was imported meanwhile by an import running
		// beside this one (pipelinectl sends several batches at once):
		// read the campaigns again, finding it, and go on.
		apps, errs, err = s.importAll(ctx, caller, rows)
	}
	return apps, errs, err
}

func (s *Service) importAll(ctx context.Context, caller auth.Claims, rows []ImportRow) (apps []*Application, errs []error, err error) {
	apps, errs = make([]*Application, len(rows)), make([]error, len(rows))
	withdrawAt := make([]Stage, len(rows))
	var refs, campaignRefs []string
	for i, row := range rows {
		if withdrawAt[i], errs[i] = s.checkImport(row); errs[i] == nil {
			refs, campaignRefs = append(refs, row.Reference), append(campaignRefs, row.CampaignReference)
		}
	}
	if len(refs) == 0 {
		return apps, errs, nil
	}
	before, err := s.store.ApplicationsByReference(ctx, refs)
	if err != nil {
		return nil, nil, err
	}
	campaigns, err := s.store.CampaignsByReference(ctx, campaignRefs)
	if err != nil {
		return nil, nil, err
	}
	var w ImportWrites
	// What the rows before have made: the later rows see it, as they
	// would one call after another.
	made := map[string]*Application{}
	applied := map[string]bool{} // campaign id + lower-case email
	for i, row := range rows {
		if errs[i] != nil {
			continue
		}
		if a := cmp.Or(made[row.Reference], before[row.Reference]); a != nil {
			apps[i], errs[i] = a, alreadyImported(row.Reference, a)
			continue
		}
		c, created := campaigns[row.CampaignReference], false
		if c == nil {
			c, created = s.newImportedCampaign(caller, row), true
		} else if errs[i] = sameCampaign(c, row.Campaign); errs[i] != nil {
			continue
		}
		a, evs, err := s.importedApplication(caller, row, c, withdrawAt[i])
		if err == nil && applied[c.ID+" "+strings.ToLower(row.Candidate.Email)] {
			err = fmt.Errorf("%w: this email has already applied to the campaign", ErrDuplicate)
		}
		if errs[i] = err; err != nil {
			continue // a campaign this row would have created is not
		}
		if created {
			campaigns[row.CampaignReference] = c
			w.Campaigns = append(w.Campaigns, c)
			w.CampaignEvents = append(w.CampaignEvents, c.createdEvent(caller))
		}
		made[row.Reference], applied[c.ID+" "+strings.ToLower(row.Candidate.Email)] = a, true
		w.Applications, w.ApplicationEvents, w.rows = append(w.Applications, a), append(w.ApplicationEvents, evs), append(w.rows, i)
	}
	if len(w.Applications) == 0 {
		return apps, errs, nil
	}
	failed, err := s.store.InsertImports(ctx, w)
	if err != nil {
		return nil, nil, err
	}
	for k, i := range w.rows {
		apps[i], errs[i] = w.Applications[k], failed[k]
		if errors.Is(failed[k], ErrAlreadyImported) {
			// A concurrent import of the same reference committed first.
			apps[i] = nil
			prev, err := s.store.ApplicationsByReference(ctx, []string{rows[i].Reference})
			if err != nil {
				return nil, nil, err
			}
			if a := prev[rows[i].Reference]; a != nil {
				apps[i], errs[i] = a, alreadyImported(rows[i].Reference, a)
			}
		} else if failed[k] != nil {
			apps[i] = nil
		}
	}
	return apps, errs, nil
}

// ImportWrites is what ImportAll stores in one go: the campaigns its rows
// create with their campaign.created events, and the applications with
// each one's events.
type ImportWrites struct {
	Campaigns         []*Campaign
	CampaignEvents    []*eventsv1.Event
	Applications      []*Application
	ApplicationEvents [][]*eventsv1.Event
	rows              []int // the row of each application
}

func alreadyImported(reference string, a *Application) error {
	return fmt.Errorf("%w: reference %s is application %s", ErrAlreadyImported, reference, a.ID)
}

// newImportedCampaign is the campaign a row creates, the first time its
// reference is seen.
func (s *Service) newImportedCampaign(caller auth.Claims, row ImportRow) *Campaign {
	now := s.now().UTC()
	nc := row.Campaign
	c := &Campaign{
		ID: event.NewID(), Role: nc.Role, Title: nc.Title, Status: CampaignOpen,
		OpensOn: nc.OpensOn, ClosesOn: nc.ClosesOn, Version: 1, CreatedAt: now, UpdatedAt: now, CreatedBy: caller.Subject,
		ImportReference: row.CampaignReference,
	}
	c.setRegions(nc.Regions)
	return c
}

// createdEvent is campaign.created for a new campaign.
func (c *Campaign) createdEvent(caller auth.Claims) *eventsv1.Event {
	ev := campaignEvent(caller, c, c.CreatedAt)
	ev.Payload = &eventsv1.Event_CampaignCreated{CampaignCreated: &eventsv1.CampaignCreated{Campaign: campaignDetails(c)}}
	return ev
}

// importedApplication is the application a checked row makes in campaign
// c, with its events: application.submitted carrying the history, and
// application.withdrawn if the candidate withdrew at the sift.
func (s *Service) importedApplication(caller auth.Claims, row ImportRow, c *Campaign, withdrawAt Stage) (*Application, []*eventsv1.Event, error) {
	if _, err := applicationRegion(c, row.Region, "region"); err != nil {
		return nil, nil, err
	}
	submitted := civilDate(row.SubmittedAt.In(s.local))
	if submitted.Before(c.OpensOn) || (c.ClosesOn != nil && submitted.After(*c.ClosesOn)) {
		return nil, nil, validate.Field("submitted_at", "must fall within the campaign's dates ("+campaignDates(c)+")")
	}
	at := row.SubmittedAt.UTC()
	a := &Application{
		ID: event.NewID(), CampaignID: c.ID, Region: row.Region, Role: c.Role, Candidate: row.Candidate,
		Stage: StageSift, StageEnteredAt: at, Version: 1, SubmittedAt: at, SubmittedBy: caller.Subject,
		ImportReference: row.Reference, Source: row.Source,
	}
	submittedEv := applicationEvent(event.Actor(caller), a, at)
	submittedEv.Payload = &eventsv1.Event_ApplicationSubmitted{ApplicationSubmitted: &eventsv1.ApplicationSubmitted{
		Imported: proto.CloneOf(row.History), Source: row.Source,
	}}
	if submittedEv.GetApplicationSubmitted().GetImported() == nil {
		submittedEv.GetApplicationSubmitted().Imported = &commonv1.ImportedHistory{}
	}
	evs := []*eventsv1.Event{submittedEv}
	if row.WithdrawnAt != nil {
		w := &Withdrawal{Stage: withdrawAt, At: row.WithdrawnAt.UTC(), Reason: row.WithdrawReason, By: caller.Subject}
		if w.Stage == StageSift {
			evs = append(evs, a.withdraw(event.Actor(caller), w))
		} else {
			a.PendingWithdrawal = w
		}
	}
	return a, evs, nil
}

// sameCampaign checks a row's campaign fields against the campaign its
// reference names.
func sameCampaign(c *Campaign, nc NewCampaign) error {
	differs := func(field, was string) error {
		return validate.Field(field, "differs from the campaign this reference was imported as ("+was+")")
	}
	switch {
	case len(c.Regions) == 1 && len(nc.Regions) == 1 && c.Region != nc.Regions[0].Region:
		return differs("region", c.Region)
	case len(c.Regions) == 1 && len(nc.Regions) == 1 && c.Posts != nc.Regions[0].Posts:
		return differs("posts", fmt.Sprint(c.Posts))
	case !slices.Equal(c.Regions, nc.Regions):
		return differs("campaign_regions", regionsText(c.Regions))
	case c.Role != nc.Role:
		return differs("role", string(c.Role))
	case c.Title != nc.Title:
		return differs("campaign_title", c.Title)
	case !c.OpensOn.Equal(nc.OpensOn):
		return differs("opens_on", c.OpensOn.Format(time.DateOnly))
	case (c.ClosesOn == nil) != (nc.ClosesOn == nil) || (c.ClosesOn != nil && !c.ClosesOn.Equal(*nc.ClosesOn)):
		return differs("closes_on", campaignDates(c))
	}
	return nil
}

// regionsText is regions as the import format writes them:
// "london=120;wales=30".
func regionsText(rs []RegionPosts) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Region + "=" + strconv.Itoa(r.Posts)
	}
	return strings.Join(parts, ";")
}

func campaignDates(c *Campaign) string {
	if c.ClosesOn == nil {
		return "opens " + c.OpensOn.Format(time.DateOnly) + ", rolling"
	}
	return "opens " + c.OpensOn.Format(time.DateOnly) + ", closes " + c.ClosesOn.Format(time.DateOnly)
}

// withdraw withdraws the application as w says and returns the event.
func (a *Application) withdraw(by *commonv1.Actor, w *Withdrawal) *eventsv1.Event {
	from := a.Stage
	at := w.At
	a.Stage, a.StageEnteredAt, a.WithdrawnAt, a.WithdrawReason = StageWithdrawn, at, &at, w.Reason
	a.PendingWithdrawal = nil
	a.Version++
	ev := applicationEvent(by, a, at)
	ev.Payload = &eventsv1.Event_ApplicationWithdrawn{
		ApplicationWithdrawn: &eventsv1.ApplicationWithdrawn{ReasonCode: w.Reason, Stage: stageProto[from]},
	}
	return ev
}

// checkImport validates a row and returns the stage the application was
// in when the candidate withdrew (if they did). Fields are named as in
// the request.
func (s *Service) checkImport(row ImportRow) (Stage, error) {
	if err := validate.Text("reference", row.Reference, MaxReferenceLen); err != nil {
		return "", err
	}
	if err := validate.Text("campaign_reference", row.CampaignReference, MaxReferenceLen); err != nil {
		return "", err
	}
	if err := validate.Region("region", row.Region); err != nil {
		return "", err
	}
	if row.Campaign.Role == "" {
		return "", validate.Field("role", "is required")
	}
	if err := row.Campaign.validate(); err != nil {
		return "", renameCampaignField(err)
	}
	if err := ValidateCandidate(row.Candidate); err != nil {
		return "", err
	}
	if err := checkSource("source", row.Source); err != nil {
		return "", err
	}
	h := history{now: s.now(), local: s.local, last: row.SubmittedAt, lastField: "submitted_at"}
	if row.SubmittedAt.IsZero() {
		return "", validate.Field("submitted_at", "is required")
	}
	if row.SubmittedAt.After(h.now) {
		return "", validate.Field("submitted_at", "must not be in the future")
	}
	stage, err := h.check(row.History)
	if err != nil || row.WithdrawnAt == nil {
		if err == nil && row.WithdrawReason != "" {
			err = validate.Field("withdraw_reason_code", "needs withdrawn_at")
		}
		return stage, err
	}
	if stage.Terminal() {
		return "", validate.Field("withdrawn_at", "the history leaves the application "+string(stage)+", which cannot be withdrawn from")
	}
	if err := h.at("withdrawn_at", timestamppb.New(*row.WithdrawnAt)); err != nil {
		return "", err
	}
	if err := reasonpkg.Withdrawal.Check("withdraw_reason_code", row.WithdrawReason); err != nil {
		return "", err
	}
	return stage, nil
}

// renameCampaignField names a campaign detail as the import row does.
func renameCampaignField(err error) error {
	var fe *validate.FieldError
	if errors.As(err, &fe) && fe.Field == "title" {
		return validate.Field("campaign_title", fe.Rule)
	}
	if errors.As(err, &fe) && strings.HasPrefix(fe.Field, "regions") {
		return validate.Field("campaign_"+fe.Field, fe.Rule)
	}
	return err
}

// history checks imported history: every time present where the step
// happened, after the step before it, and not in the future; and only
// steps the pipeline allows, so that the stages' owners can record all of
// it.
type history struct {
	now       time.Time
	local     *time.Location
	last      time.Time
	lastField string
	// latest is the latest time seen on any branch (vetting runs beside
	// the start).
	latest time.Time
}

// at checks the time of the next step and makes it the last.
func (h *history) at(field string, ts *timestamppb.Timestamp) error {
	t, err := validate.Time(field, ts)
	if err != nil {
		return err
	}
	switch {
	case t.Before(h.last):
		return validate.Field(field, "must not be before "+h.lastField)
	case t.After(h.now):
		return validate.Field(field, "must not be in the future")
	}
	h.last, h.lastField = t, field
	if t.After(h.latest) {
		h.latest = t
	}
	return nil
}

func none(field, why string, parts ...proto.Message) error {
	for _, p := range parts {
		if p != nil && !isNil(p) {
			return validate.Field(field, why)
		}
	}
	return nil
}

func isNil(m proto.Message) bool { return !m.ProtoReflect().IsValid() }

// reason checks a decision's reason: a fail's from the fixed list fails
// (pkg/reason), a pass's (optional) as any lower-case code.
func reason(field string, passed bool, code string, fails *reasonpkg.List) error {
	if passed {
		if code != "" {
			return validate.ReasonCode(field, code)
		}
		return nil
	}
	return fails.Check(field, code)
}

// check walks the history and returns the stage it leaves the application in.
func (h *history) check(hist *commonv1.ImportedHistory) (Stage, error) {
	sift, iv, offer, vet := hist.GetSift(), hist.GetInterview(), hist.GetOffer(), hist.GetVetting()
	if sift == nil {
		return StageSift, none("history.sift", "is required before an interview, offer or vetting", iv, offer, vet)
	}
	if err := h.at("history.sift.decided_at", sift.GetDecidedAt()); err != nil {
		return "", err
	}
	if err := reason("history.sift.reason_code", sift.GetPassed(), sift.GetReasonCode(), reasonpkg.SiftFail); err != nil {
		return "", err
	}
	if !sift.GetPassed() {
		return StageRejected, none("history.interview", "cannot follow a failed sift", iv, offer, vet)
	}
	if iv == nil {
		return StageInterview, none("history.interview", "is required before an offer or vetting", offer, vet)
	}
	if err := h.at("history.interview.booked_at", iv.GetBookedAt()); err != nil {
		return "", err
	}
	scheduledFor, err := validate.Time("history.interview.scheduled_for", iv.GetScheduledFor())
	if err != nil {
		return "", err
	}
	if !scheduledFor.After(h.last) {
		return "", validate.Field("history.interview.scheduled_for", "must be after history.interview.booked_at")
	}
	if iv.GetDecidedAt() == nil {
		return StageInterview, none("history.interview.decided_at", "is required before an offer or vetting", offer, vet)
	}
	h.last, h.lastField = scheduledFor, "history.interview.scheduled_for"
	if err := h.at("history.interview.decided_at", iv.GetDecidedAt()); err != nil {
		return "", err
	}
	if err := reason("history.interview.reason_code", iv.GetPassed(), iv.GetReasonCode(), reasonpkg.InterviewFail); err != nil {
		return "", err
	}
	if !iv.GetPassed() {
		return StageRejected, none("history.offer", "cannot follow a failed interview", offer, vet)
	}
	if offer == nil {
		return StageOffer, none("history.offer", "is required before vetting", vet)
	}
	return h.checkOffer(offer, vet)
}

func (h *history) checkOffer(o *commonv1.ImportedOffer, vet *commonv1.ImportedVetting) (Stage, error) {
	if err := h.at("history.offer.made_at", o.GetMadeAt()); err != nil {
		return "", err
	}
	if !bandCode.MatchString(o.GetSalaryBandCode()) {
		return "", validate.Field("history.offer.salary_band_code", "must be a lower-case code of 1-32 letters, digits and _ (e.g. band_3)")
	}
	if len(o.GetConditions()) == 0 {
		return "", validate.Field("history.offer.conditions", "must name at least one condition")
	}
	seen := map[commonv1.OfferCondition]bool{}
	for _, c := range o.GetConditions() {
		if _, known := commonv1.OfferCondition_name[int32(c)]; !known || c == commonv1.OfferCondition_OFFER_CONDITION_UNSPECIFIED || seen[c] {
			return "", validate.Field("history.offer.conditions", "must be known conditions, each once")
		}
		seen[c] = true
	}
	switch {
	case o.GetAcceptedAt() != nil && o.GetDeclinedAt() != nil:
		return "", validate.Field("history.offer.declined_at", "cannot be set with history.offer.accepted_at")
	case o.GetDeclinedAt() != nil:
		if err := h.at("history.offer.declined_at", o.GetDeclinedAt()); err != nil {
			return "", err
		}
		if err := reasonpkg.Decline.Check("history.offer.decline_reason_code", o.GetDeclineReasonCode()); err != nil {
			return "", err
		}
		return StageWithdrawn, none("history.vetting", "cannot follow a declined offer", vet, o.GetStartDateSetAt(), o.GetStartedAt())
	case o.GetAcceptedAt() == nil:
		return StageOffer, none("history.offer.accepted_at", "is required before vetting or a start", vet, o.GetStartDateSetAt(), o.GetStartedAt())
	}
	if err := h.at("history.offer.accepted_at", o.GetAcceptedAt()); err != nil {
		return "", err
	}
	accepted := h.last
	cleared, failed, err := h.checkVetting(vet)
	if err != nil {
		return "", err
	}
	h.last, h.lastField = accepted, "history.offer.accepted_at"
	started, err := h.checkStart(o, cleared, failed)
	if err != nil {
		return "", err
	}
	h.last, h.lastField = h.latest, "the history's last step"
	switch {
	case failed != nil:
		return StageWithdrawn, nil // failed vetting withdraws the offer, after a start too
	case started:
		return StageHired, nil
	}
	return StagePreEmployment, nil
}

// checkVetting checks the vetting case, which runs from acceptance beside
// the start, and returns when it cleared or failed.
func (h *history) checkVetting(v *commonv1.ImportedVetting) (cleared, failed *time.Time, err error) {
	if v == nil {
		return nil, nil, nil
	}
	accepted, acceptedField := h.last, h.lastField
	var forms, blocked, unblocked *time.Time
	step := func(field string, ts *timestamppb.Timestamp, after time.Time, afterField string) (*time.Time, error) {
		if ts == nil {
			return nil, nil
		}
		h.last, h.lastField = after, afterField
		if err := h.at(field, ts); err != nil {
			return nil, err
		}
		t := ts.AsTime()
		return &t, nil
	}
	if forms, err = step("history.vetting.forms_received_at", v.GetFormsReceivedAt(), accepted, acceptedField); err != nil {
		return nil, nil, err
	}
	if blocked, err = step("history.vetting.blocked_at", v.GetBlockedAt(), accepted, acceptedField); err != nil {
		return nil, nil, err
	}
	if blocked != nil {
		if v.GetBlockReason() == commonv1.BlockReason_BLOCK_REASON_UNSPECIFIED || commonv1.BlockReason_name[int32(v.GetBlockReason())] == "" {
			return nil, nil, validate.Field("history.vetting.block_reason", "is required with blocked_at, a known reason")
		}
		if unblocked, err = step("history.vetting.unblocked_at", v.GetUnblockedAt(), *blocked, "history.vetting.blocked_at"); err != nil {
			return nil, nil, err
		}
		if forms != nil && forms.After(*blocked) && (unblocked == nil || forms.Before(*unblocked)) {
			return nil, nil, validate.Field("history.vetting.forms_received_at", "cannot fall while the case is blocked")
		}
	} else if v.GetUnblockedAt() != nil || v.GetBlockReason() != commonv1.BlockReason_BLOCK_REASON_UNSPECIFIED {
		return nil, nil, validate.Field("history.vetting.blocked_at", "is required with unblocked_at or block_reason")
	}
	// The case ends after all of the above.
	end, endField := accepted, acceptedField
	for _, t := range []struct {
		at    *time.Time
		field string
	}{{forms, "history.vetting.forms_received_at"}, {blocked, "history.vetting.blocked_at"}, {unblocked, "history.vetting.unblocked_at"}} {
		if t.at != nil && !t.at.Before(end) {
			end, endField = *t.at, t.field
		}
	}
	switch {
	case v.GetClearedAt() != nil && v.GetFailedAt() != nil:
		return nil, nil, validate.Field("history.vetting.failed_at", "cannot be set with history.vetting.cleared_at")
	case v.GetClearedAt() != nil:
		if forms == nil {
			return nil, nil, validate.Field("history.vetting.forms_received_at", "is required before the case clears")
		}
		if blocked != nil && unblocked == nil {
			return nil, nil, validate.Field("history.vetting.unblocked_at", "is required before a blocked case clears")
		}
		cleared, err = step("history.vetting.cleared_at", v.GetClearedAt(), end, endField)
	case v.GetFailedAt() != nil:
		if failed, err = step("history.vetting.failed_at", v.GetFailedAt(), end, endField); err == nil {
			err = validate.ReasonCode("history.vetting.fail_reason_code", v.GetFailReasonCode())
		}
	case v.GetFailReasonCode() != "":
		err = validate.Field("history.vetting.fail_reason_code", "needs history.vetting.failed_at")
	}
	return cleared, failed, err
}

// checkStart checks the start date and the start against the vetting
// outcome, and reports whether the candidate started.
func (h *history) checkStart(o *commonv1.ImportedOffer, cleared, failed *time.Time) (bool, error) {
	if o.GetStartDateSetAt() == nil {
		return false, none("history.offer.start_date_set_at", "is required before a start", o.GetStartedAt(), o.GetStartDate())
	}
	if err := h.at("history.offer.start_date_set_at", o.GetStartDateSetAt()); err != nil {
		return false, err
	}
	set := h.last
	if failed != nil && failed.Before(set) {
		return false, validate.Field("history.offer.start_date_set_at", "cannot follow failed vetting (the offer was withdrawn)")
	}
	start, err := validate.Date("history.offer.start_date", o.GetStartDate())
	if err != nil {
		return false, err
	}
	if start.Before(civilDate(set.In(h.local))) {
		return false, validate.Field("history.offer.start_date", "must not be before the day it was set")
	}
	clearedBy := func(t time.Time) bool { return cleared != nil && !cleared.After(t) }
	if !clearedBy(set) {
		if o.GetApprovedBy() == "" {
			return false, validate.Field("history.offer.approved_by", "is required for a start date set before vetting cleared: the subject id of who approved it")
		}
		// It goes into events, which name people by subject id only.
		if !auth.WellFormedSubject(o.GetApprovedBy()) || strings.HasPrefix(o.GetApprovedBy(), auth.SystemPrefix) {
			return false, validate.Field("history.offer.approved_by", "must be the subject id of who approved it (letters, digits and ._+=:/|-), not a name or an email address")
		}
		if o.GetVettingDueBy() != nil {
			due, err := validate.Date("history.offer.vetting_due_by", o.GetVettingDueBy())
			if err != nil {
				return false, err
			}
			if due.Before(start) {
				return false, validate.Field("history.offer.vetting_due_by", "must not be before the start date")
			}
		}
	}
	if o.GetStartedAt() == nil {
		return false, nil
	}
	if err := h.at("history.offer.started_at", o.GetStartedAt()); err != nil {
		return false, err
	}
	startedAt := h.last
	if civilDate(startedAt.In(h.local)).Before(start) {
		return false, validate.Field("history.offer.started_at", "must not be before history.offer.start_date")
	}
	if failed != nil && failed.Before(startedAt) {
		return false, validate.Field("history.offer.started_at", "cannot follow failed vetting (the offer was withdrawn)")
	}
	return true, nil
}
