package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/probation-recruitment/pipeline/pkg/devidp"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/bearer"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/live"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

// The tests of signing in run the dashboard's handler against a real
// OpenID provider (pkg/devidp, in-process) and the real reporting service
// (built and run as a process over PostgreSQL and NATS, accepting the
// provider's ID tokens for the dashboard's client id, as in production).

// reportingBinary builds the reporting service once per test run.
var reportingBinary = sync.OnceValues(func() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "dashboard-test-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "reporting")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "reporting", "cmd", "reporting")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build reporting: %v\n%s", err, out)
	}
	return bin, nil
})

// startReporting runs the reporting service, accepting issuer's ID tokens
// for the dashboard, until the test ends; it returns its gRPC address.
func startReporting(t *testing.T, issuer string) string {
	t.Helper()
	bin, err := reportingBinary()
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr, adminAddr := freeAddr(t), freeAddr(t)
	schema := testenv.Name("dashboard_test_")
	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+testenv.DatabaseURL(), "DB_SCHEMA="+schema, "NATS_URL="+testenv.NATS(t),
		"GRPC_ADDR="+grpcAddr, "GRPC_INSECURE=true", "ADMIN_ADDR="+adminAddr, "AUTH_OIDC_ISSUER="+issuer,
		"AUTH_AUDIENCES="+devidp.DashboardClientID, "LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, testenv.NATSEnv(t, "reporting")...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("reporting logs:\n%s", logs.String())
		}
		if pool, err := pg.Connect(context.Background(), testenv.DatabaseURL(), "public"); err == nil {
			_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			pool.Close()
		}
	})
	testenv.Eventually(t, "reporting ready", func() (bool, string) {
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return grpcAddr
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// fixture is one provider, one reporting service and dashboards using them.
type fixture struct {
	idp     *devidp.Provider
	reports pb.ReportingServiceClient
	// listeners are bound before the provider starts, so that each
	// dashboard's redirect URI can be registered with it.
	listeners []net.Listener
}

// setup starts the provider with the dashboard client registered for n
// dashboards, and the reporting service.
func setup(t *testing.T, n int) *fixture {
	t.Helper()
	f := &fixture{}
	client := devidp.Client{ID: devidp.DashboardClientID, Name: "Recruitment dashboard", Secret: devidp.DashboardClientSecret}
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		f.listeners = append(f.listeners, l)
		base := "http://" + l.Addr().String()
		client.RedirectURIs = append(client.RedirectURIs, base+session.CallbackPath)
		client.PostLogoutRedirectURIs = append(client.PostLogoutRedirectURIs, base+"/")
	}
	f.idp = devidp.StartConfig(t, devidp.Config{Clients: []devidp.Client{client}})
	conn, err := grpc.NewClient(startReporting(t, f.idp.Issuer()),
		grpc.WithTransportCredentials(grpcauth.PlaintextLoopback()), grpc.WithPerRPCCredentials(bearer.FromContext(true)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f.reports = pb.NewReportingServiceClient(conn)
	return f
}

// dashboard is a dashboard served by a test server.
type dashboard struct {
	url   string
	codec *session.Codec
	srv   *Server
}

// options vary a test's dashboard.
type options struct {
	refreshAhead time.Duration
	csvBurst     int
}

// dashboard serves a dashboard on the fixture's i-th listener.
func (f *fixture) dashboard(t *testing.T, i int, o options) *dashboard {
	t.Helper()
	codec, err := session.NewCodec(session.RandomKey())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d := &dashboard{url: "http://" + f.listeners[i].Addr().String(), codec: codec}
	sessions, err := session.New(session.Config{Issuer: f.idp.Issuer(), ClientID: devidp.DashboardClientID,
		ClientSecret: devidp.DashboardClientSecret, PublicURL: d.url, Codec: codec, RefreshAhead: o.refreshAhead, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	hub := live.NewHub(f.reports, log)
	t.Cleanup(hub.Close)
	if o.csvBurst == 0 {
		o.csvBurst = 10
	}
	d.srv, err = New(Config{Reports: f.reports, Hub: hub, Sessions: sessions, Log: log, Now: time.Now,
		CSVPerMinute: 1, CSVBurst: o.csvBurst})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(d.srv)
	ts.Listener.Close()
	ts.Listener = f.listeners[i]
	ts.Start()
	t.Cleanup(func() { d.srv.Close(); ts.Close() })
	return d
}

// browser is a person's browser, as far as cookies and redirects go: it
// keeps cookies and stops at every redirect, so tests see each one.
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get fetches rawURL and returns the response with its body read.
func (b *browser) get(rawURL string) (*http.Response, string) {
	b.t.Helper()
	return b.do(http.MethodGet, rawURL, nil)
}

func (b *browser) do(method, rawURL string, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(body)
}

// location is a redirect's target, resolved against the request.
func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		t.Fatalf("%s %s: status %s, want a redirect", resp.Request.Method, resp.Request.URL, resp.Status)
	}
	u, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// startSignIn opens path without a session and follows the dashboard to
// the provider: it returns the provider's authorization URL.
func (b *browser) startSignIn(d *dashboard, path string) string {
	b.t.Helper()
	resp, _ := b.get(d.url + path)
	to := location(b.t, resp)
	if to.Path != session.SignInPath || to.Query().Get("next") != path {
		b.t.Fatalf("%s without a session went to %s, want %s?next=%s", path, to, session.SignInPath, path)
	}
	resp, _ = b.get(to.String())
	return location(b.t, resp).String()
}

// signIn opens path without a session, signs in at the provider as user
// and comes back: it returns where the dashboard sent the browser after
// the callback.
func (b *browser) signIn(f *fixture, d *dashboard, path, user string) *url.URL {
	b.t.Helper()
	authURL := b.startSignIn(d, path)
	callback, err := f.idp.SignIn(b.t.Context(), nil, authURL, user)
	if err != nil {
		b.t.Fatalf("sign in at the provider as %s: %v", user, err)
	}
	resp, body := b.get(callback.String())
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("callback: %s\n%s", resp.Status, body)
	}
	return location(b.t, resp)
}

// cookie is the browser's cookie called name for d, if it has one.
func (b *browser) cookie(d *dashboard, name string) (string, bool) {
	u, _ := url.Parse(d.url)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// setCookie replaces the browser's cookie called name for d.
func (b *browser) setCookie(d *dashboard, name, value string) {
	u, _ := url.Parse(d.url)
	b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/", Secure: true}})
}

// setCookieHeader is the response's Set-Cookie line for name.
func setCookieHeader(resp *http.Response, name string) (string, bool) {
	for _, line := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, name+"=") {
			return line, true
		}
	}
	return "", false
}
