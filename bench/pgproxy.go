package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pgProxy sits between one service and PostgreSQL and counts what crosses
// it: round trips (each Sync or simple Query the client sends: one wait
// for the server) and transactions, each put in a class by what its
// statements touch (the relay's outbox reads and marks, a consumer's
// inbox, a call's request log), so the counts say where a call's cost is.
type pgProxy struct {
	url      string
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	counts   map[string]*trafficCount
	wg       sync.WaitGroup
}

// trafficCount is what one class of transaction cost.
type trafficCount struct {
	roundTrips, transactions int64
}

// The classes of transaction.
const (
	classCall       = "call (request log)"
	classConsumer   = "consumer (inbox)"
	classRelay      = "relay (publishing)"
	classRelayEmpty = "relay (nothing to publish)"
	classOther      = "other"
)

func newPGProxy(databaseURL string) (*pgProxy, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &pgProxy{ln: ln, upstream: u.Host, counts: map[string]*trafficCount{}}
	q := u.Query()
	q.Set("sslmode", "disable") // the proxy reads the protocol in the clear
	u.RawQuery = q.Encode()
	u.Host = ln.Addr().String()
	p.url = u.String()
	p.wg.Go(p.accept)
	return p, nil
}

func (p *pgProxy) close() {
	_ = p.ln.Close()
}

func (p *pgProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

// snapshot copies the counts so far.
func (p *pgProxy) snapshot() map[string]trafficCount {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]trafficCount{}
	for k, v := range p.counts {
		out[k] = *v
	}
	return out
}

// conn is one proxied connection's protocol state.
type proxyConn struct {
	p          *pgProxy
	mu         sync.Mutex
	statements map[string]string // prepared statement name → SQL
	lastSQL    []string          // of the open transaction (or statement)
	roundTrips int64             // of the open transaction
	inTx       bool
}

func (p *pgProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	pc := &proxyConn{p: p, statements: map[string]string{}}
	done := make(chan struct{}, 2)
	go func() { pc.clientToServer(client, server); done <- struct{}{} }()
	go func() { pc.serverToClient(server, client); done <- struct{}{} }()
	<-done
}

// clientToServer copies the client's messages, noting statements and
// round trips.
func (pc *proxyConn) clientToServer(client, server net.Conn) {
	r := bufio.NewReaderSize(client, 64<<10)
	// The startup message has no type byte.
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return
	}
	body := make([]byte, binary.BigEndian.Uint32(n[:])-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return
	}
	if _, err := server.Write(append(n[:], body...)); err != nil {
		return
	}
	for {
		typ, msg, err := readMessage(r)
		if err != nil {
			return
		}
		pc.noteClient(typ, msg[5:])
		if _, err := server.Write(msg); err != nil {
			return
		}
	}
}

func (pc *proxyConn) serverToClient(server, client net.Conn) {
	r := bufio.NewReaderSize(server, 64<<10)
	for {
		typ, msg, err := readMessage(r)
		if err != nil {
			return
		}
		if typ == 'Z' && len(msg) > 5 {
			pc.noteReady(msg[5])
		}
		if _, err := client.Write(msg); err != nil {
			return
		}
	}
}

// readMessage reads a typed protocol message, whole (type, length, body).
func readMessage(r *bufio.Reader) (byte, []byte, error) {
	head := make([]byte, 5)
	if _, err := io.ReadFull(r, head); err != nil {
		return 0, nil, err
	}
	size := binary.BigEndian.Uint32(head[1:])
	msg := make([]byte, 1+size)
	copy(msg, head)
	if _, err := io.ReadFull(r, msg[5:]); err != nil {
		return 0, nil, err
	}
	return head[0], msg, nil
}

func cstring(b []byte) (string, []byte) {
	i := strings.IndexByte(string(b), 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

func (pc *proxyConn) noteClient(typ byte, body []byte) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	switch typ {
	case 'Q': // simple query: its own round trip
		sql, _ := cstring(body)
		pc.lastSQL = append(pc.lastSQL, sql)
		pc.roundTrips++
	case 'P': // parse: name, SQL
		name, rest := cstring(body)
		sql, _ := cstring(rest)
		if name != "" {
			pc.statements[name] = sql
		}
		pc.lastSQL = append(pc.lastSQL, sql)
	case 'B': // bind: portal, statement
		_, rest := cstring(body)
		name, _ := cstring(rest)
		if sql, ok := pc.statements[name]; ok {
			pc.lastSQL = append(pc.lastSQL, sql)
		}
	case 'S': // sync: the client now waits for the server
		pc.roundTrips++
	}
}

// noteReady ends a transaction when the server is idle again ('I'): a
// transaction block's end, or a statement outside one (its own
// transaction).
func (pc *proxyConn) noteReady(status byte) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if status != 'I' {
		pc.inTx = true
		return
	}
	pc.inTx = false
	if pc.roundTrips == 0 {
		return
	}
	class := classify(pc.lastSQL)
	pc.p.mu.Lock()
	c := pc.p.counts[class]
	if c == nil {
		c = &trafficCount{}
		pc.p.counts[class] = c
	}
	c.roundTrips += pc.roundTrips
	c.transactions++
	pc.p.mu.Unlock()
	pc.lastSQL, pc.roundTrips = pc.lastSQL[:0], 0
}

func classify(sqls []string) string {
	all := strings.ToLower(strings.Join(sqls, "\n"))
	switch {
	case strings.Contains(all, "inbox"):
		return classConsumer
	case strings.Contains(all, "request_log") && !strings.Contains(all, "delete from request_log"):
		return classCall
	case strings.Contains(all, "update outbox set published_at"):
		return classRelay
	case strings.Contains(all, "from outbox"), strings.Contains(all, "pg_try_advisory_xact_lock"):
		return classRelayEmpty
	}
	return classOther
}

// trafficRow is what one kind of stage update cost one process, per call.
type trafficRow struct {
	op, process, class       string
	roundTrips, transactions float64
}

// countTraffic takes n candidates through every stage, one kind of update
// at a time (all n submissions, then all n sift decisions, …), waiting
// after each kind until every consumer has caught up and the traffic has
// stopped, and returns what each kind cost each process, per update.
func countTraffic(ctx context.Context, st *stack, l *load, n int) ([]trafficRow, error) {
	closeNC, js, err := st.adminJS()
	if err != nil {
		return nil, err
	}
	defer closeNC()
	cands := make([]*candidate, n)
	for i := range cands {
		r := l.regions[i%len(l.regions)]
		cands[i] = &candidate{region: r, campaign: l.campaigns[r][i%len(l.campaigns[r])], next: opSubmit}
	}
	if err := quiesce(ctx, st, js); err != nil {
		return nil, err
	}
	var rows []trafficRow
	for op := range numOps {
		before := map[string]map[string]trafficCount{}
		for name, p := range st.proxies {
			before[name] = p.snapshot()
		}
		for _, c := range cands {
			for tries := 0; c.next == op; tries++ {
				if tries > 0 {
					if err := l.reread(ctx, c); err != nil {
						time.Sleep(20 * time.Millisecond)
					}
				}
				if _, called := l.step(ctx, c); !called {
					continue
				}
				if tries > 200 {
					return nil, fmt.Errorf("%s of %s did not succeed", opNames[op], c.id)
				}
			}
			c.notBefore = time.Time{}
		}
		// step put each candidate back in the load's pool: take them out.
		l.mu.Lock()
		l.ready = l.ready[:0]
		l.mu.Unlock()
		if err := quiesce(ctx, st, js); err != nil {
			return nil, err
		}
		for _, name := range writeServices {
			after := st.proxies[name].snapshot()
			for class, a := range after {
				b := before[name][class]
				if class == classRelayEmpty || class == classOther {
					continue // idle polls and pool checks: shown in the totals, not per call
				}
				if d := a.roundTrips - b.roundTrips; d > 0 {
					rows = append(rows, trafficRow{op: opNames[op], process: name, class: class,
						roundTrips: float64(d) / float64(n), transactions: float64(a.transactions-b.transactions) / float64(n)})
				}
			}
		}
	}
	return rows, nil
}

// quiesce waits until every durable consumer has acknowledged everything
// in the stream and then a little more, for the last commits.
func quiesce(ctx context.Context, st *stack, js jetstream.JetStream) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := js.Stream(ctx, "RECRUITMENT")
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		caughtUp := true
		for _, name := range writeServices {
			c, err := s.Consumer(ctx, name)
			if err != nil {
				caughtUp = false
				break
			}
			ci, err := c.Info(ctx)
			if err != nil || ci.NumPending > 0 || ci.NumAckPending > 0 {
				caughtUp = false
				break
			}
		}
		if caughtUp {
			// The relays publish what the consumers committed; wait for
			// the traffic to stop.
			time.Sleep(300 * time.Millisecond)
			info2, err := s.Info(ctx)
			if err == nil && info2.State.LastSeq == info.State.LastSeq {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the consumers did not catch up within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
