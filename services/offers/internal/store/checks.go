package store

import (
	"encoding/json"
	"fmt"
	"time"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	"github.com/probation-recruitment/pipeline/services/offers/internal/offer"
)

// checkRow is one element of the offers.checks column.
type checkRow struct {
	Condition   int32     `json:"condition"`
	Status      string    `json:"status"`
	WaiveReason int32     `json:"waive_reason,omitempty"`
	RecordedBy  string    `json:"recorded_by"`
	RecordedAt  time.Time `json:"recorded_at"`
}

func checksToRow(cs []offer.Check) ([]byte, error) {
	rows := make([]checkRow, len(cs))
	for i, c := range cs {
		rows[i] = checkRow{Condition: int32(c.Condition), Status: string(c.Status), WaiveReason: int32(c.WaiveReason),
			RecordedBy: c.RecordedBy, RecordedAt: c.RecordedAt}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return nil, fmt.Errorf("encode checks: %w", err)
	}
	return b, nil
}

func checksToDomain(b []byte) ([]offer.Check, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var rows []checkRow
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("decode checks: %w", err)
	}
	var out []offer.Check
	for _, r := range rows {
		out = append(out, offer.Check{Condition: commonv1.OfferCondition(r.Condition), Status: offer.CheckStatus(r.Status),
			WaiveReason: commonv1.CheckWaiveReason(r.WaiveReason), RecordedBy: r.RecordedBy, RecordedAt: r.RecordedAt.UTC()})
	}
	return out, nil
}
