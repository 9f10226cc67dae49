// Package idempotency makes a mutating call with a client-chosen request id
// apply once: the first call records, in the same transaction as its
// change, which record it changed, and a retry is answered by reading that
// record again.
//
// The request log holds no response and so no personal data: a response
// may carry a candidate's name, email and phone or a vetting note, which
// would otherwise outlive the record's own changes (a note cleared, a
// candidate anonymised) for as long as the log is kept. A row holds the
// caller's subject, the request id, the method, a SHA-256 digest of the
// request without its Undigested parts (to refuse the id's reuse for
// another request), and the id and
// version of the record the call left behind. Rows are deleted once older
// than the retention (Prune, run by the service runtime).
package idempotency

import (
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/validate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the request log in a service's schema.
var Migrations = pg.Embedded("request_log", migrations, "migrations")

// ErrReused is returned when a request id comes back with a different
// method or request body: a client bug that must not silently succeed.
var ErrReused = errors.New("request_id was already used for a different request")

// ErrNotKept is returned for a retry of a request recorded before the log
// stopped keeping responses: it was applied, and there is no record of
// what it changed to answer with.
var ErrNotKept = errors.New("request_id was already applied; its answer is no longer kept, so read the record to see the outcome")

// Key identifies one logical request. Ids are scoped to the caller so one
// caller can neither collide with nor read another's responses.
type Key struct {
	Caller    string
	RequestID string
	Method    string
}

// Ref is what the log keeps of a completed call: the record it changed
// (an application id, a campaign id, a region's thresholds) and that
// record's version after the change. The zero Ref is a call that changed
// no one record (a batch's header).
type Ref struct {
	ID      string
	Version int64
}

// Claim starts a request inside tx. If the request is new it returns
// claimed: the caller does its work and then calls Complete in the same
// transaction. If the request was completed before it returns the record
// the first call left behind. A concurrent first attempt holds the row
// lock until it commits or rolls back, so Claim waits for it and then
// answers.
func Claim(ctx context.Context, tx pgx.Tx, k Key, req proto.Message) (done Ref, claimed bool, err error) {
	fp, err := fingerprint(req)
	if err != nil {
		return Ref{}, false, err
	}
	tag, err := tx.Exec(ctx,
		`INSERT INTO request_log (caller, request_id, method, fingerprint) VALUES ($1, $2, $3, $4)
		 ON CONFLICT DO NOTHING`, k.Caller, k.RequestID, k.Method, fp)
	if err != nil {
		return Ref{}, false, fmt.Errorf("claim request id: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return Ref{}, true, nil
	}
	var method string
	var storedFP []byte
	var id *string
	var version *int64
	var answerable bool
	if err := tx.QueryRow(ctx,
		`SELECT method, fingerprint, record_id, record_version, answerable FROM request_log WHERE caller = $1 AND request_id = $2`,
		k.Caller, k.RequestID).Scan(&method, &storedFP, &id, &version, &answerable); err != nil {
		return Ref{}, false, fmt.Errorf("read request log: %w", err)
	}
	switch {
	case method != k.Method || string(storedFP) != string(fp):
		return Ref{}, false, ErrReused
	case !answerable:
		return Ref{}, false, ErrNotKept
	}
	if id != nil {
		done.ID = *id
	}
	if version != nil {
		done.Version = *version
	}
	return done, false, nil
}

// Complete records what a claimed request changed.
func Complete(ctx context.Context, tx pgx.Tx, k Key, done Ref) error {
	var id *string
	var version *int64
	if done != (Ref{}) {
		id, version = &done.ID, &done.Version
	}
	// Deferred (pg.Defer): it goes with the commit, one round trip for it
	// and the change's last writes.
	if err := pg.Defer(ctx, tx,
		`UPDATE request_log SET record_id = $3, record_version = $4, answerable = true WHERE caller = $1 AND request_id = $2`,
		k.Caller, k.RequestID, id, version); err != nil {
		return fmt.Errorf("complete request: %w", err)
	}
	return nil
}

// Undigested names the messages a request's digest leaves out, wherever
// they sit in it. The equality monitoring answers are a few codes each:
// their digest beside the rest of the request (which the service's schema
// holds) would give them back to whoever reads the log by hashing every
// combination. Leaving them out means a request id reused with other
// answers alone is a retry, answered by the first call (whose answers
// stand), not ErrReused.
var Undigested = map[protoreflect.FullName]bool{"recruitment.equality.v1.MonitoringAnswers": true}

func fingerprint(req proto.Message) ([]byte, error) {
	if req != nil && holdsUndigested(req.ProtoReflect().Descriptor(), map[protoreflect.FullName]bool{}) {
		req = proto.Clone(req)
		clearUndigested(req.ProtoReflect())
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("fingerprint request: %w", err)
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// Do runs apply at most once per key: in a transaction that apply's writes
// join (through ctx, see pg.WithTx), with the record it returns noted
// beside them. A retry of a completed request calls answer with that
// record instead, which reads it again (as the caller may see it now) to
// build the response; answer's error is the retry's.
func Do(ctx context.Context, pool *pgxpool.Pool, k Key, req proto.Message,
	apply func(ctx context.Context) (Ref, error), answer func(ctx context.Context, done Ref) error) error {
	return pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		done, claimed, err := Claim(ctx, tx, k, req)
		if err != nil {
			return err
		}
		if !claimed {
			return answer(pg.WithTx(ctx, tx), done)
		}
		done, err = apply(pg.WithTx(ctx, tx))
		if err != nil {
			return err
		}
		return Complete(ctx, tx, k, done)
	})
}

// Request is a mutating request with a client-chosen id.
type Request interface {
	proto.Message
	GetRequestId() string
}

// Once checks req's request id and runs apply at most once per caller and
// id (see Do), with the method name keeping different calls apart.
func Once(ctx context.Context, pool *pgxpool.Pool, caller, method string, req Request,
	apply func(ctx context.Context) (Ref, error), answer func(ctx context.Context, done Ref) error) error {
	if err := validate.RequestID(req.GetRequestId()); err != nil {
		return err
	}
	return Do(ctx, pool, Key{Caller: caller, RequestID: req.GetRequestId(), Method: method}, req, apply, answer)
}

// DefaultRetention is how long a request id is remembered unless the
// service is configured otherwise (REQUEST_LOG_RETENTION): far longer than
// any client retries a call.
const DefaultRetention = 7 * 24 * time.Hour

// MinRetention is the shortest retention allowed: a shorter one would
// forget a request id while a client may still be retrying it, and the
// retry would be applied a second time.
const MinRetention = time.Hour

// Prune deletes the request log's rows older than retention and returns
// how many it deleted. A retry of a pruned request is applied as a new
// one.
func Prune(ctx context.Context, pool *pgxpool.Pool, retention time.Duration) (int64, error) {
	tag, err := pool.Exec(ctx,
		`DELETE FROM request_log WHERE created_at < now() - make_interval(secs => $1)`, retention.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune request log: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Pruner deletes old rows of the request log periodically. Every replica
// of a service may run one: the deletes are the same and do no harm when
// they overlap.
type Pruner struct {
	pool      *pgxpool.Pool
	retention time.Duration
	every     time.Duration
	log       *slog.Logger
}

// NewPruner returns a Pruner that deletes rows older than retention (at
// least MinRetention; zero means DefaultRetention) every interval.
func NewPruner(pool *pgxpool.Pool, retention, every time.Duration, log *slog.Logger) (*Pruner, error) {
	if retention == 0 {
		retention = DefaultRetention
	}
	if retention < MinRetention {
		return nil, fmt.Errorf("request log retention %s is shorter than the minimum %s: a client's retry could be applied twice", retention, MinRetention)
	}
	if every <= 0 {
		return nil, fmt.Errorf("request log prune interval must be positive, not %s", every)
	}
	return &Pruner{pool: pool, retention: retention, every: every, log: log}, nil
}

// Run prunes at once and then every interval until ctx is done. A failed
// prune is logged and tried again at the next interval: the service goes
// on serving with a longer log.
func (p *Pruner) Run(ctx context.Context) error {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		n, err := Prune(ctx, p.pool, p.retention)
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.Warn("prune request log", "err", err)
		case n > 0:
			p.log.Info("pruned request log", "rows", n, "older_than", p.retention)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Claimed is what ClaimAll found for one key: claimed for this call, or
// done before (Done the record the first call left behind), or Err
// (ErrReused, ErrNotKept) for a key that cannot be answered.
type Claimed struct {
	Claimed bool
	Done    Ref
	Err     error
}

// ClaimAll claims many requests inside tx, as Claim does each, in two
// statements whatever their number: the keys must share one caller. Keys
// claimed here must be completed (CompleteAll) or released (ReleaseAll)
// in the same transaction.
func ClaimAll(ctx context.Context, tx pgx.Tx, caller string, ks []Key, reqs []proto.Message) ([]Claimed, error) {
	ids, methods, fps := make([]string, len(ks)), make([]string, len(ks)), make([][]byte, len(ks))
	for i, k := range ks {
		if k.Caller != caller {
			return nil, fmt.Errorf("claim request ids: key %d is %s's, not %s's", i, k.Caller, caller)
		}
		fp, err := fingerprint(reqs[i])
		if err != nil {
			return nil, err
		}
		ids[i], methods[i], fps[i] = k.RequestID, k.Method, fp
	}
	rows, err := tx.Query(ctx,
		`INSERT INTO request_log (caller, request_id, method, fingerprint)
		 SELECT $1, id, method, fp FROM unnest($2::text[], $3::text[], $4::bytea[]) AS k (id, method, fp)
		 ON CONFLICT DO NOTHING RETURNING request_id`, caller, ids, methods, fps)
	if err != nil {
		return nil, fmt.Errorf("claim request ids: %w", err)
	}
	fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("claim request ids: %w", err)
	}
	out := make([]Claimed, len(ks))
	claimed := make(map[string]bool, len(fresh))
	for _, id := range fresh {
		claimed[id] = true
	}
	var seen []string
	for i, id := range ids {
		if claimed[id] {
			out[i].Claimed = true
			delete(claimed, id) // a key given twice: the second is logged, not claimed
		} else {
			seen = append(seen, id)
		}
	}
	if len(seen) == 0 {
		return out, nil
	}
	type logged struct {
		method     string
		fp         []byte
		id         *string
		version    *int64
		answerable bool
	}
	before := map[string]logged{}
	rows, err = tx.Query(ctx, `SELECT request_id, method, fingerprint, record_id, record_version, answerable
		FROM request_log WHERE caller = $1 AND request_id = ANY($2)`, caller, seen)
	if err != nil {
		return nil, fmt.Errorf("read request log: %w", err)
	}
	for rows.Next() {
		var id string
		var l logged
		if err := rows.Scan(&id, &l.method, &l.fp, &l.id, &l.version, &l.answerable); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read request log: %w", err)
		}
		before[id] = l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read request log: %w", err)
	}
	for i, id := range ids {
		if out[i].Claimed {
			continue
		}
		l, ok := before[id]
		switch {
		case !ok:
			return nil, fmt.Errorf("read request log: request id %s neither claimed nor logged", id)
		case l.method != methods[i] || string(l.fp) != string(fps[i]):
			out[i].Err = ErrReused
		case !l.answerable:
			out[i].Err = ErrNotKept
		default:
			if l.id != nil {
				out[i].Done.ID = *l.id
			}
			if l.version != nil {
				out[i].Done.Version = *l.version
			}
		}
	}
	return out, nil
}

// CompleteAll records what each claimed request changed, as Complete does
// each, in one deferred statement (pg.Defer).
func CompleteAll(ctx context.Context, tx pgx.Tx, caller string, ks []Key, done []Ref) error {
	if len(ks) == 0 {
		return nil
	}
	ids, recIDs, versions := make([]string, len(ks)), make([]*string, len(ks)), make([]*int64, len(ks))
	for i, k := range ks {
		ids[i] = k.RequestID
		if done[i] != (Ref{}) {
			recIDs[i], versions[i] = &done[i].ID, &done[i].Version
		}
	}
	if err := pg.Defer(ctx, tx,
		`UPDATE request_log AS l SET record_id = d.record_id, record_version = d.record_version, answerable = true
		 FROM unnest($2::text[], $3::text[], $4::bigint[]) AS d (request_id, record_id, record_version)
		 WHERE l.caller = $1 AND l.request_id = d.request_id`, caller, ids, recIDs, versions); err != nil {
		return fmt.Errorf("complete requests: %w", err)
	}
	return nil
}

// ReleaseAll forgets claimed requests that failed, so that a retry of
// each applies it afresh (as a rolled-back Do leaves no trace).
func ReleaseAll(ctx context.Context, tx pgx.Tx, caller string, ks []Key) error {
	if len(ks) == 0 {
		return nil
	}
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = k.RequestID
	}
	if err := pg.Defer(ctx, tx, `DELETE FROM request_log WHERE caller = $1 AND request_id = ANY($2)`, caller, ids); err != nil {
		return fmt.Errorf("release requests: %w", err)
	}
	return nil
}

// holdsUndigested reports whether messages of type d can contain an
// Undigested message, so a request without one is not cloned.
func holdsUndigested(d protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if Undigested[d.FullName()] {
		return true
	}
	if seen[d.FullName()] {
		return false
	}
	seen[d.FullName()] = true
	fs := d.Fields()
	for i := range fs.Len() {
		f := fs.Get(i)
		if f.IsMap() {
			f = f.MapValue()
		}
		if f.Message() != nil && holdsUndigested(f.Message(), seen) {
			return true
		}
	}
	return false
}

// clearUndigested removes every Undigested message from m, at any depth.
func clearUndigested(m protoreflect.Message) {
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.Message() == nil || (f.IsMap() && f.MapValue().Message() == nil):
		case (!f.IsMap() && Undigested[f.Message().FullName()]) || (f.IsMap() && Undigested[f.MapValue().Message().FullName()]):
			m.Clear(f)
		case f.IsList():
			l := v.List()
			for i := range l.Len() {
				clearUndigested(l.Get(i).Message())
			}
		case f.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				clearUndigested(mv.Message())
				return true
			})
		default:
			clearUndigested(v.Message())
		}
		return true
	})
}
