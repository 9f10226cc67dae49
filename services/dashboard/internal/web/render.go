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
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

var pageNames = []string{"overview", "region", "error"}

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

// render writes a whole page. The page is rendered into memory first, so a
// template error becomes an error page, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, page string, data any) {
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

// errNotFound and errBadFilter are the dashboard's own request errors.
var (
	errNotFound  = errors.New("not found")
	errBadFilter = errors.New("bad filter")
)

// problem is an error as a person reads it.
type problem struct {
	Code    int
	Title   string
	Message string
}

// toProblem is the one place errors become HTTP statuses and messages. The
// reporting service's messages are not shown: they are for operators, and
// the log has them.
func toProblem(err error) (problem, bool) {
	switch {
	case errors.Is(err, errNotFound):
		return problem{http.StatusNotFound, "Page not found", "If you typed the web address, check it is correct. Regions are listed on the overview."}, false
	case errors.Is(err, errBadFilter):
		return problem{http.StatusBadRequest, "There is a problem with the filter", "Choose a stage and a severity from the lists on the region's page."}, false
	case errors.Is(err, context.DeadlineExceeded):
		return problem{http.StatusServiceUnavailable, "Reports are unavailable", "The reporting service did not answer in time. Try again in a minute."}, true
	}
	st, ok := status.FromError(err)
	if !ok {
		return problem{http.StatusInternalServerError, "Sorry, there is a problem with the dashboard", "Try again later."}, true
	}
	switch st.Code() {
	case codes.NotFound:
		return problem{http.StatusNotFound, "Page not found", "The reporting service has nothing at this address."}, false
	case codes.InvalidArgument:
		// A page token from an old link, typically.
		return problem{http.StatusBadRequest, "There is a problem with the link", "The link may be out of date. Start again from the region's page."}, false
	case codes.PermissionDenied:
		return problem{http.StatusForbidden, "This dashboard cannot show that region", "Its access does not include this region."}, true
	case codes.Unauthenticated:
		return problem{http.StatusServiceUnavailable, "Reports are unavailable", "The reporting service did not accept the dashboard's token. The people who run the dashboard have been told in its log."}, true
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted:
		return problem{http.StatusServiceUnavailable, "Reports are unavailable", "The reporting service cannot be reached at the moment. Try again in a minute."}, true
	}
	return problem{http.StatusInternalServerError, "Sorry, there is a problem with the dashboard", "Try again later."}, true
}

// errorView is the error page.
type errorView struct {
	Title string
	problem
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
	if isFragment(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(p.Code)
		_, _ = fmt.Fprintln(w, p.Title)
		return
	}
	s.render(w, r, p.Code, "error", errorView{Title: p.Title, problem: p})
}

func isFragment(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasSuffix(p, "/stuck") || strings.HasSuffix(p, "/charts") || strings.HasSuffix(p, "/events") ||
		strings.HasSuffix(p, ".csv")
}
