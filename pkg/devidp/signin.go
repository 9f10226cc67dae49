package devidp

import (
	"context"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	pathSignIn       = "/signin"
	pathSignedOut    = "/signed-out"
	paramAuthRequest = "authRequestID"
	paramUser        = "user"
	// sessionCookie names the browser's sign-in to the provider. Cookies do
	// not tell ports apart, so the name must not clash with the dashboard's
	// on the same loopback host.
	sessionCookie = "devidp_session"
)

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathSignIn, p.signInPage)
	mux.HandleFunc("POST "+pathSignIn, p.signIn)
	mux.HandleFunc("GET "+pathSignedOut, p.signedOut)
	mux.Handle(p.op.AuthorizationEndpoint().Relative(), p.withSession(p.op))
	mux.Handle(p.op.EndSessionEndpoint().Relative(), p.endingSession(p.op))
	mux.Handle("/", p.op)
	return loopbackHostOnly(mux)
}

// loopbackHostOnly refuses a request whose Host is not loopback, so a web
// page cannot reach the provider through DNS rebinding.
func loopbackHostOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if !isLoopbackHost(host) {
			http.Error(w, "the development identity provider answers loopback hosts only", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type sessionKey struct{}

func sessionFromContext(ctx context.Context) (session, bool) {
	s, ok := ctx.Value(sessionKey{}).(session)
	return s, ok
}

// browserSession is the session the request's cookie names, if it is live.
func (p *Provider) browserSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	return p.store.session(c.Value)
}

// withSession hands the browser's session to CreateAuthRequest (prompt=none).
func (p *Provider) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := p.browserSession(r); ok {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
		}
		next.ServeHTTP(w, r)
	})
}

// endingSession signs the browser out of the provider before op's
// end_session ends the user's tokens for the client and redirects.
func (p *Provider) endingSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			p.store.endSession(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		next.ServeHTTP(w, r)
	})
}

type userButton struct {
	ID, Name, Detail string
}

type signInData struct {
	AuthRequestID string
	Client        string
	SignedInAs    string
	Users         []userButton
	Error         string
}

func (p *Provider) signInPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get(paramAuthRequest)
	req, err := p.store.AuthRequestByID(r.Context(), id)
	if err != nil {
		renderPage(w, http.StatusBadRequest, signInData{Error: "This sign-in request is unknown or already finished. Go back to the application and sign in again."})
		return
	}
	if req.Done() { // prompt=none with a live session: nothing to ask
		http.Redirect(w, r, p.callbackURL(r.Context(), id), http.StatusFound)
		return
	}
	data := signInData{AuthRequestID: id, Client: req.GetClientID()}
	if c, ok := p.store.clients[req.GetClientID()]; ok && c.Name != "" {
		data.Client = c.Name
	}
	if s, ok := p.browserSession(r); ok {
		data.SignedInAs = p.store.users[s.userID].Name
	}
	for _, u := range p.store.usersInOrder {
		data.Users = append(data.Users, userButton{ID: u.ID, Name: u.Name, Detail: describe(u)})
	}
	renderPage(w, http.StatusOK, data)
}

func (p *Provider) signIn(w http.ResponseWriter, r *http.Request) {
	id, userID := r.PostFormValue(paramAuthRequest), r.PostFormValue(paramUser)
	now := time.Now()
	if err := p.store.completeSignIn(id, userID, now); err != nil {
		renderPage(w, http.StatusBadRequest, signInData{Error: "Could not sign in: " + err.Error() + ". Go back to the application and sign in again."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    p.store.newSession(userID, now),
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, p.callbackURL(r.Context(), id), http.StatusSeeOther)
}

// callbackURL is op's endpoint that turns a signed-in request into the
// redirect to the client.
func (p *Provider) callbackURL(ctx context.Context, authRequestID string) string {
	return op.AuthCallbackURL(p.op)(op.ContextWithIssuer(ctx, p.issuer), authRequestID)
}

// describe is the line under a user's name: role and regions.
func describe(u User) string {
	role := "no role"
	if u.Role != "" {
		role = "role " + u.Role
	}
	regions := "no regions"
	switch {
	case len(u.Regions) > 0:
		regions = "regions " + strings.Join(u.Regions, ", ")
	case u.Role == RoleAdmin:
		regions = "all regions"
	}
	return role + " · " + regions
}

func (p *Provider) signedOut(w http.ResponseWriter, _ *http.Request) {
	renderPage(w, http.StatusOK, signInData{})
}

func renderPage(w http.ResponseWriter, status int, data signInData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, data); err != nil {
		slog.Error("devidp: render sign-in page", "error", err)
	}
}

// pageTemplate is the sign-in page, the signed-out page (no request, no
// error) and the error page. WCAG 2.2 AA: a language, a title, one main
// landmark with an h1, buttons named by their visible text, text contrast
// of at least 4.5:1 (white on #00703c is 5.9:1) and a focus outline in two
// colours, visible on any background.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Error}}Sign-in problem{{else if .AuthRequestID}}Sign in{{else}}Signed out{{end}} – development identity provider</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; color: #0b0c0c; background: #ffffff; line-height: 1.5; }
header { background: #0b0c0c; color: #ffffff; padding: 0.75rem 1rem; }
main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
.warning { border-left: 0.3rem solid #0b0c0c; padding: 0.5rem 1rem; background: #f3f2f1; }
ul { list-style: none; padding: 0; }
li { margin: 0.75rem 0; }
button { font: inherit; width: 100%; text-align: left; padding: 0.75rem 1rem; border: 2px solid #0b0c0c; border-radius: 0; background: #00703c; color: #ffffff; cursor: pointer; }
button:hover { background: #005a30; }
button:focus-visible { outline: 3px solid #ffdd00; outline-offset: 0; box-shadow: 0 0 0 6px #0b0c0c; }
.role { display: block; font-size: 0.95rem; }
</style>
</head>
<body>
<header><p>Recruitment pipeline – development identity provider</p></header>
<main>
{{- if .Error}}
<h1>Cannot sign in</h1>
<p>{{.Error}}</p>
{{- else if .AuthRequestID}}
<h1>Sign in</h1>
<p><strong>{{.Client}}</strong> is asking you to sign in.</p>
<p class="warning">This is a development tool: choose a demo user. There are no passwords, and anyone who can reach this page can sign in as anyone.</p>
{{- if .SignedInAs}}
<p>You are signed in to this provider as {{.SignedInAs}}.</p>
{{- end}}
<form method="post" action="/signin">
<input type="hidden" name="authRequestID" value="{{.AuthRequestID}}">
<ul>
{{- range .Users}}
<li><button type="submit" name="user" value="{{.ID}}">Sign in as {{.Name}} <span class="role">{{.Detail}}</span></button></li>
{{- end}}
</ul>
</form>
{{- else}}
<h1>You have signed out</h1>
<p>You have signed out of the development identity provider. You can close this page.</p>
{{- end}}
</main>
</body>
</html>
`))
