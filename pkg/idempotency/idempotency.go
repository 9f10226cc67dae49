// Package idempotency makes a mutating call with a client-chosen request id
// apply once: the first call records its response in the same transaction
// as its change, and a retry gets that response back.
package idempotency

import (
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

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

// Key identifies one logical request. Ids are scoped to the caller so one
// caller can neither collide with nor read another's responses.
type Key struct {
	Caller    string
	RequestID string
	Method    string
}

// Claim starts a request inside tx. If the request is new it returns
// (nil, true): the caller does its work and then calls Complete in the same
// transaction. If the request was completed before it returns the stored
// response and false. A concurrent first attempt holds the row lock until
// it commits or rolls back, so Claim waits for it and then answers.
func Claim(ctx context.Context, tx pgx.Tx, k Key, req proto.Message) (stored []byte, claimed bool, err error) {
	fp, err := fingerprint(req)
	if err != nil {
		return nil, false, err
	}
	tag, err := tx.Exec(ctx,
		`INSERT INTO request_log (caller, request_id, method, fingerprint) VALUES ($1, $2, $3, $4)
		 ON CONFLICT DO NOTHING`, k.Caller, k.RequestID, k.Method, fp)
	if err != nil {
		return nil, false, fmt.Errorf("claim request id: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil, true, nil
	}
	var method string
	var storedFP []byte
	if err := tx.QueryRow(ctx,
		`SELECT method, fingerprint, response FROM request_log WHERE caller = $1 AND request_id = $2`,
		k.Caller, k.RequestID).Scan(&method, &storedFP, &stored); err != nil {
		return nil, false, fmt.Errorf("read request log: %w", err)
	}
	if method != k.Method || string(storedFP) != string(fp) {
		return nil, false, ErrReused
	}
	return stored, false, nil
}

// Complete stores the response of a claimed request.
func Complete(ctx context.Context, tx pgx.Tx, k Key, resp proto.Message) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	if err != nil {
		return fmt.Errorf("store response: %w", err)
	}
	if _, err := tx.Exec(ctx,
		`UPDATE request_log SET response = $3 WHERE caller = $1 AND request_id = $2`,
		k.Caller, k.RequestID, b); err != nil {
		return fmt.Errorf("store response: %w", err)
	}
	return nil
}

func fingerprint(req proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("fingerprint request: %w", err)
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// Do runs fn at most once per key: in a transaction that fn's writes join
// (through ctx, see pg.WithTx), with the response recorded beside them. A
// retry of a completed request fills resp with the first response instead.
func Do(ctx context.Context, pool *pgxpool.Pool, k Key, req, resp proto.Message, fn func(ctx context.Context) error) error {
	return pg.InTx(ctx, pool, func(tx pgx.Tx) error {
		stored, claimed, err := Claim(ctx, tx, k, req)
		if err != nil {
			return err
		}
		if !claimed {
			if err := proto.Unmarshal(stored, resp); err != nil {
				return fmt.Errorf("read stored response: %w", err)
			}
			return nil
		}
		if err := fn(pg.WithTx(ctx, tx)); err != nil {
			return err
		}
		return Complete(ctx, tx, k, resp)
	})
}

// Request is a mutating request with a client-chosen id.
type Request interface {
	proto.Message
	GetRequestId() string
}

// Once checks req's request id and runs fn at most once per caller and id
// (see Do), with the method name keeping different calls apart.
func Once(ctx context.Context, pool *pgxpool.Pool, caller, method string, req Request, resp proto.Message, fn func(ctx context.Context) error) error {
	if err := validate.RequestID(req.GetRequestId()); err != nil {
		return err
	}
	return Do(ctx, pool, Key{Caller: caller, RequestID: req.GetRequestId(), Method: method}, req, resp, fn)
}
