package pg

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// UUIDs converts ids for a uuid[] parameter; "" becomes NULL.
//
// Pass a []string instead and pgx, which sends uuid[] in binary and has
// no binary encoding for a string element, first fails — formatting the
// whole slice into an error — and then sends the array as text for the
// server to parse: a tenth of the projection's CPU went on that error.
func UUIDs(ids []string) ([]pgtype.UUID, error) {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		if id == "" {
			continue
		}
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("%q is not a UUID", id)
		}
		out[i] = pgtype.UUID{Bytes: u, Valid: true}
	}
	return out, nil
}
