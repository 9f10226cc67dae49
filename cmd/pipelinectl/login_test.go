package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/probation-recruitment/pipeline/pkg/devidp"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
)

// syncBuffer is a bytes.Buffer that a running command writes while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loginRun is `pipelinectl login --no-browser` running in-process.
type loginRun struct {
	stderr  *syncBuffer
	code    chan int
	authURL string
}

// startLogin runs login against idp with home as the configuration
// directory, and waits for the URL it prints.
func startLogin(t *testing.T, idp *devidp.Provider, home string, args ...string) *loginRun {
	t.Helper()
	r := &loginRun{stderr: &syncBuffer{}, code: make(chan int, 1)}
	a := newApp(io.Discard, r.stderr)
	a.configHome = home
	go func() {
		r.code <- a.run(t.Context(), append([]string{"login", "--no-browser", "--issuer", idp.Issuer()}, args...))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for r.authURL == "" {
		for _, line := range strings.Split(r.stderr.String(), "\n") {
			if u, ok := strings.CutPrefix(line, "  "+idp.Issuer()+"/"); ok {
				r.authURL = idp.Issuer() + "/" + u
			}
		}
		select {
		case code := <-r.code:
			t.Fatalf("login ended (exit %d) before printing a URL:\n%s", code, r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("login printed no URL in 10s:\n%s", r.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

// exit waits for login to end.
func (r *loginRun) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.code:
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("login still running after 30s:\n%s", r.stderr.String())
		return 0
	}
}

// deliver completes the sign-in as userID at the provider and hands its
// redirect to pipelinectl's loopback listener, as the browser would;
// change may alter the redirect first. It returns the page pipelinectl
// answered.
func deliver(t *testing.T, idp *devidp.Provider, r *loginRun, userID string, change func(*url.URL)) (status int, page string) {
	t.Helper()
	to, err := idp.SignIn(t.Context(), nil, r.authURL, userID)
	if err != nil {
		t.Fatalf("sign in as %s: %v", userID, err)
	}
	if to.Hostname() != "127.0.0.1" || to.Path != "/callback" {
		t.Fatalf("redirected to %s, want pipelinectl's loopback callback", to)
	}
	if change != nil {
		change(to)
	}
	resp, err := http.Get(to.String())
	if err != nil {
		t.Fatalf("deliver the redirect: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// login signs in as userID end to end and returns the stored credentials.
func login(t *testing.T, idp *devidp.Provider, home, userID string) *loginCreds {
	t.Helper()
	r := startLogin(t, idp, home)
	if status, page := deliver(t, idp, r, userID, nil); status != http.StatusOK || !strings.Contains(page, "You may close this tab") {
		t.Errorf("callback page: %d\n%s", status, page)
	}
	if code := r.exit(t); code != 0 {
		t.Fatalf("login: exit %d\n%s", code, r.stderr.String())
	}
	return readCreds(t, home)
}

func credsPath(home string) string { return filepath.Join(home, "pipelinectl", "credentials.json") }

func readCreds(t *testing.T, home string) *loginCreds {
	t.Helper()
	b, err := os.ReadFile(credsPath(home))
	if err != nil {
		t.Fatalf("read credentials: %v", err)
	}
	var c loginCreds
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("credentials file is not JSON: %v\n%s", err, b)
	}
	return &c
}

// rp is what the tests check tokens and spend refresh tokens with.
type rp struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t *testing.T, idp *devidp.Provider) *rp {
	t.Helper()
	p, err := oidc.NewProvider(t.Context(), idp.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	return &rp{
		oauth:    oauth2.Config{ClientID: devidp.CLIClientID, Endpoint: p.Endpoint()},
		verifier: p.Verifier(&oidc.Config{ClientID: devidp.CLIClientID}),
	}
}

func (r *rp) verify(t *testing.T, raw string) *oidc.IDToken {
	t.Helper()
	idt, err := r.verifier.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	return idt
}

// refresh uses a refresh token as another client of the provider would.
func (r *rp) refresh(t *testing.T, refreshToken string) error {
	t.Helper()
	_, err := r.oauth.TokenSource(t.Context(), &oauth2.Token{RefreshToken: refreshToken}).Token()
	return err
}

// recordingApps is an applications service that remembers the bearer
// token of each ListCampaigns call.
type recordingApps struct {
	applicationsv1.UnimplementedApplicationsServiceServer
	mu     sync.Mutex
	tokens []string
}

func (s *recordingApps) ListCampaigns(ctx context.Context, _ *applicationsv1.ListCampaignsRequest) (*applicationsv1.ListCampaignsResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range md.Get("authorization") {
		s.tokens = append(s.tokens, strings.TrimPrefix(v, "Bearer "))
	}
	if len(md.Get("authorization")) == 0 {
		s.tokens = append(s.tokens, "")
	}
	return &applicationsv1.ListCampaignsResponse{}, nil
}

func (s *recordingApps) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokens)
}

// serveApps serves a recordingApps on a free loopback port.
func serveApps(t *testing.T) (addr string, apps *recordingApps) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apps = &recordingApps{}
	srv := grpc.NewServer()
	applicationsv1.RegisterApplicationsServiceServer(srv, apps)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String(), apps
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLogin(t *testing.T) {
	t.Parallel()
	idp := devidp.Start(t, devidp.CLIClient())
	home := t.TempDir()
	c := login(t, idp, home, "spoc-london")

	if got := mode(t, filepath.Dir(credsPath(home))); got != 0o700 {
		t.Errorf("credentials directory mode %04o, want 0700", got)
	}
	if got := mode(t, credsPath(home)); got != 0o600 {
		t.Errorf("credentials file mode %04o, want 0600", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(credsPath(home)))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".credentials-") {
			t.Errorf("a temporary file was left behind: %s", e.Name())
		}
	}
	r := newRP(t, idp)
	idt := r.verify(t, c.IDToken)
	if c.Issuer != idp.Issuer() || c.ClientID != devidp.CLIClientID || idt.Subject != "spoc-london" {
		t.Errorf("stored issuer %q, client %q, subject %q", c.Issuer, c.ClientID, idt.Subject)
	}
	if c.RefreshToken == "" || !c.Expiry.Equal(idt.Expiry) || time.Until(c.Expiry) < 50*time.Minute {
		t.Errorf("stored refresh token %t, expiry %v; want a refresh token and the ID token's expiry %v", c.RefreshToken != "", c.Expiry, idt.Expiry)
	}

	t.Run("calls send the ID token", func(t *testing.T) {
		addr, apps := serveApps(t)
		if _, stderr, code := runIn(t, home, "campaigns", "list", "--applications-addr", addr); code != 0 {
			t.Fatalf("campaigns list: exit %d\n%s", code, stderr)
		}
		if got := apps.seen(); len(got) != 1 || got[0] != c.IDToken {
			t.Errorf("the service saw %d token(s), want the stored ID token", len(got))
		}
	})

	t.Run("a given token wins", func(t *testing.T) {
		addr, apps := serveApps(t)
		if _, stderr, code := runIn(t, home, "campaigns", "list", "--applications-addr", addr, "--token", "given"); code != 0 {
			t.Fatalf("campaigns list: exit %d\n%s", code, stderr)
		}
		if got := apps.seen(); !slices.Equal(got, []string{"given"}) {
			t.Errorf("the service saw %q, want the --token", got)
		}
	})

	t.Run("whoami", func(t *testing.T) {
		out, stderr, code := runIn(t, home, "whoami")
		if code != 0 {
			t.Fatalf("whoami: exit %d\n%s", code, stderr)
		}
		for _, want := range []string{"spoc-london", "Sam Okafor", "spoc", "london", idp.Issuer(), "recruitment-cli", c.Expiry.Format(time.RFC3339), credsPath(home)} {
			if !strings.Contains(out, want) {
				t.Errorf("whoami does not show %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, c.RefreshToken) || strings.Contains(out, strings.Split(c.IDToken, ".")[2]) {
			t.Errorf("whoami shows a secret:\n%s", out)
		}
		out, _, _ = runIn(t, home, "whoami", "-o", "json")
		var got struct {
			Subject     string   `json:"subject"`
			Role        string   `json:"role"`
			Regions     []string `json:"regions"`
			Issuer      string   `json:"issuer"`
			Refreshable bool     `json:"refreshable"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || got.Subject != "spoc-london" || got.Role != "spoc" ||
			!slices.Equal(got.Regions, []string{"london"}) || got.Issuer != idp.Issuer() || !got.Refreshable {
			t.Errorf("whoami -o json = %+v (%v)\n%s", got, err, out)
		}
	})

	t.Run("signing in again replaces the sign-in", func(t *testing.T) {
		again := login(t, idp, home, "admin")
		if r.verify(t, again.IDToken).Subject != "admin" {
			t.Errorf("after a second login the stored subject is not admin")
		}
	})
}

// A redirect whose state is not the sign-in's is refused, whatever code it
// carries: it may come from an attacker's sign-in (login CSRF).
func TestLoginRefusesAnotherState(t *testing.T) {
	t.Parallel()
	idp := devidp.Start(t, devidp.CLIClient())
	home := t.TempDir()
	r := startLogin(t, idp, home)
	status, page := deliver(t, idp, r, "spoc-london", func(to *url.URL) {
		q := to.Query()
		q.Set("state", "forged-"+q.Get("state"))
		to.RawQuery = q.Encode()
	})
	if status != http.StatusBadRequest || !strings.Contains(page, "Not signed in") {
		t.Errorf("callback page: %d\n%s", status, page)
	}
	code := r.exit(t)
	if code != exitDenied || !strings.Contains(r.stderr.String(), "state does not match") {
		t.Errorf("login: exit %d, want %d saying the state does not match:\n%s", code, exitDenied, r.stderr.String())
	}
	if _, err := os.Stat(credsPath(home)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("credentials were stored after a refused sign-in (%v)", err)
	}
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	idp := devidp.Start(t, devidp.CLIClient())

	t.Run("the provider refuses the sign-in", func(t *testing.T) {
		r := startLogin(t, idp, t.TempDir())
		_, _ = deliver(t, idp, r, "spoc-london", func(to *url.URL) {
			q := to.Query()
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "the user said no")
			to.RawQuery = q.Encode()
		})
		if code := r.exit(t); code != exitDenied || !strings.Contains(r.stderr.String(), "access_denied: the user said no") {
			t.Errorf("login: exit %d\n%s", code, r.stderr.String())
		}
	})

	t.Run("no sign-in in time", func(t *testing.T) {
		r := startLogin(t, idp, t.TempDir(), "--wait", "200ms")
		if code := r.exit(t); code != exitDenied || !strings.Contains(r.stderr.String(), "no sign-in came back within 200ms") {
			t.Errorf("login: exit %d\n%s", code, r.stderr.String())
		}
	})

	t.Run("unreachable provider", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		issuer := "http://" + l.Addr().String()
		l.Close()
		_, stderr, code := runCLI(t, "login", "--no-browser", "--issuer", issuer)
		if code != exitUnavailable || !strings.Contains(stderr, "cannot reach the identity provider at "+issuer) {
			t.Errorf("login: exit %d\n%s", code, stderr)
		}
	})

	t.Run("plain http elsewhere than loopback", func(t *testing.T) {
		_, stderr, code := runCLI(t, "login", "--issuer", "http://login.example.org")
		if code != exitUsage || !strings.Contains(stderr, "must be https") {
			t.Errorf("login: exit %d\n%s", code, stderr)
		}
	})
}

// A token that expires within a minute is refreshed before a call; several
// pipelinectl runs at once each end up with a token, though every refresh
// spends the refresh token it used.
func TestRefreshWhenExpiring(t *testing.T) {
	t.Parallel()
	idp := devidp.StartConfig(t, devidp.Config{Clients: []devidp.Client{devidp.CLIClient()}, IDTokenLifetime: 30 * time.Second})
	home := t.TempDir()
	first := login(t, idp, home, "vetting-wales")
	addr, apps := serveApps(t)
	r := newRP(t, idp)

	const runs = 4
	var wg sync.WaitGroup
	for range runs {
		wg.Go(func() {
			if _, stderr, code := runIn(t, home, "campaigns", "list", "--applications-addr", addr); code != 0 {
				t.Errorf("campaigns list: exit %d\n%s", code, stderr)
			}
		})
	}
	wg.Wait()

	seen := apps.seen()
	if len(seen) != runs {
		t.Fatalf("the service saw %d calls, want %d", len(seen), runs)
	}
	for _, tok := range seen {
		if tok == first.IDToken {
			t.Errorf("a call was sent the token that expires within a minute")
		}
		if idt := r.verify(t, tok); idt.Subject != "vetting-wales" {
			t.Errorf("refreshed token is for %s", idt.Subject)
		}
	}
	last := readCreds(t, home)
	if last.RefreshToken == first.RefreshToken || !slices.Contains(seen, last.IDToken) {
		t.Errorf("the stored sign-in was not replaced by a refreshed one")
	}
	if mode(t, credsPath(home)) != 0o600 {
		t.Errorf("refreshed credentials file mode %04o", mode(t, credsPath(home)))
	}
	if err := r.refresh(t, first.RefreshToken); err == nil {
		t.Errorf("the first refresh token still works: it was never used")
	}
}

func TestRefreshFails(t *testing.T) {
	t.Parallel()
	idp := devidp.StartConfig(t, devidp.Config{Clients: []devidp.Client{devidp.CLIClient()}, IDTokenLifetime: 30 * time.Second})
	home := t.TempDir()
	c := login(t, idp, home, "spoc-london")
	// Someone else spends the refresh token (it rotates): pipelinectl's copy
	// is now worthless.
	if err := newRP(t, idp).refresh(t, c.RefreshToken); err != nil {
		t.Fatal(err)
	}
	addr, apps := serveApps(t)
	_, stderr, code := runIn(t, home, "campaigns", "list", "--applications-addr", addr)
	if code != exitDenied || !strings.HasPrefix(stderr, "pipelinectl: signed out: run pipelinectl login\n") || !strings.Contains(stderr, "invalid_grant") {
		t.Errorf("exit %d, want %d saying signed out:\n%s", code, exitDenied, stderr)
	}
	if len(apps.seen()) != 0 {
		t.Errorf("a call was made without a usable token")
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	idp := devidp.Start(t, devidp.CLIClient())
	home := t.TempDir()
	c := login(t, idp, home, "spoc-london")

	_, stderr, code := runIn(t, home, "logout")
	if code != 0 || !strings.Contains(stderr, "Revoked the refresh token") {
		t.Errorf("logout: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(credsPath(home)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("credentials still there after logout (%v)", err)
	}
	if err := newRP(t, idp).refresh(t, c.RefreshToken); err == nil {
		t.Errorf("the refresh token still works after logout: not revoked")
	}
	if _, stderr, code := runIn(t, home, "logout"); code != 0 || !strings.Contains(stderr, "Not signed in") {
		t.Errorf("second logout: exit %d\n%s", code, stderr)
	}
	addr, apps := serveApps(t)
	if _, stderr, code := runIn(t, home, "campaigns", "list", "--applications-addr", addr); code != 0 {
		t.Errorf("campaigns list: exit %d\n%s", code, stderr)
	}
	if got := apps.seen(); !slices.Equal(got, []string{""}) {
		t.Errorf("after logout a call carried a token")
	}
	if _, stderr, code := runIn(t, home, "whoami"); code != exitDenied || !strings.Contains(stderr, "not signed in: run pipelinectl login") {
		t.Errorf("whoami after logout: exit %d\n%s", code, stderr)
	}
}

// A credentials file others can read or write is refused, as ssh refuses
// such a key: its tokens may be someone else's by now.
func TestUnsafeCredentialsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		dirMode, mode os.FileMode
		want          string
	}{
		{"world-readable file", 0o700, 0o644, "can be read or written by others (mode 0644"},
		{"group-writable file", 0o700, 0o620, "can be read or written by others (mode 0620"},
		{"world-writable directory", 0o777, 0o600, "can be written by others (mode 0777)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			store := credentialStore{dir: filepath.Join(home, "pipelinectl")}
			if err := store.save(&loginCreds{Issuer: "http://127.0.0.1:1", ClientID: "recruitment-cli", IDToken: "a.b.c", Expiry: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(store.path(), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(store.dir, tt.dirMode); err != nil {
				t.Fatal(err)
			}
			addr, apps := serveApps(t)
			for _, args := range [][]string{{"campaigns", "list", "--applications-addr", addr}, {"whoami"}} {
				_, stderr, code := runIn(t, home, args...)
				if code != exitDenied || !strings.Contains(stderr, "refusing to use "+store.path()) || !strings.Contains(stderr, tt.want) {
					t.Errorf("%s: exit %d, want %d saying %q:\n%s", args[0], code, exitDenied, tt.want, stderr)
				}
			}
			if len(apps.seen()) != 0 {
				t.Errorf("a call was made with the refused file's token")
			}
			// logout still removes it.
			if _, stderr, code := runIn(t, home, "logout"); code != 0 {
				t.Errorf("logout: exit %d\n%s", code, stderr)
			}
			if _, err := os.Stat(store.path()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("logout left the refused file (%v)", err)
			}
		})
	}
}

func TestWhoamiOfAGivenToken(t *testing.T) {
	t.Parallel()
	tok, _, code := runCLI(t, "token", "--role", "vetting", "--region", "wales,london", "--subject", "vetting-1", "--ttl", "1h")
	if code != 0 {
		t.Fatal("token failed")
	}
	out, stderr, code := runCLI(t, "whoami", "--token", strings.TrimSpace(tok), "-o", "csv")
	if code != 0 {
		t.Fatalf("whoami: exit %d\n%s", code, stderr)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 2 || !strings.HasPrefix(rows[0], "subject,name,role,regions,issuer,audience,expires_at,expires_in,source,refreshable") ||
		!strings.HasPrefix(rows[1], `vetting-1,,vetting,"wales,london",recruitment-pipeline,recruitment-pipeline,`) ||
		// A cell starting - would read as a formula: pkg/csvsafe quotes it.
		!strings.HasSuffix(rows[1], `,"'--token or PIPELINE_TOKEN",no`) {
		t.Errorf("whoami -o csv:\n%s", out)
	}
	if _, stderr, code := runCLI(t, "whoami", "--token", "not-a-jwt"); code != exitUsage || !strings.Contains(stderr, "not a JWT") {
		t.Errorf("whoami of garbage: exit %d\n%s", code, stderr)
	}
}
