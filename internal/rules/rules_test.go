package rules

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/podtrail/podtrail/internal/podrecord"
)

var packDir = filepath.Join("..", "..", "distributions", "otelcol-podtrail", "rules")

func loadPack(t testing.TB) *Engine {
	t.Helper()
	e, err := Load(filepath.Join(packDir, "rules.yaml"), filepath.Join(packDir, "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ctr(images ...string) []podrecord.Container {
	var cs []podrecord.Container
	for _, im := range images {
		cs = append(cs, podrecord.Container{Name: "c", Image: im, Type: "container"})
	}
	return cs
}

var (
	person = podrecord.Actor{Username: "alice@example.com", Kind: podrecord.ActorUser}
	dsCtrl = podrecord.Actor{Username: "system:serviceaccount:kube-system:daemon-set-controller", Kind: podrecord.ActorController}
	rsCtrl = podrecord.Actor{Username: "system:serviceaccount:kube-system:replicaset-controller", Kind: podrecord.ActorController}
)

func TestDefaultPack(t *testing.T) {
	e := loadPack(t)
	tests := []struct {
		name string
		r    podrecord.Record
		want []string
	}{
		{"real kube-proxy pod", podrecord.Record{Namespace: "kube-system", Name: "kube-proxy-7mzqv", Actor: dsCtrl, Allowed: true,
			Owner: podrecord.Owner{Kind: "DaemonSet", Name: "kube-proxy"}, Labels: map[string]string{"k8s-app": "kube-proxy"},
			Containers: ctr("registry.k8s.io/kube-proxy:v1.33.13")}, nil},
		{"real coredns pod", podrecord.Record{Namespace: "kube-system", Name: "coredns-668d6bf9bc-2xkfw", Actor: rsCtrl, Allowed: true,
			Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "coredns-668d6bf9bc"}, Containers: ctr("registry.k8s.io/coredns/coredns:v1.12.0")}, nil},
		{"person's kube-proxy lookalike", podrecord.Record{Namespace: "kube-system", Name: "kube-proxy-x7b2q", Actor: person, Allowed: true,
			Containers: ctr("docker.io/alpine:3.20")}, []string{"PT-0001", "PT-0002", "PT-0003"}},
		{"typo of coredns elsewhere", podrecord.Record{Namespace: "default", Name: "cordns", Actor: person, Allowed: true,
			Containers: ctr("nginx:1.27")}, []string{"PT-0002"}},
		{"lookalike labels by generateName", podrecord.Record{Namespace: "kube-system", GenerateName: "kube-proxy-", Name: "kube-proxy-9tq2m", Actor: person, Allowed: true,
			Labels: map[string]string{"k8s-app": "kube-proxy"}, Containers: ctr("docker.io/kube-proxy-mirror/kube-proxy:v1.33.13")},
			[]string{"PT-0001", "PT-0002", "PT-0003", "PT-0005"}},
		{"forbidden create", podrecord.Record{Namespace: "kube-system", Name: "coredns-debug", Actor: person, Decision: "forbid", Code: 403,
			Containers: ctr("busybox:1.36")}, []string{"PT-0004"}},
		{"approved digest", podrecord.Record{Namespace: "shop", Name: "payments-5d8f7c9b6d-q9wzt", Actor: rsCtrl, Allowed: true,
			Owner:      podrecord.Owner{Kind: "ReplicaSet", Name: "payments-5d8f7c9b6d"},
			Containers: ctr("ghcr.io/acme/payments@sha256:dbeb97c24f107f57a887833791df5761c5c671279fcffcfa4d562189f90edc6a")}, nil},
		{"digest not approved", podrecord.Record{Namespace: "shop", Name: "payments-5d8f7c9b6d-q9wzt", Actor: rsCtrl, Allowed: true,
			Owner:      podrecord.Owner{Kind: "ReplicaSet", Name: "payments-5d8f7c9b6d"},
			Containers: ctr("ghcr.io/acme/payments@sha256:0000000000000000000000000000000000000000000000000000000000000000")}, []string{"PT-0003"}},
		{"registry lookalike org", podrecord.Record{Namespace: "shop", Name: "cart-6f7d9c8b4-ttp4z", Actor: rsCtrl, Allowed: true,
			Owner: podrecord.Owner{Kind: "ReplicaSet", Name: "cart-6f7d9c8b4"}, Containers: ctr("ghcr.io/acme-corp/cart:1.2.0")}, []string{"PT-0003"}},
		{"cronjob pod", podrecord.Record{Namespace: "batch", Name: "report-nightly-29411040-8dk2x", Actor: podrecord.Actor{Kind: podrecord.ActorController}, Allowed: true,
			Owner: podrecord.Owner{Kind: "Job", Name: "report-nightly-29411040"}, Containers: ctr("ghcr.io/acme/report:1.0.0")}, nil},
		{"person's bare pod in a namespace only Argo CD deploys to", podrecord.Record{Namespace: "monitoring", Name: "node-exporter-debug", Actor: person, Allowed: true,
			Channel: "kubectl", Containers: ctr("quay.io/prometheus/node-exporter:v1.8.2")}, []string{"PT-0006"}},
		{"Argo CD in its namespace", podrecord.Record{Namespace: "monitoring", Name: "probe", Allowed: true, Channel: "argocd",
			Actor:      podrecord.Actor{Username: "system:serviceaccount:argocd:argocd-application-controller", Kind: podrecord.ActorServiceAccount},
			Containers: ctr("quay.io/prometheus/node-exporter:v1.8.2")}, nil},
		{"Argo CD through kubectl", podrecord.Record{Namespace: "monitoring", Name: "probe", Allowed: true, Channel: "kubectl",
			Actor:      podrecord.Actor{Username: "system:serviceaccount:argocd:argocd-application-controller", Kind: podrecord.ActorServiceAccount},
			Containers: ctr("quay.io/prometheus/node-exporter:v1.8.2")}, []string{"PT-0006"}},
		{"metadata level record has no spec", podrecord.Record{Namespace: "default", Actor: person, Allowed: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, errs := e.Evaluate(&tt.r)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.RuleID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("fired %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFindingOutput(t *testing.T) {
	e := loadPack(t)
	r := podrecord.Record{Namespace: "kube-system", Name: "kube-proxy-x7b2q", Actor: person, Allowed: true, Channel: "kubectl",
		Containers: ctr("docker.io/alpine:3.20", "registry.k8s.io/kube-proxy:v1.33.13")}
	fs, _ := e.Evaluate(&r)
	if len(fs) != 3 || fs[1].Output["imitates"] != "kube-system/kube-proxy" || fs[1].Output["owner"] != "none" ||
		fs[2].Output["images"] != "docker.io/alpine:3.20" || fs[1].Severity != "critical" || fs[1].MITRE[2] != "T1036.005" {
		t.Fatalf("findings: %+v", fs)
	}
}

func TestCompileErrors(t *testing.T) {
	inv := &Inventory{}
	tests := []struct {
		name, rules string
		want        []string
	}{
		{"misspelt field", "rules:\n  - id: R1\n    condition: pod.namespce == \"x\"\n", []string{"r.yaml:2", `rule "R1"`, "namespce"}},
		{"not bool", "rules:\n  - id: R1\n    condition: pod.name\n", []string{`rule "R1"`, "bool"}},
		{"no id", "rules:\n  - condition: \"true\"\n", []string{"no id"}},
		{"duplicate", "rules:\n  - id: A\n    condition: \"true\"\n  - id: A\n    condition: \"true\"\n", []string{"r.yaml:4", "duplicate"}},
		{"bad severity", "rules:\n  - id: A\n    severity: urgent\n    condition: \"true\"\n", []string{"severity"}},
		{"bad output", "rules:\n  - id: A\n    condition: \"true\"\n    output: {x: \"pod.nope\"}\n", []string{"output x"}},
		{"every error reported", "rules:\n  - id: A\n    condition: \"x(\"\n  - id: B\n    condition: \"y(\"\n", []string{`rule "A"`, `rule "B"`}},
		{"bad yaml", "rules: [", []string{"r.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile("r.yaml", []byte(tt.rules), inv)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	disabled := "rules:\n  - id: A\n    enabled: false\n    condition: \"true\"\n"
	if e, err := Compile("r.yaml", []byte(disabled), inv); err != nil || e.Len() != 0 {
		t.Fatalf("disabled rule: %v %v", e, err)
	}
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		in   string
		want ImageRef
	}{
		{"nginx", ImageRef{"docker.io/library/nginx", "latest", ""}},
		{"nginx:1.27", ImageRef{"docker.io/library/nginx", "1.27", ""}},
		{"alpine/git:2.45", ImageRef{"docker.io/alpine/git", "2.45", ""}},
		{"docker.io/alpine:3.20", ImageRef{"docker.io/alpine", "3.20", ""}},
		{"index.docker.io/library/busybox:1.36", ImageRef{"docker.io/library/busybox", "1.36", ""}},
		{"registry.k8s.io/kube-proxy:v1.33.13", ImageRef{"registry.k8s.io/kube-proxy", "v1.33.13", ""}},
		{"localhost:5000/team/app:2", ImageRef{"localhost:5000/team/app", "2", ""}},
		{"localhost:5000/team/app", ImageRef{"localhost:5000/team/app", "latest", ""}},
		{"ghcr.io/acme/payments@sha256:abc", ImageRef{"ghcr.io/acme/payments", "", "sha256:abc"}},
		{"ghcr.io/acme/payments:1.4@sha256:abc", ImageRef{"ghcr.io/acme/payments", "1.4", "sha256:abc"}},
		{"GHCR.io/Acme/App:1", ImageRef{"ghcr.io/acme/app", "1", ""}},
	}
	for _, tt := range tests {
		if got := ParseImage(tt.in); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct{ in, base string }{
		{"kube-proxy-x7b2q", "kube-proxy"},
		{"web-796cf5c97c-kx68n", "web"},
		{"report-nightly-29411040-8dk2x", "report-nightly"},
		{"kube-proxy-", "kube-proxy"},
		{"mysql-0", "mysql"},
		{"kube-proxy-debug", "kube-proxy-debug"},
		{"kube-proxy", "kube-proxy"},
	} {
		if got := baseName(tt.in); got != tt.base {
			t.Errorf("baseName(%s) = %s, want %s", tt.in, got, tt.base)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"kube-proxy", "kube-proxy", 0}, {"kube-prxoy", "kube-proxy", 1}, {"cordns", "coredns", 1}, {"", "abc", 3}, {"kube-pr0xy", "kube-proxy", 1}, {"ab", "ba", 1}} {
		if got := Distance(tt.a, tt.b); got != tt.d {
			t.Errorf("Distance(%s,%s) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
	if !IsControllerSuffix("x7b2q") || IsControllerSuffix("abcde") || IsControllerSuffix("") || IsControllerSuffix("x1b2q") {
		t.Error("IsControllerSuffix")
	}
}

func FuzzParseImage(f *testing.F) {
	for _, s := range []string{"nginx", "a/b:c@sha256:d", "localhost:5000/x", ":", "@", "/:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref := ParseImage(s)
		if ref.Tag == "" && ref.Digest == "" {
			t.Fatalf("%q: neither tag nor digest", s)
		}
	})
}

func FuzzCompile(f *testing.F) {
	f.Add("rules:\n  - id: A\n    condition: pod.name == \"x\"\n")
	f.Add("rules: [{id: B, condition: 'imitates(pod) != \"\"', output: {a: pod.uid}}]")
	f.Fuzz(func(t *testing.T, rules string) {
		e, err := Compile("f.yaml", []byte(rules), &Inventory{})
		if err != nil {
			return
		}
		_, _ = e.Evaluate(&podrecord.Record{})
	})
}

func BenchmarkDefaultPack(b *testing.B) {
	e := loadPack(b)
	r := podrecord.Record{Namespace: "kube-system", Name: "kube-proxy-x7b2q", Actor: person, Allowed: true,
		Containers: ctr("docker.io/alpine:3.20")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = e.Evaluate(&r)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*e.Len()), "ns/rule")
}

func TestLoadInventoryErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "imagez: []\n", "field imagez not found"},
		{"bad repository glob", "images: [{repository: \"ghcr.io/[acme\"}]\n", "images[0]: bad repository pattern"},
		{"namespace without name", "namespaces: [{creators: [bob]}]\n", "namespaces[0]: name is empty"},
		{"bad creator glob", "namespaces: [{name: shop, creators: [\"[ci\"]}]\n", "namespaces[0]: bad creator pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "inventory.yaml")
			if err := os.WriteFile(file, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadInventory(file)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), file) {
				t.Fatalf("got %v, want an error naming %s and %q", err, file, tt.want)
			}
		})
	}
}
