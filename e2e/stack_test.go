package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/probation-recruitment/pipeline/pkg/auth"
	"github.com/probation-recruitment/pipeline/pkg/event"
	"github.com/probation-recruitment/pipeline/pkg/grpcauth"
	"github.com/probation-recruitment/pipeline/pkg/grpcclient"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/pkg/tlsconfig"
)

// testSeed is the private seed of the key the tests sign tokens with; the
// services hold only its public half, as in production.
const testSeed = "ZTJlLXRlc3Qtc2lnbmluZy1rZXktMzItYnl0ZXMhISE="

// testPublicKey is testSeed's public key, for the services.
func testPublicKey(t *testing.T) string {
	t.Helper()
	k, err := auth.KeyConfig{Ed25519PrivateKey: testSeed}.Public()
	if err != nil {
		t.Fatal(err)
	}
	return k.Ed25519PublicKey
}

// services are started in this order; every test gets all of them.
var services = []string{"applications", "sifting", "offers", "vetting", "reporting", "notifier", "equality"}

// binDir holds the binaries the tests build, once per run (TestMain
// removes it).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type build struct {
	once sync.Once
	path string
	err  error
}

var builds sync.Map // binary name → *build

// binary builds the main package in dir (from the repository root) as
// name, once per test run, with extra go build flags.
func binary(t *testing.T, name, dir string, flags ...string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(name, &build{})
	b := v.(*build)
	b.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		b.path = filepath.Join(binDir, name)
		cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", b.path, ".")...)
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %s: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// stack is the running system of one test.
type stack struct {
	// certs, if not nil, are the certificates the services serve gRPC
	// with, requiring client certificates of their CA (startTLS); nil
	// serves plain text on loopback.
	certs *testenv.Certs
	conns map[string]*grpc.ClientConn
	// addrs are the services' gRPC addresses, for clients run as processes.
	addrs map[string]string
	js    jetstream.JetStream
	// admins are the services' admin (metrics) addresses.
	admins map[string]string
	// prefix names the test's schemas and roles (prefix_NAME); dbURLs are
	// the services' database URLs, each connecting as its own role.
	prefix string
	dbURLs map[string]string
	// natsURL is the test's NATS server; natsEnv(service) is the
	// environment that connects service to it as its own user.
	natsURL string
	natsEnv func(service string) []string
	// procs are the service processes by name (a second replica of
	// reporting is "reporting-2").
	procs map[string]*proc
	// served counts the calls each replica answered through a connection
	// spread over replicas.
	served *servedCalls
}

// stableAddr returns a free loopback address for a process the test may
// start again on it: a port below the kernel's range of ephemeral ports
// (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default), which
// no outgoing connection is given while the process is down, least of all
// a client dialling the port itself (on loopback a connection to a port
// with no listener can be given that very port as its own, connecting to
// itself and holding the port).
func stableAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		port := 20000 + mrand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		defer l.Close()
		return l.Addr().String()
	}
	t.Fatal("no free port below the ephemeral range after 100 tries")
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs every service as a process, serving gRPC in plain text on
// loopback as make run does, and waits until each is ready; env adds to
// every service's environment (an OpenID provider to accept, say). The
// NATS server has the production users and permissions, each service
// connecting as its own user; the test itself reads the stream as the
// administrator.
func start(t *testing.T, env ...string) *stack {
	t.Helper()
	return startStack(t, nil, env)
}

// startTLS is start with every service serving gRPC over TLS and
// requiring a client certificate of the test CA (mutual TLS); the stack's
// connections present the test's client certificate.
func startTLS(t *testing.T, env ...string) *stack {
	t.Helper()
	return startStack(t, testenv.TLSCerts(t), env)
}

func startStack(t *testing.T, certs *testenv.Certs, env []string) *stack {
	t.Helper()
	return startStackWith(t, stackConfig{certs: certs, env: env})
}

// stackConfig says how startStackWith starts a stack.
type stackConfig struct {
	// certs, if not nil, make the services serve mutual TLS (startTLS).
	certs *testenv.Certs
	// env adds to every service's environment.
	env []string
	// nats, if not nil, is a NATS server run as a process of the test's
	// (startNATSProcess), or a cluster of them (startNATSCluster), which
	// it may kill, freeze and restart; nil runs one in-process
	// (testenv.NATS), which lives as long as the test.
	nats natsServers
	// replicas starts that many processes of a service (default one):
	// "reporting": 2 runs reporting and reporting-2, sharing its schema
	// and durable consumer as replicas do in production. The stack's
	// connection to such a service spreads calls over its replicas
	// (grpcclient.Balanced), as a client of a Kubernetes Service would.
	replicas map[string]int
}

func startStackWith(t *testing.T, cfg stackConfig) *stack {
	t.Helper()
	natsURL, natsEnv := "", func(service string) []string { return testenv.NATSEnv(t, service) }
	var js jetstream.JetStream
	if cfg.nats != nil {
		natsURL, natsEnv, js = cfg.nats.clientURL(), cfg.nats.env, cfg.nats.admin(t)
	} else {
		natsURL = testenv.NATS(t)
		_, js = testenv.Connect(t, natsURL)
	}
	prefix := testenv.Name("e2e_")
	st := &stack{certs: cfg.certs, conns: map[string]*grpc.ClientConn{}, addrs: map[string]string{}, admins: map[string]string{}, js: js,
		prefix: prefix, dbURLs: provisionRoles(t, prefix), natsURL: natsURL, natsEnv: natsEnv, procs: map[string]*proc{},
		served: &servedCalls{by: map[string]int{}}}
	transportEnv, creds := []string{"GRPC_INSECURE=true"}, grpcauth.PlaintextLoopback()
	if cfg.certs != nil {
		certs := cfg.certs
		transportEnv = []string{"TLS_CERT_FILE=" + certs.Server.Cert, "TLS_KEY_FILE=" + certs.Server.Key, "TLS_CLIENT_CA_FILE=" + certs.CA}
		tc, err := tlsconfig.Client{CAFile: certs.CA, CertFile: certs.Client.Cert, KeyFile: certs.Client.Key}.Config()
		if err != nil {
			t.Fatal(err)
		}
		creds = credentials.NewTLS(tc)
	}
	for _, name := range services {
		serviceEnv := append(transportEnv, cfg.env...)
		switch name {
		case "notifier":
			serviceEnv = append(serviceEnv, st.notifierEnv(t)...)
		case "applications":
			// Monitoring answers go to the equality service's schema,
			// which its role may INSERT into and nothing else.
			serviceEnv = append(serviceEnv, "EQUALITY_SCHEMA="+prefix+"_equality")
		case "equality":
			serviceEnv = append(serviceEnv, "EQUALITY_DEPOSITOR_ROLE="+prefix+"_applications")
		}
		st.startService(t, name, name, serviceEnv, creds)
		addrs := []resolver.Address{{Addr: st.addrs[name]}}
		for i := 2; i <= cfg.replicas[name]; i++ {
			replica := fmt.Sprintf("%s-%d", name, i)
			st.startService(t, replica, name, serviceEnv, creds)
			addrs = append(addrs, resolver.Address{Addr: st.addrs[replica]})
		}
		if len(addrs) > 1 {
			st.conns[name] = st.balanced(t, addrs, creds)
		}
	}
	return st
}

// balanced is a connection that spreads calls over a service's replicas
// and counts, in st.served, the calls each answered OK.
func (st *stack) balanced(t *testing.T, addrs []resolver.Address, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	r := manual.NewBuilderWithScheme("replicas")
	r.InitialState(resolver.State{Addresses: addrs})
	conn, err := grpc.NewClient(r.Scheme()+":///service", grpc.WithResolvers(r), grpc.WithTransportCredentials(creds),
		grpcclient.Balanced(), grpc.WithChainUnaryInterceptor(st.served.count))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// servedCalls counts the unary calls answered OK by each gRPC address.
type servedCalls struct {
	mu sync.Mutex
	by map[string]int
}

func (s *servedCalls) count(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	var p peer.Peer
	err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Peer(&p))...)
	if err == nil && p.Addr != nil {
		s.mu.Lock()
		s.by[p.Addr.String()]++
		s.mu.Unlock()
	}
	return err
}

// of is how many calls the process at grpcAddr answered OK.
func (s *servedCalls) of(grpcAddr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.by[grpcAddr]
}

// notifierEnv points the notifier at the stack's applications service
// (started before it) with a notifier token, to read the names it may put
// in a message.
func (st *stack) notifierEnv(t *testing.T) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "notifier-token")
	if err := os.WriteFile(file, []byte(mintToken(t, "notifier-e2e", auth.RoleNotifier)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"APPLICATIONS_ADDR=" + st.addrs["applications"], "APPLICATIONS_TOKEN_FILE=" + file}
	if st.certs == nil {
		return append(env, "APPLICATIONS_INSECURE=true")
	}
	return append(env, "APPLICATIONS_CA_FILE="+st.certs.CA, "APPLICATIONS_CERT_FILE="+st.certs.Client.Cert,
		"APPLICATIONS_KEY_FILE="+st.certs.Client.Key)
}

// proc is one service process of a stack. The test may kill it, freeze
// it and start it again on the same ports, where the stack's connection
// to it finds it again.
type proc struct {
	name                string
	bin                 string
	env                 []string
	grpcAddr, adminAddr string
	logs                *syncBuffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// launch starts the process and waits until it is ready.
func (p *proc) launch() error {
	return p.launchUntil(waitReady)
}

// launchUntil starts the process and waits with wait.
func (p *proc) launchUntil(wait func(adminAddr string, exited <-chan struct{}) error) error {
	cmd := exec.Command(p.bin)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	if err := wait(p.adminAddr, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return err
	}
	return nil
}

// signal sends sig to the running process.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// kill ends the process at once (SIGKILL), as a crash would.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	<-exited
}

// restart starts the process again on its ports and waits until it is
// ready.
func (p *proc) restart(t *testing.T) {
	t.Helper()
	if err := p.launch(); err != nil {
		t.Fatalf("%s: restart: %v; logs:\n%s", p.name, err, p.logs.String())
	}
}

// restartServing starts the process again on its ports and waits until it
// serves its admin port, ready or not; it returns what /healthz answers.
func (p *proc) restartServing(t *testing.T) (code int, body string) {
	t.Helper()
	err := p.launchUntil(func(adminAddr string, exited <-chan struct{}) error {
		var err error
		code, body, err = waitServing(adminAddr, exited)
		return err
	})
	if err != nil {
		t.Fatalf("%s: restart: %v; logs:\n%s", p.name, err, p.logs.String())
	}
	return code, body
}

// waitReady waits until the process is ready again, for 30s.
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if err := waitReady(p.adminAddr, exited); err != nil {
		t.Fatalf("%s: %v; logs:\n%s", p.name, err, p.logs.String())
	}
}

// stop ends the process as an orchestrator would (SIGTERM, continuing it
// first should the test have left it frozen) and waits for it.
func (p *proc) stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
}

// startService runs one process of service as name and waits until it is
// ready. Its ports are found free and closed before the service binds
// them, so a process of another test may take one in between: a service
// that exits because its address is in use is started again on other
// ports.
func (st *stack) startService(t *testing.T, name, service string, env []string, creds credentials.TransportCredentials) {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		p := &proc{name: name, bin: binary(t, service, filepath.Join("services", service, "cmd", service)),
			grpcAddr: stableAddr(t), adminAddr: stableAddr(t), logs: &syncBuffer{}}
		p.env = append(os.Environ(),
			"DATABASE_URL="+st.dbURLs[service], "DB_SCHEMA="+st.prefix+"_"+service, "NATS_URL="+st.natsURL,
			"GRPC_ADDR="+p.grpcAddr, "ADMIN_ADDR="+p.adminAddr, "AUTH_ED25519_PUBLIC_KEY="+testPublicKey(t), "LOG_LEVEL=warn",
			// Its database sessions named for the process (pgx reads
			// PGAPPNAME), so the test can tell replicas apart in PostgreSQL.
			"PGAPPNAME="+name)
		// Each service as its own NATS user, under its permissions
		// (pkg/natsperm): the pipeline must run end to end with them.
		p.env = append(p.env, st.natsEnv(service)...)
		p.env = append(p.env, env...)
		if err := p.launch(); err != nil {
			if errors.Is(err, errExited) && strings.Contains(p.logs.String(), "address already in use") && attempt < attempts {
				t.Logf("%s: a port was taken before the service bound it; starting it again on others", name)
				continue
			}
			t.Fatalf("%s: %v; logs:\n%s", name, err, p.logs.String())
		}
		t.Cleanup(func() {
			p.stop()
			if t.Failed() {
				t.Logf("%s logs:\n%s", name, p.logs.String())
			}
			dropSchema(t, st.prefix+"_"+service)
		})
		conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(creds), grpcclient.RetryUnavailable())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		st.conns[name] = conn
		st.addrs[name] = p.grpcAddr
		st.admins[name] = p.adminAddr
		st.procs[name] = p
		return
	}
}

// errExited is waitReady's answer when the service exits before it is ready.
var errExited = errors.New("exited before it was ready")

// waitReady waits until the service at adminAddr says it is healthy, for
// 30s, or until it exits.
func waitReady(adminAddr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errExited
		default:
		}
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("not ready after 30s")
}

// waitServing waits until the service at adminAddr answers /healthz at
// all, ready or not, for 30s, or until it exits; it returns the answer.
func waitServing(adminAddr string, exited <-chan struct{}) (code int, body string, err error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return 0, "", errExited
		default:
		}
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, "", errors.New("not serving after 30s")
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func dropSchema(t *testing.T, schema string) {
	pool, err := pg.Connect(context.Background(), testenv.DatabaseURL(), "public")
	if err != nil {
		t.Logf("drop %s: %v", schema, err)
		return
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		t.Logf("drop %s: %v", schema, err)
	}
}

// token mints a bearer token for role in regions, for the stack's
// connections: over TLS, or in plain text to loopback.
func token(t *testing.T, subject string, role auth.Role, regions ...string) grpc.CallOption {
	t.Helper()
	return grpc.PerRPCCredentials(grpcauth.LoopbackBearerToken(mintToken(t, subject, role, regions...)))
}

// mintToken is a bearer token the stack's services accept, valid an hour.
func mintToken(t *testing.T, subject string, role auth.Role, regions ...string) string {
	t.Helper()
	signer, err := auth.KeyConfig{Ed25519PrivateKey: testSeed}.Signer()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Mint(auth.Claims{Subject: subject, Role: role, Regions: regions}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// eventsFor reads the whole stream and returns the names of the events
// about one application, in stream order.
func (s *stack) eventsFor(t *testing.T, applicationID string) []string {
	t.Helper()
	ctx := context.Background()
	str, err := s.js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Unmarshal(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetApplicationId() == applicationID {
			name, _ := event.Name(ev)
			names = append(names, name)
		}
	}
	return names
}

// payloadsFor returns the raw payloads of the events about one application.
func (s *stack) payloadsFor(t *testing.T, applicationID string) [][]byte {
	t.Helper()
	ctx := context.Background()
	str, err := s.js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := event.Unmarshal(m.Data); err == nil && ev.GetApplicationId() == applicationID {
			out = append(out, m.Data)
		}
	}
	return out
}

// restart kills a service's process, as a crash would, and starts it again
// on its ports, where the stack's connection to it finds it again.
func (st *stack) restart(t *testing.T, name string) {
	t.Helper()
	p := st.procs[name]
	p.kill(t)
	p.restart(t)
}
