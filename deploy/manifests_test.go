package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fedscore/fedscore/internal/cluster"
)

// obj is one decoded YAML document.
type obj = map[string]any

func get(o any, path ...string) any {
	for _, p := range path {
		m, ok := o.(obj)
		if !ok {
			return nil
		}
		o = m[p]
	}
	return o
}

func list(o any, path ...string) []any { l, _ := get(o, path...).([]any); return l }

func str(o any, path ...string) string { s, _ := get(o, path...).(string); return s }

// manifests decodes every document of every YAML file in deploy/kubernetes.
func manifests(t *testing.T) map[string][]obj {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests (%v)", err)
	}
	out := map[string][]obj{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc obj
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if str(doc, "kind") == "" {
				t.Fatalf("%s: a document without kind", f)
			}
			out[filepath.Base(f)] = append(out[filepath.Base(f)], doc)
		}
	}
	return out
}

// flagsOf lists the flags `fedscore <command> -h` prints.
var flagsOf = sync.OnceValues(func() (map[string][]string, error) {
	bin, err := cluster.Binary()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	re := regexp.MustCompile(`^\s+-([a-z0-9-]+)`)
	for _, cmd := range []string{"coordinator", "node"} {
		var buf bytes.Buffer
		c := exec.Command(bin, cmd, "-h")
		c.Stdout, c.Stderr = &buf, &buf
		if err := c.Run(); err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				out[cmd] = append(out[cmd], m[1])
			}
		}
	}
	return out, nil
})

// checkArgs fails on a flag `fedscore <command>` does not know.
func checkArgs(t *testing.T, where string, args []string) {
	t.Helper()
	known, err := flagsOf()
	if err != nil {
		t.Fatal(err)
	}
	if len(args) == 0 || known[args[0]] == nil {
		t.Fatalf("%s: runs %q, want fedscore coordinator or node", where, args)
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "--") {
			continue // a value, or $FEDSCORE_SOURCE
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !slices.Contains(known[args[0]], name) {
			t.Errorf("%s: fedscore %s has no flag --%s", where, args[0], name)
		}
	}
}

func TestKubernetesManifests(t *testing.T) {
	docs := manifests(t)
	var kust obj
	for _, d := range docs["kustomization.yaml"] {
		kust = d
	}
	var resources []string
	for _, r := range list(kust, "resources") {
		resources = append(resources, r.(string))
	}
	for f := range docs {
		if f != "kustomization.yaml" && !slices.Contains(resources, f) {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
	var images []string
	for _, im := range list(kust, "images") {
		images = append(images, str(im, "name"))
	}

	workloads := map[string]obj{} // component -> pod template spec
	var policies []obj
	for f, ds := range docs {
		for _, d := range ds {
			switch str(d, "kind") {
			case "Deployment", "StatefulSet":
				workloads[str(d, "metadata", "labels", "app.kubernetes.io/component")] = get(d, "spec", "template", "spec").(obj)
				if str(d, "kind") == "StatefulSet" && len(list(d, "spec", "volumeClaimTemplates")) == 0 {
					t.Errorf("%s: the node StatefulSet has no volume claim for its keystore and state", f)
				}
			case "NetworkPolicy":
				policies = append(policies, d)
			}
		}
	}
	if workloads["coordinator"] == nil || workloads["node"] == nil {
		t.Fatalf("want a coordinator and a node workload, have %v", workloads)
	}
	for component, pod := range workloads {
		where := component
		if get(pod, "securityContext", "runAsNonRoot") != true || get(pod, "securityContext", "runAsUser") != 65532 {
			t.Errorf("%s: pod must run as non-root 65532: %v", where, get(pod, "securityContext"))
		}
		if get(pod, "automountServiceAccountToken") != false {
			t.Errorf("%s: mounts a service account token it does not need", where)
		}
		for _, c := range list(pod, "containers") {
			sc := get(c, "securityContext")
			if get(sc, "readOnlyRootFilesystem") != true || get(sc, "allowPrivilegeEscalation") != false ||
				!slices.Contains(list(sc, "capabilities", "drop"), any("ALL")) {
				t.Errorf("%s: container security context %v", where, sc)
			}
			image := str(c, "image")
			repo, _, _ := strings.Cut(image, ":")
			if !slices.Contains(images, repo) {
				t.Errorf("%s: image %s is not the kustomization's %v", where, image, images)
			}
			var metricsPort int
			for _, p := range list(c, "ports") {
				if str(p, "name") == "metrics" {
					metricsPort, _ = get(p, "containerPort").(int)
				}
			}
			for _, probe := range []string{"startupProbe", "readinessProbe", "livenessProbe"} {
				port, _ := get(c, probe, "grpc", "port").(int)
				if port == 0 || port != metricsPort {
					t.Errorf("%s: %s must be a gRPC health probe on the plain-text metrics port %d (7443 is mTLS only), is %v",
						where, probe, metricsPort, get(c, probe))
				}
			}
			if str(c, "livenessProbe", "grpc", "service") == str(c, "readinessProbe", "grpc", "service") {
				t.Errorf("%s: liveness and readiness ask the same health service: an unready federation would restart the pod", where)
			}
			var args []string
			for _, a := range list(c, "args") {
				args = append(args, a.(string))
			}
			checkArgs(t, where, args)
		}
	}

	for _, p := range policies {
		component := str(p, "spec", "podSelector", "matchLabels", "app.kubernetes.io/component")
		types := list(p, "spec", "policyTypes")
		if !slices.Contains(types, any("Ingress")) || !slices.Contains(types, any("Egress")) {
			t.Errorf("%s policy does not restrict both directions: %v", component, types)
		}
		egress := list(p, "spec", "egress")
		for _, e := range egress {
			if len(list(e, "to")) == 0 || len(list(e, "ports")) == 0 {
				t.Errorf("%s policy: egress rule %v allows any destination or port", component, e)
			}
		}
		switch component {
		case "node":
			if len(list(p, "spec", "ingress")) != 0 {
				t.Errorf("node policy admits ingress: %v", get(p, "spec", "ingress"))
			}
			toCoordinator := false
			for _, e := range egress {
				for _, to := range list(e, "to") {
					if str(to, "podSelector", "matchLabels", "app.kubernetes.io/component") == "coordinator" &&
						get(list(e, "ports")[0], "port") == 7443 {
						toCoordinator = true
					}
				}
			}
			if !toCoordinator {
				t.Error("node policy has no egress to the coordinator's port 7443")
			}
		case "coordinator":
			if len(egress) != 0 {
				t.Errorf("the coordinator dials nothing, its policy allows %v", egress)
			}
		}
	}
	if len(policies) != 2 {
		t.Errorf("%d network policies, want one for the coordinator and one for nodes", len(policies))
	}
}

// unit is a parsed systemd unit file: section -> key -> values.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	u := unit{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: bad line %q", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func TestSystemdUnits(t *testing.T) {
	want := map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "DynamicUser": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes",
		"MemoryDenyWriteExecute": "yes", "UMask": "0077", "SystemCallErrorNumber": "EPERM",
	}
	for _, cmd := range []string{"coordinator", "node"} {
		path := filepath.Join("systemd", "fedscore-"+cmd+".service")
		svc := parseUnit(t, path)["Service"]
		for k, v := range want {
			if got := svc[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s=%q, want %q", path, k, got, v)
			}
		}
		if u := svc["User"]; len(u) > 0 && (u[0] == "root" || u[0] == "0") {
			t.Errorf("%s runs as root", path)
		}
		state := "fedscore-" + cmd
		if svc["StateDirectory"][0] != state {
			t.Errorf("%s: StateDirectory=%v, want %s", path, svc["StateDirectory"], state)
		}
		exec := strings.Fields(svc["ExecStart"][0])
		if exec[0] != "/usr/local/bin/fedscore" {
			t.Errorf("%s runs %s", path, exec[0])
		}
		checkArgs(t, path, exec[1:])
		if !slices.Contains(exec, "--state-dir=%S/"+state) {
			t.Errorf("%s: the state directory is not the unit's StateDirectory", path)
		}
		for _, a := range exec {
			if strings.HasPrefix(a, "--metrics-listen=") && !strings.HasPrefix(a, "--metrics-listen=127.0.0.1:") {
				t.Errorf("%s: metrics listen beyond loopback: %s", path, a)
			}
		}
	}
}
