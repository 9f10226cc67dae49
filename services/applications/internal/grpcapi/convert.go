package grpcapi

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
)

var roles = map[commonv1.JobRole]intake.Role{
	commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER:          intake.RoleProbationOfficer,
	commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER: intake.RoleProbationServicesOfficer,
	commonv1.JobRole_JOB_ROLE_ADMINISTRATOR:              intake.RoleAdministrator,
	commonv1.JobRole_JOB_ROLE_UPW_SUPERVISOR:             intake.RoleUPWSupervisor,
	commonv1.JobRole_JOB_ROLE_VICTIM_LIAISON_OFFICER:     intake.RoleVictimLiaisonOfficer,
	commonv1.JobRole_JOB_ROLE_OTHER:                      intake.RoleOther,
}

var stages = map[commonv1.Stage]intake.Stage{
	commonv1.Stage_STAGE_SIFT:           intake.StageSift,
	commonv1.Stage_STAGE_INTERVIEW:      intake.StageInterview,
	commonv1.Stage_STAGE_OFFER:          intake.StageOffer,
	commonv1.Stage_STAGE_PRE_EMPLOYMENT: intake.StagePreEmployment,
	commonv1.Stage_STAGE_HIRED:          intake.StageHired,
	commonv1.Stage_STAGE_REJECTED:       intake.StageRejected,
	commonv1.Stage_STAGE_WITHDRAWN:      intake.StageWithdrawn,
}

func stageFromProto(s commonv1.Stage) (intake.Stage, error) {
	st, ok := stages[s]
	if !ok {
		return "", validate.Field("stage", "must be a known stage")
	}
	return st, nil
}

// dateFromProto checks a calendar date and returns it as midnight UTC.
func dateFromProto(field string, d *commonv1.Date) (time.Time, error) {
	if d == nil {
		return time.Time{}, validate.Field(field, "is required")
	}
	t := time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
	if d.GetYear() < 2000 || d.GetYear() > 2100 || t.Month() != time.Month(d.GetMonth()) || t.Day() != int(d.GetDay()) {
		return time.Time{}, validate.Field(field, "must be a real calendar date between 2000 and 2100")
	}
	return t, nil
}

func detailsFromProto(title string, posts int32, opens, closes *commonv1.Date) (intake.CampaignDetails, error) {
	d := intake.CampaignDetails{Title: title, Posts: int(posts)}
	var err error
	if d.OpensOn, err = dateFromProto("opens_on", opens); err != nil {
		return d, err
	}
	if closes != nil {
		c, err := dateFromProto("closes_on", closes)
		if err != nil {
			return d, err
		}
		d.ClosesOn = &c
	}
	return d, nil
}

func newCampaignFromProto(req *pb.CreateCampaignRequest) (intake.NewCampaign, error) {
	// Where first: the region is what a request is judged by.
	regions, err := regionsFromProto(req.GetRegion(), req.GetPosts(), req.GetRegions())
	if err != nil {
		return intake.NewCampaign{}, err
	}
	role, ok := roles[req.GetRole()]
	if !ok {
		return intake.NewCampaign{}, validate.Field("role", "must be a known job role")
	}
	d, err := detailsFromProto(req.GetTitle(), req.GetPosts(), req.GetOpensOn(), req.GetClosesOn())
	d.Regions = regions
	return intake.NewCampaign{Role: role, CampaignDetails: d}, err
}

// campaignRegionCodes are the regions a CreateCampaignRequest names.
func campaignRegionCodes(req *pb.CreateCampaignRequest) []string {
	var out []string
	if req.GetRegion() != "" {
		out = append(out, req.GetRegion())
	}
	for _, r := range req.GetRegions() {
		out = append(out, r.GetRegion())
	}
	return out
}

// regionsFromProto is a campaign's regions from a request that gives
// either one region and its posts, or a list of regions.
func regionsFromProto(region string, posts int32, rs []*commonv1.CampaignRegion) ([]intake.RegionPosts, error) {
	if len(rs) == 0 {
		if region == "" {
			return nil, validate.Field("region", "is required (or regions, for a campaign in several)")
		}
		// One region names its fields as the request does.
		if err := validate.Region("region", region); err != nil {
			return nil, err
		}
		if posts < 1 || posts > intake.MaxPosts {
			return nil, validate.Field("posts", "must be between 1 and "+strconv.Itoa(intake.MaxPosts))
		}
		return []intake.RegionPosts{{Region: region, Posts: int(posts)}}, nil
	}
	if region != "" || posts != 0 {
		return nil, validate.Field("regions", "give either region and posts, or regions, not both")
	}
	return regionPostsFromProto(rs), nil
}

func regionPostsFromProto(rs []*commonv1.CampaignRegion) []intake.RegionPosts {
	out := make([]intake.RegionPosts, len(rs))
	for i, r := range rs {
		out[i] = intake.RegionPosts{Region: r.GetRegion(), Posts: int(r.GetPosts())}
	}
	return out
}

func candidateFromProto(c *pb.Candidate) intake.Candidate {
	return intake.Candidate{Name: c.GetName(), Email: c.GetEmail(), Phone: c.GetPhone()}
}

func campaignToProto(c *intake.Campaign) *pb.Campaign {
	if c == nil {
		return nil
	}
	p := &pb.Campaign{
		Id: c.ID, Region: c.Region, Role: intake.RoleProto(c.Role), Title: c.Title, Posts: int32(c.Posts),
		OpensOn: event.Date(c.OpensOn), Version: c.Version,
		CreatedAt: timestamppb.New(c.CreatedAt), UpdatedAt: timestamppb.New(c.UpdatedAt),
		Status: intake.CampaignStatusProto(c.Status), StatusReasonCode: c.StatusReason,
	}
	for _, r := range c.Regions {
		p.Regions = append(p.Regions, &commonv1.CampaignRegion{Region: r.Region, Posts: int32(r.Posts)})
	}
	if c.ClosesOn != nil {
		p.ClosesOn = event.Date(*c.ClosesOn)
	}
	return p
}

func applicationToProto(a *intake.Application) *pb.Application {
	if a == nil {
		return nil
	}
	p := &pb.Application{
		Id: a.ID, CampaignId: a.CampaignID, Region: a.Region, Role: intake.RoleProto(a.Role),
		Candidate: &pb.Candidate{Name: a.Candidate.Name, Email: a.Candidate.Email, Phone: a.Candidate.Phone},
		Stage:     intake.StageProto(a.Stage), StageEnteredAt: timestamppb.New(a.StageEnteredAt),
		Version: a.Version, SubmittedAt: timestamppb.New(a.SubmittedAt), SubmittedBy: a.SubmittedBy,
		WithdrawalReasonCode: a.WithdrawReason, Erased: a.Erased(), ErasureReasonCode: a.ErasureReason, Source: a.Source,
	}
	if a.WithdrawnAt != nil {
		p.WithdrawnAt = timestamppb.New(*a.WithdrawnAt)
	}
	if a.ErasedAt != nil {
		p.ErasedAt = timestamppb.New(*a.ErasedAt)
	}
	return p
}

// contactToProto is the candidate's contact with the application's ids,
// region and role, and nothing else of the application; an erased
// candidate has no contact.
func contactToProto(a *intake.Application) *pb.GetCandidateContactResponse {
	p := &pb.GetCandidateContactResponse{
		ApplicationId: a.ID, Region: a.Region, CampaignId: a.CampaignID, Role: intake.RoleProto(a.Role), Erased: a.Erased(),
	}
	if !a.Erased() {
		p.Candidate = &pb.Candidate{Name: a.Candidate.Name, Email: a.Candidate.Email, Phone: a.Candidate.Phone}
	}
	return p
}

// importRowFromProto converts an import row; fields are named as in the row.
func importRowFromProto(r *pb.ImportRow) (intake.ImportRow, error) {
	row := intake.ImportRow{
		Reference: r.GetReference(), CampaignReference: r.GetCampaignReference(),
		Candidate: candidateFromProto(r.GetCandidate()), History: r.GetHistory(), WithdrawReason: r.GetWithdrawReasonCode(), Source: r.GetSource(),
	}
	role, ok := roles[r.GetRole()]
	if !ok {
		return row, validate.Field("role", "must be a known job role")
	}
	d, err := detailsFromProto(r.GetCampaignTitle(), r.GetPosts(), r.GetOpensOn(), r.GetClosesOn())
	if err != nil {
		return row, err
	}
	row.Region = r.GetRegion()
	if len(r.GetCampaignRegions()) == 0 {
		if r.GetPosts() < 1 || r.GetPosts() > intake.MaxPosts {
			return row, validate.Field("posts", "must be between 1 and "+strconv.Itoa(intake.MaxPosts)+" (or give campaign_regions)")
		}
		d.Regions = []intake.RegionPosts{{Region: r.GetRegion(), Posts: int(r.GetPosts())}}
	} else if r.GetPosts() != 0 {
		return row, validate.Field("posts", "give either posts (a campaign in one region) or campaign_regions, not both")
	} else {
		d.Regions = regionPostsFromProto(r.GetCampaignRegions())
	}
	row.Campaign = intake.NewCampaign{Role: role, CampaignDetails: d}
	// Absent, submitted_at is the domain's "is required"; withdrawn_at is optional.
	if row.SubmittedAt, err = validate.OptionalTime("submitted_at", r.GetSubmittedAt()); err != nil {
		return row, err
	}
	if r.GetWithdrawnAt() != nil {
		t, err := validate.Time("withdrawn_at", r.GetWithdrawnAt())
		if err != nil {
			return row, err
		}
		row.WithdrawnAt = &t
	}
	return row, nil
}
