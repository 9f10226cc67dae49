package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// deferringTx is a transaction that holds back writes whose results
// nobody reads (Defer) and sends them with its next statement, or just
// before it commits, in one round trip (a pgx.Batch). A write deferred
// then reaches PostgreSQL before anything that could observe it: every
// statement of the transaction (Exec, Query, QueryRow, SendBatch,
// CopyFrom, a savepoint) first sends what is held, in order, so what the
// transaction reads and what it commits are exactly what they would be
// without deferring; only the round trips are fewer. A deferred write's
// error is returned by the statement or the commit that sent it.
type deferringTx struct {
	pgx.Tx
	held []heldWrite
}

type heldWrite struct {
	sql  string
	args []any
}

// Defer runs a write in tx whose result the caller does not read: held
// back and sent with tx's next statement or before its commit when tx is
// a transaction of InTx (one round trip for all of them), otherwise at
// once.
func Defer(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	if d, ok := tx.(*deferringTx); ok {
		d.held = append(d.held, heldWrite{sql: sql, args: args})
		return nil
	}
	_, err := tx.Exec(ctx, sql, args...)
	return err
}

// Deferring returns a view of tx whose Exec is Defer (its command tag is
// empty): for code that writes through a pgx.Tx and reads nothing back,
// such as a record's Save.
func Deferring(tx pgx.Tx) pgx.Tx {
	if d, ok := tx.(*deferringTx); ok {
		return deferOnly{d}
	}
	return tx
}

type deferOnly struct{ *deferringTx }

func (d deferOnly) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, Defer(ctx, d.deferringTx, sql, args...)
}

// batchWithHeld returns a batch holding the held writes, which it then
// forgets.
func (d *deferringTx) batchWithHeld() *pgx.Batch {
	b := &pgx.Batch{}
	for _, w := range d.held {
		b.Queue(w.sql, w.args...)
	}
	d.held = nil
	return b
}

// sendHeld sends the held writes with b's statements queued after them
// and checks the held ones' results; the caller reads the rest from br.
func (d *deferringTx) sendHeld(ctx context.Context, after func(*pgx.Batch)) (pgx.BatchResults, error) {
	n := len(d.held)
	b := d.batchWithHeld()
	after(b)
	br := d.Tx.SendBatch(ctx, b)
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("deferred write: %w", err)
		}
	}
	return br, nil
}

// flush sends the held writes, if any, in one round trip.
func (d *deferringTx) flush(ctx context.Context) error {
	if len(d.held) == 0 {
		return nil
	}
	if len(d.held) == 1 {
		w := d.held[0]
		d.held = nil
		if _, err := d.Tx.Exec(ctx, w.sql, w.args...); err != nil {
			return fmt.Errorf("deferred write: %w", err)
		}
		return nil
	}
	br, err := d.sendHeld(ctx, func(*pgx.Batch) {})
	if err != nil {
		return err
	}
	return br.Close()
}

func (d *deferringTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if len(d.held) == 0 {
		return d.Tx.Exec(ctx, sql, args...)
	}
	br, err := d.sendHeld(ctx, func(b *pgx.Batch) { b.Queue(sql, args...) })
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (d *deferringTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if len(d.held) == 0 {
		return d.Tx.Query(ctx, sql, args...)
	}
	br, err := d.sendHeld(ctx, func(b *pgx.Batch) { b.Queue(sql, args...) })
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (d *deferringTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if len(d.held) == 0 {
		return d.Tx.QueryRow(ctx, sql, args...)
	}
	br, err := d.sendHeld(ctx, func(b *pgx.Batch) { b.Queue(sql, args...) })
	if err != nil {
		return errRow{err}
	}
	return batchRow{Row: br.QueryRow(), br: br}
}

func (d *deferringTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := d.flush(ctx); err != nil {
		return errBatch{err: err}
	}
	return d.Tx.SendBatch(ctx, b)
}

func (d *deferringTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := d.flush(ctx); err != nil {
		return 0, err
	}
	return d.Tx.CopyFrom(ctx, table, columns, src)
}

// Begin starts a savepoint after sending what is held; the savepoint
// defers its own writes the same way.
func (d *deferringTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := d.flush(ctx); err != nil {
		return nil, err
	}
	sp, err := d.Tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &deferringTx{Tx: sp}, nil
}

func (d *deferringTx) Commit(ctx context.Context) error {
	if err := d.flush(ctx); err != nil {
		return err
	}
	return d.Tx.Commit(ctx)
}

func (d *deferringTx) Rollback(ctx context.Context) error {
	d.held = nil
	return d.Tx.Rollback(ctx)
}

// batchRows are a query's rows read from a batch, which closes with them.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}

// batchRow is a query's row read from a batch, which closes once it is
// scanned.
type batchRow struct {
	pgx.Row
	br pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errBatch answers every read of a batch with the error of the held
// writes sent before it.
type errBatch struct {
	pgx.BatchResults // nil: only the methods below are answered
	err              error
}

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow{b.err} }
func (b errBatch) Close() error                     { return b.err }
