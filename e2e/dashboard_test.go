package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/devidp"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// dashboard is a running dashboard process.
type dashboard struct {
	url string
	// transport reaches the dashboard: nil for plain HTTP, one trusting
	// the test CA for HTTPS (startDashboardTLS).
	transport http.RoundTripper
	cmd       *exec.Cmd
	logs      *bytes.Buffer
	done      chan error
	// stopped is set by stop, which the test and its cleanup may both call.
	stopped bool
}

// signInSetup is an OpenID provider (devidp, in-process) with the
// dashboard registered as its client at addr, and the environment that
// makes the services accept the provider's ID tokens for the dashboard (and
// the test's own tokens, signed with testSeed, still).
func signInSetup(t *testing.T, addr string, idTokenLifetime time.Duration) (*devidp.Provider, []string) {
	t.Helper()
	idp := devidp.StartConfig(t, devidp.Config{
		Clients:         []devidp.Client{devidp.DashboardClient("http://" + addr + "/auth/callback")},
		IDTokenLifetime: idTokenLifetime,
	})
	return idp, []string{"AUTH_OIDC_ISSUER=" + idp.Issuer(), "AUTH_AUDIENCES=recruitment-pipeline," + devidp.DashboardClientID}
}

// startDashboard runs the dashboard at addr against reportingAddr, people
// signing in with idp. It holds no token or key of its own.
func startDashboard(t *testing.T, addr, reportingAddr string, idp *devidp.Provider, env ...string) *dashboard {
	t.Helper()
	return launchDashboard(t, &dashboard{url: "http://" + addr}, addr, reportingAddr, idp, env)
}

// startDashboardTLS runs the dashboard at addr over HTTPS with the
// stack's server certificate, calling the stack's reporting service over
// mutual TLS with the test's client certificate.
func startDashboardTLS(t *testing.T, addr string, st *stack, idp *devidp.Provider) *dashboard {
	t.Helper()
	roots := x509.NewCertPool()
	ca, err := os.ReadFile(st.certs.CA)
	if err != nil || !roots.AppendCertsFromPEM(ca) {
		t.Fatalf("read the test CA: %v", err)
	}
	d := &dashboard{url: "https://" + addr, transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	return launchDashboard(t, d, addr, st.addrs["reporting"], idp, []string{
		"DASHBOARD_TLS_CERT_FILE=" + st.certs.Server.Cert, "DASHBOARD_TLS_KEY_FILE=" + st.certs.Server.Key,
		"REPORTING_INSECURE=false", "REPORTING_CA_FILE=" + st.certs.CA,
		"REPORTING_CERT_FILE=" + st.certs.Client.Cert, "REPORTING_KEY_FILE=" + st.certs.Client.Key,
	})
}

func launchDashboard(t *testing.T, d *dashboard, addr, reportingAddr string, idp *devidp.Provider, env []string) *dashboard {
	t.Helper()
	d.logs, d.done = &bytes.Buffer{}, make(chan error, 1)
	// With the race detector: the browser test is the one that drives the
	// dashboard's fan-out from many goroutines.
	d.cmd = exec.Command(binary(t, "dashboard", filepath.Join("services", "dashboard", "cmd", "dashboard"), "-race"))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	d.cmd.Env = append(os.Environ(), "HTTP_ADDR="+addr, "REPORTING_ADDR="+reportingAddr,
		"DASHBOARD_OIDC_ISSUER="+idp.Issuer(), "DASHBOARD_OIDC_CLIENT_SECRET="+devidp.DashboardClientSecret,
		"DASHBOARD_SESSION_KEY="+base64.StdEncoding.EncodeToString(key),
		"DASHBOARD_TOKEN=", "AUTH_ED25519_PRIVATE_KEY=", "LOG_LEVEL=warn", "REPORTING_INSECURE=true")
	d.cmd.Env = append(d.cmd.Env, env...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("dashboard logs:\n%s", d.logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := (&http.Client{Transport: d.transport}).Get(d.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dashboard not ready after 20s; logs:\n%s", d.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns how long the process took to end, and how
// it ended.
func (d *dashboard) stop() (time.Duration, error) {
	if d.stopped {
		return 0, nil
	}
	d.stopped = true
	start := time.Now()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		return time.Since(start), err
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		return time.Since(start), fmt.Errorf("still running 20s after SIGTERM")
	}
}

// get fetches a dashboard URL with hc (nil: a client with no session that
// does not follow redirects) and returns the status and body.
func (d *dashboard) get(t *testing.T, hc *http.Client, path string) (int, string) {
	t.Helper()
	if hc == nil {
		hc = &http.Client{Transport: d.transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := hc.Get(d.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// signIn signs in to the dashboard as user from Go, as a browser would,
// and returns a client holding the session (it does not follow redirects).
func (d *dashboard) signIn(t *testing.T, idp *devidp.Provider, user string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: d.transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(d.url + "/auth/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authURL, err := resp.Location()
	if err != nil {
		t.Fatalf("sign-in did not redirect to the provider: %s", resp.Status)
	}
	callback, err := idp.SignIn(t.Context(), nil, authURL.String(), user)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = hc.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %s", resp.Status)
	}
	return hc
}

// chromium finds the browser: $CHROMIUM, or chromium on PATH. The test
// fails, never skips, without one: `make test` installs it (scripts/chromium).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: run scripts/chromium (make test does) or set CHROMIUM=/path/to/chromium")
	return ""
}

// browser opens a headless Chromium tab for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1024),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start as root with its sandbox on.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// evaluate runs a script in the page and returns its value.
func evaluate[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script))
	if err != nil {
		t.Fatalf("evaluate %s: %v", script, err)
	}
	return v
}

// evaluateAsync runs a script that returns a promise and returns what the
// promise resolves to.
func evaluateAsync[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", script, err)
	}
	return v
}

// waitFor polls a script in the page until it is true. It rides over
// navigations (an evaluation can fail while a page loads).
func waitFor(t *testing.T, ctx context.Context, what, script string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < limit {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script))
		if err == nil && ok {
			return time.Since(start)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last error %v)", what, limit, last)
	return 0
}

// artefacts is where the browser test leaves its screenshots: $E2E_ARTEFACTS,
// or e2e/testdata/artefacts (git ignores it).
func artefacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("E2E_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artefacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artefacts(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// axeSource is axe-core's script: $AXE_CORE, or the copy scripts/axe-core
// fetches into .cache/. The test fails, never skips, without one.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AXE_CORE")
	if path == "" {
		_, file, _, _ := runtime.Caller(0)
		path = filepath.Join(filepath.Dir(file), "..", ".cache", "axe-core-4.14.1", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core not found (%v): run scripts/axe-core (make test does) or set AXE_CORE=/path/to/axe.min.js", err)
	}
	return string(b)
}

// axeViolation is one rule axe-core found broken, and where.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// accessible runs axe-core on the open page, with the rules of WCAG 2.2 A
// and AA and axe's best practices, and fails the test for each violation.
func accessible(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	violations := axeCheck(t, ctx, page)
	for _, v := range violations {
		for _, n := range v.Nodes {
			t.Errorf("%s is not accessible: %s (%s, %s) at %v: %s", page, v.Help, v.ID, v.Impact, n.Target, n.Summary)
		}
	}
	if len(violations) == 0 {
		t.Logf("%s: axe-core finds no violation", page)
	}
}

// axeCheck runs axe-core on the open page and returns what it finds.
func axeCheck(t *testing.T, ctx context.Context, page string) []axeViolation {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axeSource(t))); err != nil {
		t.Fatalf("%s: load axe-core: %v", page, err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa', 'best-practice']},
	}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", page, err)
	}
	return violations
}

// The accessibility check finds what it is there to find: a page without
// a language, a title, an image's text alternative or a field's label.
func TestDashboardAccessibilityCheckFindsViolations(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!DOCTYPE html><html><body><main><img src="/chart.png"><input type="text"></main></body></html>`)
	}))
	t.Cleanup(srv.Close)
	page := browser(t)
	if err := chromedp.Do(page, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, v := range axeCheck(t, page, "a page built to fail") {
		found[v.ID] = true
	}
	for _, rule := range []string{"html-has-lang", "document-title", "image-alt", "label"} {
		if !found[rule] {
			t.Errorf("axe-core did not find %s; found %v", rule, found)
		}
	}
}

// cookies are the browser's cookies for rawURL.
func cookies(t *testing.T, ctx context.Context, rawURL string) map[string]*network.Cookie {
	t.Helper()
	res, err := chromedp.Run(ctx, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	}))
	if err != nil {
		t.Fatalf("cookies: %v", err)
	}
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

// open navigates to rawURL and returns the status of the page it lands on.
func open(t *testing.T, ctx context.Context, rawURL string) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(rawURL))
	if err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	return resp.Status
}

// backdate publishes a copy of ev, under a new event id, as if it had
// happened at `at`, adjusted by change. The stack cannot wait the days a
// candidate takes to become stuck; the reporting fold keeps each milestone's
// earliest time and each vetting detail's highest version (docs/design.md
// §8), so one earlier copy of a real event makes the candidate stuck exactly
// as if it had waited.
func (s *stack) backdate(t *testing.T, ev *eventsv1.Event, at time.Time, change func(*eventsv1.Event)) {
	t.Helper()
	cp := proto.CloneOf(ev)
	cp.EventId, cp.OccurredAt = event.NewID(), timestamppb.New(at)
	if change != nil {
		change(cp)
	}
	data, err := event.Marshal(cp)
	if err != nil {
		t.Fatal(err)
	}
	suffix, err := event.SubjectSuffix(cp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.js.Publish(context.Background(), "recruitment."+suffix, data, jetstream.WithMsgID(cp.GetEventId())); err != nil {
		t.Fatalf("publish backdated %s: %v", suffix, err)
	}
}

// streamEvent waits for the application's event called name on the stream.
func (s *stack) streamEvent(t *testing.T, applicationID, name string) *eventsv1.Event {
	t.Helper()
	var found *eventsv1.Event
	testenv.Eventually(t, name+" on the stream", func() (bool, string) {
		var err error
		found, err = s.findEvent(applicationID, name)
		return err == nil, fmt.Sprint(err)
	})
	return found
}

// findEvent reads the stream for the application's event called name. An
// empty stream, or one without that event yet, is an error to retry.
func (s *stack) findEvent(applicationID, name string) (*eventsv1.Event, error) {
	ctx := context.Background()
	str, err := s.js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		return nil, err
	}
	info, err := str.Info(ctx)
	if err != nil {
		return nil, err
	}
	// An empty stream reports first sequence 0, which GetMsg refuses.
	if info.State.Msgs == 0 {
		return nil, errors.New("the stream is empty")
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", seq, err)
		}
		ev, err := event.Unmarshal(m.Data)
		if err != nil {
			return nil, err
		}
		if n, _ := event.Name(ev); n == name && ev.GetApplicationId() == applicationID {
			return ev, nil
		}
	}
	return nil, fmt.Errorf("no %s yet", name)
}

// stageFields are the overview's stage columns, by the data-field the
// page marks them with.
var stageFields = map[string]commonv1.Stage{
	"stage-sift": commonv1.Stage_STAGE_SIFT, "stage-interview": commonv1.Stage_STAGE_INTERVIEW,
	"stage-offer": commonv1.Stage_STAGE_OFFER, "stage-pre-employment": commonv1.Stage_STAGE_PRE_EMPLOYMENT,
	"stage-hired": commonv1.Stage_STAGE_HIRED,
}

// checkRow compares a page's figures of one region with the API's summary.
func checkRow(t *testing.T, where string, cells map[string]string, sum *reportingv1.RegionSummary) {
	t.Helper()
	counts := map[commonv1.Stage]int32{}
	for _, c := range sum.GetStageCounts() {
		counts[c.GetStage()] = c.GetCount()
	}
	for field, stage := range stageFields {
		if got, want := cells[field], strconv.Itoa(int(counts[stage])); got != want {
			t.Errorf("%s %s: page shows %q, API says %s", where, field, got, want)
		}
	}
	if got, want := cells["stuck"], strconv.Itoa(int(sum.GetStuckCount())); got != want {
		t.Errorf("%s stuck: page shows %q, API says %s", where, got, want)
	}
	if sum.GetTimeToHireCount() == 0 {
		if cells["median"] != "–" {
			t.Errorf("%s median time to hire: page shows %q for a region with no offers, want –", where, cells["median"])
		}
		return
	}
	median, err := strconv.ParseFloat(cells["median"], 64)
	if err != nil || math.Abs(median-sum.GetMedianTimeToHireDays()) > 0.05 {
		t.Errorf("%s median time to hire: page shows %q, API says %v", where, cells["median"], sum.GetMedianTimeToHireDays())
	}
}

// The dashboard in a real browser over the real stack, people signing in
// with an OpenID provider: the London dashboard reader signs in on the
// provider's page and sees London alone, as the reporting API has it, and
// a 403 page for Wales; the stuck list filters and downloads (with a
// session; without one, sign in first); the session renews itself through
// the live stream's reconnects, and unblocking a vetting case through gRPC
// then changes the open page's stuck count without a reload; sign-out ends
// the session here and at the provider. Every page, the provider's
// included, passes axe-core.
func TestDashboardFollowsThePipelineLive(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	// ID tokens live 40s, so the session renews every 20s during the test.
	idp, env := signInSetup(t, addr, 40*time.Second)
	st := start(t, env...)
	ctx := context.Background()
	reports := reportingv1.NewReportingServiceClient(st.conns["reporting"])
	reader := token(t, "dashboard-e2e", auth.RoleDashboard, region.All...)
	vetter := token(t, "vetting-london-1", auth.RoleVetting, "london")
	now := time.Now()

	// One candidate stuck in SIFT: submitted (as far as reporting knows)
	// 20 days ago, past the 14-day breach threshold.
	var siftID string
	t.Run("stuck in sift", func(t *testing.T) {
		c := newCandidate(t, st, commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER)
		siftID = c.id
		st.backdate(t, st.streamEvent(t, c.id, "application.submitted"), now.AddDate(0, 0, -20), nil)
	})
	// One candidate in pre-employment whose vetting case has been blocked
	// for 10 days (breach after 5). The backdated block carries the version
	// the real block will have, and reaches reporting first, so reporting
	// keeps its date; the real BlockCase makes the case blocked in vetting,
	// so that it can be unblocked.
	var blockedID string
	var blockedVersion int64
	t.Run("blocked in vetting", func(t *testing.T) {
		c := newCandidate(t, st, commonv1.JobRole_JOB_ROLE_ADMINISTRATOR)
		c.passInterview()
		vc := c.acceptOffer()
		blockedID = c.id
		opened := st.streamEvent(t, c.id, "vetting.opened")
		st.backdate(t, opened, now.AddDate(0, 0, -10), func(ev *eventsv1.Event) {
			ev.AggregateVersion = vc.GetVersion() + 1
			ev.Actor = &commonv1.Actor{Subject: "vetting-london-1", Role: commonv1.CallerRole_CALLER_ROLE_VETTING}
			ev.Payload = &eventsv1.Event_VettingBlocked{VettingBlocked: &eventsv1.VettingBlocked{
				Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS}}
		})
		testenv.Eventually(t, "reporting sees the backdated block", func() (bool, string) {
			r, err := reports.ListStuckCandidates(ctx, &reportingv1.ListStuckCandidatesRequest{Region: "london"}, reader)
			if err != nil {
				return false, err.Error()
			}
			for _, s := range r.GetCandidates() {
				if s.GetApplicationId() == c.id && s.GetKind() == reportingv1.StuckKind_STUCK_KIND_VETTING_BLOCKED {
					return true, ""
				}
			}
			return false, fmt.Sprintf("stuck list is %v", r.GetCandidates())
		})
		blocked, err := c.vetting.BlockCase(ctx, &vettingv1.BlockCaseRequest{
			RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: vc.GetVersion(),
			Reason: commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS,
		}, c.vetter)
		c.must(err)
		if blocked.GetCase().GetVersion() != vc.GetVersion()+1 {
			t.Fatalf("blocked case has version %d, the backdated block %d", blocked.GetCase().GetVersion(), vc.GetVersion()+1)
		}
		blockedVersion = blocked.GetCase().GetVersion()
		// London's vetting contact point owns the case: the stuck list
		// names them, the workload counts it, and it is on their "My cases".
		assigned, err := c.vetting.AssignCase(ctx, &vettingv1.AssignCaseRequest{
			RequestId: c.req(), ApplicationId: c.id, ExpectedVersion: blockedVersion, Assignee: "vetting-london",
		}, c.vetter)
		c.must(err)
		blockedVersion = assigned.GetCase().GetVersion()
		testenv.Eventually(t, "reporting sees the assignee", func() (bool, string) {
			r, err := reports.ListStuckCandidates(ctx, &reportingv1.ListStuckCandidatesRequest{Region: "london", Assignee: "vetting-london"}, reader)
			if err != nil {
				return false, err.Error()
			}
			return len(r.GetCandidates()) == 1 && r.GetCandidates()[0].GetApplicationId() == c.id, fmt.Sprintf("vetting-london's stuck %v", r.GetCandidates())
		})
	})
	if t.Failed() {
		return
	}
	testenv.Eventually(t, "reporting counts both stuck", func() (bool, string) {
		r, err := reports.GetRegionSummary(ctx, &reportingv1.GetRegionSummaryRequest{Region: "london"}, reader)
		if err != nil {
			return false, err.Error()
		}
		return r.GetSummary().GetStuckCount() == 2, fmt.Sprintf("stuck count %d", r.GetSummary().GetStuckCount())
	})

	// London's early start policy, set in offers, reaches reporting.
	if _, err := offersv1.NewOffersServiceClient(st.conns["offers"]).SetEarlyStartPolicy(ctx, &offersv1.SetEarlyStartPolicyRequest{
		RequestId: event.NewID(), Region: "london", Enabled: true, Cap: 7,
	}, token(t, "admin-1", auth.RoleAdmin)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "reporting has London's early start policy", func() (bool, string) {
		r, err := reports.GetEarlyStarts(ctx, &reportingv1.GetEarlyStartsRequest{Region: "london"}, reader)
		if err != nil {
			return false, err.Error()
		}
		return r.GetEnabled() && r.GetCap() == 7, fmt.Sprintf("early starts %v", r)
	})

	d := startDashboard(t, addr, st.addrs["reporting"], idp)
	page := browser(t)

	// Without a session the dashboard sends the browser to the provider.
	if err := chromedp.Do(page, chromedp.Navigate(d.url+"/")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "the provider's sign-in page", `location.origin === '`+idp.Issuer()+`' && location.pathname === '/signin' && document.readyState === 'complete'`, 10*time.Second)
	screenshot(t, page, "dashboard-signin.png")
	accessible(t, page, "the provider's sign-in page")
	if err := chromedp.Do(page, chromedp.Click(chromedp.CSS(`button[name="user"][value="dashboard-london"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "the overview after sign-in", `location.href === '`+d.url+`/' && document.readyState === 'complete'`, 10*time.Second)
	sessionCookie := func() *network.Cookie {
		return cookies(t, page, d.url)["__Host-dashboard_session"]
	}
	// Chromium keeps a Secure cookie from http://127.0.0.1: loopback is a
	// secure context.
	if c := sessionCookie(); c == nil || !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
		t.Fatalf("session cookie %+v, want Secure, HttpOnly, SameSite=Lax, Path=/", c)
	}
	if who := evaluate[string](t, page, `document.querySelector('.header-user').textContent`); who != "Signed in as Priya Shah" {
		t.Errorf("header says %q", who)
	}

	// The national overview: London alone, as the API has it.
	type row struct {
		Region string            `json:"region"`
		Cells  map[string]string `json:"cells"`
	}
	rows := evaluate[[]row](t, page, `Array.from(document.querySelectorAll('#regions tbody tr')).map(tr => ({
		region: tr.dataset.region,
		cells: Object.fromEntries(Array.from(tr.querySelectorAll('td[data-field]')).map(td => [td.dataset.field, td.textContent.trim()]))
	}))`)
	london, err := reports.GetRegionSummary(ctx, &reportingv1.GetRegionSummaryRequest{Region: "london"}, reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Region != "london" {
		t.Fatalf("the London reader's overview shows %v, want London alone", rows)
	}
	checkRow(t, "overview london", rows[0].Cells, london.GetSummary())
	if rows[0].Cells["stuck"] != "2" {
		t.Errorf("overview shows %s stuck in London, want 2", rows[0].Cells["stuck"])
	}
	screenshot(t, page, "dashboard-overview.png")
	accessible(t, page, "the overview")

	// Wales is not the London reader's: a 403 page that says so.
	if code := open(t, page, d.url+"/regions/wales"); code != http.StatusForbidden {
		t.Errorf("Wales for the London reader: status %d, want 403", code)
	}
	if h1 := evaluate[string](t, page, `document.querySelector('h1').textContent`); h1 != "You do not have access to this page" {
		t.Errorf("Wales for the London reader: %q", h1)
	}
	screenshot(t, page, "dashboard-forbidden.png")
	accessible(t, page, "the 403 page")

	// The region's page: figures and the stuck list as the API has them.
	if err := chromedp.Do(page, chromedp.Navigate(d.url+"/"), chromedp.Click(chromedp.CSS(`a[href="/regions/london"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "London's page", `location.pathname === '/regions/london' && document.readyState === 'complete'`, 10*time.Second)
	cells := evaluate[map[string]string](t, page, `Object.fromEntries(Array.from(document.querySelectorAll('[data-region="london"][data-field]')).map(e => [e.dataset.field, e.textContent.trim()]))`)
	checkRow(t, "London's page", cells, london.GetSummary())
	stuckIDs := `Array.from(document.querySelectorAll('#stuck-table tbody tr')).map(tr => tr.dataset.application)`
	list, err := reports.ListStuckCandidates(ctx, &reportingv1.ListStuckCandidatesRequest{Region: "london"}, reader)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range list.GetCandidates() {
		want = append(want, c.GetApplicationId())
	}
	if got := evaluate[[]string](t, page, stuckIDs); !slices.Equal(got, want) || len(got) != 2 {
		t.Errorf("stuck list on the page %v, API %v (want the two stuck candidates)", got, want)
	}
	// Each stuck row names its assignee as the API does.
	assignees := evaluate[[]string](t, page, `Array.from(document.querySelectorAll('#stuck-table tbody tr')).map(tr => tr.querySelector('[data-cell="assignee"]').textContent.trim())`)
	for i, c := range list.GetCandidates() {
		wantAssignee := c.GetAssignee()
		if wantAssignee == "" {
			wantAssignee = "Unassigned"
		}
		if i >= len(assignees) || assignees[i] != wantAssignee {
			t.Errorf("stuck row %d shows assignee %v, API %q", i, assignees, wantAssignee)
		}
		if c.GetApplicationId() == blockedID && c.GetAssignee() != "vetting-london" {
			t.Errorf("the blocked case's assignee is %q in the API, want vetting-london", c.GetAssignee())
		}
	}
	// The workload table, as the API has it.
	workload, err := reports.GetWorkload(ctx, &reportingv1.GetWorkloadRequest{Region: "london"}, reader)
	if err != nil {
		t.Fatal(err)
	}
	var wantWorkload []string
	for _, w := range workload.GetRows() {
		wantWorkload = append(wantWorkload, fmt.Sprintf("%s %s %d %d %d", w.GetAssignee(), strings.ToLower(strings.TrimPrefix(w.GetActor().String(), "NEXT_ACTOR_")),
			w.GetOpen(), w.GetWarning(), w.GetBreach()))
	}
	gotWorkload := evaluate[[]string](t, page, `Array.from(document.querySelectorAll('#workload-table tbody tr')).map(tr =>
		[tr.dataset.assignee, tr.dataset.actor, tr.cells[2].textContent.trim(), tr.cells[3].textContent.trim(), tr.cells[4].textContent.trim()].join(' '))`)
	if !slices.Equal(gotWorkload, wantWorkload) || !slices.Contains(gotWorkload, "vetting-london vetting 1 0 1") {
		t.Errorf("workload on the page %q, API %q (want vetting-london's one case, in breach)", gotWorkload, wantWorkload)
	}
	// The early starts against the cap, as the API has them.
	early, err := reports.GetEarlyStarts(ctx, &reportingv1.GetEarlyStartsRequest{Region: "london"}, reader)
	if err != nil {
		t.Fatal(err)
	}
	wantEarly := []string{fmt.Sprint(early.GetStartedSubjectToVetting()), fmt.Sprint(early.GetCap()),
		fmt.Sprint(max(early.GetCap()-early.GetStartedSubjectToVetting(), 0)), fmt.Sprint(early.GetOverdue())}
	if got := evaluate[[]string](t, page, `Array.from(document.querySelectorAll('#early-starts td.num')).map(td => td.textContent.trim())`); !slices.Equal(got, wantEarly) || early.GetCap() != 7 {
		t.Errorf("early starts on the page %v, API %v (cap 7)", got, wantEarly)
	}
	// Where vetting waits, as the API has it: its three steps, then a row
	// per block reason.
	vd, err := reports.GetVettingDurations(ctx, &reportingv1.GetVettingDurationsRequest{Region: "london"}, reader)
	if err != nil {
		t.Fatal(err)
	}
	var wantVetting []string
	for _, s := range vd.GetSteps() {
		wantVetting = append(wantVetting, fmt.Sprint(s.GetDays().GetCount()))
	}
	for _, b := range vd.GetBlocked() {
		wantVetting = append(wantVetting, fmt.Sprint(b.GetDays().GetCount()))
	}
	gotVetting := evaluate[[]string](t, page, `Array.from(document.querySelectorAll('#vetting-durations-table tbody tr')).map(tr => tr.cells[1].textContent.trim())`)
	if !slices.Equal(gotVetting, wantVetting) || len(gotVetting) != 9 {
		t.Errorf("vetting durations on the page %q, API %q (want 3 steps and 6 block reasons)", gotVetting, wantVetting)
	}
	accessible(t, page, "London's page")

	// Filtering by stage, with the page's own form.
	if err := chromedp.Do(page,
		chromedp.SetValue(chromedp.CSS(`#stage`), "sift"),
		chromedp.Click(chromedp.CSS(`form.filter button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "the filtered list", `location.search === '?stage=sift&severity=&role=&rule=&blocked_reason=&campaign=' && document.readyState === 'complete'`, 10*time.Second)
	if got := evaluate[[]string](t, page, stuckIDs); !slices.Equal(got, []string{siftID}) {
		t.Errorf("stuck list filtered by sift = %v, want only %s", got, siftID)
	}
	accessible(t, page, "London's page, filtered")

	// Filtering by the rule, with the stage filter kept: nobody in the sift
	// is stuck for a vetting block.
	if err := chromedp.Do(page,
		chromedp.SetValue(chromedp.CSS(`#rule`), "vetting-blocked"),
		chromedp.Click(chromedp.CSS(`form.filter button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "the list filtered by rule", `location.search.includes('rule=vetting-blocked') && document.readyState === 'complete'`, 10*time.Second)
	if got := evaluate[[]string](t, page, stuckIDs); len(got) != 0 {
		t.Errorf("stuck list filtered by sift and vetting blocked = %v, want none", got)
	}
	if empty := evaluate[string](t, page, `document.querySelector('#stuck-empty')?.textContent ?? ''`); !strings.Contains(empty, "match the filter") {
		t.Errorf("empty filtered list says %q", empty)
	}

	// The CSV download holds the same candidates, with the session...
	type download struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Body   string `json:"body"`
	}
	fetchCSV := func(credentials string) download {
		return evaluateAsync[download](t, page, `fetch('/regions/london/stuck.csv', {credentials: '`+credentials+`', redirect: 'manual'})
			.then(r => r.text().then(body => ({status: r.status, type: r.type, body: body})))`)
	}
	got := fetchCSV("same-origin")
	records, err := csv.NewReader(strings.NewReader(got.Body)).ReadAll()
	if got.Status != http.StatusOK || err != nil || len(records) != 3 {
		t.Fatalf("CSV: status %d, err %v, %d records:\n%s", got.Status, err, len(records), got.Body)
	}
	for i, id := range want {
		if records[i+1][0] != id {
			t.Errorf("CSV row %d is %s, want %s", i+1, records[i+1][0], id)
		}
	}
	// ... and none without: the browser is sent to sign in first.
	if got := fetchCSV("omit"); got.Type != "opaqueredirect" || strings.Contains(got.Body, "application_id") {
		t.Errorf("CSV without a session in the browser: %+v, want a redirect", got)
	}
	if code, body := d.get(t, nil, "/regions/london/stuck.csv"); code != http.StatusSeeOther || strings.Contains(body, "application_id") {
		t.Errorf("CSV without a session: %d\n%s", code, body)
	}

	// Back to the whole list. The session renews itself while the page is
	// open: the live stream ends before the ID token is due, and the
	// browser's reconnect renews it.
	if err := chromedp.Do(page, chromedp.Navigate(d.url+"/regions/london")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "live updates on", `document.querySelector('[data-live-status]').textContent.includes('Live updates are on')`, 10*time.Second)
	evaluate[bool](t, page, `window.notReloaded = true`)
	// Twice: by the second renewal the token the page's reporting stream
	// was first opened with has expired, and reporting ends a stream then,
	// so what follows runs on a stream reopened with a renewed token.
	for renewal := 1; renewal <= 2; renewal++ {
		before := sessionCookie().Value
		renewDeadline := time.Now().Add(45 * time.Second)
		for sessionCookie().Value == before {
			if time.Now().After(renewDeadline) {
				t.Fatalf("renewal %d: the session was not renewed within 45s while the page was open (ID tokens live 40s)", renewal)
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Logf("renewal %d of the session while the page is open", renewal)
	}
	if status := evaluate[string](t, page, `document.querySelector('[data-live-status]').textContent`); !strings.Contains(status, "Live updates are on") {
		t.Errorf("after the renewals the page says %q", status)
	}

	// Unblock the case through gRPC and watch the open page follow on the
	// stream opened with the renewed token, with no reload (the marker
	// would be gone).
	vetting := vettingv1.NewVettingServiceClient(st.conns["vetting"])
	if _, err := vetting.UnblockCase(ctx, &vettingv1.UnblockCaseRequest{
		RequestId: "dashboard-unblock-1", ApplicationId: blockedID, ExpectedVersion: blockedVersion,
	}, vetter); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, page, "the stuck count to fall to 1", `document.querySelector('#stuck-count').textContent.trim() === '1'`, 15*time.Second)
	t.Logf("stuck count fell on the open page %s after the unblock", took.Round(time.Millisecond))
	waitFor(t, page, "the unblocked candidate to leave the list",
		`Array.from(document.querySelectorAll('#stuck-table tbody tr')).map(tr => tr.dataset.application).join() === '`+siftID+`'`, 10*time.Second)
	if !evaluate[bool](t, page, `window.notReloaded === true`) {
		t.Error("the page reloaded to show the change")
	}
	after, err := reports.GetRegionSummary(ctx, &reportingv1.GetRegionSummaryRequest{Region: "london"}, reader)
	if err != nil {
		t.Fatal(err)
	}
	if after.GetSummary().GetStuckCount() != 1 {
		t.Errorf("API stuck count after the unblock = %d, want 1", after.GetSummary().GetStuckCount())
	}
	screenshot(t, page, "dashboard-region.png")

	// The campaign pages (issue 16): a campaign in London and Wales with
	// one London application. London's reader sees London's campaigns, and
	// on the campaign's page London's row alone, with no national total.
	apps := applicationsv1.NewApplicationsServiceClient(st.conns["applications"])
	camp, err := apps.CreateCampaign(ctx, &applicationsv1.CreateCampaignRequest{
		RequestId: "dash-national-" + event.NewID(), Role: commonv1.JobRole_JOB_ROLE_ADMINISTRATOR, Title: "National admin campaign",
		OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 1},
		Regions: []*commonv1.CampaignRegion{{Region: "london", Posts: 3}, {Region: "wales", Posts: 2}},
	}, token(t, "admin-1", auth.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	campID := camp.GetCampaign().GetId()
	if _, err := apps.SubmitApplication(ctx, &applicationsv1.SubmitApplicationRequest{
		RequestId: "dash-national-app-" + event.NewID(), CampaignId: campID, ApplicationRegion: "london",
		Candidate: &applicationsv1.Candidate{Name: "Ada Lovelace", Email: "ada.national@example.org"},
	}, token(t, "spoc-london-1", auth.RoleSPOC, "london")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "reporting counts the national campaign's application", func() (bool, string) {
		p, err := reports.GetCampaignProgress(ctx, &reportingv1.GetCampaignProgressRequest{CampaignId: campID}, reader)
		return err == nil && p.GetTotal().GetApplications() == 1, fmt.Sprint(p, err)
	})
	if err := chromedp.Do(page, chromedp.Navigate(d.url+"/regions/london"), chromedp.Click(chromedp.CSS(`#campaigns-link`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "London's campaigns", `location.pathname === '/regions/london/campaigns' && document.readyState === 'complete'`, 10*time.Second)
	campaignCells := evaluate[map[string]string](t, page, `Object.fromEntries(Array.from(document.querySelectorAll('tr[data-campaign="`+campID+`"] td[data-field]')).map(td => [td.dataset.field, td.textContent.trim()]))`)
	if campaignCells["filled"] != "0" || campaignCells["remaining"] != "3" {
		t.Errorf("London's campaigns page shows %v for the national campaign, want 0 filled, 3 remaining (London's posts)", campaignCells)
	}
	screenshot(t, page, "dashboard-campaigns.png")
	accessible(t, page, "London's campaigns")
	if err := chromedp.Do(page, chromedp.Click(chromedp.CSS(`tr[data-campaign="`+campID+`"] a`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "the campaign's page", `location.pathname === '/campaigns/`+campID+`' && document.readyState === 'complete'`, 10*time.Second)
	regionRows := evaluate[[]string](t, page, `Array.from(document.querySelectorAll('#campaign-progress tr[data-region-row]')).map(tr => tr.dataset.regionRow)`)
	if !slices.Equal(regionRows, []string{"London"}) || !evaluate[bool](t, page, `document.querySelector('#no-total') !== null`) {
		t.Errorf("the London reader's campaign page shows rows %v; want London's alone and no total", regionRows)
	}
	screenshot(t, page, "dashboard-campaign.png")
	accessible(t, page, "the campaign's page")
	// The page as of a past date, picked with its own form: 25 days ago
	// nobody had applied (the sift candidate's application is 20 days
	// old); at the end of yesterday the sift candidate was stuck, 19 days
	// in (20 now). Past pages are not live, and pass the accessibility check.
	uk, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	pastLondon := func(days int) string { return now.In(uk).AddDate(0, 0, -days).Format(time.DateOnly) }
	if err := chromedp.Do(page, chromedp.Navigate(d.url+"/regions/london")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "London's page", `location.pathname === '/regions/london' && document.readyState === 'complete'`, 10*time.Second)
	for _, past := range []struct {
		days int
		want []string
	}{{25, nil}, {1, []string{siftID}}} {
		date := pastLondon(past.days)
		if err := chromedp.Do(page,
			chromedp.SetValue(chromedp.CSS(`#as_of`), date),
			chromedp.Click(chromedp.CSS(`#as-of-form button[type=submit]`)),
		); err != nil {
			t.Fatal(err)
		}
		waitFor(t, page, "the page as of "+date, `location.search === '?as_of=`+date+`' && document.readyState === 'complete'`, 10*time.Second)
		if got := evaluate[[]string](t, page, stuckIDs); !slices.Equal(got, past.want) {
			t.Errorf("stuck list as of %s = %v, want %v", date, got, past.want)
		}
		if live := evaluate[bool](t, page, `document.querySelector('[data-live-events]') !== null`); live {
			t.Errorf("the page as of %s follows live updates", date)
		}
		accessible(t, page, "London's page as of "+date)
	}
	if days := evaluate[string](t, page, `document.querySelector('#stuck-table tbody tr td.num')?.textContent.trim() ?? ''`); days != "19" {
		t.Errorf("as of yesterday the sift candidate was %q days in its stage, want 19", days)
	}

	// Errors are plain pages with fitting statuses.
	hc := d.signIn(t, idp, "dashboard-london")
	if code, body := d.get(t, hc, "/regions/atlantis"); code != http.StatusNotFound || !strings.Contains(body, "Page not found") {
		t.Errorf("unknown region: %d\n%s", code, body)
	}
	if code, _ := d.get(t, hc, "/regions/london?stage=nonsense"); code != http.StatusBadRequest {
		t.Errorf("bad filter: %d, want 400", code)
	}
	if code, _ := d.get(t, hc, "/regions/london?page_token=forged"); code != http.StatusBadRequest {
		t.Errorf("forged page token: %d, want 400", code)
	}

	// Sign-out: the header's button ends the session here and at the
	// provider, which sends the browser back to say so.
	if err := chromedp.Do(page, chromedp.Click(chromedp.CSS(`.header-button`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "the signed-out page", `location.href === '`+d.url+`/?state=signed-out' && document.readyState === 'complete'`, 10*time.Second)
	if h1 := evaluate[string](t, page, `document.querySelector('h1').textContent`); h1 != "You have signed out" {
		t.Errorf("after sign-out: %q", h1)
	}
	if c := sessionCookie(); c != nil {
		t.Errorf("the session cookie outlived sign-out: %+v", c)
	}
	if c := cookies(t, page, idp.Issuer())["devidp_session"]; c != nil {
		t.Error("the provider's session outlived sign-out")
	}
	screenshot(t, page, "dashboard-signed-out.png")
	accessible(t, page, "the signed-out page")
	if got := fetchCSV("same-origin"); got.Type != "opaqueredirect" {
		t.Errorf("CSV after sign-out: %+v, want a redirect to sign in", got)
	}

	// "My cases" for London's vetting contact point, signed in with their
	// own identity: the cases the API lists for their token.
	if err := chromedp.Do(page, chromedp.Navigate(d.url+"/my")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "the provider's sign-in page for My cases", `location.origin === '`+idp.Issuer()+`' && document.readyState === 'complete'`, 10*time.Second)
	if err := chromedp.Do(page, chromedp.Click(chromedp.CSS(`button[name="user"][value="vetting-london"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "My cases after sign-in", `location.href === '`+d.url+`/my' && document.readyState === 'complete'`, 10*time.Second)
	mine, err := reports.ListMyCases(ctx, &reportingv1.ListMyCasesRequest{}, token(t, "vetting-london", auth.RoleVetting, "london"))
	if err != nil {
		t.Fatal(err)
	}
	var wantMine []string
	for _, c := range mine.GetCases() {
		wantMine = append(wantMine, c.GetApplicationId()+" "+strings.ToLower(strings.TrimPrefix(c.GetRecord().String(), "CASE_RECORD_"))+" "+c.GetCampaignTitle())
	}
	gotMine := evaluate[[]string](t, page, `Array.from(document.querySelectorAll('#my-cases tbody tr')).map(tr =>
		tr.dataset.application + ' ' + tr.dataset.record + ' ' + tr.querySelector('[data-cell="campaign"]').textContent.trim())`)
	if len(mine.GetCases()) > 0 && mine.GetCases()[0].GetCampaignTitle() == "" {
		t.Errorf("ListMyCases names no campaign title: %v", mine.GetCases()[0])
	}
	if !slices.Equal(gotMine, wantMine) || len(gotMine) != 1 || !strings.HasPrefix(gotMine[0], blockedID+" vetting ") {
		t.Errorf("My cases on the page %v, API %v (want the vetting case of %s)", gotMine, wantMine, blockedID)
	}
	screenshot(t, page, "dashboard-my-cases.png")
	accessible(t, page, "My cases")

	// The region's outstanding pre-employment checks, as the API lists them.
	if err := chromedp.Do(page, chromedp.Navigate(d.url+"/regions/london/checks")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "the outstanding checks page", `location.href === '`+d.url+`/regions/london/checks' && document.readyState === 'complete'`, 10*time.Second)
	outstanding, err := reports.ListOutstandingChecks(ctx, &reportingv1.ListOutstandingChecksRequest{Region: "london", PageSize: 50},
		token(t, "vetting-london", auth.RoleVetting, "london"))
	if err != nil {
		t.Fatal(err)
	}
	var wantChecks []string
	for _, a := range outstanding.GetApplications() {
		wantChecks = append(wantChecks, a.GetApplicationId())
	}
	gotChecks := evaluate[[]string](t, page, `Array.from(document.querySelectorAll('#outstanding-checks tbody tr')).map(tr => tr.dataset.application)`)
	if !slices.Equal(gotChecks, wantChecks) {
		t.Errorf("outstanding checks on the page %v, API %v", gotChecks, wantChecks)
	}
	accessible(t, page, "Outstanding checks")

	// A SIGTERM ends the dashboard though the browser may still hold an
	// event stream open, and without waiting out its shutdown timeout for
	// the stream (it would say so).
	if took, err := d.stop(); err != nil || strings.Contains(d.logs.String(), "still open at the shutdown timeout") {
		t.Errorf("dashboard stopped with %v after %s, logs:\n%s\nwant a clean exit that cut nothing off", err, took, d.logs.String())
	}
	if strings.Contains(d.logs.String(), "DATA RACE") {
		t.Error("the race detector found a data race in the dashboard")
	}
}

// With the reporting service unreachable the dashboard answers a signed-in
// user 503 with a plain message, not an error trace.
func TestDashboardWithoutReporting(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	idp, _ := signInSetup(t, addr, 0)
	d := startDashboard(t, addr, freeAddr(t), idp)
	hc := d.signIn(t, idp, "dashboard-london")
	for _, path := range []string{"/", "/regions/london", "/regions/london/stuck.csv"} {
		code, body := d.get(t, hc, path)
		if code != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503", path, code)
		}
		if strings.Contains(body, "rpc error") || strings.Contains(body, "goroutine") {
			t.Errorf("%s shows internals:\n%s", path, body)
		}
	}
	if _, body := d.get(t, hc, "/"); !strings.Contains(body, "Reports are unavailable") {
		t.Errorf("overview without reporting:\n%s", body)
	}
}
