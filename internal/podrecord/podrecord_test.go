// SPDX-License-Identifier: Apache-2.0

package podrecord

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/samples"
)

var update = flag.Bool("update", false, "rewrite golden files")

// recordsOf builds the records of every pod create in an audit log or a file
// of webhook bodies, ignoring re-delivered events.
func recordsOf(t testing.TB, path string) []*Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []*Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		items, err := audit.SplitBody(sc.Bytes())
		if err != nil {
			continue
		}
		for _, it := range items {
			ev, err := audit.Decode(it)
			if err != nil {
				t.Fatal(err)
			}
			r, err := FromAudit(ev)
			if err != nil || seen[r.AuditID] {
				continue
			}
			seen[r.AuditID] = true
			out = append(out, r)
		}
	}
	return out
}

func TestLiveCaptureGolden(t *testing.T) {
	dir := samples.Dir(t, "k8s-audit-live", "levels")
	recs := recordsOf(t, filepath.Join(dir, "audit.log"))
	if len(recs) != 6 {
		t.Fatalf("want 6 pod creates in the capture, got %d", len(recs))
	}
	got, _ := json.MarshalIndent(recs, "", "  ")
	golden := filepath.Join("testdata", "live-capture.records.golden.json")
	if *update {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("records differ from %s; run go test -update and review", golden)
	}
	// What the capture's README says, checked field by field.
	for _, r := range recs {
		switch r.AuditLevel {
		case "RequestResponse":
			if r.Name == "" || r.UID == "" || len(r.Containers) == 0 {
				t.Errorf("RequestResponse record lacks name/uid/images: %+v", r)
			}
		case "Request":
			if r.Name != "" || r.GenerateName == "" || len(r.Containers) == 0 || !has(r.Missing, MissingGeneratedName) {
				t.Errorf("Request record: %+v", r)
			}
		case "Metadata":
			if len(r.Containers) != 0 || !has(r.Missing, MissingPodSpec) {
				t.Errorf("Metadata record: %+v", r)
			}
		}
		switch r.Actor.Username {
		case "admin":
			if r.Channel != ChannelKubectl || r.Actor.Kind != ActorUser {
				t.Errorf("admin's kubectl create: channel %s kind %s", r.Channel, r.Actor.Kind)
			}
		case "system:serviceaccount:kube-system:replicaset-controller":
			if r.Channel != ChannelController || r.Actor.Kind != ActorController {
				t.Errorf("replicaset-controller: channel %s kind %s", r.Channel, r.Actor.Kind)
			}
		default:
			t.Errorf("unexpected actor %s", r.Actor.Username)
		}
	}
}

func TestWebhookBodiesGiveTheSameRecords(t *testing.T) {
	dir := samples.Dir(t, "k8s-audit-live", "levels")
	a := recordsOf(t, filepath.Join(dir, "audit.log"))
	b := recordsOf(t, filepath.Join(dir, "webhook-bodies.jsonl"))
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatal("webhook bodies and audit.log give different records")
	}
}

func TestSamples(t *testing.T) {
	dir := samples.Dir(t, "k8s-audit")
	rx := recordsOf(t, filepath.Join(dir, "repo-RX-M-web-public-cks-mod-6-eventlist.log"))
	if len(rx) != 1 || rx[0].Name != "webhook-audit" || rx[0].Channel != ChannelKubectl || rx[0].FieldManager != "kubectl-run" {
		t.Fatalf("RX-M kubectl run: %+v", rx)
	}
	falco := recordsOf(t, filepath.Join(dir, "repo-falcosecurity-falco-trace-create_nginx_pod_privileged.json"))
	if len(falco) != 1 || falco[0].Owner.Kind != "ReplicaSet" || !falco[0].Containers[0].Privileged || falco[0].Channel != ChannelController {
		t.Fatalf("falco privileged pod: %+v", falco)
	}
	if exec := recordsOf(t, filepath.Join(dir, "repo-falcosecurity-falco-trace-exec_pod.json")); len(exec) != 0 {
		t.Fatalf("pods/exec made a record: %+v", exec)
	}
}

func TestChannel(t *testing.T) {
	tests := []struct {
		name string
		r    Record
		want string
	}{
		{"kubectl run", Record{UserAgent: "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0", FieldManager: "kubectl-run"}, ChannelKubectl},
		{"kubectl wrapper", Record{UserAgent: "kubectl-dispatcher/v1.0 (linux/amd64)"}, ChannelKubectl},
		{"helm ua", Record{UserAgent: "Helm/3.16.2"}, ChannelHelm},
		{"helm field manager", Record{UserAgent: "Go-http-client/2.0", FieldManager: "helm"}, ChannelHelm},
		{"helm label", Record{UserAgent: "Go-http-client/2.0", Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}}, ChannelHelm},
		{"argocd ua", Record{UserAgent: "argocd-application-controller/v2.13.1+af54ef8 (linux/amd64) kubernetes/af54ef8"}, ChannelArgoCD},
		{"argocd label", Record{UserAgent: "x", Labels: map[string]string{"argocd.argoproj.io/instance": "web"}}, ChannelArgoCD},
		{"flux kustomize", Record{UserAgent: "kustomize-controller/v1.4.0"}, ChannelFlux},
		{"flux helm-controller with managed-by Helm", Record{UserAgent: "helm-controller/v1.1.0", Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}}, ChannelFlux},
		{"flux label", Record{Labels: map[string]string{"kustomize.toolkit.fluxcd.io/name": "apps"}}, ChannelFlux},
		{"terraform", Record{UserAgent: "HashiCorp/1.0 Terraform/1.9.8"}, ChannelTerraform},
		{"ci token", Record{UserAgent: "Go-http-client/2.0", Actor: Actor{Username: "system:serviceaccount:ci:gitlab-runner", Kind: ActorServiceAccount}}, ChannelCI},
		{"controller", Record{UserAgent: "kube-controller-manager/v1.33.13", Actor: Actor{Kind: ActorController}}, ChannelController},
		{"kubelet mirror pod", Record{UserAgent: "kubelet/v1.33.13", Actor: Actor{Kind: ActorNode}}, ChannelKubelet},
		{"curl", Record{UserAgent: "curl/8.5.0"}, ChannelClient},
		{"nothing", Record{}, ChannelUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := channelOf(&tt.r); got != tt.want {
				t.Fatalf("channel = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClassifyUser(t *testing.T) {
	tests := []struct{ user, kind, sa string }{
		{"alice@example.com", ActorUser, ""},
		{"kubernetes-admin", ActorUser, ""},
		{"system:serviceaccount:kube-system:replicaset-controller", ActorController, "kube-system/replicaset-controller"},
		{"system:serviceaccount:kube-system:coredns", ActorServiceAccount, "kube-system/coredns"},
		{"system:serviceaccount:argocd:argocd-application-controller", ActorServiceAccount, "argocd/argocd-application-controller"},
		{"system:node:node-a", ActorNode, ""},
		{"system:kube-scheduler", ActorSystem, ""},
		{"system:kube-controller-manager", ActorController, ""},
	}
	for _, tt := range tests {
		kind, sa := ClassifyUser(tt.user)
		if kind != tt.kind || sa != tt.sa {
			t.Errorf("%s: %s %s, want %s %s", tt.user, kind, sa, tt.kind, tt.sa)
		}
	}
}

func TestForbiddenAndImpersonated(t *testing.T) {
	ev, err := audit.Decode([]byte(`{"auditID":"f1","stage":"ResponseComplete","level":"RequestResponse","verb":"create","requestURI":"/api/v1/namespaces/kube-system/pods?fieldManager=kubectl-run","user":{"username":"alice"},"impersonatedUser":{"username":"mallory","groups":["developers"]},"userAgent":"kubectl/v1.33.1","objectRef":{"resource":"pods","namespace":"kube-system","name":"coredns-debug","apiVersion":"v1"},"responseStatus":{"status":"Failure","message":"pods is forbidden","reason":"Forbidden","code":403},"requestObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"coredns-debug","namespace":"kube-system"},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}},"annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := FromAudit(ev)
	if err != nil {
		t.Fatal(err)
	}
	if r.Allowed || r.Decision != DecisionForbid || r.Reason != "pods is forbidden" || r.Code != 403 {
		t.Fatalf("forbidden: %+v", r)
	}
	// The actor is who authenticated; the impersonated identity is apart.
	if r.Actor.Username != "alice" || r.Actor.Kind != ActorUser ||
		r.Impersonated.Username != "mallory" || r.Impersonated.Kind != ActorUser || !has(r.Impersonated.Groups, "developers") {
		t.Fatalf("impersonation: actor %+v impersonated %+v", r.Actor, r.Impersonated)
	}
	if len(r.Containers) != 1 || r.Containers[0].Image != "busybox:1.36" || len(r.Missing) != 0 {
		t.Fatalf("forbidden create keeps the request's images and misses nothing: %+v", r)
	}
}

func FuzzFromAudit(f *testing.F) {
	f.Add([]byte(`{"auditID":"a","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"pods","namespace":"x"},"responseStatus":{"code":201},"responseObject":{"kind":"Pod","metadata":{"name":"p","ownerReferences":[{"kind":"ReplicaSet","controller":true}]},"spec":{"containers":[{"name":"c","image":"i","securityContext":{"privileged":true}}]}}}`))
	f.Add([]byte(`{"auditID":"a","stage":"ResponseComplete","verb":"create","requestURI":"/api/v1/namespaces/x/pods?fieldManager=%zz","objectRef":{"resource":"pods"},"responseObject":{"kind":"Status"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := audit.Decode(data)
		if err != nil {
			return
		}
		r, err := FromAudit(ev)
		if err == nil && (r.AuditID == "" || r.Channel == "") {
			t.Fatalf("record without identity or channel: %+v", r)
		}
	})
}

func BenchmarkFromAudit(b *testing.B) {
	dir := samples.Dir(b, "k8s-audit-live", "levels")
	data, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	var evs []*audit.Event
	for _, l := range bytes.Split(data, []byte("\n")) {
		if ev, err := audit.Decode(l); err == nil && ev.IsPodCreate() && ev.IsFinal() {
			evs = append(evs, ev)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, ev := range evs {
			if _, err := FromAudit(ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "records/s")
}

func has(ss []string, s string) bool { return contains(ss, s) }

// TestActorIsWhoAuthenticated: with impersonation, the actor, its kind and
// the channel come from the authenticated request; the impersonated
// identity is apart, classified on its own.
func TestActorIsWhoAuthenticated(t *testing.T) {
	const base = `{"auditID":"i1","stage":"ResponseComplete","level":"RequestResponse","verb":"create","requestURI":"/api/v1/namespaces/shop/pods","userAgent":"kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0","objectRef":{"resource":"pods","namespace":"shop","name":"cart-x","apiVersion":"v1"},"responseStatus":{"code":201},"annotations":{"authorization.k8s.io/decision":"allow"}`
	tests := []struct {
		name, users                         string
		actor, kind, channel                string
		impersonated, impKind, impSA, group string
	}{
		{"a person as the ReplicaSet controller", `,"user":{"username":"erin","groups":["devs"]},"impersonatedUser":{"username":"system:serviceaccount:kube-system:replicaset-controller","groups":["system:serviceaccounts"]}}`,
			"erin", ActorUser, ChannelKubectl, "system:serviceaccount:kube-system:replicaset-controller", ActorController, "kube-system/replicaset-controller", "system:serviceaccounts"},
		{"a person as a service account", `,"user":{"username":"erin"},"impersonatedUser":{"username":"system:serviceaccount:apps:builder"}}`,
			"erin", ActorUser, ChannelKubectl, "system:serviceaccount:apps:builder", ActorServiceAccount, "apps/builder", ""},
		{"a CI service account as a person", `,"user":{"username":"system:serviceaccount:ci:gitlab-runner"},"impersonatedUser":{"username":"carol@example.com"}}`,
			"system:serviceaccount:ci:gitlab-runner", ActorServiceAccount, ChannelKubectl, "carol@example.com", ActorUser, "", ""},
		{"no impersonation", `,"user":{"username":"erin"}}`, "erin", ActorUser, ChannelKubectl, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := audit.Decode([]byte(base + tt.users))
			if err != nil {
				t.Fatal(err)
			}
			r, err := FromAudit(ev)
			if err != nil {
				t.Fatal(err)
			}
			if r.Actor.Username != tt.actor || r.Actor.Kind != tt.kind || r.Channel != tt.channel {
				t.Errorf("actor %+v channel %s", r.Actor, r.Channel)
			}
			im := r.Impersonated
			if im.Username != tt.impersonated || im.Kind != tt.impKind || im.ServiceAccount != tt.impSA || tt.group != "" && !has(im.Groups, tt.group) {
				t.Errorf("impersonated %+v", im)
			}
		})
	}
}
