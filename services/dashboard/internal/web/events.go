package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/region"
	"github.com/probation-recruitment/pipeline/services/dashboard/internal/live"
)

// overviewEvents streams the summaries of the regions named in the query
// (every region when none is).
func (s *Server) overviewEvents(w http.ResponseWriter, r *http.Request) {
	regions, ok := eventRegions(r)
	if !ok {
		s.fail(w, r, errNotFound)
		return
	}
	s.stream(w, r, regions)
}

// regionEvents streams one region's summary.
func (s *Server) regionEvents(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("region")
	if !region.Valid(code) {
		s.fail(w, r, errNotFound)
		return
	}
	s.stream(w, r, []string{code})
}

// stream sends server-sent events named "summary", one per region update
// (a liveUpdate in JSON), until the browser leaves or the server stops.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, regions []string) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Tell a buffering reverse proxy (nginx) to pass events on at once.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The browser reconnects by itself after a drop; two seconds keeps the
	// page close to live without hammering a restarting server.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil || rc.Flush() != nil {
		return
	}

	sub := s.hub.Subscribe(regions...)
	defer sub.Close()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case <-sub.Ready():
			for _, u := range sub.Take() {
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

func toLiveUpdate(u live.Update) liveUpdate {
	if !u.Connected || u.Summary == nil {
		return liveUpdate{Region: u.Region}
	}
	v := summaryToView(u.Summary)
	return liveUpdate{Region: u.Region, Connected: true, Sig: v.Sig, Fields: v.Fields}
}
