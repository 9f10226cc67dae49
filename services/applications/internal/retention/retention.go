// Package retention runs the applications service's retention job: on a
// schedule, one replica at a time, it erases the personal data of
// candidates whose retention period has run out (intake.RetentionPolicy),
// through the same path as EraseCandidate.
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probation-recruitment/pipeline/services/applications/internal/intake"
)

// Store is what the job needs of storage: the applications due, and a lock
// that one replica holds while it runs.
type Store interface {
	intake.RetentionStore
	// TryLeader runs fn unless another replica holds the lock named name,
	// and reports whether fn ran.
	TryLeader(ctx context.Context, name string, fn func(context.Context) error) (bool, error)
}

// Batch is how many candidates one pass looks up at a time.
const Batch = 500

// Job is the retention job of one replica.
type Job struct {
	svc      *intake.Service
	store    Store
	policy   intake.RetentionPolicy
	interval time.Duration
	log      *slog.Logger

	erased prometheus.Counter
	runs   *prometheus.CounterVec
}

// New returns a job that applies policy every interval; its metrics go to
// reg.
func New(svc *intake.Service, store Store, policy intake.RetentionPolicy, interval time.Duration, reg prometheus.Registerer, log *slog.Logger) *Job {
	j := &Job{
		svc: svc, store: store, policy: policy, interval: interval, log: log,
		erased: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "retention_erased_total", Help: "Candidates whose personal data the retention job erased.",
		}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "retention_runs_total", Help: "Retention passes by outcome: done, not_leader (another replica ran it), failed.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(j.erased, j.runs)
	return j
}

// Erased is the counter of candidates erased, for tests.
func (j *Job) Erased() prometheus.Counter { return j.erased }

// Run runs a pass at once and then every interval until ctx ends. A failed
// pass is logged and tried again at the next interval.
func (j *Job) Run(ctx context.Context) error {
	j.log.Info("retention job", "after_end", j.policy.AfterEnd.String(), "after_start", j.policy.AfterStart.String(), "interval", j.interval.String())
	t := time.NewTicker(j.interval)
	defer t.Stop()
	for {
		if _, _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
			j.log.Error("retention pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// RunOnce erases every candidate due now, if no other replica is doing so;
// it returns how many it erased and whether it held the lock.
func (j *Job) RunOnce(ctx context.Context) (erased int, leader bool, err error) {
	start := time.Now()
	leader, err = j.store.TryLeader(ctx, "retention", func(ctx context.Context) error {
		for {
			n, err := j.svc.ApplyRetention(ctx, j.store, j.policy, Batch)
			erased += n
			j.erased.Add(float64(n))
			if err != nil || n < Batch {
				return err
			}
		}
	})
	switch {
	case err != nil:
		j.runs.WithLabelValues("failed").Inc()
		return erased, leader, err
	case !leader:
		j.runs.WithLabelValues("not_leader").Inc()
		j.log.Debug("retention pass skipped: another replica holds the lock")
	default:
		j.runs.WithLabelValues("done").Inc()
		j.log.Info("retention pass", "erased", erased, "took", time.Since(start).Round(time.Millisecond).String())
	}
	return erased, leader, nil
}
