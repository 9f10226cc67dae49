package validate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const kubernetesDir = repo + "/deploy/kubernetes"

// overlays are the Kustomize roots make verify builds.
var overlays = []string{"base", "overlays/production"}

// manifests is one built overlay, every object decoded into its API type.
type manifests struct {
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	pdbs            []*policyv1.PodDisruptionBudget
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	policies        map[string]*networkingv1.NetworkPolicy
	ingresses       map[string]*networkingv1.Ingress
	jobs            map[string]*batchv1.Job
	configMaps      map[string]*corev1.ConfigMap
	clusters        []*cnpgCluster
	scheduledBackup []*cnpgScheduledBackup
}

// strictDecoder decodes YAML into the Kubernetes API types, refusing an
// unknown or duplicated field as the API server's strict validation does.
var strictDecoder = sync.OnceValue(func() *kjson.Serializer {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme,
		autoscalingv2.AddToScheme, networkingv1.AddToScheme, batchv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
})

var built sync.Map // overlay → *manifests

// build runs Kustomize (the library kubectl uses) on an overlay and decodes
// every object it produces, strictly; once per overlay per test binary.
func build(t *testing.T, overlay string) *manifests {
	t.Helper()
	if m, ok := built.Load(overlay); ok {
		return m.(*manifests)
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(kubernetesDir, overlay))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", overlay, err)
	}
	m := &manifests{deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		policies: map[string]*networkingv1.NetworkPolicy{}, ingresses: map[string]*networkingv1.Ingress{},
		jobs: map[string]*batchv1.Job{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, r := range resources.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		where := overlay + ": " + r.GetKind() + " " + r.GetName()
		if strings.HasPrefix(r.GetApiVersion(), "postgresql.cnpg.io/") {
			obj, err := decodeCNPG(r.GetKind(), doc)
			switch o := obj.(type) {
			case *cnpgCluster:
				m.clusters = append(m.clusters, o)
			case *cnpgScheduledBackup:
				m.scheduledBackup = append(m.scheduledBackup, o)
			default:
				t.Errorf("%s: %v", where, err)
			}
			continue
		}
		obj, _, err := strictDecoder().Decode(doc, nil, nil)
		if err != nil {
			t.Errorf("%s does not strict-decode into the Kubernetes API types: %v", where, err)
			continue
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployments[o.Name] = o
		case *corev1.Service:
			m.services[o.Name] = o
		case *policyv1.PodDisruptionBudget:
			m.pdbs = append(m.pdbs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			m.hpas = append(m.hpas, o)
		case *networkingv1.NetworkPolicy:
			m.policies[o.Name] = o
		case *networkingv1.Ingress:
			m.ingresses[o.Name] = o
		case *batchv1.Job:
			m.jobs[o.Name] = o
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		case *corev1.Namespace:
		case *corev1.Secret:
			t.Errorf("%s: a Secret in the manifests; Secrets are the platform's, referenced by name", where)
		default:
			t.Errorf("%s: a kind the policy tests do not know (%T); teach them", where, obj)
		}
	}
	built.Store(overlay, m)
	return m
}

// deployed are the workloads the manifests must run: every service folder,
// and the pending ones.
func deployed(t *testing.T) []string {
	t.Helper()
	names := serviceDirs(t)
	for name := range pending {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// TestKubernetesManifestsAreAllBuilt: every YAML file under base/ is one
// of its resources, so none escapes the strict decoding.
func TestKubernetesManifestsAreAllBuilt(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(kubernetesDir, "base/kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(filepath.Join(kubernetesDir, "base"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" || d.Name() == "kustomization.yaml" {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(kubernetesDir, "base"), path)
		if !slices.Contains(k.Resources, rel) {
			t.Errorf("base/%s is not in base/kustomization.yaml's resources: kustomize never builds it", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, overlay := range overlays {
		build(t, overlay)
	}
}

// TestKubernetesPolicy checks what deploy/README.md promises of every
// workload, in each overlay: it runs as a numeric non-root user with a
// read-only root file system, no privilege escalation and no capabilities;
// it has resource requests and limits, and readiness and liveness probes
// (gRPC health for the gRPC services); it takes its secrets by reference;
// a PodDisruptionBudget and a HorizontalPodAutoscaler cover it.
func TestKubernetesPolicy(t *testing.T) {
	t.Parallel()
	for _, overlay := range overlays {
		m := build(t, overlay)
		for _, name := range deployed(t) {
			d, ok := m.deployments[name]
			if !ok {
				t.Errorf("%s: no Deployment for services/%s", overlay, name)
				continue
			}
			where := overlay + ": Deployment " + name
			checkPod(t, where, &d.Spec.Template.Spec, overlay == "overlays/production")
			grpcService := name != "dashboard"
			for _, c := range d.Spec.Template.Spec.Containers {
				checkProbes(t, where+" container "+c.Name, c, grpcService)
			}
			labels := d.Spec.Template.Labels
			if !slices.ContainsFunc(m.pdbs, func(p *policyv1.PodDisruptionBudget) bool { return selects(p.Spec.Selector.MatchLabels, labels) }) {
				t.Errorf("%s: no PodDisruptionBudget selects its pods", where)
			}
			if !slices.ContainsFunc(m.hpas, func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
				return h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == name && h.Spec.MinReplicas != nil && *h.Spec.MinReplicas >= 2
			}) {
				t.Errorf("%s: no HorizontalPodAutoscaler of at least 2 replicas scales it", where)
			}
			if d.Spec.Replicas != nil {
				t.Errorf("%s: sets replicas, which would fight its HorizontalPodAutoscaler on every apply", where)
			}
			if _, ok := m.services[name]; !ok {
				t.Errorf("%s: no Service", where)
			}
		}
		for name, j := range m.jobs {
			checkPod(t, overlay+": Job "+name, &j.Spec.Template.Spec, overlay == "overlays/production")
		}
	}
}

// selects reports whether a selector's labels all hold in labels.
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

func checkPod(t *testing.T, where string, pod *corev1.PodSpec, production bool) {
	t.Helper()
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot is not true", where)
	}
	// The image's user is a name (nonroot); the kubelet can verify
	// runAsNonRoot only against a number.
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 || sc.RunAsGroup == nil || *sc.RunAsGroup == 0 {
		t.Errorf("%s: want a numeric, non-zero runAsUser and runAsGroup", where)
	}
	if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: want seccompProfile RuntimeDefault", where)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: mounts a service account token it does not use", where)
	}
	for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
		cw := where + " container " + c.Name
		s := c.SecurityContext
		if s == nil || s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation is not false", cw)
		}
		if s == nil || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem is not true", cw)
		}
		if s == nil || s.Capabilities == nil || !slices.Contains(s.Capabilities.Drop, "ALL") || len(s.Capabilities.Add) > 0 {
			t.Errorf("%s: want capabilities drop [ALL] and none added", cw)
		}
		if s != nil && s.Privileged != nil && *s.Privileged {
			t.Errorf("%s: privileged", cw)
		}
		r := c.Resources
		if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() || r.Limits.Cpu().IsZero() {
			t.Errorf("%s: want cpu and memory requests and limits, got %v", cw, r)
		}
		if r.Limits.Memory().Cmp(*r.Requests.Memory()) < 0 {
			t.Errorf("%s: memory limit below its request", cw)
		}
		if production {
			if i := strings.LastIndex(c.Image, ":"); i < 0 || strings.Contains(c.Image[i:], "/") || strings.HasSuffix(c.Image, ":latest") {
				t.Errorf("%s: image %q has no release tag", cw, c.Image)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil && looksSecret(e.Name) {
				t.Errorf("%s: %s is written in the manifest; reference a Secret (valueFrom or a mounted file)", cw, e.Name)
			}
		}
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("%s: volume %s mounts the node's file system", where, v.Name)
		}
	}
}

// looksSecret is a variable that holds a secret itself (not a file name).
func looksSecret(name string) bool {
	if strings.HasSuffix(name, "_FILE") {
		return false
	}
	for _, w := range []string{"PASSWORD", "SECRET", "TOKEN", "DATABASE_URL", "SESSION_KEY", "PRIVATE_KEY"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func checkProbes(t *testing.T, where string, c corev1.Container, grpcService bool) {
	t.Helper()
	for kind, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		switch {
		case p == nil:
			t.Errorf("%s: no %s probe", where, kind)
		case grpcService && p.GRPC == nil:
			t.Errorf("%s: %s probe is not on the gRPC health protocol", where, kind)
		case !grpcService && p.HTTPGet == nil:
			t.Errorf("%s: %s probe is not an HTTP check", where, kind)
		}
	}
	if !grpcService {
		return
	}
	// The probe reaches the plain-text health listener of GRPC_HEALTH_ADDR
	// (the gRPC port is mutual TLS, which the kubelet cannot speak), and
	// readiness asks for the readiness checks.
	if c.ReadinessProbe != nil && c.ReadinessProbe.GRPC != nil {
		if s := c.ReadinessProbe.GRPC.Service; s == nil || *s != "readiness" {
			t.Errorf("%s: readiness probe does not ask for service \"readiness\" (the /healthz checks)", where)
		}
		port := c.ReadinessProbe.GRPC.Port
		if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == port && p.Name == "health" }) {
			t.Errorf("%s: gRPC probe port %d is not its health port", where, port)
		}
	}
}

// TestKubernetesNetworkPolicies: everything is denied but what a policy
// allows; each gRPC service reaches only PostgreSQL and NATS (the notifier
// also applications and its SMTP relay), the dashboard only reporting; the
// identity provider and DNS are reachable by all.
func TestKubernetesNetworkPolicies(t *testing.T) {
	t.Parallel()
	postgres := map[string]string{"cnpg.io/cluster": "recruitment-db"}
	nats := map[string]string{"app.kubernetes.io/name": "nats"}
	app := func(name string) map[string]string { return map[string]string{"app.kubernetes.io/name": name} }
	for _, overlay := range overlays {
		m := build(t, overlay)
		deny, ok := m.policies["default-deny"]
		if !ok || len(deny.Spec.Ingress) > 0 || len(deny.Spec.Egress) > 0 ||
			!slices.Contains(deny.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(deny.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			t.Errorf("%s: no default-deny policy for ingress and egress", overlay)
		}
		for _, name := range deployed(t) {
			d, ok := m.deployments[name]
			if !ok {
				continue // TestKubernetesPolicy names it
			}
			labels := d.Spec.Template.Labels
			if deny != nil && !selects(deny.Spec.PodSelector.MatchLabels, labels) {
				t.Errorf("%s: default-deny does not select %s's pods", overlay, name)
			}
			p, ok := m.policies[name]
			if !ok || !selects(p.Spec.PodSelector.MatchLabels, labels) {
				t.Errorf("%s: no NetworkPolicy %s selecting its pods", overlay, name)
				continue
			}
			allowed := []map[string]string{postgres, nats}
			ipBlocks := 0
			switch name {
			case "dashboard":
				allowed = []map[string]string{app("reporting")}
			case "notifier":
				allowed = append(allowed, app("applications"))
				ipBlocks = 1 // the SMTP relay
			}
			seen := map[string]bool{}
			for _, rule := range p.Spec.Egress {
				if len(rule.Ports) == 0 {
					t.Errorf("%s: %s's egress rule allows every port", overlay, name)
				}
				for _, peer := range rule.To {
					switch {
					case peer.IPBlock != nil:
						ipBlocks--
						if peer.IPBlock.CIDR == "0.0.0.0/0" {
							t.Errorf("%s: %s may reach any address", overlay, name)
						}
					case peer.PodSelector != nil && peer.NamespaceSelector == nil &&
						slices.ContainsFunc(allowed, func(a map[string]string) bool { return selects(a, peer.PodSelector.MatchLabels) }):
						seen[labelsKey(peer.PodSelector.MatchLabels)] = true
					default:
						t.Errorf("%s: %s may reach %v, beyond what it needs", overlay, name, peer)
					}
				}
			}
			if ipBlocks < 0 {
				t.Errorf("%s: %s reaches more addresses (ipBlock) than it needs", overlay, name)
			}
			for _, a := range allowed {
				if !seen[labelsKey(a)] {
					t.Errorf("%s: %s cannot reach %v, which it needs", overlay, name, a)
				}
			}
		}
		for name, j := range m.jobs {
			if deny != nil && !selects(deny.Spec.PodSelector.MatchLabels, j.Spec.Template.Labels) {
				t.Errorf("%s: default-deny does not select Job %s's pods", overlay, name)
			}
			if _, ok := m.policies[j.Spec.Template.Labels["app.kubernetes.io/name"]]; !ok {
				t.Errorf("%s: no NetworkPolicy for Job %s's pods", overlay, name)
			}
		}
		if p, ok := m.policies["identity-provider"]; !ok || len(p.Spec.Egress) != 1 || len(p.Spec.Egress[0].To) != 1 || p.Spec.Egress[0].To[0].IPBlock == nil {
			t.Errorf("%s: no identity-provider policy allowing one address", overlay)
		}
	}
}

func labelsKey(l map[string]string) string {
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// TestKubernetesIngress: browsers reach the dashboard, and tools each gRPC
// service, through an Ingress with TLS.
func TestKubernetesIngress(t *testing.T) {
	t.Parallel()
	for _, overlay := range overlays {
		m := build(t, overlay)
		backends := map[string]*networkingv1.Ingress{}
		for _, ing := range m.ingresses {
			if len(ing.Spec.TLS) == 0 {
				t.Errorf("%s: Ingress %s has no TLS", overlay, ing.Name)
			}
			for _, rule := range ing.Spec.Rules {
				for _, p := range rule.HTTP.Paths {
					backends[p.Backend.Service.Name] = ing
				}
			}
		}
		for _, name := range deployed(t) {
			ing, ok := backends[name]
			switch {
			case !ok:
				t.Errorf("%s: no Ingress reaches %s", overlay, name)
			case name != "dashboard" && ing.Annotations["nginx.ingress.kubernetes.io/backend-protocol"] != "GRPCS":
				t.Errorf("%s: Ingress %s does not speak gRPC over TLS to %s", overlay, ing.Name, name)
			}
		}
	}
}

// TestKubernetesStreamAndDatabase: the stream is provisioned with 3
// replicas, which the services expect; PostgreSQL is a CloudNativePG
// Cluster of 3 instances backed up to object storage, with a managed role
// per service.
func TestKubernetesStreamAndDatabase(t *testing.T) {
	t.Parallel()
	for _, overlay := range overlays {
		m := build(t, overlay)
		job, ok := m.jobs["recruitment-provision"]
		if !ok {
			t.Fatalf("%s: no provision Job", overlay)
		}
		var args []string
		for _, c := range slices.Concat(job.Spec.Template.Spec.InitContainers, job.Spec.Template.Spec.Containers) {
			args = append(args, strings.Join(slices.Concat(c.Command, c.Args), " "))
		}
		joined := strings.Join(args, "\n")
		if !strings.Contains(joined, "/dbroles") || !strings.Contains(joined, "-provision") || !strings.Contains(joined, "-replicas 3") {
			t.Errorf("%s: the provision Job does not run dbroles and devnats -provision -replicas 3: %q", overlay, joined)
		}
		var common *corev1.ConfigMap
		for name, cm := range m.configMaps {
			if strings.HasPrefix(name, "recruitment-common") {
				common = cm
			}
		}
		if common == nil || common.Data["NATS_REPLICAS"] != "3" || common.Data["GRPC_HEALTH_ADDR"] == "" {
			t.Errorf("%s: recruitment-common lacks NATS_REPLICAS=3 or GRPC_HEALTH_ADDR", overlay)
		}

		if len(m.clusters) != 1 {
			t.Fatalf("%s: %d CloudNativePG Clusters, want 1", overlay, len(m.clusters))
		}
		c := m.clusters[0]
		if c.Spec.Instances != 3 {
			t.Errorf("%s: Cluster %s has %d instances, want 3", overlay, c.Metadata.Name, c.Spec.Instances)
		}
		if c.Spec.Backup == nil || c.Spec.Backup.BarmanObjectStore == nil || !strings.Contains(c.Spec.Backup.BarmanObjectStore.DestinationPath, "://") {
			t.Errorf("%s: Cluster %s is not backed up to object storage", overlay, c.Metadata.Name)
		}
		if len(m.scheduledBackup) == 0 || m.scheduledBackup[0].Spec.Cluster.Name != c.Metadata.Name {
			t.Errorf("%s: no ScheduledBackup of %s", overlay, c.Metadata.Name)
		}
		for _, name := range deployed(t) {
			if name == "dashboard" {
				continue
			}
			role := "recruitment_" + name
			if !slices.ContainsFunc(c.Spec.Managed.Roles, func(r cnpgRole) bool {
				return r.Name == role && r.Login && r.Ensure == "present" && r.PasswordSecret != nil && r.PasswordSecret.Name != ""
			}) {
				t.Errorf("%s: Cluster has no managed login role %s with a password Secret", overlay, role)
			}
		}
	}
}
