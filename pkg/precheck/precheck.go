// Package precheck holds the one rule the offers and reporting services
// share about pre-employment checks: which checks an offer has, given its
// conditions, and a check's code in reasons and reports.
package precheck

import (
	"slices"
	"strings"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// RightToWork is the check every offer has: the law requires it before
// employment starts, named as a condition or not; it may not be waived.
const RightToWork = commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK

// Of returns the checks of an offer made with conditions, in condition
// order: every condition but vetting (the vetting service's case, which
// vetting.cleared and vetting.failed settle), and right to work always.
func Of(conditions []commonv1.OfferCondition) []commonv1.OfferCondition {
	out := []commonv1.OfferCondition{RightToWork}
	for _, c := range conditions {
		if c != commonv1.OfferCondition_OFFER_CONDITION_VETTING && c != commonv1.OfferCondition_OFFER_CONDITION_UNSPECIFIED &&
			!slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// Name is a check's code, e.g. right_to_work: the condition's name in
// lower case without its prefix.
func Name(c commonv1.OfferCondition) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "OFFER_CONDITION_"))
}
