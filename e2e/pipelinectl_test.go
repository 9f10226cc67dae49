package e2e

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/devidp"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// ctl runs pipelinectl as a process against one stack, the way a user does:
// addresses and token from the environment.
type ctl struct {
	t   *testing.T
	bin string
	env []string
	// configHome is the user's configuration directory (XDG_CONFIG_HOME),
	// where `pipelinectl login` keeps the sign-in.
	configHome string
}

func newCtl(t *testing.T, st *stack) *ctl {
	t.Helper()
	home := t.TempDir()
	configHome := filepath.Join(home, ".config")
	env := []string{"AUTH_ED25519_PRIVATE_KEY=" + testSeed, "HOME=" + home, "XDG_CONFIG_HOME=" + configHome}
	for _, e := range os.Environ() {
		// A developer's own settings, and sign-in, must not leak into the test.
		if !strings.HasPrefix(e, "PIPELINE_") && !strings.HasPrefix(e, "AUTH_") &&
			!strings.HasPrefix(e, "HOME=") && !strings.HasPrefix(e, "XDG_CONFIG_HOME=") {
			env = append(env, e)
		}
	}
	for name, addr := range st.addrs {
		env = append(env, "PIPELINE_"+strings.ToUpper(name)+"_ADDR="+addr)
	}
	if st.certs != nil {
		env = append(env, "PIPELINE_CA_FILE="+st.certs.CA, "PIPELINE_CERT_FILE="+st.certs.Client.Cert, "PIPELINE_KEY_FILE="+st.certs.Client.Key)
	} else {
		env = append(env, "PIPELINE_INSECURE=true")
	}
	return &ctl{t: t, bin: binary(t, "pipelinectl", filepath.Join("cmd", "pipelinectl")), env: env, configHome: configHome}
}

type ctlResult struct {
	stdout, stderr string
	code           int
}

// run runs one command line with token as PIPELINE_TOKEN ("" for none).
func (c *ctl) run(token string, args ...string) ctlResult {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(slices.Clone(c.env), "PIPELINE_TOKEN="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		c.t.Fatalf("run pipelinectl %s: %v", strings.Join(args, " "), err)
	}
	return ctlResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// ok runs a command that must succeed and returns its stdout.
func (c *ctl) ok(token string, args ...string) ctlResult {
	c.t.Helper()
	r := c.run(token, args...)
	if r.code != 0 {
		c.t.Fatalf("pipelinectl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// json runs a command with -o json and decodes its output into resp.
func (c *ctl) json(token string, resp proto.Message, args ...string) ctlResult {
	c.t.Helper()
	r := c.ok(token, append(args, "-o", "json")...)
	if err := protojson.Unmarshal([]byte(r.stdout), resp); err != nil {
		c.t.Fatalf("pipelinectl %s: output is not a %T: %v\n%s", strings.Join(args, " "), resp, err, r.stdout)
	}
	return r
}

// eventuallyJSON retries a command until it succeeds and check accepts its
// output: the services learn of each other's changes moments later.
func (c *ctl) eventuallyJSON(token string, resp proto.Message, check func() error, args ...string) {
	c.t.Helper()
	testenv.Eventually(c.t, "pipelinectl "+strings.Join(args, " "), func() (bool, string) {
		r := c.run(token, append(args, "-o", "json")...)
		if r.code != 0 {
			return false, fmt.Sprintf("exit %d: %s", r.code, r.stderr)
		}
		proto.Reset(resp)
		err := protojson.Unmarshal([]byte(r.stdout), resp)
		if err == nil && check != nil {
			err = check()
		}
		return err == nil, fmt.Sprint(err)
	})
}

// mint mints a token with `pipelinectl token` and the stack's key.
func (c *ctl) mint(args ...string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("", append([]string{"token"}, args...)...).stdout)
}

func (r ctlResult) wantExit(t *testing.T, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr does not say %q:\n%s", s, r.stderr)
		}
	}
}

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("output is not csv: %v\n%s", err, s)
	}
	return rows
}

// A candidate from campaign to vetting through pipelinectl alone: every
// command runs as a process against the real services, and the reports it
// reads back count the candidate.
func TestPipelinectlJourney(t *testing.T) {
	t.Parallel()
	st := start(t)
	c := newCtl(t, st)
	admin := c.mint("--role", "admin", "--subject", "admin-1")
	spoc := c.mint("--role", "spoc", "--subject", "spoc-london-1", "--region", "london")
	vetter := c.mint("--role", "vetting", "--subject", "vetting-london-1", "--region", "london")
	dashboard := c.mint("--role", "dashboard", "--subject", "dashboard-london", "--region", "london")

	var camp applicationsv1.CreateCampaignResponse
	r := c.json(admin, &camp, "campaigns", "create", "--region", "london", "--role", "probation-officer",
		"--title", "Probation officers", "--posts", "5", "--rolling",
		"--opens-on", time.Now().AddDate(0, 0, -30).Format(time.DateOnly))
	if !strings.Contains(r.stderr, "request id ") {
		t.Errorf("create does not print its request id:\n%s", r.stderr)
	}
	campaignID := camp.GetCampaign().GetId()
	if camp.GetCampaign().GetRole() != commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER || camp.GetCampaign().GetClosesOn() != nil {
		t.Errorf("campaign = %v, want a rolling probation-officer campaign", camp.GetCampaign())
	}

	t.Run("campaigns list as csv", func(t *testing.T) {
		rows := readCSV(t, c.ok(spoc, "campaigns", "list", "--region", "london", "-o", "csv").stdout)
		if len(rows) != 2 || rows[0][0] != "id" || rows[1][0] != campaignID || rows[1][2] != "probation-officer" {
			t.Errorf("csv = %q, want the header and the campaign", rows)
		}
	})

	var app applicationsv1.SubmitApplicationResponse
	c.json(spoc, &app, "applications", "submit", "--campaign", campaignID,
		"--name", "Ada Lovelace", "--email", "ada@example.org", "--phone", "+44 20 7946 0000")
	id := app.GetApplication().GetId()

	// The sift case opens when application.submitted reaches sifting.
	var decided siftingv1.RecordSiftDecisionResponse
	c.eventuallyJSON(spoc, &decided, nil, "sift", "decide", id, "--outcome", "pass", "--score", "72")
	if decided.GetCase().GetState() != siftingv1.CaseState_CASE_STATE_AWAITING_INTERVIEW || decided.GetCase().GetSiftScore() != 72 {
		t.Errorf("after the sift the case is %v", decided.GetCase())
	}
	// Soon: an outcome is refused before the interview's time.
	slot := time.Now().Add(2 * time.Second).Truncate(time.Second)
	c.ok(spoc, "interviews", "schedule", id, "--at", slot.UTC().Format(time.RFC3339))

	t.Run("sift get as a table", func(t *testing.T) {
		out := c.ok(spoc, "sift", "get", id).stdout
		for _, want := range []string{"application_id", id, "state", "awaiting-interview", "sift_score", "72", "History:", "sift.passed", "interview.scheduled"} {
			if !strings.Contains(out, want) {
				t.Errorf("table does not show %q:\n%s", want, out)
			}
		}
	})

	time.Sleep(time.Until(slot)) // the interview has taken place
	var passed siftingv1.RecordInterviewOutcomeResponse
	c.json(spoc, &passed, "interviews", "outcome", id, "--outcome", "pass", "--version", fmt.Sprint(decided.GetCase().GetVersion()+1))
	if passed.GetCase().GetState() != siftingv1.CaseState_CASE_STATE_INTERVIEW_PASSED {
		t.Errorf("after the interview the case is %v", passed.GetCase())
	}

	// The offer record opens when interview.passed reaches offers.
	var made offersv1.MakeConditionalOfferResponse
	c.eventuallyJSON(spoc, &made, nil, "offers", "make", id, "--salary-band", "band_4", "--condition", "vetting,references")
	if got := made.GetOffer().GetConditions(); len(got) != 2 || made.GetOffer().GetStatus() != offersv1.OfferStatus_OFFER_STATUS_MADE {
		t.Errorf("offer = %v, want made with two conditions", made.GetOffer())
	}
	c.ok(spoc, "offers", "accept", id)

	// The vetting case opens when offer.accepted reaches vetting.
	var blocked vettingv1.BlockCaseResponse
	c.eventuallyJSON(vetter, &blocked, nil, "vetting", "block", id, "--reason", "missing-documents", "--note", "passport scan unreadable")
	if blocked.GetCase().GetBlockReason() != commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS {
		t.Errorf("blocked case = %v", blocked.GetCase())
	}

	t.Run("assign to yourself and see it in your own list", func(t *testing.T) {
		var assigned vettingv1.AssignCaseResponse
		// The unblock below expects this one change since the block.
		c.json(vetter, &assigned, "vetting", "assign", id, "--to", "vetting-london-1")
		if assigned.GetCase().GetAssignee() != "vetting-london-1" {
			t.Errorf("assigned case = %v", assigned.GetCase())
		}
		rows := readCSV(t, c.ok(vetter, "vetting", "my", "-o", "csv").stdout)
		if len(rows) != 2 || rows[0][0] != "days_in_status" || rows[1][1] != id || !slices.Contains(rows[1], "vetting-london-1") {
			t.Errorf("my csv = %q, want the header and the assigned case", rows)
		}
	})

	t.Run("blocked work list as csv", func(t *testing.T) {
		rows := readCSV(t, c.ok(vetter, "vetting", "blocked", "--region", "london", "-o", "csv").stdout)
		if len(rows) != 2 || rows[0][0] != "days_blocked" || rows[1][1] != id || !slices.Contains(rows[1], "missing-documents") {
			t.Errorf("csv = %q, want the header and the blocked case", rows)
		}
	})

	// Ten days on, the block is past both blocked thresholds (3/5 days).
	later := time.Now().Add(10 * 24 * time.Hour).UTC().Format(time.RFC3339)
	var stuck reportingv1.ListStuckCandidatesResponse
	c.eventuallyJSON(dashboard, &stuck, func() error {
		for _, s := range stuck.GetCandidates() {
			if s.GetApplicationId() == id && s.GetKind() == reportingv1.StuckKind_STUCK_KIND_VETTING_BLOCKED {
				return nil
			}
		}
		return fmt.Errorf("no vetting-blocked entry: %v", stuck.GetCandidates())
	}, "reports", "stuck", "--region", "london", "--as-of", later)
	for _, s := range stuck.GetCandidates() {
		if s.GetKind() != reportingv1.StuckKind_STUCK_KIND_VETTING_BLOCKED {
			continue
		}
		if s.GetSeverity() != reportingv1.Severity_SEVERITY_BREACH || s.GetNextActor() != reportingv1.NextActor_NEXT_ACTOR_VETTING ||
			s.GetBlockedReason() != commonv1.BlockReason_BLOCK_REASON_MISSING_DOCUMENTS || s.GetDays() < 9 || s.GetDaysOverdue() < 4 {
			t.Errorf("stuck entry = %v, want a breach for vetting, missing documents, ~10 days", s)
		}
	}
	if stuck.GetBreachCount() < 1 {
		t.Errorf("breach_count = %d, want at least 1", stuck.GetBreachCount())
	}

	t.Run("stuck filtered by rule and blocked reason", func(t *testing.T) {
		var only reportingv1.ListStuckCandidatesResponse
		c.json(dashboard, &only, "reports", "stuck", "--region", "london", "--as-of", later,
			"--rule", "vetting-blocked", "--blocked-reason", "missing-documents")
		if len(only.GetCandidates()) != 1 || only.GetCandidates()[0].GetApplicationId() != id || only.GetBreachCount() != 1 {
			t.Errorf("blocked for missing documents: %v (breaches %d), want this case alone", only.GetCandidates(), only.GetBreachCount())
		}
		var none reportingv1.ListStuckCandidatesResponse
		c.json(dashboard, &none, "reports", "stuck", "--region", "london", "--as-of", later, "--blocked-reason", "identity-mismatch")
		if len(none.GetCandidates()) != 0 || none.GetWarningCount()+none.GetBreachCount() != 0 {
			t.Errorf("blocked for identity mismatch: %v, want none", none.GetCandidates())
		}
	})

	// Unblocking twice with the same request id and version applies once.
	retry := []string{"vetting", "unblock", id, "--request-id", "unblock-1", "--version", fmt.Sprint(blocked.GetCase().GetVersion() + 1)}
	var first, second vettingv1.UnblockCaseResponse
	r = c.json(vetter, &first, retry...)
	if !strings.Contains(r.stderr, "--request-id unblock-1 --version") {
		t.Errorf("unblock does not say how to retry:\n%s", r.stderr)
	}
	c.json(vetter, &second, retry...)
	if first.GetCase().GetStatus() != vettingv1.CaseStatus_CASE_STATUS_OPEN || !proto.Equal(first.GetCase(), second.GetCase()) {
		t.Errorf("unblock then its retry:\n%v\n%v", first.GetCase(), second.GetCase())
	}
	c.eventuallyJSON(dashboard, &stuck, func() error {
		for _, s := range stuck.GetCandidates() {
			if s.GetKind() == reportingv1.StuckKind_STUCK_KIND_VETTING_BLOCKED {
				return fmt.Errorf("still blocked in the stuck list: %v", s)
			}
		}
		return nil
	}, "reports", "stuck", "--region", "london", "--as-of", later)

	t.Run("funnel", func(t *testing.T) {
		var funnel reportingv1.GetFunnelResponse
		c.eventuallyJSON(dashboard, &funnel, func() error {
			reached := map[commonv1.Stage]int32{}
			for _, s := range funnel.GetStages() {
				reached[s.GetStage()] = s.GetReached()
			}
			for _, s := range []commonv1.Stage{commonv1.Stage_STAGE_SIFT, commonv1.Stage_STAGE_INTERVIEW, commonv1.Stage_STAGE_OFFER, commonv1.Stage_STAGE_PRE_EMPLOYMENT} {
				if reached[s] != 1 {
					return fmt.Errorf("reached %v = %d, want 1 (funnel %v)", s, reached[s], funnel.GetStages())
				}
			}
			if reached[commonv1.Stage_STAGE_HIRED] != 0 {
				return fmt.Errorf("reached HIRED = %d, want 0", reached[commonv1.Stage_STAGE_HIRED])
			}
			return nil
		}, "reports", "funnel", "--region", "london", "--campaign", campaignID)

		rows := readCSV(t, c.ok(dashboard, "reports", "funnel", "--region", "london", "-o", "csv").stdout)
		if want := []string{"stage", "reached", "conversion_from_previous", "rejected", "withdrawn"}; !slices.Equal(rows[0], want) {
			t.Errorf("csv header = %q, want %q", rows[0], want)
		}
		if len(rows) != len(funnel.GetStages())+1 || rows[1][0] != "sift" || rows[1][1] != "1" {
			t.Errorf("csv = %q, want a row per stage from sift", rows)
		}

		table := strings.Split(strings.TrimSpace(c.ok(dashboard, "reports", "funnel", "--region", "london").stdout), "\n")
		if len(table) != len(funnel.GetStages())+1 || !strings.HasPrefix(table[0], "STAGE") || len(strings.Fields(table[1])) != 5 {
			t.Errorf("table =\n%s\nwant a header and a row of 5 columns per stage", strings.Join(table, "\n"))
		}
	})

	t.Run("other reports", func(t *testing.T) {
		for _, args := range [][]string{
			{"reports", "time-to-hire", "--region", "london"},
			{"reports", "time-to-hire", "--weekly"},
			{"reports", "durations", "--region", "london"},
			{"reports", "summaries"},
			{"reports", "thresholds", "get", "--region", "london"},
		} {
			for _, format := range []string{"table", "json", "csv"} {
				c.ok(dashboard, append(args, "-o", format)...)
			}
		}
		var sum reportingv1.GetRegionSummaryResponse
		c.eventuallyJSON(dashboard, &sum, func() error {
			if n := sum.GetSummary().GetStageCounts(); len(n) == 0 {
				return errors.New("no stage counts yet")
			}
			return nil
		}, "reports", "summary", "--region", "london")
		for _, sc := range sum.GetSummary().GetStageCounts() {
			if sc.GetStage() == commonv1.Stage_STAGE_PRE_EMPLOYMENT && sc.GetCount() != 1 {
				t.Errorf("summary counts %d in pre-employment, want 1", sc.GetCount())
			}
		}
	})

	t.Run("thresholds set keeps what is not given", func(t *testing.T) {
		var set reportingv1.SetThresholdsResponse
		c.json(admin, &set, "reports", "thresholds", "set", "--region", "london", "--sift", "7/10", "--vetting-blocked", "2/4")
		th := set.GetThresholds()
		if len(th.GetStages()) != 4 {
			t.Fatalf("thresholds = %v, want the four stages", th)
		}
		for _, s := range th.GetStages() {
			want := map[commonv1.Stage][2]int32{
				commonv1.Stage_STAGE_SIFT: {7, 10}, commonv1.Stage_STAGE_INTERVIEW: {14, 21},
				commonv1.Stage_STAGE_OFFER: {7, 10}, commonv1.Stage_STAGE_PRE_EMPLOYMENT: {28, 42},
			}[s.GetStage()]
			if got := [2]int32{s.GetWarningDays(), s.GetBreachDays()}; got != want {
				t.Errorf("%v thresholds = %v, want %v", s.GetStage(), got, want)
			}
		}
		if th.GetVettingBlockedWarningDays() != 2 || th.GetVettingBlockedBreachDays() != 4 {
			t.Errorf("vetting blocked thresholds = %d/%d, want 2/4", th.GetVettingBlockedWarningDays(), th.GetVettingBlockedBreachDays())
		}
	})

	t.Run("watch until interrupted", func(t *testing.T) {
		cmd := exec.Command(c.bin, "reports", "watch", "--region", "london", "-o", "json")
		cmd.Env = append(slices.Clone(c.env), "PIPELINE_TOKEN="+dashboard)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadBytes('\n')
		if err != nil {
			t.Fatalf("no summary from watch: %v; stderr: %s", err, stderr.String())
		}
		var got reportingv1.WatchRegionResponse
		if err := protojson.Unmarshal(line, &got); err != nil || got.GetSummary().GetRegion() != "london" {
			t.Errorf("watch printed %s (%v), want a london summary", line, err)
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("watch after Ctrl-C: %v, want exit 0; stderr: %s", err, stderr.String())
		}
	})
}

// Bad input, the wrong token and an unreachable service each end with their
// own exit code and a message that says what went wrong.
func TestPipelinectlErrors(t *testing.T) {
	t.Parallel()
	st := start(t)
	c := newCtl(t, st)
	admin := c.mint("--role", "admin", "--subject", "admin-1")
	spoc := c.mint("--role", "spoc", "--subject", "spoc-london-1", "--region", "london")
	dashboard := c.mint("--role", "dashboard", "--subject", "dashboard-london", "--region", "london")
	const unknownID = "01934a6e-0000-7000-8000-000000000000"

	var camp applicationsv1.CreateCampaignResponse
	c.json(admin, &camp, "campaigns", "create", "--region", "london", "--role", "administrator",
		"--title", "Admin staff", "--posts", "3", "--opens-on", "2026-01-01", "--closes-on", "2030-12-31")

	tests := []struct {
		name   string
		token  string
		args   []string
		code   int
		stderr []string
	}{
		{"help", "", []string{"help"}, 0, nil},
		{"unknown command", spoc, []string{"sift", "bogus"}, 2, []string{`unknown command "bogus"`, "pipelinectl sift --help"}},
		{"bad region", dashboard, []string{"reports", "stuck", "--region", "narnia"}, 2,
			[]string{`unknown region "narnia"`, "london", "kent-surrey-sussex"}},
		{"bad enum", spoc, []string{"vetting", "block", unknownID, "--reason", "lost-passport"}, 2,
			[]string{`unknown block-reason "lost-passport"`, "missing-documents, identity-mismatch"}},
		{"missing flag", spoc, []string{"applications", "submit", "--name", "Ada", "--email", "ada@example.org"}, 2,
			[]string{`required flag(s) "campaign" not set`}},
		{"missing id", spoc, []string{"offers", "accept"}, 2, []string{"needs one application id"}},
		{"bad date", admin, []string{"campaigns", "create", "--region", "london", "--role", "other", "--title", "T",
			"--posts", "1", "--opens-on", "01/02/2026", "--rolling"}, 2, []string{"YYYY-MM-DD"}},
		{"invalid argument from the service", spoc, []string{"applications", "submit", "--campaign", camp.GetCampaign().GetId(),
			"--name", "Ada", "--email", "not-an-email"}, 3, []string{"pipelinectl: invalid argument: ", "email"}},
		{"invalid id", spoc, []string{"applications", "get", "not-a-uuid"}, 3, []string{"invalid argument: application_id"}},
		{"not found", spoc, []string{"applications", "get", unknownID}, 4, []string{"pipelinectl: not found: "}},
		{"wrong role", dashboard, []string{"campaigns", "create", "--region", "london", "--role", "other",
			"--title", "T", "--posts", "1", "--opens-on", "2026-01-01", "--rolling"}, 5, []string{"pipelinectl: permission denied: "}},
		{"wrong region", spoc, []string{"sift", "queue", "--region", "wales"}, 5, []string{"pipelinectl: permission denied: "}},
		{"no token", "", []string{"campaigns", "list"}, 5, []string{"pipelinectl: unauthenticated: ", "PIPELINE_TOKEN"}},
		{"stale version", admin, []string{"campaigns", "update", camp.GetCampaign().GetId(), "--title", "New", "--version", "9"}, 6,
			[]string{"pipelinectl: conflict: ", "stale version"}},
		{"move not allowed", spoc, []string{"offers", "accept", unknownID, "--version", "1"}, 6, []string{"pipelinectl: not allowed now: "}},
		{"unreachable", spoc, []string{"reports", "funnel", "--region", "london", "--reporting-addr", freeAddr(t)}, 7,
			[]string{"cannot reach the reporting service at 127.0.0.1:", "connection refused", "make run"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.run(tt.token, tt.args...)
			r.wantExit(t, tt.code, tt.stderr...)
			if tt.code != 0 && !strings.HasPrefix(r.stderr, "pipelinectl: ") {
				t.Errorf("stderr does not start with pipelinectl: %q", r.stderr)
			}
		})
	}

	t.Run("help documents the exit codes", func(t *testing.T) {
		out := c.ok("", "help").stdout
		for _, want := range []string{"Exit codes:", "3    invalid argument", "7    unavailable", "PIPELINE_TOKEN"} {
			if !strings.Contains(out, want) {
				t.Errorf("help does not say %q", want)
			}
		}
		if out := c.ok("", "help", "vetting", "block").stdout; !strings.Contains(out, "missing-documents") {
			t.Errorf("vetting block help does not list the reasons:\n%s", out)
		}
	})

	t.Run("a flag beats the environment", func(t *testing.T) {
		r := c.run("not-a-token", "--token", spoc, "campaigns", "list", "-o", "csv")
		r.wantExit(t, 0)
		if rows := readCSV(t, r.stdout); len(rows) != 2 {
			t.Errorf("csv = %q, want the header and one campaign", rows)
		}
	})
}

// A person signs in with `pipelinectl login` at the organisation's identity
// provider, and every later command sends the ID token it keeps: the
// services, accepting that provider, let a London SPOC list London's
// applications and not Wales's.
func TestPipelinectlLogin(t *testing.T) {
	t.Parallel()
	idp := devidp.Start(t, devidp.CLIClient())
	st := start(t, "AUTH_OIDC_ISSUER="+idp.Issuer(), "AUTH_AUDIENCES="+auth.Audience+","+devidp.CLIClientID)
	c := newCtl(t, st)
	admin := c.mint("--role", "admin", "--subject", "admin-1")
	spoc := c.mint("--role", "spoc", "--subject", "spoc-london-1", "--region", "london")
	var camp applicationsv1.CreateCampaignResponse
	c.json(admin, &camp, "campaigns", "create", "--region", "london", "--role", "administrator",
		"--title", "Admin staff", "--posts", "3", "--opens-on", "2026-01-01", "--rolling")
	var app applicationsv1.SubmitApplicationResponse
	c.json(spoc, &app, "applications", "submit", "--campaign", camp.GetCampaign().GetId(),
		"--name", "Grace Hopper", "--email", "grace@example.org")

	// `pipelinectl login --no-browser` as a process; the test is the browser.
	login := exec.Command(c.bin, "login", "--no-browser")
	login.Env = append(slices.Clone(c.env), "PIPELINE_OIDC_ISSUER="+idp.Issuer())
	stderr, err := login.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = login.Process.Kill() }) // a no-op once it has exited
	var printed bytes.Buffer
	lines := bufio.NewScanner(stderr)
	authURL := ""
	for authURL == "" && lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if u, ok := strings.CutPrefix(lines.Text(), "  "+idp.Issuer()+"/"); ok {
			authURL = idp.Issuer() + "/" + u
		}
	}
	if authURL == "" {
		t.Fatalf("login printed no sign-in URL:\n%s", printed.String())
	}
	rest := make(chan struct{})
	go func() {
		for lines.Scan() {
			printed.WriteString(lines.Text() + "\n")
		}
		close(rest)
	}()
	to, err := idp.SignIn(t.Context(), nil, authURL, "spoc-london")
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	resp, err := http.Get(to.String()) // the browser following the redirect to pipelinectl
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "You may close this tab") {
		t.Errorf("pipelinectl's page after the sign-in: %s\n%s", resp.Status, page)
	}
	<-rest
	if err := login.Wait(); err != nil {
		t.Fatalf("login: %v\n%s", err, printed.String())
	}
	file := filepath.Join(c.configHome, "pipelinectl", "credentials.json")
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, want mode 0600 (%v)", fi, err)
	}

	// No PIPELINE_TOKEN: the stored sign-in is the token.
	var list applicationsv1.ListApplicationsResponse
	c.json("", &list, "applications", "list", "--region", "london")
	if len(list.GetApplications()) != 1 || list.GetApplications()[0].GetId() != app.GetApplication().GetId() {
		t.Errorf("applications list --region london as the signed-in SPOC = %v, want the one application", list.GetApplications())
	}
	c.run("", "applications", "list", "--region", "wales").wantExit(t, 5, "pipelinectl: permission denied: ")
	if out := c.ok("", "whoami").stdout; !strings.Contains(out, "spoc-london") || !strings.Contains(out, idp.Issuer()) {
		t.Errorf("whoami:\n%s", out)
	}
	c.ok("", "logout")
	c.run("", "applications", "list", "--region", "london").wantExit(t, 5, "pipelinectl: unauthenticated: ", "pipelinectl login")
}
