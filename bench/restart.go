package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/event"
	eventsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
)

// restartProbe is one first report after a restart of the service on the
// full projection.
type restartProbe struct {
	name string
	// ready is from the process's start to /healthz answering 200; first
	// the report asked then (connecting included).
	ready, first time.Duration
	err          error
}

// firstReports are the reports asked first after a restart, one restart
// each, of region london where they take one.
var firstReports = []string{"ListRegionSummaries (12 regions)", "GetRegionSummary", "GetFunnel", "GetTimeToHire (all regions, 90 days)"}

// measureRestarts restarts the service once per firstReports entry and
// times the first report after it is ready.
func measureRestarts(ctx context.Context, bin string, env []string, grpcAddr, adminAddr string, r *report) error {
	for _, name := range firstReports {
		x := rpcNamed(name)
		start := time.Now()
		svc, err := startService(bin, env, adminAddr)
		if err != nil {
			return err
		}
		p := restartProbe{name: name, ready: time.Since(start)}
		client, closeConn, err := dialReports(grpcAddr)
		if err != nil {
			svc.stop()
			return err
		}
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		t0 := time.Now()
		p.err = x.call(callCtx, client, "london")
		p.first = time.Since(t0)
		cancel()
		closeConn()
		svc.stop()
		say("  after a restart (ready in %s): first %s %s (err %v)", p.ready.Round(time.Millisecond), name, p.first.Round(time.Millisecond), p.err)
		r.restarts = append(r.restarts, p)
	}
	return nil
}

// updatesRun is the report load while updates flow into the projection.
type updatesRun struct {
	rate               int
	published, applied uint64
	elapsed            time.Duration
	behindAtEnd        uint64
	drained            time.Duration
	results            []result
	publishErr         error
}

// loadUnderUpdates starts the service on the full projection, warms its
// cache, then loads every report RPC as loadReports does while new
// applications' events are published at rate per second and projected by
// the service's consumer (the events a write path would publish; the
// services' own write path reaches ~300 updates/s on this machine, see
// docs/performance.md, so the consumer is fed directly).
func loadUnderUpdates(ctx context.Context, js jetstream.JetStream, bin string, env []string, grpcAddr, adminAddr string, o options, r *report) error {
	svc, err := startService(bin, env, adminAddr)
	if err != nil {
		return err
	}
	defer svc.stop()
	client, closeConn, err := dialReports(grpcAddr)
	if err != nil {
		return err
	}
	defer closeConn()
	warmCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err = rpcNamed("ListRegionSummaries (12 regions)").call(warmCtx, client, "london") // loads every region
	cancel()
	if err != nil {
		return fmt.Errorf("warm the cache: %w", err)
	}
	u := &updatesRun{rate: o.updates}
	floor0, _, err := ackFloor(ctx, js)
	if err != nil {
		return err
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	var published atomic.Uint64
	pubDone := make(chan error, 1)
	start := time.Now()
	go func() { pubDone <- publishPaced(pubCtx, js, o, &published) }()
	u.results, err = loadEach(ctx, client, adminAddr, o, "updates-")
	stopPub()
	u.publishErr = <-pubDone
	u.elapsed = time.Since(start)
	floor1, last, ferr := ackFloor(ctx, js)
	if err != nil {
		return err
	}
	if ferr != nil {
		return ferr
	}
	u.published, u.applied, u.behindAtEnd = published.Load(), floor1-floor0, last-floor1
	drainStart := time.Now()
	for floor1 < last && time.Since(drainStart) < 10*time.Minute {
		time.Sleep(100 * time.Millisecond)
		if floor1, _, err = ackFloor(ctx, js); err != nil {
			return err
		}
	}
	u.drained = time.Since(drainStart)
	say("  under updates: published %d (%.0f/s), applied %d (%.0f/s), %d behind at the end, drained in %s",
		u.published, float64(u.published)/u.elapsed.Seconds(), u.applied, float64(u.applied)/u.elapsed.Seconds(), u.behindAtEnd, u.drained.Round(time.Millisecond))
	r.updates = u
	return nil
}

// ackFloor returns the reporting consumer's acknowledged stream sequence
// and the stream's last.
func ackFloor(ctx context.Context, js jetstream.JetStream) (floor, last uint64, err error) {
	c, err := js.Consumer(ctx, "RECRUITMENT", "reporting")
	if err != nil {
		return 0, 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	s, err := js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		return 0, 0, err
	}
	sinfo, err := s.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return info.AckFloor.Stream, sinfo.State.LastSeq, nil
}

// publishPaced publishes new campaigns' events at o.updates per second
// until ctx ends.
func publishPaced(ctx context.Context, js jetstream.JetStream, o options, n *atomic.Uint64) error {
	w := &workload{rng: rand.New(rand.NewPCG(o.seed+1000, o.seed+1001)), appsPerCampaign: o.perCampaign}
	start := time.Now()
	var pubErr error
	w.emit = func(ev *eventsv1.Event) {
		if pubErr != nil || ctx.Err() != nil {
			return
		}
		b, err := event.Marshal(ev)
		if err != nil {
			pubErr = err
			return
		}
		subject, _ := event.SubjectSuffix(ev)
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: "recruitment." + subject, Data: b}, jetstream.WithMsgID(ev.GetEventId()),
			jetstream.WithStallWait(time.Minute)); err != nil {
			pubErr = err
			return
		}
		sent := n.Add(1)
		if due := start.Add(time.Duration(sent) * time.Second / time.Duration(o.updates)); time.Until(due) > 0 {
			select {
			case <-time.After(time.Until(due)):
			case <-ctx.Done():
			}
		}
	}
	for ctx.Err() == nil && pubErr == nil {
		w.campaign()
	}
	return pubErr
}

// rpcNamed returns the report RPC of rpcs named name.
func rpcNamed(name string) rpc {
	for _, c := range rpcs {
		if c.name == name {
			return c
		}
	}
	panic("no report RPC " + name)
}
