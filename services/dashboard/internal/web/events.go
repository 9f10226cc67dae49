package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probation-recruitment/pipeline/pkg/region"
	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/live"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/session"
)

const (
	// reconnect is how long the browser waits before reconnecting after a
	// stream ends: long enough not to hammer a restarting server, short
	// enough to keep the page close to live.
	reconnect = 2 * time.Second
	// reconnectLater is the wait after the reporting service could not be
	// asked which regions to follow.
	reconnectLater = 5 * time.Second
	// minStream is the least time a stream stays open when its session's
	// renewal is overdue (the provider is down), so that the browser does
	// not reconnect over and over.
	minStream = 30 * time.Second
)

// overviewEvents streams the summaries of the regions the user sees: the
// ones the reporting service lists for the user's token.
func (s *Server) overviewEvents(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	resp, err := s.reports.ListRegionSummaries(ctx, &pb.ListRegionSummariesRequest{})
	cancel()
	if err != nil {
		s.streamRefused(w, r, err)
		return
	}
	var regions []string
	for _, sum := range resp.GetSummaries() {
		regions = append(regions, sum.GetRegion())
	}
	s.stream(w, r, sess, regions)
}

// regionEvents streams one region's summary, if the user may see it.
func (s *Server) regionEvents(w http.ResponseWriter, r *http.Request, sess *session.Session) {
	code := r.PathValue("region")
	if !region.Valid(code) {
		s.fail(w, r, errNotFound)
		return
	}
	// The shared stream may already be open for this user; asking the
	// reporting service first keeps the decision with it, for every page.
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	_, err := s.reports.GetRegionSummary(ctx, &pb.GetRegionSummaryRequest{Region: code})
	cancel()
	if err != nil {
		s.streamRefused(w, r, err)
		return
	}
	s.stream(w, r, sess, []string{code})
}

// streamRefused answers an event stream whose regions could not be
// checked. A refusal (the user may not see them, or reporting does not
// take the token) is an error status, after which the browser's
// EventSource gives up and the page says so; anything else (reporting is
// down) is a stream that ends at once and asks the browser to come back
// later.
func (s *Server) streamRefused(w http.ResponseWriter, r *http.Request, err error) {
	switch status.Code(err) {
	case codes.PermissionDenied, codes.Unauthenticated, codes.NotFound, codes.InvalidArgument:
		s.fail(w, r, err)
		return
	}
	s.log.Warn("event stream: regions not checked; the browser will come back", "err", err)
	if !startStream(w, reconnectLater) {
		return
	}
	b, _ := json.Marshal(liveUpdate{}) // no region: the page's figures may all be stale
	_, _ = fmt.Fprintf(w, "event: summary\ndata: %s\n\n", b)
}

// startStream sends an event stream's headers and the browser's reconnect
// delay; false if the browser has gone.
func startStream(w http.ResponseWriter, retry time.Duration) bool {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Tell a buffering reverse proxy (nginx) to pass events on at once.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, err := fmt.Fprintf(w, "retry: %d\n\n", retry.Milliseconds())
	return err == nil && rc.Flush() == nil
}

// stream sends server-sent events named "summary", one per region update
// (a liveUpdate in JSON), until the browser leaves, the server stops, or
// the session's token is due for renewal. Then the stream ends and the
// browser's EventSource reconnects: that request renews the session (its
// cookie) and opens a stream with the new token. A stream does not outlive
// the token it was opened with.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, sess *session.Session, regions []string) {
	if !startStream(w, reconnect) {
		return
	}
	rc := http.NewResponseController(w)
	now := s.now()
	end := s.sessions.RefreshAt(sess)
	if !end.After(now) {
		// Renewal is overdue (it failed): go on with the old token while
		// it lasts, but not for so short a time that the browser comes
		// straight back.
		end = sess.Expiry.Add(-reconnect - time.Second)
		if end.Before(now.Add(minStream)) {
			end = now.Add(minStream)
		}
	}
	deadline := time.NewTimer(end.Sub(now))
	defer deadline.Stop()

	sub := s.hub.Subscribe(live.Viewer{Key: sess.Subject + " " + sess.Grant, Token: sess.IDToken, Expires: sess.Expiry}, regions...)
	defer sub.Close()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-deadline.C:
			endForRenewal(w)
			return
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case <-sub.Ready():
			for _, u := range sub.Take() {
				if u.Renew {
					endForRenewal(w)
					return
				}
				b, err := json.Marshal(toLiveUpdate(u))
				if err != nil {
					s.log.Error("encode live update", "err", err)
					return
				}
				if _, err := fmt.Fprintf(w, "event: summary\ndata: %s\n\n", b); err != nil {
					return
				}
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// endForRenewal tells the page that the stream ends so that the browser
// reconnects with a renewed session: a planned pause, not a failure, which
// the page need not announce.
func endForRenewal(w http.ResponseWriter) {
	_, _ = fmt.Fprint(w, "event: renew\ndata: {}\n\n")
	_ = http.NewResponseController(w).Flush()
}

func toLiveUpdate(u live.Update) liveUpdate {
	if !u.Connected || u.Summary == nil {
		return liveUpdate{Region: u.Region}
	}
	v := summaryToView(u.Summary)
	return liveUpdate{Region: u.Region, Connected: true, Sig: v.Sig, Fields: v.Fields}
}
