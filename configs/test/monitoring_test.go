package test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// prometheusSeries are the series Prometheus itself adds to every scrape.
var prometheusSeries = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped"}

// exportedMetrics returns the metric names the two binaries register: an API with the
// embedded worker (every series the worker has too) and a worker process, each started as the
// binaries start them, on SQLite and embedded NATS. Their registries are asked to describe
// every collector, so that a labelled series nobody has observed yet still counts.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	describe := func(reg *prometheus.Registry) {
		ch := make(chan *prometheus.Desc)
		go func() { reg.Describe(ch); close(ch) }()
		fq := regexp.MustCompile(`fqName: "([^"]+)"`)
		for d := range ch {
			m := fq.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read a metric name in %s", d)
			}
			names[m[1]] = true
		}
		// Collectors that describe nothing ahead (the Go runtime's) are known by what they gather.
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			names[mf.GetName()] = true
		}
	}
	api := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	describe(api.API.Observability.Registry())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := apptest.Config(t, dbtest.SQLiteTarget(t))
	worker, err := app.Build(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.BuildConfig{Process: app.ProcessWorker})
	if err != nil {
		t.Fatalf("build the worker: %v", err)
	}
	t.Cleanup(func() { _ = worker.Close() })
	describe(worker.Observability.Registry())
	return names
}

// grafanaVariables are the dashboard's variables, which PromQL does not know.
var grafanaVariables = regexp.MustCompile(`\$\{?__\w+\}?|\$\{?\w+\}?`)

// metricNames returns the metric names a PromQL expression selects.
func metricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	expr = grafanaVariables.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.Contains(v, "__") { // $__rate_interval, $__interval
			return "5m"
		}
		return "x"
	})
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatalf("%s: %q does not parse: %v", where, expr, err)
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%s: a selector without a metric name: %s", where, vs)
			}
			out = append(out, vs.Name)
		}
		return nil
	})
	return out
}

// exported says whether the service exports name, a histogram's series included.
func exported(names map[string]bool, name string) bool {
	if names[name] || slices.Contains(prometheusSeries, name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && names[base] {
			return true
		}
	}
	return false
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	var rf ruleFile
	if err := yaml.UnmarshalStrict(readFile(t, "configs/monitoring/campaigns.rules.yaml"), &rf); err != nil {
		t.Fatalf("campaigns.rules.yaml: %v", err)
	}
	return rf
}

type dashboard struct {
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) (dashboard, []byte) {
	t.Helper()
	b := readFile(t, "configs/monitoring/campaigns-dashboard.json")
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("campaigns-dashboard.json: %v", err)
	}
	return d, b
}

// Every metric the dashboard and the alerts read is one the service exports, so that no panel
// stays empty and no alert waits on a series that never comes (a renamed metric fails here).
func TestDashboardAndAlertsReadExportedMetrics(t *testing.T) {
	names := exportedMetrics(t)
	check := func(where, expr string) {
		t.Helper()
		for _, name := range metricNames(t, where, expr) {
			if !exported(names, name) {
				t.Errorf("%s reads %s, which the service does not export", where, name)
			}
		}
	}

	d, raw := loadDashboard(t)
	exprs := 0
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, tg := range p.Targets {
				check("dashboard panel "+p.Title, tg.Expr)
				exprs++
			}
		}
	}
	walk(d.Panels)
	if exprs < 20 {
		t.Errorf("the dashboard has %d expressions: the panels were not read", exprs)
	}
	// The variables' queries: label_values(metric, label).
	for _, m := range regexp.MustCompile(`label_values\((\w+)`).FindAllSubmatch(raw, -1) {
		if !exported(names, string(m[1])) {
			t.Errorf("a dashboard variable reads %s, which the service does not export", m[1])
		}
	}

	alerts := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			check("alert "+r.Alert, r.Expr)
			alerts++
		}
	}
	if alerts == 0 {
		t.Error("no alerts read")
	}

	// The check does catch a name nobody exports.
	if exported(names, "campaigns_no_such_metric_total") {
		t.Error("an unknown metric passes as exported")
	}
}

// The dashboard covers what an operator looks at first.
func TestDashboardPanels(t *testing.T) {
	d, raw := loadDashboard(t)
	var titles []string
	for _, p := range d.Panels {
		titles = append(titles, p.Title)
	}
	for _, want := range []string{"Requests by route", "Errors by route (5xx share)", "p99 latency by route",
		"Outbox backlog", "Publish latency (commit to ack)", "Tracking events", "Consumer lag per partition",
		"Calls by outcome", "Breaker state (0 closed, 1 half-open, 2 open)", "Pacing index per campaign"} {
		if !slices.Contains(titles, want) {
			t.Errorf("no panel %q", want)
		}
	}
	for _, name := range []string{"campaigns_tracking_events_dead_lettered_total", "campaigns_pacing_index",
		"campaigns_tracking_partition_pending_messages", "campaigns_rules_engine_breaker_state"} {
		if !strings.Contains(string(raw), name) {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
}

// Every alert says what it protects and what to do, and the PrometheusRule holds exactly the
// plain rules file's groups (promtool tests the plain file; the cluster runs the other).
func TestAlertRules(t *testing.T) {
	rf := loadRules(t)
	want := []string{"CampaignsAPIErrorBudgetFastBurn", "CampaignsAPIErrorBudgetSlowBurn", "CampaignsAPILatencyHigh",
		"CampaignsOutboxBacklogGrowing", "CampaignsOutboxEventStale", "CampaignsTrackingConsumerLag",
		"CampaignsTrackingDeadLetters", "CampaignsTrackingPartitionUnheld", "CampaignsRulesEngineBreakerOpen",
		"CampaignsNATSDisconnected", "CampaignsAutomationNotTicking"}
	var got []string
	readme := string(readFile(t, "configs/README.md"))
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			got = append(got, r.Alert)
			if r.Annotations["runbook"] == "" || r.Annotations["slo"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: want summary, slo and runbook annotations, got %v", r.Alert, r.Annotations)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if !strings.Contains(readme, r.Alert) {
				t.Errorf("%s is not in configs/README.md's list of alerts", r.Alert)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}

	var pr monitoringv1.PrometheusRule
	if err := yaml.UnmarshalStrict(readFile(t, "configs/monitoring/prometheusrule.yaml"), &pr); err != nil {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	var plain, operator any
	if err := yaml.Unmarshal(readFile(t, "configs/monitoring/campaigns.rules.yaml"), &plain); err != nil {
		t.Fatal(err)
	}
	specGroups, err := json.Marshal(map[string]any{"groups": pr.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(specGroups, &operator); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain, operator) {
		t.Errorf("prometheusrule.yaml's groups differ from campaigns.rules.yaml's:\nplain    %v\noperator %v", plain, operator)
	}
}

// The monitoring component decodes strictly, its ServiceMonitors find the API and worker pods
// on the ports they serve /metrics on, and it deploys the same rules and dashboard as
// configs/monitoring.
func TestMonitoringComponent(t *testing.T) {
	const dir = "configs/k8s/components/monitoring/"
	var kust struct {
		APIVersion         string   `json:"apiVersion"`
		Kind               string   `json:"kind"`
		Resources          []string `json:"resources"`
		ConfigMapGenerator []struct {
			Name    string   `json:"name"`
			Files   []string `json:"files"`
			Options struct {
				DisableNameSuffixHash bool              `json:"disableNameSuffixHash"`
				Labels                map[string]string `json:"labels"`
			} `json:"options"`
		} `json:"configMapGenerator"`
	}
	if err := yaml.UnmarshalStrict(readFile(t, dir+"kustomization.yaml"), &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if kust.Kind != "Component" || kust.APIVersion != "kustomize.config.k8s.io/v1alpha1" {
		t.Errorf("kustomization.yaml is a %s %s, want a kustomize Component", kust.APIVersion, kust.Kind)
	}
	if len(kust.ConfigMapGenerator) != 1 || !slices.Equal(kust.ConfigMapGenerator[0].Files, []string{"campaigns-dashboard.json"}) ||
		kust.ConfigMapGenerator[0].Options.Labels["grafana_dashboard"] != "1" {
		t.Errorf("configMapGenerator %+v: want the dashboard, labelled for the Grafana sidecar", kust.ConfigMapGenerator)
	}
	for _, f := range []string{"prometheusrule.yaml", "campaigns-dashboard.json"} {
		if string(readFile(t, dir+f)) != string(readFile(t, "configs/monitoring/"+f)) {
			t.Errorf("%s%s differs from configs/monitoring/%s: cp configs/monitoring/%s %s", dir, f, f, f, dir)
		}
	}

	k := loadK8s(t)
	monitors := map[string]*monitoringv1.ServiceMonitor{}
	services := map[string]*corev1.Service{}
	for _, f := range kust.Resources {
		for _, doc := range yamlDocs(readFile(t, dir+f)) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			switch tm.APIVersion + " " + tm.Kind {
			case "monitoring.coreos.com/v1 ServiceMonitor":
				var sm monitoringv1.ServiceMonitor
				if err := yaml.UnmarshalStrict(doc, &sm); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				monitors[sm.Name] = &sm
			case "v1 Service":
				var s corev1.Service
				if err := yaml.UnmarshalStrict(doc, &s); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				services[s.Name] = &s
			case "monitoring.coreos.com/v1 PrometheusRule":
				var pr monitoringv1.PrometheusRule
				if err := yaml.UnmarshalStrict(doc, &pr); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			default:
				t.Fatalf("%s: unexpected %s %s", f, tm.APIVersion, tm.Kind)
			}
		}
	}
	for name, s := range k.services {
		services[name] = s
	}
	for _, c := range []struct{ monitor, deployment string }{{"campaigns-api", "campaigns-api"}, {"campaigns-worker", "campaigns-worker"}} {
		sm := monitors[c.monitor]
		d := k.deployments[c.deployment]
		if sm == nil || d == nil {
			t.Fatalf("no ServiceMonitor %s or Deployment %s", c.monitor, c.deployment)
		}
		svc := selectedService(services, sm.Spec.Selector.MatchLabels)
		if svc == nil {
			t.Fatalf("ServiceMonitor %s selects no Service (%v)", c.monitor, sm.Spec.Selector.MatchLabels)
		}
		if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("Service %s (of ServiceMonitor %s) does not select the %s pods", svc.Name, c.monitor, c.deployment)
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Fatalf("ServiceMonitor %s: want one endpoint at /metrics", c.monitor)
		}
		if !servicePortReachesContainer(svc, sm.Spec.Endpoints[0].Port, d) {
			t.Errorf("ServiceMonitor %s scrapes port %q, which does not reach a port of %s's container",
				c.monitor, sm.Spec.Endpoints[0].Port, c.deployment)
		}
	}
}

func selectedService(services map[string]*corev1.Service, matchLabels map[string]string) *corev1.Service {
	for _, s := range services {
		if selects(matchLabels, s.Labels) {
			return s
		}
	}
	return nil
}

func servicePortReachesContainer(svc *corev1.Service, portName string, d *appsv1.Deployment) bool {
	for _, sp := range svc.Spec.Ports {
		if sp.Name != portName {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, cp := range c.Ports {
				if (sp.TargetPort.StrVal != "" && sp.TargetPort.StrVal == cp.Name) || sp.TargetPort.IntVal == cp.ContainerPort {
					return true
				}
			}
		}
	}
	return false
}
