package monitoring_test

import (
	"strings"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/monitoring"
	"github.com/probation-recruitment/pipeline/pkg/validate"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		a     monitoring.Answers
		field string
	}{
		{"none", nil, ""},
		{"declared", monitoring.Answers{monitoring.EthnicGroup: "black", monitoring.AgeBand: "65_plus"}, ""},
		{"prefer not to say", monitoring.Answers{monitoring.Sex: monitoring.PreferNotToSay}, ""},
		{"blank", monitoring.Answers{monitoring.Sex: ""}, ""},
		{"another question's code", monitoring.Answers{monitoring.Sex: "black"}, "monitoring.sex"},
		{"not answered is the report's, not an answer", monitoring.Answers{monitoring.Disability: monitoring.NotAnswered}, "monitoring.disability"},
		{"unknown question", monitoring.Answers{"shoe_size": "9"}, "monitoring.shoe_size"},
	} {
		err := tc.a.Validate("monitoring")
		var fe *validate.FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v, want valid", tc.name, err)
		case tc.field != "" && (!asField(err, &fe) || fe.Field != tc.field):
			t.Errorf("%s: %v, want a field error on %s", tc.name, err, tc.field)
		case tc.field != "" && strings.Contains(err.Error(), string(tc.a[monitoring.Characteristic(strings.TrimPrefix(tc.field, "monitoring."))])):
			t.Errorf("%s: %v echoes the answer", tc.name, err)
		}
	}
}

func asField(err error, fe **validate.FieldError) bool {
	f, ok := err.(*validate.FieldError)
	*fe = f
	return ok
}

func TestCategoriesEndWithTheUndeclared(t *testing.T) {
	t.Parallel()
	for _, c := range monitoring.Characteristics {
		cats := monitoring.Categories(c)
		if len(cats) < 4 || cats[len(cats)-2] != monitoring.PreferNotToSay || cats[len(cats)-1] != monitoring.NotAnswered {
			t.Errorf("%s: %v; want its categories, then prefer_not_to_say and not_answered", c, cats)
		}
		if monitoring.Declared(c, monitoring.PreferNotToSay) || !monitoring.Declared(c, cats[0]) {
			t.Errorf("%s: Declared is wrong", c)
		}
	}
}
