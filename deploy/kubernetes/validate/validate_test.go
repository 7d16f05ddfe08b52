package validate

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	manifestDir = ".."
	port        = 10961
	namespace   = "netctl"
)

var wantCaps = []corev1.Capability{"BPF", "NET_ADMIN", "PERFMON", "SYS_ADMIN"}

// doc is one YAML document of a manifest file.
type doc struct {
	where string // file#index
	raw   []byte
	meta  struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
}

// manifests is every document of every .yaml/.yml file under deploy/kubernetes (this
// module's folder aside), decoded strictly into its Kubernetes type.
type manifests struct {
	namespaces      []*corev1.Namespace
	serviceAccounts []*corev1.ServiceAccount
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	daemonSets      []*appsv1.DaemonSet
	serviceMonitors []map[string]any
}

func load(t *testing.T) *manifests {
	t.Helper()
	var docs []doc
	err := filepath.WalkDir(manifestDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "validate" {
			return filepath.SkipDir
		}
		if d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(part, "")) == "" {
				continue
			}
			docs = append(docs, doc{where: fmt.Sprintf("%s#%d", p, i), raw: []byte(part)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatalf("no manifest under %s", manifestDir)
	}

	m := &manifests{}
	for _, d := range docs {
		if err := yaml.Unmarshal(d.raw, &d.meta); err != nil {
			t.Errorf("%s: %v", d.where, err)
			continue
		}
		var obj any
		switch gk := d.meta.APIVersion + " " + d.meta.Kind; gk {
		case "v1 Namespace":
			o := &corev1.Namespace{}
			m.namespaces, obj = append(m.namespaces, o), o
		case "v1 ServiceAccount":
			o := &corev1.ServiceAccount{}
			m.serviceAccounts, obj = append(m.serviceAccounts, o), o
		case "v1 Service":
			o := &corev1.Service{}
			m.services, obj = append(m.services, o), o
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			m.configMaps, obj = append(m.configMaps, o), o
		case "apps/v1 DaemonSet":
			o := &appsv1.DaemonSet{}
			m.daemonSets, obj = append(m.daemonSets, o), o
		case "monitoring.coreos.com/v1 ServiceMonitor":
			// No Go types here for the operator's CRDs: a map, checked field by field.
			var o map[string]any
			if err := yaml.UnmarshalStrict(d.raw, &o); err != nil {
				t.Errorf("%s: %v", d.where, err)
			}
			m.serviceMonitors = append(m.serviceMonitors, o)
			continue
		default:
			t.Errorf("%s: unexpected kind %q: teach this test its type", d.where, gk)
			continue
		}
		// Strict: an unknown or misspelt field, or a repeated key, fails.
		if err := yaml.UnmarshalStrict(d.raw, obj); err != nil {
			t.Errorf("%s (%s %s): %v", d.where, d.meta.APIVersion, d.meta.Kind, err)
		}
	}
	return m
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := load(t)
	if len(m.daemonSets) != 1 || len(m.services) != 1 || len(m.serviceAccounts) != 1 ||
		len(m.namespaces) != 1 || len(m.serviceMonitors) != 1 {
		t.Fatalf("want one each of DaemonSet, Service, ServiceAccount, Namespace, ServiceMonitor; got %d, %d, %d, %d, %d",
			len(m.daemonSets), len(m.services), len(m.serviceAccounts), len(m.namespaces), len(m.serviceMonitors))
	}
	ns := m.namespaces[0]
	if ns.Name != namespace {
		t.Errorf("Namespace %q, want %q", ns.Name, namespace)
	}
	// hostNetwork, hostPID, hostPath and added capabilities are all beyond "baseline".
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("Namespace: pod-security.kubernetes.io/enforce = %q, want privileged (or the pods are refused)", got)
	}
	for _, o := range []interface{ GetNamespace() string }{m.daemonSets[0], m.services[0], m.serviceAccounts[0]} {
		if o.GetNamespace() != namespace {
			t.Errorf("%T in namespace %q, want %q", o, o.GetNamespace(), namespace)
		}
	}
}

// A mutation of a manifest that a strict decoder must refuse, so the test above means
// something.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(manifestDir, "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mut := range []struct{ from, to string }{
		{"hostNetwork: true", "hostNetwrk: true"},
		{"      hostPID: true", "      hostPID: true\n      hostPID: true"},
		{"readOnlyRootFilesystem: true", "readOnlyRootFilesystem: yes please"},
	} {
		bad := bytes.Replace(b, []byte(mut.from), []byte(mut.to), 1)
		if bytes.Equal(bad, b) {
			t.Fatalf("mutation %q: not found in daemonset.yaml", mut.from)
		}
		if err := yaml.UnmarshalStrict(bad, &appsv1.DaemonSet{}); err == nil {
			t.Errorf("mutation %q → %q decoded without error", mut.from, mut.to)
		}
	}
}

func TestDaemonSet(t *testing.T) {
	m := load(t)
	if len(m.daemonSets) != 1 {
		t.Fatalf("%d DaemonSets, want 1", len(m.daemonSets))
	}
	ds := m.daemonSets[0]
	pod := ds.Spec.Template.Spec
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, ds.Spec.Template.Labels)
		}
	}
	if !pod.HostNetwork {
		t.Error("hostNetwork is not true: netctl must run in the node's network namespace")
	}
	if !pod.HostPID {
		t.Error("hostPID is not true: netctl names containers through the node's /proc/PID/ns/net")
	}
	if !slices.ContainsFunc(pod.Tolerations, func(tl corev1.Toleration) bool {
		return tl.Operator == corev1.TolerationOpExists && tl.Key == "" && tl.Effect == ""
	}) {
		t.Errorf("tolerations %v: want one {operator: Exists} so that every node runs netctl", pod.Tolerations)
	}
	if pod.ServiceAccountName != "netctl" || len(m.serviceAccounts) != 1 || m.serviceAccounts[0].Name != pod.ServiceAccountName {
		t.Errorf("serviceAccountName %q: want netctl, defined beside it", pod.ServiceAccountName)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken: want false (netctl does not use the API)")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image == "" || len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("image %q args %q: want an image running serve", c.Image, c.Args)
	}

	t.Run("capabilities, not privileged", func(t *testing.T) {
		sc := c.SecurityContext
		if sc == nil || sc.Capabilities == nil {
			t.Fatal("no securityContext.capabilities")
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Error("privileged: true")
		}
		if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("capabilities.drop = %v, want [ALL]", sc.Capabilities.Drop)
		}
		add := slices.Clone(sc.Capabilities.Add)
		slices.Sort(add)
		if !slices.Equal(add, wantCaps) {
			t.Errorf("capabilities.add = %v, want exactly %v", sc.Capabilities.Add, wantCaps)
		}
		// The API server's own rule (ValidateSecurityContext).
		if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation && slices.Contains(add, "SYS_ADMIN") {
			t.Error("allowPrivilegeEscalation: false with SYS_ADMIN added: the API server refuses it")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Error("readOnlyRootFilesystem: want true")
		}
		if pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot {
			t.Error("runAsNonRoot at pod level: netctl runs as root (with four capabilities)")
		}
	})

	t.Run("probes on /healthz:10961", func(t *testing.T) {
		if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
			return p.ContainerPort == port && p.Name == "metrics"
		}) {
			t.Errorf("ports %v: want metrics %d", c.Ports, port)
		}
		for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%sProbe: want an httpGet", name)
				continue
			}
			if p.HTTPGet.Path != "/healthz" || resolvePort(c, p.HTTPGet.Port) != port {
				t.Errorf("%sProbe: %s on port %s, want /healthz on %d", name, p.HTTPGet.Path, p.HTTPGet.Port.String(), port)
			}
		}
		if slices.ContainsFunc(c.Args, func(a string) bool {
			return strings.HasPrefix(a, "--web.listen-address=") && !strings.HasSuffix(a, fmt.Sprintf(":%d", port))
		}) {
			t.Errorf("args %q listen elsewhere than :%d", c.Args, port)
		}
	})

	t.Run("resources", func(t *testing.T) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
			if req.IsZero() || lim.IsZero() {
				t.Errorf("%s: want a request and a limit, got %s / %s", r, req.String(), lim.String())
			} else if req.Cmp(lim) > 0 {
				t.Errorf("%s: request %s over limit %s", r, req.String(), lim.String())
			}
		}
	})

	t.Run("host paths", func(t *testing.T) {
		// Bidirectional propagation is for privileged containers only (API server rule).
		for _, vm := range c.VolumeMounts {
			if vm.MountPropagation != nil && *vm.MountPropagation == corev1.MountPropagationBidirectional {
				t.Errorf("volumeMount %s: Bidirectional needs a privileged container", vm.Name)
			}
		}
		// bpffs: the node's /sys/fs/bpf at /sys/fs/bpf, writable (netctl pins there).
		vm, rest := reach(pod, c, "/sys/fs/bpf")
		switch {
		case vm == nil || rest != "":
			t.Error("the node's /sys/fs/bpf is not mounted at /sys/fs/bpf")
		case vm.ReadOnly:
			t.Error("/sys/fs/bpf is mounted read-only: netctl pins its maps and links there")
		}
		// The state directory, writable.
		if vm, _ := reach(pod, c, "/run/netctl"); vm == nil || vm.ReadOnly {
			t.Error("the node's /run/netctl is not mounted writable at /run/netctl")
		}
		// Where netctl finds namespaces and the Engine API, at the same paths as on the
		// node, with later mounts (new pods' namespaces) propagating in.
		for _, p := range []string{"/var/run/netns", "/var/run/docker/netns", "/var/run/docker.sock"} {
			vm, _ := reach(pod, c, p)
			if vm == nil {
				t.Errorf("the node's %s is not reachable at %s", p, p)
				continue
			}
			if vm.MountPropagation == nil || *vm.MountPropagation != corev1.MountPropagationHostToContainer {
				t.Errorf("%s (volumeMount %s): want mountPropagation HostToContainer", p, vm.Name)
			}
		}
		// No hostPath of type Socket or File: they keep the pod from starting on nodes
		// without them.
		for _, v := range pod.Volumes {
			if v.HostPath != nil && v.HostPath.Type != nil &&
				(*v.HostPath.Type == corev1.HostPathSocket || *v.HostPath.Type == corev1.HostPathFile) {
				t.Errorf("volume %s: hostPath type %s fails on nodes without %s", v.Name, *v.HostPath.Type, v.HostPath.Path)
			}
		}
	})
}

// resolvePort returns the number of a probe's port, looking named ports up.
func resolvePort(c corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return -1
}

// canon maps /var/run to /run, as on every node (a symlink).
func canon(p string) string {
	p = path.Clean(p)
	if p == "/var/run" || strings.HasPrefix(p, "/var/run/") {
		return "/run" + strings.TrimPrefix(p, "/var/run")
	}
	return p
}

// reach returns the volume mount through which the node's path p appears at the same
// path p in the container, and what of p lies below the mount's host path.
func reach(pod corev1.PodSpec, c corev1.Container, p string) (*corev1.VolumeMount, string) {
	var best *corev1.VolumeMount
	bestRest := ""
	for i, vm := range c.VolumeMounts {
		var hp string
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.HostPath != nil {
				hp = path.Join(v.HostPath.Path, vm.SubPath)
			}
		}
		if hp == "" {
			continue
		}
		host, target := canon(hp), canon(p)
		if target != host && !strings.HasPrefix(target, host+"/") {
			continue
		}
		rest := strings.TrimPrefix(target, host)
		if canon(path.Join(vm.MountPath, rest)) != target {
			continue
		}
		// The deepest mount wins, as in the container's mount table.
		if best == nil || len(canon(vm.MountPath)) > len(canon(best.MountPath)) {
			best, bestRest = &c.VolumeMounts[i], rest
		}
	}
	return best, bestRest
}

func TestService(t *testing.T) {
	m := load(t)
	if len(m.services) != 1 || len(m.daemonSets) != 1 {
		t.Fatal("want one Service and one DaemonSet")
	}
	svc, ds := m.services[0], m.daemonSets[0]
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("clusterIP %q: want None (headless: one endpoint per node)", svc.Spec.ClusterIP)
	}
	if len(svc.Spec.Selector) == 0 {
		t.Error("no selector")
	}
	for k, v := range svc.Spec.Selector {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not select the DaemonSet's pods", k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].Port != port ||
		resolvePort(ds.Spec.Template.Spec.Containers[0], svc.Spec.Ports[0].TargetPort) != port {
		t.Errorf("ports %+v: want metrics %d → the container's %d", svc.Spec.Ports, port, port)
	}
}

func TestServiceMonitor(t *testing.T) {
	m := load(t)
	if len(m.serviceMonitors) != 1 || len(m.services) != 1 {
		t.Fatal("want one ServiceMonitor and one Service")
	}
	sm, svc := m.serviceMonitors[0], m.services[0]
	get := func(path ...any) any {
		var v any = sm
		for _, k := range path {
			switch k := k.(type) {
			case string:
				mm, _ := v.(map[string]any)
				v = mm[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return nil
				}
				v = l[k]
			}
		}
		return v
	}
	if get("metadata", "name") != "netctl" {
		t.Errorf("metadata.name = %v: the job label is the Service's name, netctl, which the alerts select", get("metadata", "name"))
	}
	sel, _ := get("spec", "selector", "matchLabels").(map[string]any)
	if len(sel) == 0 {
		t.Error("spec.selector.matchLabels empty")
	}
	for k, v := range sel {
		if svc.Labels[k] != v {
			t.Errorf("spec.selector %s=%v does not select the Service (labels %v)", k, v, svc.Labels)
		}
	}
	if ns, _ := get("spec", "namespaceSelector", "matchNames").([]any); !slices.Contains(ns, any(namespace)) {
		t.Errorf("spec.namespaceSelector.matchNames %v: want %s", ns, namespace)
	}
	if get("spec", "endpoints", 0, "port") != svc.Spec.Ports[0].Name {
		t.Errorf("spec.endpoints[0].port = %v, want the Service's port name %s", get("spec", "endpoints", 0, "port"), svc.Spec.Ports[0].Name)
	}
	if get("spec", "endpoints", 0, "path") != "/metrics" {
		t.Errorf("spec.endpoints[0].path = %v, want /metrics", get("spec", "endpoints", 0, "path"))
	}
	// The fields used are the operator's (ServiceMonitor v1): a typo would be ignored by
	// the map decoding, so name them.
	known := map[string][]string{
		"":                 {"apiVersion", "kind", "metadata", "spec"},
		"spec":             {"selector", "namespaceSelector", "endpoints", "jobLabel"},
		"spec.endpoints":   {"port", "path", "interval", "scrapeTimeout", "relabelings", "metricRelabelings", "scheme"},
		"spec.relabelings": {"sourceLabels", "targetLabel", "regex", "action", "replacement"},
	}
	check := func(where string, v any) {
		mm, _ := v.(map[string]any)
		for k := range mm {
			if !slices.Contains(known[where], k) {
				t.Errorf("ServiceMonitor: unknown field %s.%s", where, k)
			}
		}
	}
	check("", sm)
	check("spec", get("spec"))
	eps, _ := get("spec", "endpoints").([]any)
	for _, ep := range eps {
		check("spec.endpoints", ep)
		rl, _ := ep.(map[string]any)["relabelings"].([]any)
		for _, r := range rl {
			check("spec.relabelings", r)
		}
	}
}

// The plain-Prometheus example is a valid Prometheus configuration whose job is netctl.
func TestScrapeConfig(t *testing.T) {
	m := load(t)
	var cfg string
	for _, cm := range m.configMaps {
		if s, ok := cm.Data["prometheus.yml"]; ok {
			cfg = s
		}
	}
	if cfg == "" {
		t.Fatal("no ConfigMap with a prometheus.yml")
	}
	var c struct {
		ScrapeConfigs []struct {
			JobName             string           `json:"job_name"`
			KubernetesSDConfigs []map[string]any `json:"kubernetes_sd_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.ScrapeConfigs) != 1 || c.ScrapeConfigs[0].JobName != "netctl" || len(c.ScrapeConfigs[0].KubernetesSDConfigs) == 0 {
		t.Errorf("want one job netctl with kubernetes_sd_configs, got %+v", c.ScrapeConfigs)
	}
	sd := c.ScrapeConfigs[0].KubernetesSDConfigs
	for _, s := range sd {
		for k := range s {
			if !slices.Contains([]string{"role", "namespaces", "selectors"}, k) {
				t.Errorf("kubernetes_sd_configs: unknown field %s", k)
			}
		}
		if s["role"] != "endpoints" {
			t.Errorf("kubernetes_sd_configs role %v: want endpoints (the headless Service's)", s["role"])
		}
		if names, _ := s["namespaces"].(map[string]any)["names"].([]any); !slices.Contains(names, any(namespace)) {
			t.Errorf("kubernetes_sd_configs namespaces %v: want %s", s["namespaces"], namespace)
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed: the configuration's syntax is not checked")
	}
	out, err := promtoolCheckConfig(t, promtool, []byte(cfg))
	if err != nil && strings.Contains(string(out), "field kubernetes_sd_configs not found") {
		// Debian's Prometheus is built without Kubernetes discovery: check the rest, with
		// the discovery (checked above) swapped for a static target.
		t.Logf("this promtool has no kubernetes_sd_configs; checking the rest with static_configs")
		var raw map[string]any
		if err := yaml.Unmarshal([]byte(cfg), &raw); err != nil {
			t.Fatal(err)
		}
		for _, sc := range raw["scrape_configs"].([]any) {
			sc := sc.(map[string]any)
			delete(sc, "kubernetes_sd_configs")
			sc["static_configs"] = []any{map[string]any{"targets": []any{fmt.Sprintf("localhost:%d", port)}}}
		}
		b, merr := yaml.Marshal(raw)
		if merr != nil {
			t.Fatal(merr)
		}
		out, err = promtoolCheckConfig(t, promtool, b)
	}
	if err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

func promtoolCheckConfig(t *testing.T, promtool string, cfg []byte) ([]byte, error) {
	f := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(f, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return exec.Command(promtool, "check", "config", f).CombinedOutput()
}
