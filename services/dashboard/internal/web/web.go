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
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/validate"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/bearer"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/live"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
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
	GetVettingDurations(ctx context.Context, in *pb.GetVettingDurationsRequest, opts ...grpc.CallOption) (*pb.GetVettingDurationsResponse, error)
	GetWorkload(ctx context.Context, in *pb.GetWorkloadRequest, opts ...grpc.CallOption) (*pb.GetWorkloadResponse, error)
	GetReasonBreakdown(ctx context.Context, in *pb.GetReasonBreakdownRequest, opts ...grpc.CallOption) (*pb.GetReasonBreakdownResponse, error)
	ListMyCases(ctx context.Context, in *pb.ListMyCasesRequest, opts ...grpc.CallOption) (*pb.ListMyCasesResponse, error)
	ListOutstandingChecks(ctx context.Context, in *pb.ListOutstandingChecksRequest, opts ...grpc.CallOption) (*pb.ListOutstandingChecksResponse, error)
	ListCampaignProgress(ctx context.Context, in *pb.ListCampaignProgressRequest, opts ...grpc.CallOption) (*pb.ListCampaignProgressResponse, error)
	GetCampaignProgress(ctx context.Context, in *pb.GetCampaignProgressRequest, opts ...grpc.CallOption) (*pb.GetCampaignProgressResponse, error)
	GetEarlyStarts(ctx context.Context, in *pb.GetEarlyStartsRequest, opts ...grpc.CallOption) (*pb.GetEarlyStartsResponse, error)
}

const (
	// callTimeout bounds the reporting calls behind one page.
	callTimeout = 10 * time.Second
	// stuckPageSize is the length of a page of the stuck list.
	stuckPageSize = 50
	// myCasesPageSize is the length of a page of a person's cases.
	myCasesPageSize = 50
	// heartbeat keeps an idle event stream open through proxies that close
	// quiet connections.
	heartbeat = 20 * time.Second
)

// Server is the dashboard's HTTP handler.
type Server struct {
	reports Reports
	// equalityReports is the equality service's client; nil: no equality
	// page.
	equalityReports Equality
	hub             *live.Hub
	sessions        *session.Manager
	log             *slog.Logger
	now             func() time.Time
	pages           *pages
	mux             *http.ServeMux
	csv             *limiter

	closeOnce sync.Once
	// closing ends the event streams, which otherwise never finish, so that
	// a graceful shutdown does not wait for them.
	closing chan struct{}
}

// Config is what New needs.
type Config struct {
	// Reports is the reporting client; its connection sends the bearer
	// token of each call's context (bearer.FromContext).
	Reports Reports
	// Equality is the equality service's client, sending the bearer
	// token as Reports does; nil serves no equality page.
	Equality Equality
	Hub      *live.Hub
	Sessions *session.Manager
	Log      *slog.Logger
	Now      func() time.Time
	// CSVPerMinute and CSVBurst limit each user's stuck list downloads:
	// CSVBurst at once, then CSVPerMinute a minute.
	CSVPerMinute float64
	CSVBurst     int
}

// New returns the dashboard's handler.
func New(cfg Config) (*Server, error) {
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	if cfg.Reports == nil || cfg.Hub == nil || cfg.Sessions == nil {
		return nil, errors.New("web: reports, hub and sessions are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CSVPerMinute <= 0 || cfg.CSVBurst <= 0 {
		return nil, errors.New("web: CSV downloads need a positive rate and burst")
	}
	s := &Server{reports: cfg.Reports, equalityReports: cfg.Equality, hub: cfg.Hub, sessions: cfg.Sessions, log: cfg.Log, now: cfg.Now, pages: p,
		mux: http.NewServeMux(), closing: make(chan struct{}),
		csv: newLimiter(rate.Limit(cfg.CSVPerMinute/60), cfg.CSVBurst, cfg.Now)}
	// Pages a person opens: without a session, sign in and come back.
	s.mux.HandleFunc("GET /{$}", s.page(s.overview))
	s.mux.HandleFunc("GET /regions/{region}", s.page(s.region))
	s.mux.HandleFunc("GET /my", s.page(s.myCases))
	s.mux.HandleFunc("GET /regions/{region}/checks", s.page(s.checks))
	s.mux.HandleFunc("GET /regions/{region}/equality", s.page(s.equality))
	s.mux.HandleFunc("GET /regions/{region}/campaigns", s.page(s.regionCampaigns))
	s.mux.HandleFunc("GET /campaigns/{campaign}", s.page(s.campaign))
	s.mux.HandleFunc("GET /regions/{region}/stuck.csv", s.page(s.stuckCSV))
	// What the live script fetches: without a session, 401.
	s.mux.HandleFunc("GET /events", s.script(s.overviewEvents))
	s.mux.HandleFunc("GET /regions/{region}/events", s.script(s.regionEvents))
	s.mux.HandleFunc("GET /regions/{region}/stuck", s.script(s.stuckFragment))
	s.mux.HandleFunc("GET /regions/{region}/charts", s.script(s.chartsFragment))
	// Signing in and out.
	s.mux.HandleFunc("GET "+session.SignInPath, s.signIn)
	s.mux.HandleFunc("GET "+session.CallbackPath, s.callback)
	// Sign-out changes state, so a page elsewhere must not be able to post
	// it (the session cookie is SameSite=Lax, and this checks the
	// browser's Sec-Fetch-Site or Origin as well).
	s.mux.Handle("POST "+session.SignOutPath, http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.signOut)))

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
	// Forms post here, and the sign-out form's redirect goes on to the
	// identity provider, which form-action must allow too.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self' "+
		strings.Join(s.sessions.FormActionOrigins(), " ")+"; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if r.TLS != nil {
		// Served over HTTPS itself (DASHBOARD_TLS_CERT_FILE): browsers
		// keep to HTTPS for this host from now on. Behind a proxy that
		// terminates TLS, the proxy says so.
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
}

// Close ends open event streams, so that a graceful shutdown can finish.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// handler is a handler for a signed-in user; its request's context carries
// the user's token for the reporting calls.
type handler func(w http.ResponseWriter, r *http.Request, sess *session.Session)

type sessionKey struct{}

// signedIn is the request's session, if any (for the page's header).
func signedIn(r *http.Request) *session.Session {
	sess, _ := r.Context().Value(sessionKey{}).(*session.Session)
	return sess
}

// withSession loads the request's session (renewing its token if due) and
// calls next with it; without one, it calls none.
func (s *Server) withSession(w http.ResponseWriter, r *http.Request, none func(), next handler) {
	sess, err := s.sessions.Load(w, r)
	if err != nil {
		if errors.Is(err, session.ErrNoSession) {
			none()
			return
		}
		s.fail(w, r, err)
		return
	}
	ctx := context.WithValue(bearer.WithToken(r.Context(), sess.IDToken), sessionKey{}, sess)
	next(w, r.WithContext(ctx), sess)
}

// page serves a page a person opens; without a session it sends the
// browser to sign in, and back here afterwards.
func (s *Server) page(next handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.withSession(w, r, func() {
			// The provider's redirect back after sign-out lands on the
			// overview: say so, rather than ask to sign in again at once.
			if r.URL.Path == "/" && r.URL.Query().Get("state") == session.SignedOutState {
				s.render(w, r, http.StatusOK, "signed-out", &signedOutView{chrome: chrome{Title: "You have signed out"}})
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, session.SignInPath+"?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
		}, next)
	}
}

// script serves what the live script fetches; without a session it
// answers 401, which the script reports (an event stream stops for good).
func (s *Server) script(next handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.withSession(w, r, func() { s.fail(w, r, errSignedOut) }, next)
	}
}

// signIn sends the browser to the identity provider; next is the page to
// come back to.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	to, err := s.sessions.Begin(w, r, r.URL.Query().Get("next"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// callback is where the provider sends the browser back after sign-in.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	next, err := s.sessions.Finish(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut ends the session and sends the browser to the provider to end
// its session there too.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	to := s.sessions.SignOut(w, r)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// overviewView is the national overview.
type overviewView struct {
	chrome
	Columns []column
	Rows    []summaryView
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, _ *session.Session) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	// Reporting answers the regions the user's token covers, no others.
	resp, err := s.reports.ListRegionSummaries(ctx, &pb.ListRegionSummariesRequest{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := &overviewView{chrome: chrome{Title: "Recruitment by region"}, Columns: stageColumns(pipelineStages)}
	for _, sum := range resp.GetSummaries() {
		v.Rows = append(v.Rows, summaryToView(sum))
	}
	s.render(w, r, http.StatusOK, "overview", v)
}

// regionView is one region's page.
type regionView struct {
	chrome
	Region   string
	Summary  summaryView
	Columns  []column
	Stuck    stuckView
	Workload workloadView
	Charts   chartsView
	// AsOf is the past date shown ("" for now): the page is then not live
	// and has no workload (which is of today's cases).
	AsOf      string
	AsOfLabel string
	Today     string
	// EarlyStarts is the region's starts before vetting cleared against
	// its early start policy's cap.
	EarlyStarts earlyStartsView
}

func (s *Server) region(w http.ResponseWriter, r *http.Request, _ *session.Session) {
	code, f, ok := s.regionRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	var (
		sum      *pb.GetRegionSummaryResponse
		stuck    stuckView
		workload *pb.GetWorkloadResponse
		charts   chartsView
		early    *pb.GetEarlyStartsResponse
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		sum, err = s.reports.GetRegionSummary(gctx, &pb.GetRegionSummaryRequest{Region: code, AsOf: asOfTimestamp(f.AsOf)})
		return err
	})
	g.Go(func() (err error) {
		stuck, err = s.stuck(gctx, code, f)
		return err
	})
	if f.AsOf == "" {
		g.Go(func() (err error) {
			workload, err = s.reports.GetWorkload(gctx, &pb.GetWorkloadRequest{Region: code})
			return err
		})
	}
	g.Go(func() (err error) {
		charts, err = s.charts(gctx, code, f.AsOf)
		return err
	})
	g.Go(func() (err error) {
		early, err = s.reports.GetEarlyStarts(gctx, &pb.GetEarlyStartsRequest{Region: code})
		return err
	})
	if err := g.Wait(); err != nil {
		s.fail(w, r, err)
		return
	}
	v := &regionView{
		chrome: chrome{Title: regionName(code)}, Region: code, Summary: summaryToView(sum.GetSummary()),
		Columns: stageColumns(allStages), Stuck: stuck, Charts: charts,
		AsOf: f.AsOf, Today: s.now().In(london).Format(time.DateOnly),
	}
	if f.AsOf != "" {
		day, _ := time.ParseInLocation(time.DateOnly, f.AsOf, london)
		v.AsOfLabel = day.Format("Monday 2 January 2006")
	} else {
		v.Workload = workloadToView(code, workload)
		v.EarlyStarts = earlyStartsToView(early)
	}
	s.render(w, r, http.StatusOK, "region", v)
}

// myCases is the signed-in person's own open cases across stages, read
// with their own token: the reporting service lists the cases whose
// assignee is the token's subject (a SPOC's, a vetting contact point's or
// an admin's; a dashboard reader owns none and gets the 403 page).
func (s *Server) myCases(w http.ResponseWriter, r *http.Request, _ *session.Session) {
	token := r.URL.Query().Get("page_token")
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	resp, err := s.reports.ListMyCases(ctx, &pb.ListMyCasesRequest{PageSize: myCasesPageSize, PageToken: token})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "my-cases", myCasesToView(resp, token != ""))
}

// stuckFragment serves the stuck list section alone, for the live script
// to swap into an open page.
func (s *Server) stuckFragment(w http.ResponseWriter, r *http.Request, _ *session.Session) {
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
func (s *Server) chartsFragment(w http.ResponseWriter, r *http.Request, _ *session.Session) {
	code, f, ok := s.regionRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	v, err := s.charts(ctx, code, f.AsOf)
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
	role, okRole := parseCode(q.Get("role"), "JOB_ROLE_", filterRoles)
	kind, okKind := parseCode(q.Get("rule"), "STUCK_KIND_", filterKinds)
	reason, okReason := parseCode(q.Get("blocked_reason"), "BLOCK_REASON_", filterReasons)
	campaign := strings.ToLower(strings.TrimSpace(q.Get("campaign")))
	okCampaign := campaign == "" || validate.UUID("campaign", campaign) == nil
	asOf, okAsOf := parseAsOf(q.Get("as_of"), s.now())
	if !okStage || !okSeverity || !okRole || !okKind || !okReason || !okCampaign || !okAsOf {
		s.fail(w, r, errBadFilter)
		return "", stuckFilter{}, false
	}
	return code, stuckFilter{Stage: stage, Severity: severity, Role: role, CampaignID: campaign, Kind: kind, BlockedReason: reason,
		AsOf: asOf, PageToken: q.Get("page_token")}, true
}

func (s *Server) stuck(ctx context.Context, code string, f stuckFilter) (stuckView, error) {
	resp, err := s.reports.ListStuckCandidates(ctx, f.request(code, stuckPageSize, f.PageToken))
	if err != nil {
		return stuckView{}, err
	}
	return stuckToView(code, f, resp), nil
}

// charts reads the charts' reports, as of the end of the London date
// asOf ("" for now).
func (s *Server) charts(ctx context.Context, code, asOf string) (chartsView, error) {
	var (
		tth       *pb.GetTimeToHireResponse
		funnel    *pb.GetFunnelResponse
		durations *pb.GetStageDurationsResponse
		vetting   *pb.GetVettingDurationsResponse
		breakdown *pb.GetReasonBreakdownResponse
	)
	at := asOfTimestamp(asOf)
	end := s.now()
	if at != nil {
		end = at.AsTime()
	}
	from := end.AddDate(0, 0, -7*trendWeeks)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		tth, err = s.reports.GetTimeToHire(gctx, &pb.GetTimeToHireRequest{Region: code, From: timestamppb.New(from), AsOf: at})
		return err
	})
	g.Go(func() (err error) {
		funnel, err = s.reports.GetFunnel(gctx, &pb.GetFunnelRequest{Region: code, AsOf: at})
		return err
	})
	g.Go(func() (err error) {
		durations, err = s.reports.GetStageDurations(gctx, &pb.GetStageDurationsRequest{Region: code, AsOf: at})
		return err
	})
	g.Go(func() (err error) {
		vetting, err = s.reports.GetVettingDurations(gctx, &pb.GetVettingDurationsRequest{Region: code})
		return err
	})
	g.Go(func() (err error) {
		breakdown, err = s.reports.GetReasonBreakdown(gctx, &pb.GetReasonBreakdownRequest{Region: code})
		return err
	})
	if err := g.Wait(); err != nil {
		return chartsView{}, err
	}
	v, err := chartsToView(code, tth, funnel, durations)
	v.VettingRows = vettingToRows(vetting)
	v.Breakdown = breakdownToView(breakdown)
	return v, err
}
