// Package audit records who read or changed a candidate's personal data:
// one row per such call, in the schema of the service that holds the data,
// written by gRPC interceptors that run after authentication, and served
// back to admins by recruitment.audit.v1.AuditService.
//
// Each service declares, for every method it serves, whether the method
// reads personal data, changes it, or touches none (a Policy), and where
// the record ids are in the request or the response. A service refuses to
// start while any method it serves is undeclared (Recorder.Check), and each
// service's tests check its contract against its policy (Policy.Covers), so
// a new RPC cannot slip past the trail.
//
// What a row holds: the token's subject, role and regions, the method, the
// application ids, the time and the call's status code — never a request
// or response body. Calls refused by authentication never reach the
// interceptors (they are logged and counted by pkg/grpcserver); calls
// refused by the role or region checks are recorded with their code.
//
// When the row is written, and what a failure to write it does:
//   - A change made through pkg/command writes its row inside the change's
//     own transaction (RecordChange), so the change commits only with its row and
//     a failed audit write fails the change. If that transaction then rolls
//     back, the interceptor records the failure after the call.
//   - A read writes its row after the handler and before the response
//     leaves: if the write fails, the caller gets Internal instead of the
//     data (fail closed), and the failure is logged and counted
//     (audit_write_failures_total).
//   - A refused call, and a change not made through pkg/command (a batch),
//     is recorded after the call; a failed write is logged and counted,
//     and the call's own answer stands.
//
// Rows are kept for a retention of their own (Pruner), then deleted.
package audit

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/probation-recruitment/pipeline/pkg/apistatus"
	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/pg"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the audit table in a service's schema; every service
// runs it with the runtime's other tables (service.Migrations).
var Migrations = pg.Embedded("audit", migrations, "migrations")

// writeTimeout bounds one audit write. The write runs even when the call's
// own context has ended (a client that hung up after reading must still
// be recorded), so it needs a bound of its own.
const writeTimeout = 5 * time.Second

// Kind says what a method does with personal data.
type Kind int

// The kinds of method.
const (
	// NotPersonalKind methods neither return nor change personal data.
	NotPersonalKind Kind = iota
	// ReadKind methods return personal data.
	ReadKind
	// ChangeKind methods change personal data (and return it).
	ChangeKind
)

func (k Kind) String() string {
	switch k {
	case ReadKind:
		return "read"
	case ChangeKind:
		return "change"
	}
	return "not personal"
}

// Path names where record ids are in a request or a response: field names
// joined by dots, through message and repeated message fields, ending at a
// string field ("application_id", "applications.id",
// "decisions.application_id").
type Path struct {
	response bool
	fields   []string
}

// Request is a path into the request.
func Request(path string) Path { return Path{fields: strings.Split(path, ".")} }

// Response is a path into the response (a unary call's only).
func Response(path string) Path { return Path{response: true, fields: strings.Split(path, ".")} }

func (p Path) String() string {
	if p.response {
		return "response." + strings.Join(p.fields, ".")
	}
	return "request." + strings.Join(p.fields, ".")
}

// Rule is what a policy says of one method.
type Rule struct {
	Kind Kind
	// IDs are where the method's record ids are.
	IDs []Path
	// Why a method touches no personal data, for the reader of the policy.
	Why string
}

// Read is the rule of a method that returns personal data of the records
// at ids.
func Read(ids ...Path) Rule { return Rule{Kind: ReadKind, IDs: ids} }

// Change is the rule of a method that changes personal data of the
// records at ids.
func Change(ids ...Path) Rule { return Rule{Kind: ChangeKind, IDs: ids} }

// NotPersonal is the rule of a method that neither returns nor changes
// personal data; why says so for the next reader.
func NotPersonal(why string) Rule { return Rule{Kind: NotPersonalKind, Why: why} }

// Policy is one gRPC service's rules, by method name.
type Policy struct {
	// Service is the full name, e.g. "recruitment.applications.v1.ApplicationsService".
	Service string
	Methods map[string]Rule
}

// Covers checks p against the service's contract: every method declared,
// no rule for a method the service does not have, and every path leading
// to a string field. A service's tests call it with the service's
// descriptor, so adding an RPC without deciding whether it touches
// personal data fails the build's tests.
func (p Policy) Covers(sd protoreflect.ServiceDescriptor) error {
	var errs []error
	if string(sd.FullName()) != p.Service {
		errs = append(errs, fmt.Errorf("policy is for %s, not %s", p.Service, sd.FullName()))
	}
	methods := sd.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		rule, ok := p.Methods[string(m.Name())]
		if !ok {
			errs = append(errs, fmt.Errorf("%s/%s: not declared: say whether it reads or changes personal data (audit.Read, audit.Change) or not (audit.NotPersonal)", sd.FullName(), m.Name()))
			continue
		}
		for _, path := range rule.IDs {
			msg := m.Input()
			if path.response {
				msg = m.Output()
			}
			if err := path.check(msg); err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %s: %w", sd.FullName(), m.Name(), path, err))
			}
		}
		if rule.Kind == NotPersonalKind && rule.Why == "" {
			errs = append(errs, fmt.Errorf("%s/%s: NotPersonal needs a reason", sd.FullName(), m.Name()))
		}
	}
	for name := range p.Methods {
		if methods.ByName(protoreflect.Name(name)) == nil {
			errs = append(errs, fmt.Errorf("%s: no method %s, but the policy has a rule for it", sd.FullName(), name))
		}
	}
	return errors.Join(errs...)
}

// check reports whether p leads through msg to a string field.
func (p Path) check(msg protoreflect.MessageDescriptor) error {
	for i, name := range p.fields {
		f := msg.Fields().ByName(protoreflect.Name(name))
		switch {
		case f == nil:
			return fmt.Errorf("%s has no field %s", msg.FullName(), name)
		case f.IsMap():
			return fmt.Errorf("field %s is a map", name)
		case i == len(p.fields)-1:
			if f.Kind() != protoreflect.StringKind {
				return fmt.Errorf("field %s is not a string", name)
			}
		case f.Message() == nil:
			return fmt.Errorf("field %s is not a message", name)
		default:
			msg = f.Message()
		}
	}
	return nil
}

// values returns the non-empty strings at p in m, in order.
func (p Path) values(m protoreflect.Message, out []string) []string {
	f := m.Descriptor().Fields().ByName(protoreflect.Name(p.fields[0]))
	if f == nil || !m.Has(f) {
		return out
	}
	rest := Path{response: p.response, fields: p.fields[1:]}
	v := m.Get(f)
	switch {
	case f.IsList() && len(rest.fields) == 0:
		for i := range v.List().Len() {
			if s := v.List().Get(i).String(); s != "" {
				out = append(out, s)
			}
		}
	case f.IsList():
		for i := range v.List().Len() {
			out = rest.values(v.List().Get(i).Message(), out)
		}
	case len(rest.fields) == 0:
		if s := v.String(); s != "" {
			out = append(out, s)
		}
	default:
		out = rest.values(v.Message(), out)
	}
	return out
}

// recordIDs collects the ids rule names in req and resp (either may be
// nil), without repeats.
func recordIDs(rule Rule, req, resp any) []string {
	ids := []string{}
	for _, p := range rule.IDs {
		m, ok := req.(proto.Message)
		if p.response {
			m, ok = resp.(proto.Message)
		}
		if !ok || m == nil {
			continue
		}
		if r := m.ProtoReflect(); r.IsValid() {
			ids = p.values(r, ids)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Recorder writes a service's audit trail. Build it with New, Declare the
// policy of every service served, put its interceptors after
// authentication, and Check before serving.
type Recorder struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	now  func() time.Time

	mu    sync.RWMutex
	rules map[string]Rule // by full method, "/pkg.Service/Method"

	written  *prometheus.CounterVec
	failures prometheus.Counter
	pruned   prometheus.Counter
}

// New returns a Recorder writing to pool's schema. Register it on the
// service's Prometheus registry for its metrics.
func New(pool *pgxpool.Pool, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.Default()
	}
	return &Recorder{
		pool: pool, log: log, now: time.Now, rules: map[string]Rule{},
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "audit_events_written_total", Help: "Audit events written, by kind (read, change) and outcome.",
		}, []string{"kind", "outcome"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "audit_write_failures_total",
			Help: "Audit events that could not be written; a read whose event failed was refused with Internal.",
		}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "audit_events_pruned_total", Help: "Audit events deleted at the end of their retention.",
		}),
	}
}

// SetClock makes the recorder stamp events with now instead of time.Now
// (tests).
func (r *Recorder) SetClock(now func() time.Time) { r.now = now }

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	r.written.Describe(ch)
	r.failures.Describe(ch)
	r.pruned.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	r.written.Collect(ch)
	r.failures.Collect(ch)
	r.pruned.Collect(ch)
}

// Declare adds the rules of one service's methods.
func (r *Recorder) Declare(p Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, rule := range p.Methods {
		r.rules["/"+p.Service+"/"+name] = rule
	}
}

func (r *Recorder) rule(fullMethod string) Rule {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rule, ok := r.rules[fullMethod]
	if !ok {
		// Check refuses to serve an undeclared method; should one get here
		// all the same, it is recorded rather than let through unseen.
		return Read()
	}
	return rule
}

// infrastructure reports whether a gRPC service is one every server runs
// that holds no pipeline data (health, reflection).
func infrastructure(service string) bool {
	return service == "grpc.health.v1.Health" || strings.HasPrefix(service, "grpc.reflection.")
}

// Check returns an error naming every method served (services as
// grpc.Server.GetServiceInfo lists them) that no policy declares, and every
// policy that does not fit its service's contract. A service runs it
// before serving and refuses to start on an error.
func (r *Recorder) Check(services map[string]grpc.ServiceInfo) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var errs []error
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if infrastructure(name) {
			continue
		}
		p := Policy{Service: name, Methods: map[string]Rule{}}
		for full, rule := range r.rules {
			if svc, method, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/"); ok && svc == name {
				p.Methods[method] = rule
			}
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			errs = append(errs, fmt.Errorf("audit: %s: no descriptor: %w", name, err))
			continue
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			errs = append(errs, fmt.Errorf("audit: %s is not a service", name))
			continue
		}
		if err := p.Covers(sd); err != nil {
			errs = append(errs, fmt.Errorf("audit policy: %w", err))
		}
	}
	return errors.Join(errs...)
}

// pending is the audit event of the call in progress, in its context.
type pending struct {
	r      *Recorder
	method string
	rule   Rule
	claims auth.Claims
	req    any
	// written is set once RecordChange has written the event in the change's
	// transaction.
	written bool
}

type pendingKey struct{}

// RecordChange writes the audit event of the change in progress inside the
// transaction ctx carries (pg.WithTx), with resp as the call's response,
// so the change commits only with its event. Outside an audited change
// (no interceptor, or a method declared read or not personal) it does
// nothing. pkg/command calls it for every change it makes.
func RecordChange(ctx context.Context, resp proto.Message) error {
	p, ok := ctx.Value(pendingKey{}).(*pending)
	if !ok || p.rule.Kind != ChangeKind {
		return nil
	}
	if err := p.r.insertInTx(ctx, p.entry(resp, codes.OK)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	p.written = true
	return nil
}

// entry is the row for the call ending with code.
func (p *pending) entry(resp any, code codes.Code) entry {
	regions := p.claims.Regions
	if regions == nil {
		regions = []string{}
	}
	return entry{
		ID: uuid.Must(uuid.NewV7()).String(), At: p.r.now(), Subject: p.claims.Subject, Role: string(p.claims.Role),
		Regions: regions, Method: p.method, Kind: p.rule.Kind.String(), RecordIDs: recordIDs(p.rule, p.req, resp),
		Outcome: apistatus.CodeName(code),
	}
}

// begin returns the pending event of a call to fullMethod, or nil when the
// call is not the trail's business: a method touching no personal data,
// or a call that skipped authentication (health probes).
func (r *Recorder) begin(ctx context.Context, fullMethod string, req any) *pending {
	rule := r.rule(fullMethod)
	if rule.Kind == NotPersonalKind {
		return nil
	}
	claims, ok := auth.FromContext(ctx)
	if !ok {
		return nil
	}
	return &pending{r: r, method: fullMethod, rule: rule, claims: claims, req: req}
}

// finish records a call that ended with err, unless RecordChange already did in
// the transaction that committed, and returns what the caller gets.
func (p *pending) finish(ctx context.Context, resp any, err error) (any, error) {
	if p.written && err == nil {
		return resp, nil
	}
	if err == nil {
		// The response is not sent if the event cannot be written.
		if werr := p.r.write(ctx, p.entry(resp, codes.OK)); werr != nil {
			if p.rule.Kind == ReadKind {
				return nil, status.Error(codes.Internal, "internal error")
			}
			// A change that is not made through pkg/command (a batch) has
			// already committed: refusing its answer would only make the
			// caller retry what is done. The failure is logged and counted.
		}
		return resp, nil
	}
	_ = p.r.write(ctx, p.entry(nil, status.Code(err)))
	return resp, err
}

// write stores e outside the call's transaction, logging and counting a
// failure.
func (r *Recorder) write(ctx context.Context, e entry) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := r.insert(ctx, r.pool, e); err != nil {
		r.failures.Inc()
		r.log.ErrorContext(ctx, "audit event not written", "method", e.Method, "subject", e.Subject, "outcome", e.Outcome, "err", err)
		return err
	}
	return nil
}

// UnaryServerInterceptor records the unary calls that read or change
// personal data. It must run after authentication, which puts the caller
// in the context.
func (r *Recorder) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p := r.begin(ctx, info.FullMethod, req)
		if p == nil {
			return handler(ctx, req)
		}
		resp, err := handler(context.WithValue(ctx, pendingKey{}, p), req)
		return p.finish(ctx, resp, err)
	}
}

// StreamServerInterceptor records the streaming calls that read or change
// personal data, once the stream ends, with the record ids of its first
// request. It must run after authentication.
func (r *Recorder) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		p := r.begin(ss.Context(), info.FullMethod, nil)
		if p == nil {
			return handler(srv, ss)
		}
		err := handler(srv, &recordingStream{ServerStream: ss, p: p})
		if err == nil {
			// What a stream sent has gone: the event can only follow it.
			_ = r.write(ss.Context(), p.entry(nil, codes.OK))
			return nil
		}
		_, err = p.finish(ss.Context(), nil, err)
		return err
	}
}

// recordingStream keeps a stream's first request, where its record ids are.
type recordingStream struct {
	grpc.ServerStream
	p *pending
}

func (s *recordingStream) Context() context.Context {
	return context.WithValue(s.ServerStream.Context(), pendingKey{}, s.p)
}

func (s *recordingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && s.p.req == nil {
		s.p.req = m
	}
	return err
}
