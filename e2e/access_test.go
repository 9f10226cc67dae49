package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	applicationsv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/applications/v1"
	_ "github.com/probation-recruitment/pipeline/proto/gen/recruitment/audit/v1"
	commonv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/common/v1"
	_ "github.com/probation-recruitment/pipeline/proto/gen/recruitment/equality/v1"
	_ "github.com/probation-recruitment/pipeline/proto/gen/recruitment/events/v1"
	_ "github.com/probation-recruitment/pipeline/proto/gen/recruitment/notifier/v1"
	offersv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/offers/v1"
	_ "github.com/probation-recruitment/pipeline/proto/gen/recruitment/privacy/v1"
	reportingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/reporting/v1"
	siftingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/sifting/v1"
	vettingv1 "github.com/probation-recruitment/pipeline/proto/gen/recruitment/vetting/v1"
)

// securityDoc is the page whose access table these tests keep true.
const securityDoc = "../docs/security.md"

// roles are the access table's role columns, in order.
var roles = []auth.Role{auth.RoleSPOC, auth.RoleVetting, auth.RoleDashboard, auth.RoleApprover, auth.RoleAdmin, auth.RoleNotifier, auth.RoleEquality}

// accessHeader is the header every table of RPCs in securityDoc has.
const accessHeader = "| RPC | spoc | vetting | dashboard | approver | admin | notifier | equality | region |"

// The region column's first word: how an RPC checks the region.
const (
	regionRequest = "request" // the request's region field
	regionRecord  = "record"  // the region of the record the call names
	regionCaller  = "caller"  // no region asked; the caller's regions
	regionOwn     = "own"     // not regional: the caller's own record (an admin's: anyone's)
	regionNone    = "n/a"     // admin only
)

// accessRow is one RPC's row of the access table.
type accessRow struct {
	line    int
	allowed map[auth.Role]bool
	region  string
	// optional: a request region may be left out ("request, optional").
	optional bool
	// national: left out, the request asks for every region, which a
	// regional caller may not see ("request, optional: empty is national").
	national bool
}

// nonAdmins reports the roles other than admin that may call the RPC.
func (r accessRow) nonAdmins() []auth.Role {
	var out []auth.Role
	for _, role := range roles {
		if role != auth.RoleAdmin && r.allowed[role] {
			out = append(out, role)
		}
	}
	return out
}

// firstWord is a cell's first word without trailing punctuation.
func firstWord(cell string) string {
	f := strings.Fields(cell)
	if len(f) == 0 {
		return ""
	}
	return strings.TrimRight(strings.ToLower(f[0]), ",;:.")
}

// readAccessTable parses the rows of securityDoc's RPC tables, by
// "recruitment.<svc>.v1.<Service>/<Method>".
func readAccessTable(t *testing.T) map[string]accessRow {
	t.Helper()
	b, err := os.ReadFile(securityDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]accessRow{}
	header := ""
	for i, line := range strings.Split(string(b), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		switch {
		case !strings.HasPrefix(line, "|"):
			header = ""
			continue
		case strings.HasPrefix(line, "| RPC |"):
			header = line
			continue
		case !strings.HasPrefix(line, "| `recruitment."):
			continue
		}
		where := fmt.Sprintf("%s:%d", securityDoc, n)
		if header != accessHeader {
			t.Errorf("%s: an RPC row under the header %q; want %q", where, header, accessHeader)
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != len(roles)+2 {
			t.Errorf("%s: %d cells, want %d", where, len(cells), len(roles)+2)
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[0]), "`")
		if prev, ok := rows[name]; ok {
			t.Errorf("%s: %s again (first on line %d)", where, name, prev.line)
			continue
		}
		regionCell := cells[len(roles)+1]
		row := accessRow{line: n, allowed: map[auth.Role]bool{}, region: firstWord(regionCell), optional: strings.Contains(regionCell, "optional"),
			national: strings.Contains(regionCell, "national")}
		for i, role := range roles {
			switch firstWord(cells[1+i]) {
			case "yes":
				row.allowed[role] = true
			case "no":
			default:
				t.Errorf("%s: %s column %q begins with neither yes nor no", where, role, strings.TrimSpace(cells[1+i]))
			}
		}
		if !slices.Contains([]string{regionRequest, regionRecord, regionCaller, regionOwn, regionNone}, row.region) {
			t.Errorf("%s: region %q begins with none of request, record, caller, n/a", where, strings.TrimSpace(regionCell))
		}
		if row.region == regionRequest && !row.optional && !strings.Contains(regionCell, "required") {
			t.Errorf("%s: region %q says neither optional nor required", where, strings.TrimSpace(regionCell))
		}
		rows[name] = row
	}
	if len(rows) == 0 {
		t.Fatalf("%s has no RPC rows", securityDoc)
	}
	return rows
}

// pipelinePackage matches the packages of the pipeline's services.
var pipelinePackage = regexp.MustCompile(`^recruitment\.[a-z_]+\.v1$`)

// pipelineRPCs returns every method of every service in the pipeline's
// contracts, by "recruitment.<svc>.v1.<Service>/<Method>". The generated
// packages register their files when imported (see the imports above).
func pipelineRPCs(t *testing.T) map[string]protoreflect.MethodDescriptor {
	t.Helper()
	// A contract whose package is not linked in would hide its services
	// from the walk below.
	root := filepath.Join("..", "proto")
	err := filepath.WalkDir(filepath.Join(root, "recruitment"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if _, err := protoregistry.GlobalFiles.FindFileByPath(filepath.ToSlash(rel)); err != nil {
			t.Errorf("%s is not registered: import its generated package in access_test.go", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rpcs := map[string]protoreflect.MethodDescriptor{}
	protoregistry.GlobalFiles.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		if !pipelinePackage.MatchString(string(f.Package())) {
			return true
		}
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				rpcs[string(s.FullName())+"/"+string(m.Name())] = m
			}
		}
		return true
	})
	if len(rpcs) == 0 {
		t.Fatal("no services registered under recruitment.*.v1")
	}
	return rpcs
}

// regionField is the request's top-level string field "region", or nil.
func regionField(m protoreflect.MethodDescriptor) protoreflect.FieldDescriptor {
	f := m.Input().Fields().ByName("region")
	if f == nil || f.Kind() != protoreflect.StringKind || f.IsList() {
		return nil
	}
	return f
}

// contradicts says how row contradicts m's contract or pkg/auth's rules,
// or "" if it does not.
func (r accessRow) contradicts(m protoreflect.MethodDescriptor) string {
	hasRegion := regionField(m) != nil
	nonAdmins := len(r.nonAdmins()) > 0
	switch {
	case !r.allowed[auth.RoleAdmin]:
		return "admin says no, but auth.Require admits admins to every call"
	case !nonAdmins && r.region != regionNone:
		return "only admins may call it, so its region is n/a (an admin sees every region)"
	case nonAdmins && r.region == regionNone:
		return "non-admins may call it, so its region is checked somehow: request, record, caller or own"
	case r.region == regionRequest && !hasRegion:
		return "region says request, but " + string(m.Input().FullName()) + " has no region field"
	case hasRegion && nonAdmins && r.region != regionRequest:
		return "its request names a region and non-admins may call it, so the region column must say request"
	}
	return ""
}

// TestSecurityDocListsEveryRPC: docs/security.md's access table has a row
// for every RPC of the contracts, and only for those, each consistent with
// its contract.
func TestSecurityDocListsEveryRPC(t *testing.T) {
	t.Parallel()
	table := readAccessTable(t)
	rpcs := pipelineRPCs(t)
	for _, name := range sortedKeys(rpcs) {
		row, ok := table[name]
		if !ok {
			t.Errorf("%s has no row in %s's access table", name, securityDoc)
			continue
		}
		if why := row.contradicts(rpcs[name]); why != "" {
			t.Errorf("%s:%d: %s: %s", securityDoc, row.line, name, why)
		}
	}
	for _, name := range sortedKeys(table) {
		if _, ok := rpcs[name]; !ok {
			t.Errorf("%s:%d: %s is no RPC of the contracts", securityDoc, table[name].line, name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// leastRequest is m's request, empty but for its region field (if it has
// one) set to region.
func leastRequest(m protoreflect.MethodDescriptor, region string) proto.Message {
	req := dynamicpb.NewMessage(m.Input())
	if f := regionField(m); f != nil {
		req.Set(f, protoreflect.ValueOfString(region))
	}
	return req
}

// outcome is what a call answered: its status or, for a batch that
// succeeded, the status of its first item (the calls here send one).
type outcome struct {
	code codes.Code
	msg  string
}

func (o outcome) String() string { return o.code.String() + " " + strconv.Quote(o.msg) }

// call calls m on conn and returns its outcome.
func call(conn *grpc.ClientConn, m protoreflect.MethodDescriptor, req proto.Message, opts ...grpc.CallOption) outcome {
	resp, err := invoke(conn, m, req, opts...)
	if err != nil {
		st := status.Convert(err)
		return outcome{st.Code(), st.Message()}
	}
	return firstItem(resp)
}

// invoke calls m on conn and returns its answer. A server-streaming call
// is opened and its first message or error read.
func invoke(conn *grpc.ClientConn, m protoreflect.MethodDescriptor, req proto.Message, opts ...grpc.CallOption) (*dynamicpb.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	method := "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
	resp := dynamicpb.NewMessage(m.Output())
	if !m.IsStreamingClient() && !m.IsStreamingServer() {
		return resp, conn.Invoke(ctx, method, req, resp, opts...)
	}
	return resp, firstMessage(ctx, conn, m, method, req, resp, opts...)
}

// firstMessage opens the stream of m, sends req and reads the first
// answer into resp.
func firstMessage(ctx context.Context, conn *grpc.ClientConn, m protoreflect.MethodDescriptor, method string,
	req, resp proto.Message, opts ...grpc.CallOption) error {
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: m.IsStreamingServer(), ClientStreams: m.IsStreamingClient()}, method, opts...)
	if err != nil {
		return err
	}
	// io.EOF: the server has already ended the stream; RecvMsg has its status.
	if err := s.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	return s.RecvMsg(resp)
}

// firstItem is the outcome of a successful call: OK, or the status of the
// first of its results if it is a batch (results[].status, an ItemStatus).
func firstItem(resp protoreflect.Message) outcome {
	results := resp.Descriptor().Fields().ByName("results")
	if results == nil || !results.IsList() || results.Message() == nil || resp.Get(results).List().Len() == 0 {
		return outcome{code: codes.OK}
	}
	item := resp.Get(results).List().Get(0).Message()
	st := item.Descriptor().Fields().ByName("status")
	if st == nil || st.Message() == nil || st.Message().FullName() != "recruitment.common.v1.ItemStatus" {
		return outcome{code: codes.OK}
	}
	is := item.Get(st).Message()
	name := is.Get(is.Descriptor().Fields().ByName("code")).String()
	msg := is.Get(is.Descriptor().Fields().ByName("message")).String()
	var c codes.Code
	if err := c.UnmarshalJSON([]byte(strconv.Quote(name))); err != nil {
		return outcome{codes.Unknown, "item status " + name}
	}
	return outcome{c, msg}
}

// reachedHandler reports whether an allowed call got the handler's own
// answer: not an access refusal, and not a failure of the service.
func reachedHandler(o outcome) bool {
	switch o.code {
	case codes.OK, codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.AlreadyExists, codes.Aborted:
		return true
	}
	return false
}

// serviceConn is the connection to the service that serves m: the one
// named by its package, recruitment.<name>.v1.
func (s *stack) serviceConn(t *testing.T, m protoreflect.MethodDescriptor) *grpc.ClientConn {
	t.Helper()
	name := strings.Split(string(m.ParentFile().Package()), ".")[1]
	if name == "audit" {
		// Every service holding personal data serves its own audit trail.
		name = "applications"
	}
	conn, ok := s.conns[name]
	if !ok {
		t.Fatalf("%s: the e2e stack starts no service %q (see services in stack_test.go)", m.FullName(), name)
	}
	return conn
}

// sharedContracts are the contracts that several services serve, each for
// what it holds, by their package's name.
var sharedContracts = map[string][]string{"privacy": {"applications", "sifting", "offers", "vetting", "equality"}}

// serviceConns are the connections to every service that serves m, by
// service name.
func (s *stack) serviceConns(t *testing.T, m protoreflect.MethodDescriptor) map[string]*grpc.ClientConn {
	t.Helper()
	name := strings.Split(string(m.ParentFile().Package()), ".")[1]
	names, ok := sharedContracts[name]
	if !ok {
		return map[string]*grpc.ClientConn{name: s.serviceConn(t, m)}
	}
	conns := map[string]*grpc.ClientConn{}
	for _, n := range names {
		if conns[n], ok = s.conns[n]; !ok {
			t.Fatalf("%s: the e2e stack starts no service %q (see services in stack_test.go)", m.FullName(), n)
		}
	}
	return conns
}

// TestAccessTable calls every RPC of docs/security.md's access table on
// the running services with a token of every role and checks the answer
// is what the table says.
func TestAccessTable(t *testing.T) {
	t.Parallel()
	table := readAccessTable(t)
	rpcs := pipelineRPCs(t)
	st := start(t)
	london, wales := map[auth.Role]grpc.CallOption{}, map[auth.Role]grpc.CallOption{}
	for _, role := range roles {
		if !role.Regional() && role != auth.RoleAdmin {
			// The notifier's token names no region (pkg/auth refuses one
			// that does): one token stands for both.
			london[role] = token(t, string(role)+"-1", role)
			wales[role] = london[role]
			continue
		}
		london[role] = token(t, string(role)+"-london-1", role, "london")
		wales[role] = token(t, string(role)+"-wales-1", role, "wales")
	}

	// Roles and the request's region. The requests are empty but for the
	// region: every change then fails validation (no ids, no request id)
	// after the access checks, so nothing changes.
	for _, name := range sortedKeys(rpcs) {
		m := rpcs[name]
		row, ok := table[name]
		if !ok {
			continue // TestSecurityDocListsEveryRPC reports it
		}
		for service, conn := range st.serviceConns(t, m) {
			t.Run(name+" on "+service, func(t *testing.T) {
				t.Parallel()
				if got := call(conn, m, leastRequest(m, "london")); got.code != codes.Unauthenticated {
					t.Errorf("no token: %v, want Unauthenticated", got)
				}
				for _, role := range roles {
					got := call(conn, m, leastRequest(m, "london"), london[role])
					switch {
					case !row.allowed[role] && (got.code != codes.PermissionDenied || !strings.Contains(got.msg, "role")):
						t.Errorf("%s (line %d says no): %v, want PermissionDenied for the role", role, row.line, got)
					case row.allowed[role] && !reachedHandler(got):
						t.Errorf("%s (line %d says yes): %v, want the handler's answer", role, row.line, got)
					}
				}
				if regionField(m) == nil {
					return
				}
				// London's token asking for Wales.
				for _, role := range roles {
					got := call(conn, m, leastRequest(m, "wales"), london[role])
					denied := !row.allowed[role] || (role != auth.RoleAdmin && row.region == regionRequest)
					switch {
					case denied && got.code != codes.PermissionDenied:
						t.Errorf("%s for wales with a london token (line %d): %v, want PermissionDenied", role, row.line, got)
					case !denied && !reachedHandler(got):
						t.Errorf("%s for wales with a london token (line %d): %v, want the handler's answer", role, row.line, got)
					}
				}
			})
		}
	}

	// With a Welsh candidate in every service: its records named with a
	// London token and with a Welsh one, and the lists that take their
	// regions from the caller asked with a London token.
	t.Run("record and caller regions", func(t *testing.T) {
		t.Parallel()
		c := newCandidateIn(t, st, commonv1.JobRole_JOB_ROLE_PROBATION_OFFICER, "wales")
		c.passInterview()
		c.acceptOffer()
		// Applications learns of the Welsh vetting case from vetting.opened,
		// a moment later: GetCandidateContact answers Wales's vetting
		// contact point only once it has.
		contactRPC := "recruitment.applications.v1.ApplicationsService/GetCandidateContact"
		if m := rpcs[contactRPC]; m != nil {
			testenv.Eventually(t, "applications sees the Welsh vetting case open", func() (bool, string) {
				got := call(st.serviceConn(t, m), m, recordRequests[contactRPC](c), wales[auth.RoleVetting])
				return got.code == codes.OK, got.String()
			})
		}
		for _, name := range sortedKeys(table) {
			row, m := table[name], rpcs[name]
			if m == nil {
				continue
			}
			if row.region == regionCaller || (row.region == regionRequest && regionField(m) != nil) {
				for _, role := range row.nonAdmins() {
					got, regions := callForRegions(st.serviceConn(t, m), m, london[role])
					required := row.region == regionRequest && !row.optional
					switch {
					case row.national && role.Regional():
						if got.code != codes.PermissionDenied {
							t.Errorf("%s as %s of london with no region (line %d: national): %v, want PermissionDenied", name, role, row.line, got)
						}
					case !required && got.code != codes.OK:
						t.Errorf("%s as %s with no region (line %d: none needed): %v, want OK", name, role, row.line, got)
					case required && (got.code != codes.InvalidArgument || !strings.HasPrefix(got.msg, "region")):
						t.Errorf("%s as %s with no region (line %d: required): %v, want InvalidArgument for the region", name, role, row.line, got)
					case slices.ContainsFunc(regions, func(r string) bool { return r != "london" }):
						t.Errorf("%s as %s of london with no region answered for %v", name, role, regions)
					}
				}
			}
			if row.region != regionRecord {
				continue
			}
			build, ok := recordRequests[name]
			if !ok {
				t.Errorf("%s (line %d) checks the record's region, but recordRequests has no request for it", name, row.line)
				continue
			}
			conn := st.serviceConn(t, m)
			// The same request naming records that exist nowhere.
			nowhere := &candidate{id: event.NewID(), campaignID: event.NewID()}
			for _, role := range row.nonAdmins() {
				if !role.Regional() {
					// The notifier is not regional: it reaches the Welsh record.
					if got := call(conn, m, build(c), london[role]); got.code != codes.OK {
						t.Errorf("%s as %s on a wales record: %v, want OK", name, role, got)
					}
					continue
				}
				// Another region's record answers as a missing one, word for
				// word: a caller cannot tell that the id exists.
				got, missing := call(conn, m, build(c), london[role]), call(conn, m, build(nowhere), london[role])
				if got != missing || (got.code != codes.NotFound && got.code != codes.FailedPrecondition) {
					t.Errorf("%s as %s of london on a wales record: %v; on a missing one: %v; want the same NotFound or FailedPrecondition", name, role, got, missing)
				}
				if got := call(conn, m, build(c), wales[role]); !reachedHandler(got) || got.code == codes.PermissionDenied {
					t.Errorf("%s as %s of wales on a wales record: %v, want the handler's answer", name, role, got)
				}
			}
		}
	})
}

// callForRegions calls m with an empty request and returns the outcome
// and every region the answer names.
func callForRegions(conn *grpc.ClientConn, m protoreflect.MethodDescriptor, opts ...grpc.CallOption) (outcome, []string) {
	resp, err := invoke(conn, m, dynamicpb.NewMessage(m.Input()), opts...)
	if err != nil {
		st := status.Convert(err)
		return outcome{st.Code(), st.Message()}, nil
	}
	return outcome{code: codes.OK}, regionsIn(resp)
}

// regionsIn returns the values of every string field named region in msg,
// at any depth.
func regionsIn(msg protoreflect.Message) []string {
	var out []string
	msg.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.IsMap():
		case f.IsList() && f.Message() != nil:
			for i := range v.List().Len() {
				out = append(out, regionsIn(v.List().Get(i).Message())...)
			}
		case f.Message() != nil:
			out = append(out, regionsIn(v.Message())...)
		case f.Name() == "region" && f.Kind() == protoreflect.StringKind && !f.IsList():
			out = append(out, v.String())
		}
		return true
	})
	return out
}

// staleVersion is an expected_version no record has, so a change that
// passes the access checks is refused as stale and changes nothing.
const staleVersion = 999

// recordRequests builds, for each RPC that checks its record's region, a
// request naming c's records that would pass validation: the region check
// then decides. Changes carry staleVersion.
var recordRequests = map[string]func(c *candidate) proto.Message{
	"recruitment.applications.v1.ApplicationsService/GetCampaign": func(c *candidate) proto.Message {
		return &applicationsv1.GetCampaignRequest{CampaignId: c.campaignID}
	},
	// Changes of a campaign by a SPOC holding its regions (issue 16).
	"recruitment.applications.v1.ApplicationsService/UpdateCampaign": func(c *candidate) proto.Message {
		return &applicationsv1.UpdateCampaignRequest{RequestId: event.NewID(), CampaignId: c.campaignID, ExpectedVersion: staleVersion,
			Title: "Campaign", Posts: 5, OpensOn: &commonv1.Date{Year: 2026, Month: 1, Day: 1}}
	},
	"recruitment.applications.v1.ApplicationsService/SetCampaignStatus": func(c *candidate) proto.Message {
		return &applicationsv1.SetCampaignStatusRequest{RequestId: event.NewID(), CampaignId: c.campaignID, ExpectedVersion: staleVersion,
			Status: commonv1.CampaignStatus_CAMPAIGN_STATUS_CLOSED}
	},
	"recruitment.reporting.v1.ReportingService/GetCampaignProgress": func(c *candidate) proto.Message {
		return &reportingv1.GetCampaignProgressRequest{CampaignId: c.campaignID}
	},
	// The candidate newCandidateIn submitted: a Welsh SPOC gets
	// AlreadyExists, and nothing is added.
	"recruitment.applications.v1.ApplicationsService/SubmitApplication": func(c *candidate) proto.Message {
		return &applicationsv1.SubmitApplicationRequest{RequestId: event.NewID(), CampaignId: c.campaignID,
			Candidate: &applicationsv1.Candidate{Name: "Ada Lovelace", Email: "ada@example.org"}}
	},
	"recruitment.applications.v1.ApplicationsService/GetCandidateContact": func(c *candidate) proto.Message {
		return &applicationsv1.GetCandidateContactRequest{ApplicationId: c.id}
	},
	"recruitment.applications.v1.ApplicationsService/GetApplication": func(c *candidate) proto.Message {
		return &applicationsv1.GetApplicationRequest{ApplicationId: c.id}
	},
	"recruitment.applications.v1.ApplicationsService/WithdrawApplication": func(c *candidate) proto.Message {
		return &applicationsv1.WithdrawApplicationRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, ReasonCode: "candidate_request"}
	},
	"recruitment.sifting.v1.SiftingService/RecordSiftDecision": func(c *candidate) proto.Message {
		return &siftingv1.RecordSiftDecisionRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, Outcome: commonv1.Outcome_OUTCOME_PASS}
	},
	"recruitment.sifting.v1.SiftingService/BatchRecordSiftDecisions": func(c *candidate) proto.Message {
		return &siftingv1.BatchRecordSiftDecisionsRequest{RequestId: event.NewID(), CampaignId: c.campaignID,
			Decisions: []*siftingv1.SiftDecision{{ApplicationId: c.id, ExpectedVersion: staleVersion, Outcome: commonv1.Outcome_OUTCOME_PASS}}}
	},
	"recruitment.sifting.v1.SiftingService/ScheduleInterview": func(c *candidate) proto.Message {
		return &siftingv1.ScheduleInterviewRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, ScheduledFor: timestamppb.New(time.Now().Add(48 * time.Hour))}
	},
	"recruitment.sifting.v1.SiftingService/RecordInterviewOutcome": func(c *candidate) proto.Message {
		return &siftingv1.RecordInterviewOutcomeRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, Outcome: commonv1.Outcome_OUTCOME_PASS}
	},
	"recruitment.sifting.v1.SiftingService/GetCase": func(c *candidate) proto.Message {
		return &siftingv1.GetCaseRequest{ApplicationId: c.id}
	},
	"recruitment.offers.v1.OffersService/MakeConditionalOffer": func(c *candidate) proto.Message {
		return &offersv1.MakeConditionalOfferRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, SalaryBandCode: "band_4", Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}}
	},
	"recruitment.offers.v1.OffersService/AcceptOffer": func(c *candidate) proto.Message {
		return &offersv1.AcceptOfferRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion}
	},
	"recruitment.offers.v1.OffersService/DeclineOffer": func(c *candidate) proto.Message {
		return &offersv1.DeclineOfferRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, ReasonCode: "candidate_request"}
	},
	"recruitment.offers.v1.OffersService/WithdrawOffer": func(c *candidate) proto.Message {
		return &offersv1.WithdrawOfferRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, ReasonCode: "candidate_request"}
	},
	"recruitment.offers.v1.OffersService/SetStartDate": func(c *candidate) proto.Message {
		return &offersv1.SetStartDateRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, StartDate: londonToday()}
	},
	"recruitment.offers.v1.OffersService/ConfirmStart": func(c *candidate) proto.Message {
		return &offersv1.ConfirmStartRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion}
	},
	"recruitment.offers.v1.OffersService/GetOffer": func(c *candidate) proto.Message {
		return &offersv1.GetOfferRequest{ApplicationId: c.id}
	},
	"recruitment.offers.v1.OffersService/RecordCheck": func(c *candidate) proto.Message {
		return &offersv1.RecordCheckRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion,
			Check: commonv1.OfferCondition_OFFER_CONDITION_RIGHT_TO_WORK, Status: commonv1.CheckStatus_CHECK_STATUS_MET}
	},
	"recruitment.offers.v1.OffersService/ApproveEarlyStart": func(c *candidate) proto.Message {
		return &offersv1.ApproveEarlyStartRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion}
	},
	"recruitment.vetting.v1.VettingService/RecordFormsReceived": func(c *candidate) proto.Message {
		return &vettingv1.RecordFormsReceivedRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion}
	},
	"recruitment.vetting.v1.VettingService/BlockCase": func(c *candidate) proto.Message {
		return &vettingv1.BlockCaseRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, Reason: commonv1.BlockReason_BLOCK_REASON_REFEREE_UNRESPONSIVE}
	},
	"recruitment.vetting.v1.VettingService/UnblockCase": func(c *candidate) proto.Message {
		return &vettingv1.UnblockCaseRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion}
	},
	"recruitment.vetting.v1.VettingService/ClearCase": func(c *candidate) proto.Message {
		return &vettingv1.ClearCaseRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion}
	},
	"recruitment.vetting.v1.VettingService/FailCase": func(c *candidate) proto.Message {
		return &vettingv1.FailCaseRequest{RequestId: event.NewID(), ApplicationId: c.id,
			ExpectedVersion: staleVersion, ReasonCode: "identity_not_verified"}
	},
	"recruitment.vetting.v1.VettingService/GetCase": func(c *candidate) proto.Message {
		return &vettingv1.GetCaseRequest{ApplicationId: c.id}
	},
	"recruitment.vetting.v1.VettingService/BatchUnblock": func(c *candidate) proto.Message {
		return &vettingv1.BatchUnblockRequest{RequestId: event.NewID(),
			Items: []*vettingv1.UnblockItem{{ApplicationId: c.id, ExpectedVersion: staleVersion}}}
	},
	"recruitment.vetting.v1.VettingService/BatchClear": func(c *candidate) proto.Message {
		return &vettingv1.BatchClearRequest{RequestId: event.NewID(),
			Items: []*vettingv1.ClearItem{{ApplicationId: c.id, ExpectedVersion: staleVersion}}}
	},
	"recruitment.sifting.v1.SiftingService/BatchRecordInterviewOutcomes": func(c *candidate) proto.Message {
		return &siftingv1.BatchRecordInterviewOutcomesRequest{RequestId: event.NewID(),
			Outcomes: []*siftingv1.InterviewOutcome{{ApplicationId: c.id, ExpectedVersion: staleVersion, Outcome: commonv1.Outcome_OUTCOME_PASS}}}
	},
	"recruitment.offers.v1.OffersService/BatchMakeConditionalOffers": func(c *candidate) proto.Message {
		return &offersv1.BatchMakeConditionalOffersRequest{RequestId: event.NewID(), Items: []*offersv1.OfferItem{{ApplicationId: c.id,
			ExpectedVersion: staleVersion, SalaryBandCode: "band_4", Conditions: []commonv1.OfferCondition{commonv1.OfferCondition_OFFER_CONDITION_VETTING}}}}
	},
	"recruitment.applications.v1.ApplicationsService/BatchWithdrawApplications": func(c *candidate) proto.Message {
		return &applicationsv1.BatchWithdrawApplicationsRequest{RequestId: event.NewID(),
			Items: []*applicationsv1.WithdrawItem{{ApplicationId: c.id, ExpectedVersion: staleVersion, ReasonCode: "candidate_request"}}}
	},
	"recruitment.vetting.v1.VettingService/AssignCase": func(c *candidate) proto.Message {
		return &vettingv1.AssignCaseRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion, Assignee: "vetting-london-2"}
	},
	"recruitment.vetting.v1.VettingService/UnassignCase": func(c *candidate) proto.Message {
		return &vettingv1.UnassignCaseRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion}
	},
	"recruitment.vetting.v1.VettingService/BatchAssign": func(c *candidate) proto.Message {
		return &vettingv1.BatchAssignRequest{RequestId: event.NewID(), Assignee: "vetting-london-2",
			Items: []*vettingv1.AssignItem{{ApplicationId: c.id, ExpectedVersion: staleVersion}}}
	},
	"recruitment.sifting.v1.SiftingService/AssignCase": func(c *candidate) proto.Message {
		return &siftingv1.AssignCaseRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion, Assignee: "spoc-london-2"}
	},
	"recruitment.sifting.v1.SiftingService/UnassignCase": func(c *candidate) proto.Message {
		return &siftingv1.UnassignCaseRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion}
	},
	"recruitment.sifting.v1.SiftingService/BatchAssign": func(c *candidate) proto.Message {
		return &siftingv1.BatchAssignRequest{RequestId: event.NewID(), Assignee: "spoc-london-2",
			Items: []*siftingv1.AssignItem{{ApplicationId: c.id, ExpectedVersion: staleVersion}}}
	},
	"recruitment.offers.v1.OffersService/AssignCase": func(c *candidate) proto.Message {
		return &offersv1.AssignCaseRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion, Assignee: "spoc-london-2"}
	},
	"recruitment.offers.v1.OffersService/UnassignCase": func(c *candidate) proto.Message {
		return &offersv1.UnassignCaseRequest{RequestId: event.NewID(), ApplicationId: c.id, ExpectedVersion: staleVersion}
	},
	"recruitment.offers.v1.OffersService/BatchAssign": func(c *candidate) proto.Message {
		return &offersv1.BatchAssignRequest{RequestId: event.NewID(), Assignee: "spoc-london-2",
			Items: []*offersv1.AssignItem{{ApplicationId: c.id, ExpectedVersion: staleVersion}}}
	},
}
