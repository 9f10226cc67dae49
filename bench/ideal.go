package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// ideal is the least a stage update must do: one transaction that writes
// one row and one outbox row, four round trips (BEGIN, INSERT, INSERT,
// COMMIT), over the same PostgreSQL as the services.
type ideal struct {
	pool    *pgxpool.Pool
	payload []byte
}

func newIdeal(ctx context.Context, url, schema string, conns int) (*ideal, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("ideal path: %w", err)
	}
	cfg.MaxConns = int32(conns)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ideal path: %w", err)
	}
	// The same shapes as a stage service's record and outbox (without the
	// outbox's NOTIFY trigger: the least a change must do).
	for _, q := range []string{
		`CREATE SCHEMA IF NOT EXISTS ` + schema,
		`CREATE TABLE IF NOT EXISTS record (application_id uuid PRIMARY KEY, region text NOT NULL, state int NOT NULL,
			state_entered_at timestamptz NOT NULL, version bigint NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
			subject text NOT NULL, payload bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz)`,
		`CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			pool.Close()
			return nil, fmt.Errorf("ideal path: %w", err)
		}
	}
	payload := make([]byte, 220) // about an event's size
	_, _ = rand.Read(payload)
	return &ideal{pool: pool, payload: payload}, nil
}

func (i *ideal) close() { i.pool.Close() }

// run makes the ideal transaction from n callers for d.
func (i *ideal) run(ctx context.Context, n int, d time.Duration) latency {
	// Warm the connections up first.
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _ = i.tx(ctx) })
	}
	wg.Wait()
	until := time.Now().Add(d)
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	var first error
	for range n {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(until) {
				start := time.Now()
				if err := i.tx(ctx); err != nil {
					mu.Lock()
					errs++
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	s := summarise(all, d)
	s.errors, s.firstErr = errs, first
	return s
}

func (i *ideal) tx(ctx context.Context) error {
	tx, err := i.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit a no-op
	id := uuid.Must(uuid.NewV7())
	if _, err := tx.Exec(ctx, `INSERT INTO record (application_id, region, state, state_entered_at, version) VALUES ($1, $2, $3, now(), 1)`,
		id, "london", 1); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3)`,
		uuid.Must(uuid.NewV7()), "london.application.submitted", i.payload); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// signingSigner signs the bench's tokens.
func signingSigner() (*auth.Signer, error) {
	return auth.KeyConfig{Ed25519PrivateKey: signingSeed}.Signer()
}

// londonToday is today's date in England and Wales (a start date today
// may be confirmed at once).
func londonToday() *commonv1.Date {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		loc = time.UTC
	}
	return event.Date(time.Now().In(loc))
}

// runBatches is the least an import of n rows must do, batch rows per
// transaction: the rows and as many outbox rows, each set in one
// multi-row INSERT (BEGIN, INSERT, INSERT, COMMIT), inFlight transactions
// at once. It returns rows/s.
func (i *ideal) runBatches(ctx context.Context, n, batch, inFlight int) (float64, error) {
	if err := i.batchTx(ctx, batch); err != nil { // warm a connection up
		return 0, err
	}
	start := time.Now()
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for from := 0; from < n; from += batch {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := i.batchTx(ctx, min(batch, n-from)); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), first
}

func (i *ideal) batchTx(ctx context.Context, n int) error {
	ids, events, subjects, payloads := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]string, n), make([][]byte, n)
	for k := range n {
		ids[k], events[k] = uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
		subjects[k], payloads[k] = "london.application.submitted", i.payload
	}
	tx, err := i.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit a no-op
	if _, err := tx.Exec(ctx, `INSERT INTO record (application_id, region, state, state_entered_at, version)
		SELECT id, 'london', 1, now(), 1 FROM unnest($1::uuid[]) AS id`, ids); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, subject, payload)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[])`, events, subjects, payloads); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
