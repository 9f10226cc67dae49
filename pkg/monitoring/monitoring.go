// Package monitoring holds the equality monitoring questions (issue 17): the
// characteristics, their category codes, the validation of a candidate's
// answers. It imports no database, broker or transport (the equality
// service's domain package uses it); handoff holds the contract's messages
// and the deposit into the equality service's store.
//
// Monitoring answers are special category data (UK GDPR Art. 9). They live
// only in the equality service's schema (handoff.Migrations), never in
// events, never in the depositing service's own tables; docs/design.md,
// "Equality monitoring", has the reasoning.
package monitoring

import (
	"slices"
	"strings"

	"github.com/probation-recruitment/pipeline/pkg/validate"
)

// Characteristic is one monitoring question, named as its answers column.
type Characteristic string

// The questions, in the order reports list them.
const (
	AgeBand                Characteristic = "age_band"
	Sex                    Characteristic = "sex"
	GenderIdentity         Characteristic = "gender_identity"
	EthnicGroup            Characteristic = "ethnic_group"
	Disability             Characteristic = "disability"
	ReligionOrBelief       Characteristic = "religion_or_belief"
	SexualOrientation      Characteristic = "sexual_orientation"
	CaringResponsibilities Characteristic = "caring_responsibilities"
	JusticeExperience      Characteristic = "justice_experience"
)

// Characteristics lists every question.
var Characteristics = []Characteristic{AgeBand, Sex, GenderIdentity, EthnicGroup, Disability, ReligionOrBelief,
	SexualOrientation, CaringResponsibilities, JusticeExperience}

// PreferNotToSay is an answer every question accepts.
const PreferNotToSay = "prefer_not_to_say"

// NotAnswered is the category reports give an application with no answer
// to a question (stored as NULL).
const NotAnswered = "not_answered"

// categories are each question's declared categories. Ethnic group uses the
// five high-level groups of the ONS 2021 census (England and Wales): the
// nineteen detailed groups would almost all be suppressed at regional
// volumes, and a finer grouping can be added by mapping to these.
var categories = map[Characteristic][]string{
	AgeBand:                {"16_24", "25_34", "35_44", "45_54", "55_64", "65_plus"},
	Sex:                    {"female", "male"},
	GenderIdentity:         {"yes", "no"},
	EthnicGroup:            {"asian", "black", "mixed", "white", "other"},
	Disability:             {"yes", "no"},
	ReligionOrBelief:       {"no_religion", "christian", "buddhist", "hindu", "jewish", "muslim", "sikh", "other"},
	SexualOrientation:      {"straight", "gay_lesbian", "bisexual", "other"},
	CaringResponsibilities: {"yes", "no"},
	JusticeExperience:      {"yes", "no"},
}

// Categories returns c's declared categories, then PreferNotToSay and
// NotAnswered: the rows of its report, in order.
func Categories(c Characteristic) []string {
	return append(slices.Clone(categories[c]), PreferNotToSay, NotAnswered)
}

// Declared reports whether answer is one of c's declared categories (not
// PreferNotToSay, not NotAnswered): what a declaration rate counts.
func Declared(c Characteristic, answer string) bool {
	return slices.Contains(categories[c], answer)
}

// Answers are one candidate's answers by question; a question missing, or
// "", is not answered.
type Answers map[Characteristic]string

// Validate checks every answer is a category of its question or
// PreferNotToSay; field prefixes the field names of its errors
// ("monitoring" → "monitoring.sex"). The error names the allowed codes,
// never the value given (it is special category data, and errors are
// logged).
func (a Answers) Validate(field string) error {
	for _, c := range Characteristics {
		v, ok := a[c]
		if !ok || v == "" || v == PreferNotToSay || Declared(c, v) {
			continue
		}
		return validate.Field(field+"."+string(c), "must be one of "+strings.Join(categories[c], ", ")+", "+PreferNotToSay+" or empty")
	}
	for c := range a {
		if !slices.Contains(Characteristics, c) {
			return validate.Field(field+"."+string(c), "is not a monitoring question")
		}
	}
	return nil
}
