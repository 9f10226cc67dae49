package precheck_test

import (
	"slices"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/precheck"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

func TestOf(t *testing.T) {
	t.Parallel()
	const (
		vetting = commonv1.OfferCondition_OFFER_CONDITION_VETTING
		refs    = commonv1.OfferCondition_OFFER_CONDITION_REFERENCES
		medical = commonv1.OfferCondition_OFFER_CONDITION_MEDICAL
		rtw     = commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK
	)
	for _, tt := range []struct {
		name string
		in   []commonv1.OfferCondition
		want []commonv1.OfferCondition
	}{
		{"vetting only: right to work anyway", []commonv1.OfferCondition{vetting}, []commonv1.OfferCondition{rtw}},
		{"none", nil, []commonv1.OfferCondition{rtw}},
		{"all, out of order", []commonv1.OfferCondition{rtw, medical, vetting, refs}, []commonv1.OfferCondition{refs, medical, rtw}},
		{"repeated", []commonv1.OfferCondition{medical, medical}, []commonv1.OfferCondition{medical, rtw}},
	} {
		if got := precheck.Of(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Of(%v) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
	if got := precheck.Name(rtw); got != "right_to_work" {
		t.Errorf("Name(right to work) = %q", got)
	}
}
