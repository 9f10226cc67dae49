// Package web serves the regional dashboard: server-rendered pages over the
// reporting service's gRPC API (a national overview and a page per region
// with its stuck list, charts and tables), a CSV download of the stuck
// list, and event streams that keep open pages current from WatchRegion.
//
// Every table renders on the server, so the pages work without JavaScript
// (a reload brings new figures); the small script only applies live
// updates.
package web

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/region"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/live"
)

//go:embed templates static
var files embed.FS

// Reports is the part of the reporting client the pages call.
type Reports interface {
	ListRegionSummaries(ctx context.Context, in *pb.ListRegionSummariesRequest, opts ...grpc.CallOption) (*pb.ListRegionSummariesResponse, error)
	GetRegionSummary(ctx context.Context, in *pb.GetRegionSummaryRequest, opts ...grpc.CallOption) (*pb.GetRegionSummaryResponse, error)
	ListStuckCandidates(ctx context.Context, in *pb.ListStuckCandidatesRequest, opts ...grpc.CallOption) (*pb.ListStuckCandidatesResponse, error)
	GetTimeToHire(ctx context.Context, in *pb.GetTimeToHireRequest, opts ...grpc.CallOption) (*pb.GetTimeToHireResponse, error)
	GetFunnel(ctx context.Context, in *pb.GetFunnelRequest, opts ...grpc.CallOption) (*pb.GetFunnelResponse, error)
	GetStageDurations(ctx context.Context, in *pb.GetStageDurationsRequest, opts ...grpc.CallOption) (*pb.GetStageDurationsResponse, error)
}

const (
	// callTimeout bounds the reporting calls behind one page.
	callTimeout = 10 * time.Second
	// stuckPageSize is the length of a page of the stuck list.
	stuckPageSize = 50
	// heartbeat keeps an idle event stream open through proxies that close
	// quiet connections.
	heartbeat = 20 * time.Second
)

// Server is the dashboard's HTTP handler.
type Server struct {
	reports Reports
	hub     *live.Hub
	log     *slog.Logger
	now     func() time.Time
	pages   *pages
	mux     *http.ServeMux

	closeOnce sync.Once
	// closing ends the event streams, which otherwise never finish, so that
	// a graceful shutdown does not wait for them.
	closing chan struct{}
}

// New returns the dashboard's handler.
func New(reports Reports, hub *live.Hub, log *slog.Logger, now func() time.Time) (*Server, error) {
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &Server{reports: reports, hub: hub, log: log, now: now, pages: p, mux: http.NewServeMux(), closing: make(chan struct{})}
	s.mux.HandleFunc("GET /{$}", s.overview)
	s.mux.HandleFunc("GET /events", s.overviewEvents)
	s.mux.HandleFunc("GET /regions/{region}", s.region)
	s.mux.HandleFunc("GET /regions/{region}/stuck", s.stuckFragment)
	s.mux.HandleFunc("GET /regions/{region}/stuck.csv", s.stuckCSV)
	s.mux.HandleFunc("GET /regions/{region}/charts", s.chartsFragment)
	s.mux.HandleFunc("GET /regions/{region}/events", s.regionEvents)
	s.mux.Handle("GET /static/", p.static())
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errNotFound)
	})
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Everything is served from here: no CDN, no inline script or style.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

// Close ends open event streams, so that a graceful shutdown can finish.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// overviewView is the national overview.
type overviewView struct {
	Title   string
	Columns []column
	Rows    []summaryView
	// Events is the event stream of every region shown.
	Events string
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	resp, err := s.reports.ListRegionSummaries(ctx, &pb.ListRegionSummariesRequest{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := overviewView{Title: "Recruitment by region", Columns: stageColumns(pipelineStages), Events: "/events"}
	var shown []string
	for _, sum := range resp.GetSummaries() {
		v.Rows = append(v.Rows, summaryToView(sum))
		shown = append(shown, sum.GetRegion())
	}
	// A token for some regions sees only those: follow exactly them.
	if len(shown) != len(region.All) {
		v.Events = "/events" + regionsQuery(shown)
	}
	s.render(w, r, http.StatusOK, "overview", v)
}

// regionView is one region's page.
type regionView struct {
	Title   string
	Region  string
	Summary summaryView
	Columns []column
	Stuck   stuckView
	Charts  chartsView
}

func (s *Server) region(w http.ResponseWriter, r *http.Request) {
	code, f, ok := s.regionRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	var (
		sum    *pb.GetRegionSummaryResponse
		stuck  stuckView
		charts chartsView
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		sum, err = s.reports.GetRegionSummary(gctx, &pb.GetRegionSummaryRequest{Region: code})
		return err
	})
	g.Go(func() (err error) {
		stuck, err = s.stuck(gctx, code, f)
		return err
	})
	g.Go(func() (err error) {
		charts, err = s.charts(gctx, code)
		return err
	})
	if err := g.Wait(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "region", regionView{
		Title: regionName(code), Region: code, Summary: summaryToView(sum.GetSummary()),
		Columns: stageColumns(allStages), Stuck: stuck, Charts: charts,
	})
}

// stuckFragment serves the stuck list section alone, for the live script
// to swap into an open page.
func (s *Server) stuckFragment(w http.ResponseWriter, r *http.Request) {
	code, f, ok := s.regionRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	v, err := s.stuck(ctx, code, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderFragment(w, r, "stuck-section", v)
}

// chartsFragment serves the charts section alone, for the live script.
func (s *Server) chartsFragment(w http.ResponseWriter, r *http.Request) {
	code, _, ok := s.regionRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	v, err := s.charts(ctx, code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderFragment(w, r, "charts-section", v)
}

// regionRequest reads the region and the stuck list's filter from a
// request, answering it with an error page when either is not valid.
func (s *Server) regionRequest(w http.ResponseWriter, r *http.Request) (string, stuckFilter, bool) {
	code := r.PathValue("region")
	if !region.Valid(code) {
		s.fail(w, r, errNotFound)
		return "", stuckFilter{}, false
	}
	q := r.URL.Query()
	stage, okStage := parseStage(q.Get("stage"))
	severity, okSeverity := parseSeverity(q.Get("severity"))
	if !okStage || !okSeverity {
		s.fail(w, r, errBadFilter)
		return "", stuckFilter{}, false
	}
	return code, stuckFilter{Stage: stage, Severity: severity, PageToken: q.Get("page_token")}, true
}

func (s *Server) stuck(ctx context.Context, code string, f stuckFilter) (stuckView, error) {
	resp, err := s.reports.ListStuckCandidates(ctx, &pb.ListStuckCandidatesRequest{
		Region: code, Stage: f.Stage, Severity: f.Severity, PageSize: stuckPageSize, PageToken: f.PageToken,
	})
	if err != nil {
		return stuckView{}, err
	}
	return stuckToView(code, f, resp), nil
}

func (s *Server) charts(ctx context.Context, code string) (chartsView, error) {
	var (
		tth       *pb.GetTimeToHireResponse
		funnel    *pb.GetFunnelResponse
		durations *pb.GetStageDurationsResponse
	)
	from := s.now().AddDate(0, 0, -7*trendWeeks)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		tth, err = s.reports.GetTimeToHire(gctx, &pb.GetTimeToHireRequest{Region: code, From: timestamppb.New(from)})
		return err
	})
	g.Go(func() (err error) {
		funnel, err = s.reports.GetFunnel(gctx, &pb.GetFunnelRequest{Region: code})
		return err
	})
	g.Go(func() (err error) {
		durations, err = s.reports.GetStageDurations(gctx, &pb.GetStageDurationsRequest{Region: code})
		return err
	})
	if err := g.Wait(); err != nil {
		return chartsView{}, err
	}
	return chartsToView(code, tth, funnel, durations)
}

// regionsQuery is "?region=a&region=b".
func regionsQuery(regions []string) string {
	return "?" + url.Values{"region": regions}.Encode()
}

// eventRegions reads the regions an overview stream asks for: every region
// when none is named; unknown ones are a bad request.
func eventRegions(r *http.Request) ([]string, bool) {
	asked := r.URL.Query()["region"]
	if len(asked) == 0 {
		return region.All, true
	}
	var out []string
	for _, a := range asked {
		if !region.Valid(a) {
			return nil, false
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, true
}
