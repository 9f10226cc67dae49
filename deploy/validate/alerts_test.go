package validate

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// natsExporterMetrics are the prometheus-nats-exporter's JetStream
// consumer gauges (its -jsz=all output), which the NATS Helm chart's
// promExporter serves; they are not this repository's to register.
var natsExporterMetrics = []string{"jetstream_consumer_num_pending", "jetstream_consumer_num_ack_pending"}

// registeredMetrics are the metric names the services' code registers
// (prometheus Opts in pkg/ and services/, outside tests).
func registeredMetrics(t *testing.T) []string {
	t.Helper()
	name := regexp.MustCompile(`Name:\s*"([a-z_][a-z0-9_]*)"`)
	var names []string
	for _, dir := range []string{"pkg", "services"} {
		err := filepath.WalkDir(filepath.Join(repo, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			src := string(b)
			if !strings.Contains(src, "prometheus.CounterOpts") && !strings.Contains(src, "prometheus.GaugeOpts") &&
				!strings.Contains(src, "prometheus.HistogramOpts") {
				return nil
			}
			for _, m := range name.FindAllStringSubmatch(src, -1) {
				names = append(names, m[1])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// databaseMetrics are the metrics CloudNativePG's exporter makes of the
// custom queries (cnpg_<query>_<column> for each gauge or counter column).
func databaseMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(kubernetesDir, "base/monitoring-queries.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	var queries map[string]struct {
		Query           string                                           `json:"query"`
		TargetDatabases []string                                         `json:"target_databases"`
		Metrics         []map[string]struct{ Usage, Description string } `json:"metrics"`
	}
	if err := yaml.UnmarshalStrict([]byte(cm.Data["queries"]), &queries); err != nil {
		t.Fatalf("monitoring-queries.yaml: the queries do not decode: %v", err)
	}
	var names []string
	for q, spec := range queries {
		for _, m := range spec.Metrics {
			for column, c := range m {
				switch c.Usage {
				case "GAUGE", "COUNTER":
					names = append(names, "cnpg_"+q+"_"+column)
				case "LABEL":
				default:
					t.Errorf("monitoring-queries.yaml: %s.%s has usage %q", q, column, c.Usage)
				}
			}
		}
	}
	return names
}

// TestAlertRules: deploy/prometheus/alerts.yaml parses as Prometheus
// parses a rule file (unknown fields refused, every expression and
// template checked); every alert has a severity and a summary; the alerts
// docs/operations.md promises are there; and every metric an expression
// names is one something in this repository produces.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile(filepath.Join(repo, "deploy/prometheus/alerts.yaml"), false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("alerts.yaml: %v", err)
	}
	if groups == nil {
		t.FailNow()
	}
	known := slices.Concat(registeredMetrics(t), databaseMetrics(t), natsExporterMetrics)
	for _, want := range []string{"outbox_published_total", "consumer_events_poison_total", "auth_dev_key"} {
		if !slices.Contains(known, want) {
			t.Fatalf("the code's metrics %v lack %s: the search for registrations is broken", known, want)
		}
	}
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, r.Alert)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %s: want a severity label and a summary", r.Alert)
			}
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("alert %s: %v", r.Alert, err)
				continue
			}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok && !slices.Contains(known, vs.Name) {
					t.Errorf("alert %s: metric %s is produced by nothing here (not registered in pkg/ or services/, not a database query, not NATS's exporter)", r.Alert, vs.Name)
				}
				return nil
			})
		}
	}
	for _, want := range []string{"OutboxBacklog", "ConsumerLag", "PoisonMessage", "StuckGrowth", "DevelopmentKeyInUse"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alerts.yaml has no %s alert (docs/operations.md, Alerts)", want)
		}
	}
}
