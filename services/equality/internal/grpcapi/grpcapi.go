// Package grpcapi serves recruitment.equality.v1 and the equality
// service's part of the subject access export (recruitment.privacy.v1):
// it checks the caller, converts between the contract and the rules, and
// maps errors to status codes in one place (pkg/apistatus).
package grpcapi

import (
	"context"
	"log/slog"

	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/audit"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/disclosure"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/monitoring/handoff"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	"github.com/probation-recruitment/pipeline/services/equality/internal/funnel"
)

// Audit says the equality report touches no one's personal data: it
// publishes counts under disclosure control, never an application id or
// an answer. The export, which does, is privacy.Policy's read.
var Audit = audit.Policy{
	Service: pb.EqualityService_ServiceDesc.ServiceName,
	Methods: map[string]audit.Rule{
		"GetEqualityFunnel": audit.NotPersonal("counts and medians of groups under disclosure control; no application id, no answer"),
	},
}

// Server implements pb.EqualityServiceServer.
type Server struct {
	pb.UnimplementedEqualityServiceServer
	svc *funnel.Service
	log *slog.Logger
}

// New returns a Server.
func New(svc *funnel.Service, log *slog.Logger) *Server { return &Server{svc: svc, log: log} }

// GetEqualityFunnel implements pb.EqualityServiceServer.
func (s *Server) GetEqualityFunnel(ctx context.Context, req *pb.GetEqualityFunnelRequest) (*pb.GetEqualityFunnelResponse, error) {
	caller, err := auth.Require(ctx, "", funnel.Readers...)
	if err != nil {
		return nil, apistatus.Error(ctx, s.log, err)
	}
	if err := funnel.Authorize(caller, req.GetRegion()); err != nil {
		return nil, apistatus.Error(ctx, s.log, err)
	}
	q, err := queryFromProto(req)
	if err != nil {
		return nil, apistatus.Error(ctx, s.log, err)
	}
	f, err := s.svc.Funnel(ctx, caller, q)
	if err != nil {
		return nil, apistatus.Error(ctx, s.log, err)
	}
	return FunnelToProto(f), nil
}

// Export is the equality service's part of ExportCandidate
// (privacy.Register): the candidate's monitoring answers.
func (s *Server) Export(ctx context.Context, _ auth.Claims, applicationID string) ([]proto.Message, error) {
	a, err := s.svc.Export(ctx, applicationID)
	if err != nil || a == nil {
		return nil, err
	}
	return []proto.Message{handoff.AnswersToProto(a)}, nil
}

func queryFromProto(req *pb.GetEqualityFunnelRequest) (funnel.Query, error) {
	c, ok := handoff.CharacteristicFromProto(req.GetCharacteristic())
	if !ok {
		return funnel.Query{}, validate.Field("characteristic", "required: one of the monitoring questions")
	}
	from, err := validate.Date("from", req.GetFrom())
	if err != nil {
		return funnel.Query{}, err
	}
	to, err := validate.Date("to", req.GetTo())
	if err != nil {
		return funnel.Query{}, err
	}
	return funnel.Query{Region: req.GetRegion(), CampaignID: req.GetCampaignId(), From: from, To: to, Characteristic: c}, nil
}

func count(c disclosure.Cell) *pb.Count {
	// The reason stays out: knowing a cell was hidden to protect another
	// helps to guess both.
	return &pb.Count{Value: int64(c.Value), Suppressed: c.Suppressed}
}

func measure(m funnel.Measure) *pb.Measure {
	if !m.OK {
		return &pb.Measure{Suppressed: true}
	}
	return &pb.Measure{Value: m.Value}
}

// FunnelToProto is the funnel as every surface receives it.
func FunnelToProto(f funnel.Funnel) *pb.GetEqualityFunnelResponse {
	p := f.Published
	out := &pb.GetEqualityFunnelResponse{
		Region: f.Query.Region, CampaignId: f.Query.CampaignID, From: event.Date(f.Query.From), To: event.Date(f.Query.To),
		Characteristic: handoff.CharacteristicToProto(f.Query.Characteristic), Stages: funnel.Stages,
		DeclarationRate: measure(f.DeclarationRate), Shown: !p.Withheld,
		Total: count(p.Total),
		Policy: &pb.DisclosurePolicy{Threshold: int32(f.Policy.Threshold), RoundBase: int32(f.Policy.RoundBase),
			MinDeclarationRate: f.Policy.MinDeclarationRate},
	}
	if p.Withheld {
		out.HiddenReason = "fewer than the minimum share of applications declared this characteristic, or there are none"
	}
	for _, c := range p.ColTotals {
		out.StageTotals = append(out.StageTotals, count(c))
	}
	for r, name := range p.Rows {
		row := &pb.CategoryRow{Category: name, MedianDaysVettingBlocked: measure(f.MedianBlocked[r])}
		for c := range p.Cols {
			row.Reached = append(row.Reached, count(p.Cells[r][c]))
			row.MedianDaysInStage = append(row.MedianDaysInStage, measure(f.MedianDays[r][c]))
		}
		for s, t := range f.Transitions[r] {
			row.Transitions = append(row.Transitions, &pb.Transition{
				FromStage: funnel.Stages[s], ToStage: funnel.Stages[s+1],
				Conversion: measure(t.Conversion), ImpactRatio: measure(t.ImpactRatio), Flagged: t.Flagged,
			})
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}
