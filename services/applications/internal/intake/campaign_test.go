package intake

import (
	"errors"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/record"
	"github.com/probation-recruitment/pipeline/pkg/validate"
)

func TestCampaignStatusMoves(t *testing.T) {
	t.Parallel()
	all := []CampaignStatus{CampaignOpen, CampaignClosed, CampaignCancelled}
	allowed := map[[2]CampaignStatus]bool{
		{CampaignOpen, CampaignClosed}: true, {CampaignOpen, CampaignCancelled}: true,
		{CampaignClosed, CampaignOpen}: true, {CampaignClosed, CampaignCancelled}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := from.CanMove(to); got != allowed[[2]CampaignStatus{from, to}] {
				t.Errorf("%s → %s allowed = %v", from, to, got)
			}
		}
	}
}

func TestApplicationRegion(t *testing.T) {
	t.Parallel()
	one := &Campaign{Regions: []RegionPosts{{"wales", 3}}}
	two := &Campaign{Regions: []RegionPosts{{"london", 120}, {"wales", 30}}}
	for _, tt := range []struct {
		c            *Campaign
		given, want  string
		invalidField string
	}{
		{one, "", "wales", ""},
		{one, "wales", "wales", ""},
		{one, "london", "", "region"},
		{two, "", "", "region"},
		{two, "wales", "wales", ""},
		{two, "north-east", "", "region"},
	} {
		got, err := applicationRegion(tt.c, tt.given, "region")
		var fe *validate.FieldError
		switch {
		case tt.invalidField != "" && (!errors.As(err, &fe) || fe.Field != tt.invalidField):
			t.Errorf("applicationRegion(%v, %q) = %q, %v; want invalid %s", tt.c.RegionCodes(), tt.given, got, err, tt.invalidField)
		case tt.invalidField == "" && (err != nil || got != tt.want):
			t.Errorf("applicationRegion(%v, %q) = %q, %v; want %q", tt.c.RegionCodes(), tt.given, got, err, tt.want)
		}
	}
}

func TestRequireAllRegions(t *testing.T) {
	t.Parallel()
	spoc := func(rs ...string) auth.Claims { return auth.Claims{Subject: "s", Role: auth.RoleSPOC, Regions: rs} }
	had := []string{"london", "wales"}
	for _, tt := range []struct {
		caller  auth.Claims
		regions []string
		want    error
	}{
		{auth.Claims{Subject: "a", Role: auth.RoleAdmin}, had, nil},
		{spoc("london", "wales"), had, nil},
		{spoc("london", "wales"), append(had, "north-east"), auth.ErrPermissionDenied},
		{spoc("london"), had, auth.ErrPermissionDenied},
		{spoc("kent-surrey-sussex"), had, record.ErrNotFound},
	} {
		err := requireAllRegions(tt.caller, had, tt.regions)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%v changing %v: %v, want %v", tt.caller.Regions, tt.regions, err, tt.want)
		}
	}
}

func TestValidateRegions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rs    []RegionPosts
		field string
	}{
		{[]RegionPosts{{"london", 120}, {"wales", 30}}, ""},
		{nil, "regions"},
		{[]RegionPosts{{"london", 1}, {"london", 2}}, "regions[1].region"},
		{[]RegionPosts{{"London", 1}}, "regions[0].region"},
		{[]RegionPosts{{"wales", 0}}, "regions[0].posts"},
		{[]RegionPosts{{"wales", MaxPosts + 1}}, "regions[0].posts"},
	} {
		err := validateRegions(tt.rs)
		var fe *validate.FieldError
		if (tt.field == "") != (err == nil) || (err != nil && (!errors.As(err, &fe) || fe.Field != tt.field)) {
			t.Errorf("validateRegions(%v) = %v, want field %q", tt.rs, err, tt.field)
		}
	}
}
