package web

import (
	"strconv"

	pb "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
)

// earlyStartsView is a region's candidates started before vetting
// cleared against its early start policy.
type earlyStartsView struct {
	Enabled bool
	// Started, Cap and Overdue as shown; Remaining is the places left
	// under the cap ("0" when it is reached or early starts are off).
	Started, Cap, Overdue, Remaining string
	// AtCap: no more may start before vetting clears.
	AtCap bool
}

func earlyStartsToView(r *pb.GetEarlyStartsResponse) earlyStartsView {
	left := max(r.GetCap()-r.GetStartedSubjectToVetting(), 0)
	if !r.GetEnabled() {
		left = 0
	}
	return earlyStartsView{
		Enabled: r.GetEnabled(), Started: strconv.Itoa(int(r.GetStartedSubjectToVetting())), Cap: strconv.Itoa(int(r.GetCap())),
		Overdue: strconv.Itoa(int(r.GetOverdue())), Remaining: strconv.Itoa(int(left)), AtCap: left == 0,
	}
}
