package vetting

import (
	"fmt"
	"strings"

	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
)

// Levels maps a job role to the vetting level its posts need.
type Levels map[commonv1.JobRole]commonv1.VettingLevel

// DefaultLevels: BPSS for administrative posts, CTC for probation officers
// and probation services officers and the other posts that work with
// people on probation.
func DefaultLevels() Levels {
	return Levels{
		commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER:          commonv1.VettingLevel_VETTING_LEVEL_CTC,
		commonv1.JobRole_JOB_ROLE_PROBATION_SERVICES_OFFICER: commonv1.VettingLevel_VETTING_LEVEL_CTC,
		commonv1.JobRole_JOB_ROLE_ADMINISTRATOR:              commonv1.VettingLevel_VETTING_LEVEL_BPSS,
		commonv1.JobRole_JOB_ROLE_UPW_SUPERVISOR:             commonv1.VettingLevel_VETTING_LEVEL_CTC,
		commonv1.JobRole_JOB_ROLE_VICTIM_LIAISON_OFFICER:     commonv1.VettingLevel_VETTING_LEVEL_CTC,
		commonv1.JobRole_JOB_ROLE_OTHER:                      commonv1.VettingLevel_VETTING_LEVEL_BPSS,
	}
}

// Level is the level for role; BPSS, the baseline, for a role not mapped.
func (l Levels) Level(role commonv1.JobRole) commonv1.VettingLevel {
	if v, ok := l[role]; ok {
		return v
	}
	return commonv1.VettingLevel_VETTING_LEVEL_BPSS
}

// ParseLevels reads overrides such as "administrator=SC,other=CTC" (job
// roles by their lower-case names, levels BPSS, CTC, SC or DV) on top of
// the defaults.
func ParseLevels(s string) (Levels, error) {
	levels := DefaultLevels()
	if strings.TrimSpace(s) == "" {
		return levels, nil
	}
	for _, pair := range strings.Split(s, ",") {
		role, level, ok := strings.Cut(strings.TrimSpace(pair), "=")
		r, rok := commonv1.JobRole_value["JOB_ROLE_"+strings.ToUpper(strings.TrimSpace(role))]
		v, vok := commonv1.VettingLevel_value["VETTING_LEVEL_"+strings.ToUpper(strings.TrimSpace(level))]
		if !ok || !rok || !vok || r == 0 || v == 0 {
			return nil, fmt.Errorf("VETTING_LEVELS: %q is not role=level (e.g. administrator=BPSS, probation_officer=CTC)", pair)
		}
		levels[commonv1.JobRole(r)] = commonv1.VettingLevel(v)
	}
	return levels, nil
}
