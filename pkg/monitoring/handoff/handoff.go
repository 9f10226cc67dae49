// Package handoff carries equality monitoring answers between services:
// the contract's messages (recruitment.equality.v1) and the one way answers
// leave the service that receives them — Deposit, an INSERT into the
// equality service's answers table (created by Migrations), which the
// depositing service's database role may write and never read.
package handoff

import (
	"context"
	"embed"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	equalityv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
)

// CharacteristicFromProto maps the proto enum to a characteristic; false for none.
func CharacteristicFromProto(c equalityv1.Characteristic) (monitoring.Characteristic, bool) {
	if c <= 0 || int(c) > len(monitoring.Characteristics) {
		return "", false
	}
	return monitoring.Characteristics[c-1], true
}

// CharacteristicToProto maps a characteristic to the proto enum.
func CharacteristicToProto(c monitoring.Characteristic) equalityv1.Characteristic {
	return equalityv1.Characteristic(slices.Index(monitoring.Characteristics, c) + 1)
}

// AnswersFromProto reads the request's answers (nil: none).
func AnswersFromProto(m *equalityv1.MonitoringAnswers) monitoring.Answers {
	if m == nil {
		return nil
	}
	a := monitoring.Answers{
		monitoring.AgeBand: m.GetAgeBand(), monitoring.Sex: m.GetSex(), monitoring.GenderIdentity: m.GetGenderIdentity(), monitoring.EthnicGroup: m.GetEthnicGroup(),
		monitoring.Disability: m.GetDisability(), monitoring.ReligionOrBelief: m.GetReligionOrBelief(), monitoring.SexualOrientation: m.GetSexualOrientation(),
		monitoring.CaringResponsibilities: m.GetCaringResponsibilities(), monitoring.JusticeExperience: m.GetJusticeExperience(),
	}
	for c, v := range a {
		if v == "" {
			delete(a, c)
		}
	}
	if len(a) == 0 {
		return nil
	}
	return a
}

// AnswersToProto is the answers as the API carries them (the export).
func AnswersToProto(a monitoring.Answers) *equalityv1.MonitoringAnswers {
	return &equalityv1.MonitoringAnswers{
		AgeBand: a[monitoring.AgeBand], Sex: a[monitoring.Sex], GenderIdentity: a[monitoring.GenderIdentity],
		EthnicGroup: a[monitoring.EthnicGroup], Disability: a[monitoring.Disability], ReligionOrBelief: a[monitoring.ReligionOrBelief],
		SexualOrientation: a[monitoring.SexualOrientation], CaringResponsibilities: a[monitoring.CaringResponsibilities],
		JusticeExperience: a[monitoring.JusticeExperience],
	}
}

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations create the answers table in the equality service's schema.
var Migrations = pg.Embedded("monitoring", migrations, "migrations")

// Deposit writes an application's answers into the answers table of
// schema (the equality service's), in tx — the transaction that stores the
// application, so both or neither commit. It needs only INSERT on that
// table: the depositor cannot read back what it wrote (docs/design.md).
// No answers, no row. A second deposit for the same application (a
// retried import) changes nothing: ON CONFLICT DO NOTHING needs no SELECT.
func Deposit(ctx context.Context, tx pgx.Tx, schema, applicationID string, a monitoring.Answers) error {
	if len(a) == 0 {
		return nil
	}
	cols := make([]string, 0, len(monitoring.Characteristics)+1)
	args := make([]any, 0, len(monitoring.Characteristics)+1)
	cols, args = append(cols, "application_id"), append(args, applicationID)
	for _, c := range monitoring.Characteristics {
		if v, ok := a[c]; ok && v != "" {
			cols, args = append(cols, string(c)), append(args, v)
		}
	}
	ph := make([]string, len(args))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	sql := "INSERT INTO " + pgx.Identifier{schema, "answers"}.Sanitize() + " (" + strings.Join(cols, ", ") + ") VALUES (" +
		strings.Join(ph, ", ") + ") ON CONFLICT DO NOTHING"
	return pg.Defer(ctx, tx, sql, args...)
}
