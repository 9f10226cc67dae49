package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probation-recruitment/pipeline/pkg/testenv"
)

// everyServiceTwice runs two replicas of every service.
func everyServiceTwice() map[string]int {
	replicas := map[string]int{}
	for _, service := range services {
		replicas[service] = 2
	}
	return replicas
}

// logMarks makes every outbox log each row marked published, and by which
// process (its sessions' application_name, which the stack sets to the
// process's name): the proof that one relay publishes at a time is that no
// row is marked twice. Two relays publishing together (the advisory lock
// not taken, or not exclusive) would both read a row still unpublished,
// both publish it (JetStream dropping the second within its duplicate
// window, so the stream alone would not show it) and both mark it.
func logMarks(f *faultRun) {
	ctx := context.Background()
	for _, service := range services {
		schema := pgx.Identifier{f.st.prefix + "_" + service}.Sanitize()
		for _, sql := range []string{
			`CREATE TABLE ` + schema + `.faults_marks (event_id text NOT NULL, marked_by text NOT NULL)`,
			// SECURITY DEFINER: the relay's role may not write the test's table.
			`CREATE FUNCTION ` + schema + `.faults_log_mark() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
			 BEGIN
			     INSERT INTO ` + schema + `.faults_marks VALUES (NEW.event_id::text, current_setting('application_name'));
			     RETURN NULL;
			 END $$`,
			`CREATE TRIGGER faults_log_mark AFTER UPDATE OF published_at ON ` + schema + `.outbox
			 FOR EACH ROW WHEN (NEW.published_at IS NOT NULL) EXECUTE FUNCTION ` + schema + `.faults_log_mark()`,
		} {
			if _, err := f.db.Exec(ctx, sql); err != nil {
				f.t.Fatal(err)
			}
		}
	}
}

// killOneReplicaOfEach: with two replicas of every service serving the
// load (calls spread over both, relays and durable consumers shared), the
// second replica of every service is SIGKILLed at once, as the loss of a
// machine would, and stays down.
func killOneReplicaOfEach(f *faultRun) time.Time {
	f.appliedBeforeKill, f.servedBeforeKill = map[string]float64{}, map[string]int{}
	for _, service := range services {
		replica := service + "-2"
		f.appliedBeforeKill[replica] = metric(f.t, f.st.procs[replica].adminAddr, "consumer_events_applied_total")
		for _, name := range []string{service, replica} {
			f.servedBeforeKill[name] = f.st.served.of(f.st.procs[name].grpcAddr)
		}
	}
	for _, service := range services {
		f.st.procs[service+"-2"].kill(f.t)
	}
	return time.Now()
}

// replicasShared: each service's work was shared by its two replicas —
// calls answered before the kill (by the stage services the load calls),
// events applied from the shared durable consumer, outbox rows published —
// and no outbox row was marked published twice: one relay at a time.
func replicasShared(f *faultRun, _ *tally) {
	ctx := context.Background()
	var notes []string
	for _, service := range services {
		replica := service + "-2"
		served := []int{f.servedBeforeKill[service], f.servedBeforeKill[replica]}
		applied := []float64{metric(f.t, f.st.procs[service].adminAddr, "consumer_events_applied_total"), f.appliedBeforeKill[replica]}
		marks, twice, err := marksBy(ctx, f, service)
		if err != nil {
			f.t.Fatal(err)
		}
		published := []int{marks[service], marks[replica]}
		if twice > 0 {
			f.t.Errorf("%s: %d outbox rows marked published more than once: two relays published at the same time", service, twice)
		}
		for by := range marks {
			if by != service && by != replica {
				f.t.Errorf("%s: outbox rows marked by %q, no replica of it: %v", service, by, marks)
			}
		}
		for _, work := range []struct {
			what string
			by   []float64
		}{
			{"calls answered before the kill", []float64{float64(served[0]), float64(served[1])}},
			{"events applied", applied},
			{"outbox rows published", []float64{float64(published[0]), float64(published[1])}},
		} {
			if work.by[0]+work.by[1] > 0 && (work.by[0] == 0 || work.by[1] == 0) {
				f.t.Errorf("%s: %s by the replicas %v: one replica did all of it", service, work.what, work.by)
			}
		}
		notes = append(notes, fmt.Sprintf("%s %d/%d · %v/%v · %d/%d", service, served[0], served[1],
			applied[0], applied[1], published[0], published[1]))
	}
	f.notes = append(f.notes, "replica 1/2 (2 killed): calls before the kill · events applied · rows published: "+strings.Join(notes, ", "))
}

// marksBy counts, by process, the rows of service's outbox marked
// published (logMarks), and how many rows were marked more than once.
func marksBy(ctx context.Context, f *faultRun, service string) (by map[string]int, twice int, err error) {
	table := pgx.Identifier{f.st.prefix + "_" + service, "faults_marks"}.Sanitize()
	rows, err := f.db.Query(ctx, `SELECT marked_by, count(*) FROM `+table+` GROUP BY marked_by`)
	if err != nil {
		return nil, 0, err
	}
	by = map[string]int{}
	var (
		name string
		n    int
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &n}, func() error { by[name] = n; return nil }); err != nil {
		return nil, 0, err
	}
	err = f.db.QueryRow(ctx, `SELECT count(*) FROM (SELECT event_id FROM `+table+` GROUP BY event_id HAVING count(*) > 1) d`).Scan(&twice)
	return by, twice, err
}

// streamLeaderKill: in a three-server JetStream cluster, the stream (three
// replicas) is led by one server; it is SIGKILLed under the load. The
// other two elect a leader and the pipeline goes on with one server down;
// then the killed one is started again on its data folder and catches up.
// It notes how long the election took, how long until a submission made
// after the kill was in the report with the server still down, and how
// long the restarted server took to be current.
func streamLeaderKill(f *faultRun) time.Time {
	leader := streamLeader(f, f.st.js, "")
	// Watched from a survivor, connected to it alone: the admin's own
	// connection may have been to the killed server, and its reconnect is
	// not the election.
	i := slices.IndexFunc(f.cluster.names, func(name string) bool { return name != leader })
	survivor := f.cluster.nodes[i]
	watch := natsAdmin(f.t, survivor.url, f.cluster.users, survivor.logs)
	killed := f.cluster.node(f.t, leader)
	killed.kill(f.t)
	at := time.Now()
	elected := streamLeader(f, watch, leader)
	election := time.Since(at)
	whole := f.load.probe(at, f.reported)
	killed.restart(f.t)
	restarted := time.Now()
	testenv.Eventually(f.t, "the restarted server current with the stream", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		info, err := streamInfo(ctx, watch)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range info.Cluster.Replicas {
			if p.Name == leader {
				return p.Current, fmt.Sprintf("%s: current %v, lag %d", p.Name, p.Current, p.Lag)
			}
		}
		return false, fmt.Sprintf("%s is not among the stream's replicas %+v", leader, info.Cluster.Replicas)
	})
	f.notes = append(f.notes, fmt.Sprintf("leader %s killed: %s elected in %v; a submission reported %v after the kill (server still down); restarted, current in %v",
		leader, elected, election.Round(10*time.Millisecond), whole.Round(10*time.Millisecond), time.Since(restarted).Round(10*time.Millisecond)))
	return restarted
}

// streamLeader waits until the stream has a leader other than not, and
// names it.
func streamLeader(f *faultRun, js jetstream.JetStream, not string) string {
	f.t.Helper()
	var leader string
	testenv.Eventually(f.t, "a stream leader", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		info, err := streamInfo(ctx, js)
		if err != nil {
			return false, err.Error()
		}
		leader = info.Cluster.Leader
		return leader != "" && leader != not, fmt.Sprintf("leader %q", leader)
	})
	return leader
}

// streamInfo asks the cluster for the stream's state (not a cached copy).
func streamInfo(ctx context.Context, js jetstream.JetStream) (*jetstream.StreamInfo, error) {
	s, err := js.Stream(ctx, "RECRUITMENT")
	if err != nil {
		return nil, err
	}
	info := s.CachedInfo() // fetched just now by Stream
	if info.Cluster == nil {
		return nil, errors.New("the stream has no cluster information: not a clustered stream")
	}
	return info, nil
}
