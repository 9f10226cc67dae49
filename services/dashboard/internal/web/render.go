package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

// pages holds the parsed templates and the static files' versions.
type pages struct {
	// byName holds one template set per page: the layout, the shared
	// sections and the page's own "content".
	byName map[string]*template.Template
	// sections renders the fragments (and only them).
	sections *template.Template
	// versions are short content hashes of the static files, added to
	// their links so a browser never keeps a stale script after an upgrade.
	versions map[string]string
}

var pageNames = []string{"overview", "region", "my-cases", "checks", "equality", "campaigns", "campaign", "error", "signed-out"}

func loadPages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}, versions: map[string]string{}}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		p.versions[path] = hex.EncodeToString(sum[:4])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash static files: %w", err)
	}
	funcs := template.FuncMap{
		"asset": func(name string) (string, error) {
			v, ok := p.versions[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return "/static/" + name + "?v=" + v, nil
		},
		"field": func(s summaryView, name string) string { return s.Fields[name] },
	}
	base, err := template.New("").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/sections.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	p.sections = base
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(files, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

func (p *pages) static() http.Handler {
	sub, _ := fs.Sub(files, "static") // cannot fail: loadPages walked it
	fileServer := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Links carry the content's hash, so a versioned file never changes.
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		fileServer.ServeHTTP(w, r)
	})
}

// chrome is what every page's layout shows: its title, and who is signed
// in (for the header's sign-out button).
type chrome struct {
	Title string
	User  string
}

func (c *chrome) setUser(name string) { c.User = name }

// render writes a whole page (data is a pointer to a view embedding
// chrome). The page is rendered into memory first, so a template error
// becomes an error page, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, page string, data interface{ setUser(string) }) {
	if sess := signedIn(r); sess != nil {
		data.setUser(sess.Name)
	}
	var buf bytes.Buffer
	if err := s.pages.byName[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("render page", "page", page, "err", err)
		if page != "error" {
			s.fail(w, r, err)
		} else {
			http.Error(w, "Sorry, there is a problem with the dashboard.", http.StatusInternalServerError)
		}
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// renderFragment writes one section of a page, for the live script.
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.sections.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("render fragment", "fragment", name, "err", err)
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// The dashboard's own request errors.
var (
	errNotFound  = errors.New("not found")
	errBadFilter = errors.New("bad filter")
	// errSignedOut answers the live script's requests without a session.
	errSignedOut = errors.New("not signed in")
)

// tooManyDownloads is a refused download, and when to try again.
type tooManyDownloads struct {
	retryAfter time.Duration
}

func (e *tooManyDownloads) Error() string {
	return fmt.Sprintf("too many downloads; retry after %s", e.retryAfter)
}

// retrySeconds is the Retry-After value: whole seconds, rounded up.
func (e *tooManyDownloads) retrySeconds() int {
	return int((e.retryAfter + time.Second - 1) / time.Second)
}

// link is an error page's way on.
type link struct {
	Href, Text string
}

// problem is an error as a person reads it.
type problem struct {
	Code    int
	Title   string
	Message string
	// Next is the link the page offers; the overview when empty.
	Next link
}

var (
	toOverview  = link{"/", "Go to the overview of your regions"}
	signInAgain = link{session.SignInPath, "Sign in again"}
)

// toProblem is the one place errors become HTTP statuses and messages. The
// reporting service's and the identity provider's messages are not shown:
// they are for operators, and the log has them.
func toProblem(err error) (problem, bool) {
	var limited *tooManyDownloads
	var refused *session.ProviderError
	switch {
	case errors.Is(err, errNotFound):
		return problem{http.StatusNotFound, "Page not found", "If you typed the web address, check it is correct. Your regions are listed on the overview.", toOverview}, false
	case errors.Is(err, errBadFilter):
		return problem{http.StatusBadRequest, "There is a problem with the filter", "Choose the filters from the lists on the region's page; a campaign id looks like 0190d6a0-5b1e-7c3a-9f00-2d4e6b8a1c33.", toOverview}, false
	case errors.Is(err, errSignedOut):
		return problem{http.StatusUnauthorized, "You are not signed in", "Sign in again to see the figures.", signInAgain}, false
	case errors.As(err, &limited):
		return problem{http.StatusTooManyRequests, "Too many downloads",
			fmt.Sprintf("You have downloaded the stuck list too many times in the last few minutes. Try again in %d seconds.", limited.retrySeconds()), toOverview}, false
	case errors.Is(err, session.ErrSignInState):
		return problem{http.StatusBadRequest, "Sign-in could not be completed", "The sign-in took too long, or was started in another browser. Sign in again.", signInAgain}, false
	case errors.As(err, &refused):
		return problem{http.StatusForbidden, "You were not signed in", "The identity provider did not sign you in to the dashboard.", signInAgain}, true
	case errors.Is(err, session.ErrSignInFailed):
		return problem{http.StatusBadRequest, "Sign-in could not be completed", "The identity provider's answer could not be checked. Sign in again.", signInAgain}, true
	case errors.Is(err, session.ErrUnavailable):
		return problem{http.StatusServiceUnavailable, "Sign-in is unavailable", "The identity provider cannot be reached at the moment. Try again in a minute.", signInAgain}, true
	case errors.Is(err, context.DeadlineExceeded):
		return problem{http.StatusServiceUnavailable, "Reports are unavailable", "The reporting service did not answer in time. Try again in a minute.", toOverview}, true
	}
	st, ok := status.FromError(err)
	if !ok {
		return problem{http.StatusInternalServerError, "Sorry, there is a problem with the dashboard", "Try again later.", toOverview}, true
	}
	switch st.Code() {
	case codes.NotFound:
		return problem{http.StatusNotFound, "Page not found", "The reporting service has nothing at this address.", toOverview}, false
	case codes.InvalidArgument:
		// A page token from an old link, typically.
		return problem{http.StatusBadRequest, "There is a problem with the link", "The link may be out of date. Start again from the region's page.", toOverview}, false
	case codes.PermissionDenied:
		return problem{http.StatusForbidden, "You do not have access to this page", "Your account does not include these figures. If you need them, ask for your access to be changed.", toOverview}, false
	case codes.Unauthenticated:
		return problem{http.StatusServiceUnavailable, "Reports are unavailable", "The reporting service did not accept your sign-in. Sign in again; if that does not help, the people who run the dashboard have been told in its log.", signInAgain}, true
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted:
		return problem{http.StatusServiceUnavailable, "Reports are unavailable", "The reporting service cannot be reached at the moment. Try again in a minute.", toOverview}, true
	}
	return problem{http.StatusInternalServerError, "Sorry, there is a problem with the dashboard", "Try again later.", toOverview}, true
}

// errorView is the error page.
type errorView struct {
	chrome
	Message string
	Next    link
}

// signedOutView is the page the provider sends the browser back to after
// sign-out.
type signedOutView struct {
	chrome
}

// fail answers a request with the error page (or, for a fragment or an
// event stream, a short plain message) and logs what the reader must not see.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p, logIt := toProblem(err)
	if logIt {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", p.Code, "err", err)
	}
	if r.Context().Err() != nil {
		return // the browser has gone; nobody reads the answer
	}
	var limited *tooManyDownloads
	if errors.As(err, &limited) {
		w.Header().Set("Retry-After", strconv.Itoa(limited.retrySeconds()))
	}
	if isFragment(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(p.Code)
		_, _ = fmt.Fprintln(w, p.Title)
		return
	}
	s.render(w, r, p.Code, "error", &errorView{chrome: chrome{Title: p.Title}, Message: p.Message, Next: p.Next})
}

// isFragment tells the live script's requests, which get plain text, from
// pages. A CSV download is a page: a person opens it.
func isFragment(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasSuffix(p, "/stuck") || strings.HasSuffix(p, "/charts") || strings.HasSuffix(p, "/events")
}
