package test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// k8sObjects decodes every manifest of configs/k8s strictly (an unknown or misspelt field
// fails) into the API type its apiVersion and kind name, and returns them by file.
type k8sObjects struct {
	files       []string
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget
	jobs        map[string]*batchv1.Job
}

func loadK8s(t *testing.T) k8sObjects {
	t.Helper()
	dir := filepath.Join(repoRoot, "configs/k8s")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := k8sObjects{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		jobs: map[string]*batchv1.Job{},
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".yaml") || name == "kustomization.yaml" || name == "config.production.yaml" {
			continue
		}
		o.files = append(o.files, name)
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range yamlDocs(b) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "autoscaling/v2 HorizontalPodAutoscaler":
				obj = &autoscalingv2.HorizontalPodAutoscaler{}
			case "policy/v1 PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "batch/v1 Job":
				obj = &batchv1.Job{}
			default:
				t.Fatalf("%s: unexpected %s %s (add its type to this test)", name, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s: %s does not decode strictly: %v", name, tm.Kind, err)
			}
			var objName string
			switch v := obj.(type) {
			case *appsv1.Deployment:
				objName, o.deployments[v.Name] = v.Name, v
			case *corev1.Service:
				objName, o.services[v.Name] = v.Name, v
			case *autoscalingv2.HorizontalPodAutoscaler:
				objName, o.hpas[v.Name] = v.Name, v
			case *policyv1.PodDisruptionBudget:
				objName, o.pdbs[v.Name] = v.Name, v
			case *batchv1.Job:
				objName, o.jobs[v.Name] = v.Name, v
			}
			if objName == "" {
				t.Errorf("%s: a %s without a name", name, tm.Kind)
			}
		}
	}
	return o
}

// The strict decoding itself fails on a misspelt field: the check above has teeth.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	t.Parallel()
	doc := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n")
	if err := yaml.UnmarshalStrict(doc, &appsv1.Deployment{}); err == nil {
		t.Fatal("a misspelt field (replica) decoded without error")
	}
}

type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
	} `json:"labels"`
	Resources          []string `json:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `json:"name"`
		Files []string `json:"files"`
	} `json:"configMapGenerator"`
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	t.Parallel()
	o := loadK8s(t)
	var k kustomization
	if err := yaml.UnmarshalStrict(readFile(t, "configs/k8s/kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is a %s %s", k.APIVersion, k.Kind)
	}
	got, want := slices.Sorted(slices.Values(k.Resources)), slices.Sorted(slices.Values(o.files))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, manifests in configs/k8s %v", got, want)
	}
	if len(k.ConfigMapGenerator) != 1 || k.ConfigMapGenerator[0].Name != "campaigns-config" ||
		!slices.Equal(k.ConfigMapGenerator[0].Files, []string{"config.yaml=config.production.yaml"}) {
		t.Errorf("the ConfigMap is not generated from config.production.yaml: %+v", k.ConfigMapGenerator)
	}
	for _, kind := range []struct {
		what string
		n    int
	}{{"Deployment", len(o.deployments)}, {"Service", len(o.services)}, {"HorizontalPodAutoscaler", len(o.hpas)},
		{"PodDisruptionBudget", len(o.pdbs)}, {"Job", len(o.jobs)}} {
		if kind.n == 0 {
			t.Errorf("no %s in configs/k8s", kind.what)
		}
	}
}

func TestK8sWorkloads(t *testing.T) {
	t.Parallel()
	o := loadK8s(t)
	cfg := loadProductionConfig(t)
	paths := servedPaths(t)
	api, worker, migrate := o.deployments["campaigns-api"], o.deployments["campaigns-worker"], o.jobs["campaigns-migrate"]
	if api == nil || worker == nil || migrate == nil {
		t.Fatalf("want Deployments campaigns-api and campaigns-worker and Job campaigns-migrate")
	}

	checkPod(t, "campaigns-api", &api.Spec.Template.Spec, []string{"campaigns-api"})
	checkPod(t, "campaigns-worker", &worker.Spec.Template.Spec, []string{"campaigns-worker"})
	checkPod(t, "campaigns-migrate", &migrate.Spec.Template.Spec, []string{"campaigns-api", "migrate", "up"})

	// Probes: readiness /ready, liveness /health, on the port the config listens on, and on
	// routes the API serves.
	for _, d := range []struct {
		dep  *appsv1.Deployment
		port int
	}{{api, cfg.HTTP.Port}, {worker, cfg.Worker.Port}} {
		c := d.dep.Spec.Template.Spec.Containers[0]
		if len(c.Ports) != 1 || int(c.Ports[0].ContainerPort) != d.port {
			t.Errorf("%s: container ports %+v, the config listens on %d", d.dep.Name, c.Ports, d.port)
		}
		for _, p := range []struct {
			probe *corev1.Probe
			path  string
		}{{c.ReadinessProbe, "/ready"}, {c.LivenessProbe, "/health"}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: no HTTP probe for %s", d.dep.Name, p.path)
				continue
			}
			if p.probe.HTTPGet.Path != p.path || !paths[p.probe.HTTPGet.Path] {
				t.Errorf("%s: probe on %s, want %s (served: %v)", d.dep.Name, p.probe.HTTPGet.Path, p.path, paths[p.path])
			}
			if p.probe.HTTPGet.Port.StrVal != c.Ports[0].Name {
				t.Errorf("%s: probe on port %s, the container's is %s", d.dep.Name, p.probe.HTTPGet.Port.String(), c.Ports[0].Name)
			}
		}

		// Graceful termination: the preStop pause plus http.shutdown_timeout fit in the grace period.
		grace := d.dep.Spec.Template.Spec.TerminationGracePeriodSeconds
		need := int64(cfg.shutdownTimeout(t).Seconds())
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			need += c.Lifecycle.PreStop.Sleep.Seconds
		}
		if grace == nil {
			t.Errorf("%s: no terminationGracePeriodSeconds", d.dep.Name)
		} else if *grace <= need {
			t.Errorf("%s: terminationGracePeriodSeconds %d, must exceed preStop + shutdown_timeout = %ds", d.dep.Name, *grace, need)
		}
	}

	// Each worker consumes a share of the tracking partitions: more replicas than partitions idle.
	if r := worker.Spec.Replicas; r == nil || *r < 1 || int(*r) > cfg.Metrics.Partitions {
		t.Errorf("worker replicas must be set, from 1 to metrics.partitions (%d)", cfg.Metrics.Partitions)
	}

	// The Service, the autoscaler and the disruption budgets aim at the pods they mean.
	svc := o.services["campaigns-api"]
	if svc == nil || !selects(svc.Spec.Selector, api.Spec.Template.Labels) || svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("Service campaigns-api does not reach the API pods' http port: %+v", svc)
	}
	hpa := o.hpas["campaigns-api"]
	if hpa == nil || hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != api.Name ||
		hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Errorf("HorizontalPodAutoscaler campaigns-api does not scale the API from 2 replicas: %+v", hpa)
	}
	for name, dep := range map[string]*appsv1.Deployment{"campaigns-api": api, "campaigns-worker": worker} {
		pdb := o.pdbs[name]
		if pdb == nil || pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
			t.Errorf("no PodDisruptionBudget selecting %s's pods", name)
		}
		if !selects(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
			t.Errorf("%s: the selector does not match its own pods", name)
		}
	}
	if selects(api.Spec.Selector.MatchLabels, worker.Spec.Template.Labels) {
		t.Error("the API's selector also selects the workers")
	}
}

// checkPod holds a pod to the image's contract: non-root, read-only root filesystem with the
// data dir writable, resources set, the config from the generated ConfigMap, secrets from
// Secrets only, and the container running args.
func checkPod(t *testing.T, name string, pod *corev1.PodSpec, args []string) {
	t.Helper()
	cfg := loadProductionConfig(t)
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser == 0 {
		t.Errorf("%s: the pod does not run as a non-root user", name)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", name, len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, args) || len(c.Command) != 0 {
		t.Errorf("%s: runs %v %v, want args %v", name, c.Command, c.Args, args)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("%s: the container is not read-only, unprivileged and without capabilities: %+v", name, sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources requests (cpu, memory) and a memory limit are required: %+v", name, c.Resources)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("%s: mounts an undeclared volume %s", name, m.Name)
		}
	}
	conf, ok := mounts["/etc/campaigns"]
	if !ok || !conf.ReadOnly || volumes[conf.Name].ConfigMap == nil || volumes[conf.Name].ConfigMap.Name != "campaigns-config" {
		t.Errorf("%s: the config is not campaigns-config mounted read-only at /etc/campaigns", name)
	}
	// A serving process gets data_dir as a writable emptyDir; the migration writes nothing locally.
	serves := len(args) == 1
	if data, ok := mounts[cfg.DataDir]; serves && (!ok || data.ReadOnly || volumes[data.Name].EmptyDir == nil) {
		t.Errorf("%s: data_dir %s is not a writable emptyDir", name, cfg.DataDir)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		secret := strings.Contains(e.Name, "PASSWORD") || strings.Contains(e.Name, "TOKEN") || strings.Contains(e.Name, "SECRET")
		if secret && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s: %s must come from a Secret", name, e.Name)
		}
	}
	if serves {
		checkMemLimit(t, name, env["GOMEMLIMIT"].Value, c.Resources.Limits.Memory())
	}
	if env["CAMPAIGNS_CONFIG"].Value != "/etc/campaigns/config.yaml" {
		t.Errorf("%s: CAMPAIGNS_CONFIG is %q", name, env["CAMPAIGNS_CONFIG"].Value)
	}
	if db := env["DB_PASSWORD"].ValueFrom; db == nil || db.SecretKeyRef == nil || db.SecretKeyRef.Optional != nil {
		t.Errorf("%s: DB_PASSWORD must come from a required Secret key", name)
	}
	if serves {
		if _, ok := env["NATS_PASSWORD"]; !ok {
			t.Errorf("%s: NATS credentials are not taken from a Secret", name)
		}
	}
	if serves && args[0] == "campaigns-api" {
		if _, ok := env["CAMPAIGNS_AUTH_JWT_SECRET"]; !ok {
			t.Errorf("%s: the JWT secret is not taken from a Secret", name)
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkMemLimit wants GOMEMLIMIT (Go's form: 460MiB) between 80% and 95% of the container's
// memory limit: the collector then works harder before the limit, instead of the container
// being killed at it, and the rest is left for what Go's limit does not count (stacks aside,
// the binary, cgo).
func checkMemLimit(t *testing.T, name, gomemlimit string, limit *resource.Quantity) {
	t.Helper()
	q, err := resource.ParseQuantity(strings.TrimSuffix(gomemlimit, "B"))
	if err != nil || !regexp.MustCompile(`^[0-9]+[KMGT]iB$`).MatchString(gomemlimit) { // what Go's runtime reads
		t.Errorf("%s: GOMEMLIMIT %q is not a size such as 460MiB", name, gomemlimit)
		return
	}
	if share := float64(q.Value()) / float64(limit.Value()); share < 0.8 || share > 0.95 {
		t.Errorf("%s: GOMEMLIMIT %s is %.0f%% of the memory limit %s, want 80-95%%", name, gomemlimit, 100*share, limit)
	}
}
