package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// signIn is one authorization code flow with PKCE and a loopback redirect
// (RFC 8252): the browser signs in at the provider, which redirects it to
// http://127.0.0.1:<port>/callback on this machine with a code, which
// pipelinectl exchanges for the tokens.
type signIn struct {
	p        *provider
	oauth    *oauth2.Config
	listener net.Listener
	// state ties the redirect to this sign-in (a page elsewhere cannot
	// hand pipelinectl a code of its choosing); nonce ties the ID token to
	// it; verifier proves at the token endpoint that whoever exchanges the
	// code started the sign-in (PKCE, S256).
	state, nonce, verifier string
	// timeout bounds the code exchange.
	timeout time.Duration
}

// startSignIn listens on a free loopback port for the provider's redirect.
func startSignIn(p *provider, timeout time.Duration) (*signIn, error) {
	// 127.0.0.1 rather than localhost: localhost may resolve to ::1 or to
	// another address entirely (RFC 8252 §8.3).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the sign-in's redirect: %w", err)
	}
	return &signIn{
		p:        p,
		oauth:    p.oauth("http://" + l.Addr().String() + callbackPath),
		listener: l,
		state:    randomString(),
		nonce:    randomString(),
		verifier: oauth2.GenerateVerifier(),
		timeout:  timeout,
	}, nil
}

// authURL is where the browser goes to sign in.
func (s *signIn) authURL() string {
	return s.oauth.AuthCodeURL(s.state, oauth2.S256ChallengeOption(s.verifier), oidc.Nonce(s.nonce))
}

// wait serves the redirect until one arrives, wait passes, or ctx ends,
// and returns the verified credentials. The first redirect decides: a
// wrong state, an error from the provider or a failed exchange ends the
// sign-in, and the browser tab says so.
func (s *signIn) wait(ctx context.Context, wait time.Duration) (*loginCreds, *oidc.IDToken, error) {
	done := make(chan signInResult, 1)
	cb := &callback{signIn: s, ctx: ctx, done: done}
	srv := &http.Server{Handler: cb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(s.listener) }() // ends with Shutdown
	defer func() {
		// Shutdown lets the handler finish the page the browser is waiting for.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.creds, r.idToken, r.err
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-timer.C:
		return nil, nil, &authError{lines: []string{
			fmt.Sprintf("not signed in: no sign-in came back within %s", wait),
			"run pipelinectl login again (--wait gives more time)",
		}}
	}
}

type signInResult struct {
	creds   *loginCreds
	idToken *oidc.IDToken
	err     error
}

// callback is the handler of the loopback redirect.
type callback struct {
	*signIn
	ctx  context.Context
	done chan<- signInResult

	mu       sync.Mutex
	finished bool
}

func (cb *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != callbackPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// One redirect is handled; any later one (a reload) finds it finished.
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.finished {
		renderResult(w, http.StatusBadRequest, resultPage{Failed: true, Message: "This sign-in has already finished."})
		return
	}
	cb.finished = true
	q := r.URL.Query()
	var res signInResult
	switch {
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(cb.state)) != 1:
		res.err = &authError{lines: []string{
			"sign-in refused: the redirect's state does not match the sign-in this pipelinectl started",
			"it came from another sign-in, or from a page that is not the identity provider; run pipelinectl login again",
		}}
	case q.Get("error") != "":
		msg := q.Get("error")
		if d := q.Get("error_description"); d != "" {
			msg += ": " + d
		}
		res.err = &authError{lines: []string{"not signed in: the identity provider answered " + msg}}
	case q.Get("code") == "":
		res.err = &authError{lines: []string{"not signed in: the redirect carries no code"}}
	default:
		res.creds, res.idToken, res.err = cb.exchange(cb.ctx, q.Get("code"))
	}
	if res.err != nil {
		renderResult(w, http.StatusBadRequest, resultPage{Failed: true, Message: "pipelinectl did not sign you in. The terminal says why."})
	} else {
		renderResult(w, http.StatusOK, resultPage{Who: displayName(res.idToken)})
	}
	cb.done <- res
}

// exchange trades the code for tokens with the PKCE verifier and checks
// the ID token.
func (s *signIn) exchange(ctx context.Context, code string) (*loginCreds, *oidc.IDToken, error) {
	ctx, cancel := context.WithTimeout(s.p.withClient(ctx), s.timeout)
	defer cancel()
	tok, err := s.oauth.Exchange(ctx, code, oauth2.VerifierOption(s.verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, nil, &authError{lines: []string{"not signed in: the identity provider refused the code (" + oauthErrorText(re) + ")"}}
		}
		return nil, nil, &idpError{issuer: s.p.issuer, action: "exchange the sign-in's code", err: err}
	}
	c, idt, err := s.p.credentials(ctx, tok, s.nonce, "")
	if err != nil {
		return nil, nil, &authError{lines: []string{"not signed in: " + err.Error()}}
	}
	return c, idt, nil
}

// displayName is "Name (subject)", or the subject alone.
func displayName(idt *oidc.IDToken) string {
	var c struct {
		Name string `json:"name"`
	}
	if err := idt.Claims(&c); err != nil || c.Name == "" {
		return idt.Subject
	}
	return c.Name + " (" + idt.Subject + ")"
}

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

type resultPage struct {
	Failed  bool
	Who     string
	Message string
}

func renderResult(w http.ResponseWriter, status int, page resultPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The address bar holds the code: no page may be told it.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = resultTemplate.Execute(w, page) // the browser may have gone; the terminal has the outcome
}

var resultTemplate = template.Must(template.New("result").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Failed}}Not signed in{{else}}Signed in{{end}} – pipelinectl</title>
<style>body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #0b0c0c; line-height: 1.5; }</style>
</head>
<body>
<main>
{{- if .Failed}}
<h1>Not signed in</h1>
<p>{{.Message}}</p>
{{- else}}
<h1>Signed in</h1>
<p>pipelinectl is signed in as {{.Who}}. You may close this tab and go back to the terminal.</p>
{{- end}}
</main>
</body>
</html>
`))

// openBrowser asks the desktop to open url. It waits a moment for the
// opener to fail (xdg-open without a desktop exits at once, non-zero) but
// not for the browser, which may stay open.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("%s: %w", cmd.Args[0], err)
		}
	case <-time.After(3 * time.Second):
	}
	return nil
}
