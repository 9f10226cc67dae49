package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/region"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// enumValue is a flag holding a proto enum, written the friendly way
// (`probation-officer` for JOB_ROLE_PROBATION_OFFICER). It also takes the
// proto names, with or without the prefix, in any case.
type enumValue struct {
	desc protoreflect.EnumDescriptor
	n    protoreflect.EnumNumber
}

func newEnum(e protoreflect.Enum) *enumValue { return &enumValue{desc: e.Descriptor()} }

func (v *enumValue) Set(s string) error {
	n, err := parseEnum(v.desc, s)
	if err != nil {
		return err
	}
	v.n = n
	return nil
}

func (v *enumValue) String() string {
	if v.n == 0 {
		return ""
	}
	return enumName(v.desc, v.n)
}

func (v *enumValue) Type() string { return enumTypeName(v.desc) }

// number is the chosen value; 0 (UNSPECIFIED) when the flag was not given.
func (v *enumValue) number() protoreflect.EnumNumber { return v.n }

// enumSliceValue is a repeatable (or comma-separated) enum flag.
type enumSliceValue struct {
	desc protoreflect.EnumDescriptor
	ns   []protoreflect.EnumNumber
}

func newEnumSlice(e protoreflect.Enum) *enumSliceValue { return &enumSliceValue{desc: e.Descriptor()} }

func (v *enumSliceValue) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		n, err := parseEnum(v.desc, part)
		if err != nil {
			return err
		}
		v.ns = append(v.ns, n)
	}
	return nil
}

func (v *enumSliceValue) String() string {
	names := make([]string, len(v.ns))
	for i, n := range v.ns {
		names[i] = enumName(v.desc, n)
	}
	return strings.Join(names, ",")
}

func (v *enumSliceValue) Type() string { return enumTypeName(v.desc) + "s" }

// enumPrefix is what every value name of an enum starts with, taken from
// its zero value: JOB_ROLE_UNSPECIFIED → JOB_ROLE_.
func enumPrefix(d protoreflect.EnumDescriptor) string {
	return strings.TrimSuffix(string(d.Values().ByNumber(0).Name()), "UNSPECIFIED")
}

// enumName is the friendly name of a value: JOB_ROLE_PROBATION_OFFICER →
// probation-officer. Zero (unspecified) is "".
func enumName(d protoreflect.EnumDescriptor, n protoreflect.EnumNumber) string {
	if n == 0 {
		return ""
	}
	v := d.Values().ByNumber(n)
	if v == nil {
		return strconv.Itoa(int(n))
	}
	name := strings.TrimPrefix(string(v.Name()), enumPrefix(d))
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// enumTypeName names an enum for help text: JobRole → job-role.
func enumTypeName(d protoreflect.EnumDescriptor) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSuffix(enumPrefix(d), "_")), "_", "-")
}

// enumChoices lists the friendly names of every value but unspecified.
func enumChoices(d protoreflect.EnumDescriptor) []string {
	vals := d.Values()
	out := make([]string, 0, vals.Len())
	for i := range vals.Len() {
		if n := vals.Get(i).Number(); n != 0 {
			out = append(out, enumName(d, n))
		}
	}
	return out
}

func parseEnum(d protoreflect.EnumDescriptor, s string) (protoreflect.EnumNumber, error) {
	key := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	prefix := enumPrefix(d)
	if v := d.Values().ByName(protoreflect.Name(prefix + strings.TrimPrefix(key, prefix))); v != nil && v.Number() != 0 {
		return v.Number(), nil
	}
	return 0, fmt.Errorf("unknown %s %q; use one of: %s", enumTypeName(d), s, strings.Join(enumChoices(d), ", "))
}

// oneOf is help text listing an enum's values.
func oneOf(e protoreflect.Enum) string {
	return "one of: " + strings.Join(enumChoices(e.Descriptor()), ", ")
}

// friendly is the display form of any enum value ("" when unspecified).
func friendly(e protoreflect.Enum) string {
	return enumName(e.Descriptor(), e.Number())
}

// regionValue is a flag holding one of the region codes of DESIGN §2.
type regionValue string

func (v *regionValue) Set(s string) error {
	if !region.Valid(s) {
		return fmt.Errorf("unknown region %q; use one of: %s", s, strings.Join(region.All, ", "))
	}
	*v = regionValue(s)
	return nil
}

func (v *regionValue) String() string { return string(*v) }
func (v *regionValue) Type() string   { return "region" }

// regionHelp is the usage text of a --region flag.
func regionHelp(what string) string {
	return what + "; one of: " + strings.Join(region.All, ", ")
}

// dateValue is a flag holding a calendar date, YYYY-MM-DD.
type dateValue struct{ d *commonv1.Date }

func (v *dateValue) Set(s string) error {
	d, err := parseDate(s)
	if err != nil {
		return err
	}
	v.d = d
	return nil
}

func (v *dateValue) String() string { return fmtDate(v.d) }
func (v *dateValue) Type() string   { return "YYYY-MM-DD" }

func parseDate(s string) (*commonv1.Date, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%q is not a date written YYYY-MM-DD", s)
	}
	return &commonv1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}, nil
}

// timeValue is a flag holding an instant, RFC 3339 (2026-12-01T10:00:00Z).
type timeValue struct{ t *timestamppb.Timestamp }

func (v *timeValue) Set(s string) error {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a time written RFC 3339, e.g. 2026-12-01T10:00:00Z or 2026-12-01T10:00:00+01:00", s)
	}
	v.t = timestamppb.New(t)
	return nil
}

func (v *timeValue) String() string {
	if v.t == nil {
		return ""
	}
	return fmtTime(v.t)
}

func (v *timeValue) Type() string { return "RFC3339" }

// paging are the flags of a list call.
type paging struct {
	size  int32
	token string
}

func addPaging(fs *pflag.FlagSet, p *paging) {
	fs.Int32Var(&p.size, "page-size", 0, "results per page, 1-500 (the service's default when 0)")
	fs.StringVar(&p.token, "page-token", "", "the next-page token printed by the previous page (same filters)")
}

// oneID is an Args check for commands that act on one record.
func oneID(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			example, _, _ := strings.Cut(strings.TrimSpace(cmd.Example), "\n")
			return usagef("%s needs one %s, e.g. %s", cmd.CommandPath(), what, example)
		}
		return nil
	}
}
