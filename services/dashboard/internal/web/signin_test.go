package web

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/probation-recruitment/pipeline/pkg/devidp"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

// Users of the development provider (devidp.DemoUsers).
const (
	londonReader = "dashboard-london" // role dashboard, London
	walesSPOC    = "spoc-wales"       // role spoc, Wales
	// londonSPOC signs out, which ends every refresh token of the user at
	// the provider: no other test signs in as them.
	londonSPOC = "spoc-london"
)

// Listeners of the fixture: one dashboard as configured for production,
// one that renews its sessions two seconds after each sign-in.
const (
	mainDashboard = iota
	renewingDashboard
	dashboards
)

func TestSignIn(t *testing.T) {
	t.Parallel()
	f := setup(t, dashboards)
	d := f.dashboard(t, mainDashboard, options{csvBurst: 2})
	renewing := f.dashboard(t, renewingDashboard, options{refreshAhead: devidp.DefaultIDTokenLifetime - 2*time.Second})

	t.Run("pages without a session go to sign-in and come back", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		for _, path := range []string{"/", "/regions/london?stage=sift&severity=breach", "/regions/london/stuck.csv"} {
			resp, body := b.get(d.url + path)
			to := location(t, resp)
			if resp.StatusCode != http.StatusSeeOther || to.Path != session.SignInPath || to.Query().Get("next") != path {
				t.Errorf("%s: %s to %s, want 303 to %s?next=%s", path, resp.Status, to, session.SignInPath, path)
			}
			if strings.Contains(body, "application_id") {
				t.Errorf("%s without a session answered data:\n%s", path, body)
			}
		}
		// What the live script fetches is refused outright: a redirect to
		// the provider is of no use to it.
		for _, path := range []string{"/events", "/regions/london/events", "/regions/london/stuck", "/regions/london/charts"} {
			if resp, body := b.get(d.url + path); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: %s, want 401\n%s", path, resp.Status, body)
			}
		}
		// Sign-in sends the browser to the provider with PKCE, a state and
		// a nonce, to the registered redirect URI.
		auth, err := url.Parse(b.startSignIn(d, "/regions/london"))
		if err != nil {
			t.Fatal(err)
		}
		q := auth.Query()
		if !strings.HasPrefix(auth.String(), f.idp.Issuer()) || q.Get("client_id") != devidp.DashboardClientID ||
			q.Get("redirect_uri") != d.url+session.CallbackPath || q.Get("response_type") != "code" ||
			q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 ||
			len(q.Get("state")) < 32 || len(q.Get("nonce")) < 32 || !strings.Contains(q.Get("scope"), "openid") {
			t.Errorf("authorization URL %s", auth)
		}
	})

	t.Run("the code flow signs in and the user sees only their regions", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		authURL := b.startSignIn(d, "/regions/london?stage=sift")
		callback, err := f.idp.SignIn(t.Context(), nil, authURL, londonReader)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := b.get(callback.String())
		if to := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || to != "/regions/london?stage=sift" {
			t.Errorf("after sign-in the browser went to %s, want back to /regions/london?stage=sift", to)
		}
		line, ok := setCookieHeader(resp, session.CookieName)
		if !ok {
			t.Fatalf("the callback set no session cookie: %v", resp.Header.Values("Set-Cookie"))
		}
		for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
			if !strings.Contains(line, "; "+attr) {
				t.Errorf("session cookie lacks %s: %s", attr, line)
			}
		}
		if strings.Contains(line, "Domain=") || strings.Contains(line, "eyJ") {
			t.Errorf("session cookie has a Domain or shows a token: %s", line)
		}
		// The sign-in's own cookie is gone: a callback is good once.
		for _, c := range b.hc.Jar.Cookies(mustURL(t, d.url)) {
			if strings.HasPrefix(c.Name, "__Host-dashboard_signin_") {
				t.Errorf("sign-in cookie %s left behind", c.Name)
			}
		}
		if resp, _ := b.get(callback.String()); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("the same callback again: %s, want 400", resp.Status)
		}

		resp, body := b.get(d.url + "/")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("overview: %s\n%s", resp.Status, body)
		}
		if !strings.Contains(body, `<span class="header-user">Signed in as Priya Shah</span>`) {
			t.Error("the overview does not say who is signed in")
		}
		if got := rowsOf(body); len(got) != 1 || got[0] != "london" {
			t.Errorf("the London reader's overview shows regions %v, want only london", got)
		}
		if resp, body := b.get(d.url + "/regions/london"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `<h1 class="heading-xl">London</h1>`) {
			t.Errorf("London's page: %s", resp.Status)
		}
		resp, body = b.get(d.url + "/regions/wales")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `<h1 class="heading-xl">You do not have access to this page</h1>`) ||
			!strings.Contains(body, `<html lang="en-GB">`) || !strings.Contains(body, `<main id="main"`) {
			t.Errorf("Wales for the London reader: %s, want the 403 page\n%s", resp.Status, body)
		}
		for _, path := range []string{"/regions/wales/stuck.csv", "/regions/wales/stuck", "/regions/wales/events"} {
			if resp, _ := b.get(d.url + path); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s for the London reader: %s, want 403", path, resp.Status)
			}
		}
		// The overview's live stream follows London alone.
		events := openEvents(t, b, d.url+"/events")
		if u := events.next(t); u.Region != "london" || !u.Connected {
			t.Errorf("first live update %+v, want London's summary", u)
		}
	})

	t.Run("a changed or forged session cookie is refused", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		b.signIn(f, d, "/", londonReader)
		value, ok := b.cookie(d, session.CookieName)
		if !ok {
			t.Fatal("no session cookie")
		}
		if resp, _ := b.get(d.url + "/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("signed in: %s", resp.Status)
		}
		sess := openSession(t, d, value)
		admin := sess
		admin.Subject, admin.Name = "admin", "Alex Morgan"
		forged, _ := json.Marshal(admin)
		otherKey, _ := session.NewCodec(session.RandomKey())
		for name, bad := range map[string]string{
			"one character changed":       flip(value, len(value)/2),
			"last character changed":      flip(value, len(value)-1),
			"sealed with another key":     otherKey.Seal(session.CookieName, forged),
			"the session in plain base64": base64.RawURLEncoding.EncodeToString(forged),
			"a sign-in cookie's value":    d.codec.Seal("__Host-dashboard_signin_0011223344556677", forged),
		} {
			b.setCookie(d, session.CookieName, bad)
			resp, _ := b.get(d.url + "/regions/london")
			if resp.StatusCode != http.StatusSeeOther || location(t, resp).Path != session.SignInPath {
				t.Errorf("%s: %s, want a redirect to sign in", name, resp.Status)
			}
			if resp, _ := b.get(d.url + "/events"); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: events %s, want 401", name, resp.Status)
			}
		}
	})

	t.Run("a callback whose state does not match is refused", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		callback, err := f.idp.SignIn(t.Context(), nil, b.startSignIn(d, "/"), londonReader)
		if err != nil {
			t.Fatal(err)
		}
		wrong := *callback
		q := wrong.Query()
		q.Set("state", q.Get("state")+"x")
		wrong.RawQuery = q.Encode()
		noState := *callback
		q = noState.Query()
		q.Del("state")
		noState.RawQuery = q.Encode()
		for name, u := range map[string]string{"another state": wrong.String(), "no state": noState.String()} {
			resp, body := b.get(u)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Sign-in could not be completed") {
				t.Errorf("%s: %s\n%s", name, resp.Status, body)
			}
			if _, ok := setCookieHeader(resp, session.CookieName); ok {
				t.Errorf("%s: a session cookie was set", name)
			}
		}
		// The right state in another browser (login CSRF: an attacker's
		// code and state sent to a victim) is refused too.
		other := newBrowser(t)
		if resp, _ := other.get(callback.String()); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("the callback in a browser that did not start the sign-in: %s, want 400", resp.Status)
		}
		if _, ok := other.cookie(d, session.CookieName); ok {
			t.Error("the other browser got a session")
		}
		// An error from the provider is a page, not a session.
		resp, body := b.get(d.url + session.CallbackPath + "?error=access_denied&state=" + url.QueryEscape(callback.Query().Get("state")))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "You were not signed in") {
			t.Errorf("provider error: %s\n%s", resp.Status, body)
		}
	})

	t.Run("sign-in returns only to this dashboard", func(t *testing.T) {
		t.Parallel()
		for _, next := range []string{"https://evil.example/", "//evil.example/", `/\evil.example`, "/\t/evil.example", "javascript:alert(1)"} {
			b := newBrowser(t)
			resp, _ := b.get(d.url + session.SignInPath + "?" + url.Values{"next": {next}}.Encode())
			callback, err := f.idp.SignIn(t.Context(), nil, location(t, resp).String(), londonReader)
			if err != nil {
				t.Fatal(err)
			}
			resp, _ = b.get(callback.String())
			if to := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || to != "/" {
				t.Errorf("next=%q: after sign-in the browser went to %s, want /", next, to)
			}
		}
	})

	t.Run("sign-out ends the session here and at the provider", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		// The provider's session cookie lives in the same browser.
		authURL := b.startSignIn(d, "/")
		callback, err := f.idp.SignIn(t.Context(), b.hc, authURL, londonSPOC)
		if err != nil {
			t.Fatal(err)
		}
		b.get(callback.String())
		value, _ := b.cookie(d, session.CookieName)
		sess := openSession(t, d, value)

		// A page elsewhere cannot sign the user out.
		resp, _ := b.do(http.MethodPost, d.url+session.SignOutPath, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site sign-out: %s, want 403", resp.Status)
		}
		if resp, _ := b.get(d.url + "/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("still signed in after a refused sign-out? %s", resp.Status)
		}

		resp, _ = b.do(http.MethodPost, d.url+session.SignOutPath, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {d.url}})
		to := location(t, resp)
		q := to.Query()
		if !strings.HasPrefix(to.String(), f.idp.Issuer()) || q.Get("id_token_hint") != sess.IDToken ||
			q.Get("post_logout_redirect_uri") != d.url+"/" || q.Get("client_id") != devidp.DashboardClientID {
			t.Errorf("sign-out went to %s, want the provider's end_session with the ID token and %s/", to, d.url)
		}
		if line, ok := setCookieHeader(resp, session.CookieName); !ok || !strings.Contains(line, "Max-Age=0") {
			t.Errorf("sign-out did not clear the session cookie: %q", line)
		}
		if resp, _ := b.get(d.url + "/"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("the overview after sign-out: %s, want a redirect to sign in", resp.Status)
		}
		// The provider ends its own session and sends the browser back.
		resp, _ = b.get(to.String())
		back := location(t, resp)
		resp, body := b.get(back.String())
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You have signed out") {
			t.Errorf("back from the provider at %s: %s\n%s", back, resp.Status, body)
		}
		// The provider's session is over: its cookie is gone.
		for _, c := range b.hc.Jar.Cookies(mustURL(t, f.idp.Issuer())) {
			t.Errorf("the provider's cookie %s is still there", c.Name)
		}
		// The refresh token is spent: a copied cookie dies with its ID token.
		if _, err := refreshGrant(t, f, sess.RefreshToken); err == nil {
			t.Error("the refresh token still works after sign-out")
		}
	})

	t.Run("stuck list downloads need a session and are limited per user", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		if resp, body := b.get(d.url + "/regions/wales/stuck.csv"); resp.StatusCode != http.StatusSeeOther || strings.Contains(body, "application_id") {
			t.Errorf("without a session: %s\n%s", resp.Status, body)
		}
		b.signIn(f, d, "/regions/wales", walesSPOC)
		for i := range 2 {
			resp, body := b.get(d.url + "/regions/wales/stuck.csv")
			records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if resp.StatusCode != http.StatusOK || err != nil || len(records) == 0 || records[0][0] != "application_id" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
				t.Fatalf("download %d: %s, %v\n%s", i+1, resp.Status, err, body)
			}
		}
		resp, body := b.get(d.url + "/regions/wales/stuck.csv")
		retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || err != nil || retry < 1 || retry > 60 {
			t.Errorf("third download at once: %s, Retry-After %q; want 429 with a wait of at most a minute", resp.Status, resp.Header.Get("Retry-After"))
		}
		if !strings.Contains(body, `<h1 class="heading-xl">Too many downloads</h1>`) || !strings.Contains(body, "Try again in "+strconv.Itoa(retry)+" seconds") {
			t.Errorf("the 429 page does not say what happened and when to try again:\n%s", body)
		}
		// Another user's allowance is their own.
		other := newBrowser(t)
		other.signIn(f, d, "/", londonReader)
		if resp, _ := other.get(d.url + "/regions/london/stuck.csv"); resp.StatusCode != http.StatusOK {
			t.Errorf("another user's download: %s", resp.Status)
		}
	})

	t.Run("the ID token is renewed with the refresh token", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		b.signIn(f, renewing, "/", londonReader)
		before, _ := b.cookie(renewing, session.CookieName)
		first := openSession(t, renewing, before)
		waitUntil(t, first.IssuedAt.Add(3*time.Second))

		// Requests that come together with the old cookie share one
		// renewal: the provider rotates refresh tokens, so a second
		// renewal with the old one would fail.
		var wg sync.WaitGroup
		renewed := make([]session.Session, 4)
		for i := range renewed {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, body := newBrowserWith(t, renewing, before).get(renewing.url + "/")
				line, ok := setCookieHeader(resp, session.CookieName)
				if resp.StatusCode != http.StatusOK || !ok || len(rowsOf(body)) != 1 {
					t.Errorf("request %d with a session due for renewal: %s, renewed cookie %v", i, resp.Status, ok)
					return
				}
				renewed[i] = openSession(t, renewing, strings.TrimPrefix(strings.Split(line, ";")[0], session.CookieName+"="))
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		second := renewed[0]
		if second.IDToken == first.IDToken || second.RefreshToken == first.RefreshToken || !second.Expiry.After(first.Expiry) {
			t.Errorf("renewal kept the old tokens (ID token same: %v, refresh token same: %v)",
				second.IDToken == first.IDToken, second.RefreshToken == first.RefreshToken)
		}
		if second.Subject != first.Subject || second.ID != first.ID || !second.Started.Equal(first.Started) || second.Grant != first.Grant {
			t.Errorf("renewal changed the session: %+v → %+v", first, second)
		}
		for i, r := range renewed {
			if r.RefreshToken != second.RefreshToken {
				t.Errorf("request %d renewed separately", i)
			}
		}
		// The reporting service takes the renewed token: the page above
		// was drawn with it, and so is this one.
		b.setCookie(renewing, session.CookieName, renewing.codec.Seal(session.CookieName, mustJSON(t, second)))
		if resp, body := b.get(renewing.url + "/regions/london"); resp.StatusCode != http.StatusOK {
			t.Errorf("London's page with the renewed token: %s\n%s", resp.Status, body)
		}
		// The old refresh token is spent at the provider.
		if _, err := refreshGrant(t, f, first.RefreshToken); err == nil {
			t.Error("the replaced refresh token still works")
		}
	})

	t.Run("a live stream ends before its token is due and the reconnect renews it", func(t *testing.T) {
		t.Parallel()
		b := newBrowser(t)
		b.signIn(f, renewing, "/regions/london", londonReader)
		value, _ := b.cookie(renewing, session.CookieName)
		first := openSession(t, renewing, value)

		// The stream the page opens: London's summary, then the end, once
		// the session is due for renewal (two seconds after sign-in).
		events := openEvents(t, b, renewing.url+"/regions/london/events")
		if u := events.next(t); u.Region != "london" || !u.Connected {
			t.Fatalf("first update %+v, want London's summary", u)
		}
		opened := time.Now()
		events.waitEnd(t, 15*time.Second)
		if !events.renew {
			t.Error("the stream ended without saying it ends for renewal")
		}
		if took := time.Since(opened); took > 10*time.Second {
			t.Errorf("the stream lasted %s after its first update; it should end when its token is due", took)
		}
		// The browser reconnects, as EventSource does: that request renews
		// the session and the new stream carries the new token.
		again := openEvents(t, b, renewing.url+"/regions/london/events")
		line, ok := setCookieHeader(again.resp, session.CookieName)
		if !ok {
			t.Fatal("the reconnect did not renew the session")
		}
		second := openSession(t, renewing, strings.TrimPrefix(strings.Split(line, ";")[0], session.CookieName+"="))
		if second.IDToken == first.IDToken {
			t.Error("the reconnect kept the old ID token")
		}
		if u := again.next(t); u.Region != "london" || !u.Connected {
			t.Errorf("first update after the reconnect %+v, want London's summary", u)
		}
	})
}

// rowsOf lists the regions of an overview's table, in order.
func rowsOf(html string) []string {
	var out []string
	for _, part := range strings.Split(html, `<tr data-region="`)[1:] {
		out = append(out, part[:strings.Index(part, `"`)])
	}
	return out
}

func openSession(t *testing.T, d *dashboard, value string) session.Session {
	t.Helper()
	plain, err := d.codec.Open(session.CookieName, value)
	if err != nil {
		t.Fatalf("open session cookie: %v", err)
	}
	var s session.Session
	if err := json.Unmarshal(plain, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// newBrowserWith is a browser holding only d's session cookie value.
func newBrowserWith(t *testing.T, d *dashboard, value string) *browser {
	b := newBrowser(t)
	b.setCookie(d, session.CookieName, value)
	return b
}

func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func waitUntil(t *testing.T, at time.Time) {
	t.Helper()
	select {
	case <-time.After(time.Until(at)):
	case <-t.Context().Done():
	}
}

// refreshGrant uses a refresh token at the provider, as the dashboard
// does.
func refreshGrant(t *testing.T, f *fixture, refreshToken string) (*oauth2.Token, error) {
	t.Helper()
	cfg := oauth2.Config{ClientID: devidp.DashboardClientID, ClientSecret: devidp.DashboardClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: f.idp.Issuer() + "/oauth/token"}}
	return cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// events is an open event stream, read as EventSource reads it.
type events struct {
	resp    *http.Response
	updates chan liveUpdate
	ended   chan error
	// renew is whether the stream said it ends for renewal; read it after
	// the end.
	renew bool
}

func openEvents(t *testing.T, b *browser, rawURL string) *events {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	hc := *b.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %s %s\n%s", rawURL, resp.Status, resp.Header.Get("Content-Type"), body)
	}
	e := &events{resp: resp, updates: make(chan liveUpdate, 100), ended: make(chan error, 1)}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && name == "summary":
				var u liveUpdate
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &u) == nil {
					e.updates <- u
				}
			case strings.HasPrefix(line, "data: ") && name == "renew":
				e.renew = true
			case line == "":
				name = ""
			}
		}
		err := sc.Err()
		if err == nil {
			err = io.EOF
		}
		e.ended <- err
	}()
	return e
}

func (e *events) next(t *testing.T) liveUpdate {
	t.Helper()
	select {
	case u := <-e.updates:
		return u
	case err := <-e.ended:
		t.Fatalf("the stream ended before an update: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("no update within 15s")
	}
	return liveUpdate{}
}

// waitEnd waits for the server to end the stream.
func (e *events) waitEnd(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case err := <-e.ended:
		if !errors.Is(err, io.EOF) {
			t.Errorf("the stream broke (%v) rather than ending", err)
		}
	case <-time.After(limit):
		t.Fatalf("the stream was still open after %s", limit)
	}
}
