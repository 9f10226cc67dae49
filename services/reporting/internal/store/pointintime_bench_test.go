package store_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/probation-recruitment/pipeline/pkg/consumer"
	"github.com/probation-recruitment/pipeline/pkg/outbox"
	"github.com/probation-recruitment/pipeline/pkg/pg"
	"github.com/probation-recruitment/pipeline/pkg/testenv"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/report"
	"github.com/probation-recruitment/pipeline/services/reporting/internal/store"
)

// BenchmarkReportsAsOf measures a region summary (stage counts, stuck
// count, time to hire) as of a past time in a region of 100,000
// applications submitted over two years, each through part of the
// pipeline, a fifth with vetting blocked and unblocked and a start date
// moved (kept changes): the slower path, which reads the region's records
// and derives them as they stood. A different time each iteration, so the
// memo of past snapshots never answers.
//
//	go test ./internal/store -run '^$' -bench ReportsAsOf -benchtime 5x
func BenchmarkReportsAsOf(b *testing.B) {
	ctx := context.Background()
	pool, _ := testenv.Schema(b)
	if err := pg.Migrate(ctx, pool, outbox.Migrations, consumer.Migrations, store.Migrations); err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	seed := []string{
		`INSERT INTO campaigns (campaign_id, region, role, opens_on, closes_on, posts, version)
			SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(c), 12, '0'))::uuid, 'london', 1,
				DATE '2024-01-01' + c * 2, DATE '2024-01-15' + c * 2, 10, 1 FROM generate_series(0, 399) c`,
		`INSERT INTO apps (application_id, region, campaign_id, role, submitted_at, sift_passed_at, interview_passed_at,
				offer_made_at, offer_accepted_at, vetting_cleared_at, started_at, rejected_at, rejected_stage, start_date,
				vetting_version, offers_version)
			SELECT gen_random_uuid(), 'london', ('00000000-0000-7000-8000-' || lpad(to_hex(i % 400), 12, '0'))::uuid, 1 + i % 2,
				s, CASE WHEN i % 5 > 0 THEN s + interval '6 days' END, CASE WHEN i % 5 > 1 THEN s + interval '16 days' END,
				CASE WHEN i % 5 > 2 THEN s + interval '20 days' END, CASE WHEN i % 5 > 2 THEN s + interval '24 days' END,
				CASE WHEN i % 5 > 3 THEN s + interval '50 days' END, CASE WHEN i % 5 > 3 THEN s + interval '60 days' END,
				CASE WHEN i % 5 = 0 AND i % 2 = 0 THEN s + interval '8 days' END, CASE WHEN i % 5 = 0 AND i % 2 = 0 THEN 1 ELSE 0 END,
				CASE WHEN i % 5 > 3 THEN (s + interval '60 days')::date END,
				CASE WHEN i % 5 > 2 THEN 3 ELSE 0 END, CASE WHEN i % 5 > 3 THEN 2 ELSE 0 END
			FROM (SELECT i, TIMESTAMPTZ '2024-01-01 09:00Z' + i * interval '10 minutes' AS s FROM generate_series(1, ` + "100000" + `) i) g`,
		`INSERT INTO app_changes (application_id, field, version, occurred_at, blocked, blocked_reason)
			SELECT application_id, 3, v, offer_accepted_at + (v * 5) * interval '1 day', v = 2, CASE WHEN v = 2 THEN 1 ELSE 0 END
			FROM apps, generate_series(1, 3) v WHERE offer_accepted_at IS NOT NULL`,
		`INSERT INTO app_changes (application_id, field, version, occurred_at, start_date)
			SELECT application_id, 2, v, offer_accepted_at + v * interval '10 days', (offer_accepted_at + interval '36 days')::date
			FROM apps, generate_series(1, 2) v WHERE started_at IS NOT NULL`,
		`INSERT INTO region_versions (region, version, latest_event_at) VALUES ('london', 1, now())`,
		`ANALYZE apps; ANALYZE app_changes`,
	}
	for _, q := range seed {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	st := store.New(pool)
	svc := report.NewService(st)
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var counted int
	var load, derive time.Duration
	cpu := processCPU()
	for b.Loop() {
		// The two halves apart: the read, and the derivation.
		b.StopTimer()
		t0 := time.Now()
		pr, err := st.LoadRegionAt(ctx, "london", at)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		report.RowsAsOf(pr, at)
		load, derive = load+t1.Sub(t0), derive+time.Since(t1)
		b.StartTimer()

		at = at.Add(time.Hour)
		sum, err := svc.Summary(ctx, "london", report.At(at))
		if err != nil {
			b.Fatal(err)
		}
		counted = 0
		for _, c := range sum.StageCounts {
			counted += c
		}
	}
	if counted < n/3 {
		b.Fatalf("as of %v the summary counts %d applications, want most of the %d submitted by then", at, counted, n)
	}
	b.ReportMetric(float64(counted), "apps")
	b.ReportMetric((processCPU()-cpu).Seconds()/float64(b.N)/2, "s-cpu/op")
	b.ReportMetric(load.Seconds()/float64(b.N), "s-read/op")
	b.ReportMetric(derive.Seconds()/float64(b.N), "s-derive/op")
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
