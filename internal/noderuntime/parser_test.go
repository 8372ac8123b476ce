// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// summary renders the non-empty fields of an event (without Line) compactly.
func summary(ev Event) string {
	var b strings.Builder
	b.WriteString(string(ev.Kind))
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	if !ev.Time.IsZero() {
		add("t", ev.Time.Format(time.RFC3339Nano))
	}
	add("src", string(ev.Source))
	add("lvl", ev.Level)
	add("ver", ev.RuntimeVersion)
	add("cri", ev.CRIAPI)
	add("node", ev.Node)
	add("ns", ev.PodNamespace)
	add("pod", ev.PodName)
	add("uid", ev.PodUID)
	add("from", ev.PodSource)
	add("sb", ev.SandboxID)
	add("cid", ev.ContainerID)
	add("ctr", ev.ContainerName)
	if ev.Attempt != 0 {
		add("attempt", fmt.Sprint(ev.Attempt))
	}
	add("image", ev.Image)
	add("imageid", ev.ImageID)
	add("digest", ev.RepoDigest)
	add("req", ev.RequestID)
	add("err", ev.Error)
	add("reason", ev.Reason)
	return b.String()
}

const (
	sb1  = "d3fd815826ae0dfd564d257a17c19ff5c6601f4b0638874393321b0e0c666e1a"
	c1   = "c65a36d4090569f70b6badb5b6127ad773ebd7e5ce18d3872b8e93ee4fb52cab"
	uid1 = "5da5612b-9738-493c-af51-a213072997f6"
)

var ref2024 = time.Date(2024, 11, 29, 0, 0, 0, 0, time.UTC)

type parseCase struct {
	name  string
	opts  Options
	lines []string // earlier lines feed parser state; the last one is checked
	want  []string // summaries; nil = no event
	err   Reason   // expected rejection
}

func runCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if opts.Reference.IsZero() && opts.Year == 0 {
				opts.Reference = ref2024
			}
			p := NewParser(opts)
			var evs []Event
			var err error
			for _, l := range tc.lines {
				evs, err = p.ParseAll([]byte(l), evs[:0])
			}
			if tc.err != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Reason != tc.err {
					t.Fatalf("err = %v, want reason %q", err, tc.err)
				}
				if len(evs) != 0 {
					t.Fatalf("events with error: %v", evs)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, summary(ev))
				if ev.Line != tc.lines[len(tc.lines)-1] {
					t.Errorf("Line = %q", ev.Line)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestPrefixesAndTime(t *testing.T) {
	const klogNoSandbox = `I0920 16:41:05.744437    8665 kuberuntime_manager.go:460] "No sandbox for pod can be found. Need to start a new one" pod="default/web"`
	runCases(t, []parseCase{
		{
			name:  "journald short, UTC default",
			lines: []string{`Nov 29 18:20:18 aks-np2 kubelet[2775]: I1129 18:20:18.242812    2775 kuberuntime_manager.go:460] "No sandbox for pod can be found. Need to start a new one" pod="default/nginx"`},
			want:  []string{"sandbox_requested t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info node=aks-np2 ns=default pod=nginx"},
		},
		{
			name:  "rsyslog without pid, space-padded day",
			lines: []string{`Dec  2 18:32:16 ip-10-41-9-88 kubelet: I1202 18:32:16.775704    4227 kuberuntime_manager.go:460] "No sandbox for pod can be found. Need to start a new one" pod="a/b"`},
			want:  []string{"sandbox_requested t=2024-12-02T18:32:16.775704Z src=kubelet lvl=info node=ip-10-41-9-88 ns=a pod=b"},
		},
		{
			name:  "journalctl header sets year and zone (French locale)",
			opts:  Options{Reference: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
			lines: []string{"-- Logs begin at mer. 2018-09-19 08:42:51 CEST. --", "sept. 20 16:41:05 erebos kubelet[8665]: " + klogNoSandbox},
			want:  []string{"sandbox_requested t=2018-09-20T16:41:05.744437+02:00 src=kubelet lvl=info node=erebos ns=default pod=web"},
		},
		{
			name:  "German month",
			lines: []string{"Mär 20 16:41:05 knoten kubelet[1]: " + strings.Replace(klogNoSandbox, "I0920", "I0320", 1)},
			want:  []string{"sandbox_requested t=2024-03-20T16:41:05.744437Z src=kubelet lvl=info node=knoten ns=default pod=web"},
		},
		{
			name:  "Spanish month",
			lines: []string{"dic 20 16:41:05 nodo kubelet[1]: " + strings.Replace(klogNoSandbox, "I0920", "I1220", 1)},
			want:  []string{"sandbox_requested t=2024-12-20T16:41:05.744437Z src=kubelet lvl=info node=nodo ns=default pod=web"},
		},
		{
			name:  "French month with accent and dot",
			lines: []string{"févr. 20 16:41:05 noeud kubelet[1]: " + strings.Replace(klogNoSandbox, "I0920", "I0220", 1)},
			want:  []string{"sandbox_requested t=2024-02-20T16:41:05.744437Z src=kubelet lvl=info node=noeud ns=default pod=web"},
		},
		{
			name:  "Chinese month",
			lines: []string{"9月 20 16:41:05 node kubelet[1]: " + klogNoSandbox},
			want:  []string{"sandbox_requested t=2024-09-20T16:41:05.744437Z src=kubelet lvl=info node=node ns=default pod=web"},
		},
		{
			name:  "year rollover: December record read in January",
			opts:  Options{Reference: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)},
			lines: []string{strings.Replace(klogNoSandbox, "I0920", "I1231", 1)},
			want:  []string{"sandbox_requested t=2024-12-31T16:41:05.744437Z src=kubelet lvl=info ns=default pod=web"},
		},
		{
			name:  "explicit Year and Location",
			opts:  Options{Year: 2019, Location: time.FixedZone("", -7*3600), Node: "n1"},
			lines: []string{"Sep 20 16:41:05 other kubelet[1]: " + klogNoSandbox},
			want:  []string{"sandbox_requested t=2019-09-20T16:41:05.744437-07:00 src=kubelet lvl=info node=n1 ns=default pod=web"},
		},
		{
			name:  "payload year moves the reference for later klog records",
			opts:  Options{Reference: time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)},
			lines: []string{`time="2021-02-03T04:05:06Z" level=info msg="TearDown network for sandbox \"x\" successfully"`, strings.Replace(klogNoSandbox, "I0920", "I0203", 1)},
			want:  []string{"sandbox_requested t=2021-02-03T16:41:05.744437Z src=kubelet lvl=info ns=default pod=web"},
		},
		{
			name:  "klog hours skewed from the syslog prefix are realigned",
			lines: []string{`Dec  2 18:32:16 aks kubelet[2782]: I1202 10:32:16.613526    2782 topology_manager.go:215] "Topology Admit Handler" podUID="d02bf488-3589-4d20-9dcf-5aee17dac3a7" podNamespace="default" podName="nginx"`},
			want:  []string{"pod_admitted t=2024-12-02T18:32:16.613526Z src=kubelet lvl=info node=aks ns=default pod=nginx uid=d02bf488-3589-4d20-9dcf-5aee17dac3a7"},
		},
		{
			name:  "RFC 3339 syslog prefix with offset",
			lines: []string{`2024-11-29T19:20:18.123456+01:00 node1 kubelet[2775]: I1129 19:20:18.242812    2775 kuberuntime_manager.go:460] "No sandbox for pod can be found. Need to start a new one" pod="default/nginx"`},
			want:  []string{"sandbox_requested t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info node=node1 ns=default pod=nginx"},
		},
		{
			name:  "journalctl short-iso prefix, containerd payload time wins",
			lines: []string{`2024-11-29T18:13:11+0000 node1 containerd[2506]: time="2024-11-29T18:13:11.737579537Z" level=info msg="StartContainer for \"` + c1 + `\" returns successfully"`},
			want:  []string{"container_started t=2024-11-29T18:13:11.737579537Z src=containerd lvl=info node=node1 cid=" + c1},
		},
		{
			name:  "short-precise prefix and syslog priority",
			lines: []string{`<30>May 27 16:02:27.950642 ip-10-0-67-181 crio[2440]: time="2026-05-27T16:02:27.950581297Z" level=info msg="Running pod sandbox: ns1/pod1/POD" id=0be966e9`},
			want:  []string{"sandbox_requested t=2026-05-27T16:02:27.950581297Z src=crio lvl=info node=ip-10-0-67-181 ns=ns1 pod=pod1 req=0be966e9"},
		},
		{
			name:  "host-less prefix",
			lines: []string{`Mar 25 14:23:21 containerd: time="2025-03-25T14:23:21Z" level=info msg="StopPodSandbox for \"` + sb1 + `\" returns successfully"`},
			want:  []string{"sandbox_stopped t=2025-03-25T14:23:21Z src=containerd lvl=info sb=" + sb1},
		},
		{
			name:  "bats prefixes",
			lines: []string{`15:59:18 # time="2019-12-11 20:59:16.838091212Z" level=info msg="Stopped pod sandbox: ` + sb1 + `" id=47e013bb`},
			want:  []string{"sandbox_stopped t=2019-12-11T20:59:16.838091212Z src=crio lvl=info sb=" + sb1 + " req=47e013bb"},
		},
		{
			name:  "markdown quote and indentation",
			lines: []string{`  > time="2024-11-29T18:20:18.683015125Z" level=info msg="RemoveContainer for \"` + c1 + `\" returns successfully"`},
			want:  []string{"container_removed t=2024-11-29T18:20:18.683015125Z src=containerd lvl=info cid=" + c1},
		},
		{
			name:  "journalctl short-full",
			lines: []string{`Fri 2024-11-29 19:20:18 CET node1 kubelet[2775]: I1129 19:20:18.242812    2775 kuberuntime_manager.go:460] "No sandbox for pod can be found. Need to start a new one" pod="default/nginx"`},
			want:  []string{"sandbox_requested t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info node=node1 ns=default pod=nginx"},
		},
		{
			name:  "journalctl short-monotonic",
			lines: []string{`[  123.456789] node1 containerd[2506]: time="2024-11-29T18:13:11.737579537Z" level=info msg="StartContainer for \"` + c1 + `\" returns successfully"`},
			want:  []string{"container_started t=2024-11-29T18:13:11.737579537Z src=containerd lvl=info node=node1 cid=" + c1},
		},
		{
			name:  "RFC 5424",
			lines: []string{`<30>1 2024-11-29T18:13:11.9Z node1 crio 2440 - - time="2024-11-29T18:13:11.737579537Z" level=info msg="Stopped pod sandbox: ` + sb1 + `"`},
			want:  []string{"sandbox_stopped t=2024-11-29T18:13:11.737579537Z src=crio lvl=info node=node1 sb=" + sb1},
		},
		{
			name:  "unknown unit carrying a daemon payload (containerd under env on Flatcar)",
			lines: []string{`Jan 06 10:30:14 node1 env[651820]: time="2021-01-06T10:30:14.362567914Z" level=info msg="StopPodSandbox for \"` + sb1 + `\" returns successfully"`},
			want:  []string{"sandbox_stopped t=2021-01-06T10:30:14.362567914Z src=containerd lvl=info node=node1 sb=" + sb1},
		},
		{
			name:  "other units are recognised without events",
			lines: []string{"Nov 29 18:13:11 aks systemd[1]: Started libcontainer container " + c1 + "."},
		},
		{
			name:  "kernel line",
			lines: []string{"Oct 14 17:14:06 ip-172-31-50-26.us-west-2.compute.internal kernel: cni0: port 5(veth998992ad) entered disabled state"},
		},
		{
			name:  "journalctl boot marker",
			lines: []string{"-- Boot 3c1e0e1f0e5c4b0e9b1c7f6f1d0e5c4b --"},
		},
		{
			name:  "blank",
			lines: []string{"   "},
		},
		{
			name:  "unknown format",
			lines: []string{"hello world"},
			err:   ReasonNoFormat,
		},
		{
			name:  "klog header with an impossible date",
			lines: []string{`I1399 25:00:00.000000    2775 kubelet.go:2449] "SyncLoop ADD" source="api" pods=["default/nginx"]`},
			err:   ReasonTimestamp,
		},
		{
			name:  "unknown payload of a kubelet unit",
			lines: []string{"Nov 29 18:13:11 aks kubelet[2775]: Flag --pod-infra-container-image has been deprecated"},
			err:   ReasonPayload,
		},
	})
}

func TestKubelet(t *testing.T) {
	const k = `I1129 18:20:18.242812    2775 kubelet.go:2449] `
	runCases(t, []parseCase{
		{
			name:  "SyncLoop ADD api, two pods",
			lines: []string{k + `"SyncLoop ADD" source="api" pods=["default/nginx","kube-system/coredns-5dd5756b68-7x2kq"]`},
			want: []string{
				"pod_admitted t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info ns=default pod=nginx from=api",
				"pod_admitted t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info ns=kube-system pod=coredns-5dd5756b68-7x2kq from=api",
			},
		},
		{
			name:  "SyncLoop ADD file (static pods), KObjs form",
			lines: []string{k + `"SyncLoop ADD" source="file" pods=[kube-system/etcd-node1 kube-system/kube-apiserver-node1]`},
			want: []string{
				"static_pod_seen t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info ns=kube-system pod=etcd-node1 from=file",
				"static_pod_seen t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info ns=kube-system pod=kube-apiserver-node1 from=file",
			},
		},
		{
			name:  "SyncLoop ADD old unstructured form",
			lines: []string{`I0217 01:18:58.139666    3855 kubelet.go:2310] SyncLoop (ADD, "file"): "etcd-master_kube-system(a96511659e9a32e0fff80934c1a7b9a8), web-1_default(67c4e726-d514-11e5-9301-42010af00002)"`},
			want: []string{
				"static_pod_seen t=2024-02-17T01:18:58.139666Z src=kubelet lvl=info ns=kube-system pod=etcd-master uid=a96511659e9a32e0fff80934c1a7b9a8 from=file",
				"static_pod_seen t=2024-02-17T01:18:58.139666Z src=kubelet lvl=info ns=default pod=web-1 uid=67c4e726-d514-11e5-9301-42010af00002 from=file",
			},
		},
		{
			name:  "Generated pod name (static pod manifest)",
			lines: []string{`I1001 06:27:18.152032    4327 common.go:73] "Generated pod name" pod="kube-system/etcd-systemd-node-1" podUID=a96511659e9a32e0fff80934c1a7b9a8 source="/var/lib/rancher/rke2/agent/pod-manifests/etcd.yaml"`},
			want:  []string{"static_pod_seen t=2024-10-01T06:27:18.152032Z src=kubelet lvl=info ns=kube-system pod=etcd-systemd-node-1 uid=a96511659e9a32e0fff80934c1a7b9a8 from=file"},
		},
		{
			name:  "mirror pod",
			lines: []string{`I1129 18:20:18.242812    2775 kubelet.go:3309] "Creating a mirror pod for static pod" pod="kube-system/etcd-node1"`},
			want:  []string{"static_pod_seen t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info ns=kube-system pod=etcd-node1"},
		},
		{
			name:  "mirror pod, old form",
			lines: []string{`I0226 01:57:54.868640    1388 kubelet.go:1670] Creating a mirror pod for static pod "etcd-node1_kube-system(a96511659e9a32e0fff80934c1a7b9a8)"`},
			want:  []string{"static_pod_seen t=2024-02-26T01:57:54.86864Z src=kubelet lvl=info ns=kube-system pod=etcd-node1 uid=a96511659e9a32e0fff80934c1a7b9a8"},
		},
		{
			name:  "No ready sandbox is not a request",
			lines: []string{`I1129 18:20:18.449071    2775 util.go:48] "No ready sandbox for pod can be found. Need to start a new one" pod="default/nginx"`},
		},
		{
			name:  "old No sandbox form",
			lines: []string{`I0629 10:11:20.166430   28625 kuberuntime_manager.go:421] No sandbox for pod "testpod_default(a724c60f-4f8e-4f16-acd3-d47ff56bd650)" can be found. Need to start a new one`},
			want:  []string{"sandbox_requested t=2024-06-29T10:11:20.16643Z src=kubelet lvl=info ns=default pod=testpod uid=a724c60f-4f8e-4f16-acd3-d47ff56bd650"},
		},
		{
			name:  "Created PodSandbox, structured and old",
			lines: []string{`I0324 23:32:15.498201    6760 kuberuntime_manager.go:1260] "Created PodSandbox for pod" podSandboxID="` + sb1 + `" pod="ns1/p1"`},
			want:  []string{"sandbox_ready t=2024-03-24T23:32:15.498201Z src=kubelet lvl=info ns=ns1 pod=p1 sb=" + sb1},
		},
		{
			name:  "Created PodSandbox old",
			lines: []string{`I0324 23:32:15.498201    6760 kuberuntime_manager.go:660] Created PodSandbox "` + sb1 + `" for pod "p1_ns1(` + uid1 + `)"`},
			want:  []string{"sandbox_ready t=2024-03-24T23:32:15.498201Z src=kubelet lvl=info ns=ns1 pod=p1 uid=" + uid1 + " sb=" + sb1},
		},
		{
			name:  "Creating PodSandbox",
			lines: []string{`I0324 23:32:14.798788    4243 kuberuntime_manager.go:1085] "Creating PodSandbox for pod" pod="ns1/p1"`},
			want:  []string{"sandbox_requested t=2024-03-24T23:32:14.798788Z src=kubelet lvl=info ns=ns1 pod=p1"},
		},
		{
			name:  "CreatePodSandbox failed, structured",
			lines: []string{`E1129 18:20:18.242812    2775 kuberuntime_sandbox.go:72] "Failed to create sandbox for pod" err="rpc error: code = Unknown desc = failed to reserve sandbox name" pod="default/nginx"`},
			want:  []string{"sandbox_requested t=2024-11-29T18:20:18.242812Z src=kubelet lvl=error ns=default pod=nginx err=rpc error: code = Unknown desc = failed to reserve sandbox name"},
		},
		{
			name:  "PLEG structured",
			lines: []string{`I1129 18:20:18.668321    2775 kubelet.go:2465] "SyncLoop (PLEG): event for pod" pod="default/nginx" event={"ID":"` + uid1 + `","Type":"ContainerRemoved","Data":"` + c1 + `"}`},
			want:  []string{"container_removed t=2024-11-29T18:20:18.668321Z src=kubelet lvl=info ns=default pod=nginx uid=" + uid1 + " cid=" + c1},
		},
		{
			name:  "PLEG Go struct form (1.21-1.26)",
			lines: []string{`May 02 08:55:56 gke-node kubelet[2264]: I0502 08:55:56.177637    2264 kubelet.go:2231] "SyncLoop (PLEG): event for pod" pod="kube-system/kube-multus-ds-kk2r8" event=&{ID:7eaba53e-63d2-4906-9a16-ff315c3337fd Type:ContainerStarted Data:d08bfba7963c51291ff456fc9639ab91efe1ee5c716137335895e9744eb746ff}`},
			want:  []string{"container_started t=2024-05-02T08:55:56.177637Z src=kubelet lvl=info node=gke-node ns=kube-system pod=kube-multus-ds-kk2r8 uid=7eaba53e-63d2-4906-9a16-ff315c3337fd cid=d08bfba7963c51291ff456fc9639ab91efe1ee5c716137335895e9744eb746ff"},
		},
		{
			name:  "PLEG ContainerChanged ignored",
			lines: []string{`I1129 18:20:18.668321    2775 kubelet.go:2465] "SyncLoop (PLEG): event for pod" pod="default/nginx" event={"ID":"` + uid1 + `","Type":"ContainerChanged","Data":"` + c1 + `"}`},
		},
		{
			name:  "Generic PLEG container finished",
			lines: []string{`I1129 18:20:18.668292    2775 generic.go:334] "Generic (PLEG): container finished" podID="` + uid1 + `" containerID="` + c1 + `" exitCode=0`},
			want:  []string{"container_exited t=2024-11-29T18:20:18.668292Z src=kubelet lvl=info uid=" + uid1 + " cid=" + c1},
		},
		{
			name:  "kubelet version is stamped on later events",
			lines: []string{`I1129 18:00:00.000000    2775 server.go:467] "Kubelet version" kubeletVersion="v1.28.3"`, `I1129 18:20:18.242812    2775 kubelet.go:2449] "SyncLoop ADD" source="api" pods=["default/nginx"]`},
			want:  []string{"pod_admitted t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info ver=v1.28.3 ns=default pod=nginx from=api"},
		},
		{
			name:  "Event occurred: Pulled",
			lines: []string{`I1129 18:13:10.000000    2775 event.go:307] "Event occurred" object="default/nginx" fieldPath="spec.containers{nginx}" kind="Pod" apiVersion="v1" type="Normal" reason="Pulled" message="Successfully pulled image \"nginx:1.25\" in 1.2s (1.2s including waiting)"`},
			want:  []string{"image_pulled t=2024-11-29T18:13:10Z src=kubelet lvl=info ns=default pod=nginx ctr=nginx image=nginx:1.25 reason=Pulled"},
		},
		{
			name:  "Event occurred: already present",
			lines: []string{`I1129 18:13:10.000000    2775 event.go:307] "Event occurred" object="default/nginx" fieldPath="spec.containers{nginx}" kind="Pod" apiVersion="v1" type="Normal" reason="Pulled" message="Container image \"nginx:1.25\" already present on machine"`},
			want:  []string{"image_present t=2024-11-29T18:13:10Z src=kubelet lvl=info ns=default pod=nginx ctr=nginx image=nginx:1.25 reason=Pulled"},
		},
		{
			name:  "old event form: Created",
			lines: []string{`I0217 01:18:58.000000    3855 event.go:218] Event(v1.ObjectReference{Kind:"Pod", Namespace:"default", Name:"nginx", UID:"` + uid1 + `", APIVersion:"v1", ResourceVersion:"123", FieldPath:"spec.containers{nginx}"}): type: 'Normal' reason: 'Created' Created container nginx`},
			want:  []string{"container_created t=2024-02-17T01:18:58Z src=kubelet lvl=info ns=default pod=nginx uid=" + uid1 + " ctr=nginx reason=Created"},
		},
		{
			name:  "dockershim pull",
			lines: []string{`I1106 09:58:50.000000     558 kube_docker_client.go:345] Stop pulling image "nginx:latest": "Status: Downloaded newer image for nginx:latest"`},
			want:  []string{"image_pulled t=2024-11-06T09:58:50Z src=kubelet lvl=info image=nginx:latest"},
		},
		{
			name:  "JSON logging format",
			lines: []string{`{"ts":1732904418.242812,"caller":"kubelet/kubelet.go:2522","msg":"SyncLoop ADD","v":2,"source":"api","pods":[{"name":"nginx","namespace":"default"}]}`},
			want:  []string{"pod_admitted t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info ns=default pod=nginx from=api"},
		},
		{
			name:  "JSON logging format, pod object",
			lines: []string{`{"ts":1732904418.5,"caller":"util/util.go:30","msg":"No sandbox for pod can be found. Need to start a new one","v":2,"pod":{"name":"nginx","namespace":"default"}}`},
			want:  []string{"sandbox_requested t=2024-11-29T18:20:18.5Z src=kubelet lvl=info ns=default pod=nginx"},
		},
		{
			name:  "k3s unit: klog goes to the kubelet rules",
			lines: []string{`Nov 29 18:20:18 k3s-node k3s[812]: I1129 18:20:18.242812     812 kubelet.go:2449] "SyncLoop ADD" source="api" pods=["default/nginx"]`},
			want:  []string{"pod_admitted t=2024-11-29T18:20:18.242812Z src=kubelet lvl=info node=k3s-node ns=default pod=nginx from=api"},
		},
		{
			name:  "OpenShift kubenswrapper",
			lines: []string{`May 27 16:02:27.147175 ip-10-0-67-181 kubenswrapper[2509]: I0527 16:02:27.147102    2509 kubelet.go:2608] "SyncLoop ADD" source="api" pods=["node-density-0/node-density-956"]`},
			want:  []string{"pod_admitted t=2024-05-27T16:02:27.147102Z src=kubelet lvl=info node=ip-10-0-67-181 ns=node-density-0 pod=node-density-956 from=api"},
		},
	})
}

func TestContainerd(t *testing.T) {
	const pre = `Aug 21 07:28:16 kind-worker2 containerd[2127]: time="2026-08-21T07:28:16.900956920+08:00" level=info msg=`
	const want0 = "t=2026-08-21T07:28:16.90095692+08:00 src=containerd lvl=info node=kind-worker2"
	runCases(t, []parseCase{
		{
			name:  "2.x protobuf text RunPodSandbox",
			lines: []string{pre + `"RunPodSandbox for name:\"xwing\"  uid:\"efa146e2-0e40-4984-a1d0-0f0d745d3440\"  namespace:\"default\""`},
			want:  []string{"sandbox_requested " + want0 + " ns=default pod=xwing uid=efa146e2-0e40-4984-a1d0-0f0d745d3440"},
		},
		{
			name:  "2.x protobuf text returns sandbox id, attempt",
			lines: []string{pre + `"RunPodSandbox for name:\"xwing\"  uid:\"efa146e2-0e40-4984-a1d0-0f0d745d3440\"  namespace:\"default\"  attempt:2 returns sandbox id \"` + sb1 + `\""`},
			want:  []string{"sandbox_ready " + want0 + " ns=default pod=xwing uid=efa146e2-0e40-4984-a1d0-0f0d745d3440 sb=" + sb1 + " attempt=2"},
		},
		{
			name:  "2.x CreateContainer request has no event",
			lines: []string{pre + `"CreateContainer within sandbox \"` + sb1 + `\" for container name:\"spaceship\""`},
		},
		{
			name:  "2.x CreateContainer returns",
			lines: []string{pre + `"CreateContainer within sandbox \"` + sb1 + `\" for name:\"spaceship\"  attempt:1 returns container id \"` + c1 + `\""`},
			want:  []string{"container_created " + want0 + " sb=" + sb1 + " cid=" + c1 + " ctr=spaceship attempt=1"},
		},
		{
			name:  "2.x container exit event",
			lines: []string{pre + `"received container exit event container_id:\"` + c1 + `\"  id:\"` + c1 + `\"  pid:1848  exit_status:143  exited_at:{seconds:1788477940  nanos:92728290}"`},
			want:  []string{"container_exited " + want0 + " cid=" + c1},
		},
		{
			name:  "exec process exit is not a container exit",
			lines: []string{pre + `"received exit event container_id:\"` + c1 + `\"  id:\"exec-1\"  pid:1848  exit_status:0"`},
		},
		{
			name:  "2.x sandbox exit event",
			lines: []string{pre + `"received sandbox exit event container_id:\"` + sb1 + `\"  id:\"` + sb1 + `\"  exit_status:137  exited_at:{seconds:1788477940  nanos:127052734}" monitor_name=podsandbox`},
			want:  []string{"sandbox_stopped " + want0 + " sb=" + sb1},
		},
		{
			name:  "RemovePodSandbox without for (1.7+)",
			lines: []string{pre + `"RemovePodSandbox \"` + sb1 + `\" returns successfully"`},
			want:  []string{"sandbox_removed " + want0 + " sb=" + sb1},
		},
		{
			name:  "1.6 TaskExit gogo form",
			lines: []string{`time="2022-03-21T04:38:16.939092828Z" level=info msg="TaskExit event &TaskExit{ContainerID:` + c1 + `,ID:` + c1 + `,Pid:27560,ExitStatus:0,ExitedAt:2022-03-21 04:38:16.93 +0000 UTC,XXX_unrecognized:[],}"`},
			want:  []string{"container_exited t=2022-03-21T04:38:16.939092828Z src=containerd lvl=info cid=" + c1},
		},
		{
			name:  "RunPodSandbox failed",
			lines: []string{`time="2023-11-22T07:37:36Z" level=error msg="RunPodSandbox for &PodSandboxMetadata{Name:doca,Uid:fb3979320f71f4ddc8ae1e75c69dda05,Namespace:default,Attempt:1,} failed, error" error="failed to reserve sandbox name"`},
			want:  []string{"sandbox_requested t=2023-11-22T07:37:36Z src=containerd lvl=error ns=default pod=doca uid=fb3979320f71f4ddc8ae1e75c69dda05 attempt=1 err=failed to reserve sandbox name"},
		},
		{
			name:  "pager-wrapped cri-containerd klog failure",
			lines: []string{"Jan 16 04:43:05 tiny cri-containerd[2019]: E0116 04:43:05.279222    2019 instrumented_service.go:40] RunPodSandbox for &PodSandboxMetadata{Name:kube-dns-574cf969f4-c64mq,Uid:b6d08be0-fa77-11e7-8e33-12612308a448,Namespace:kube-system,Attem\npt:0,} failed, error: failed to setup network for sandbox \"ba21\": x"},
			want:  []string{`sandbox_requested t=2024-01-16T04:43:05.279222Z src=containerd lvl=error node=tiny ns=kube-system pod=kube-dns-574cf969f4-c64mq uid=b6d08be0-fa77-11e7-8e33-12612308a448 err=failed to setup network for sandbox "ba21": x`},
		},
		{
			name:  "cri-containerd 1.0 TTY with relative time",
			lines: []string{`INFO[0097] RunPodSandbox with config &PodSandboxConfig{Metadata:&PodSandboxMetadata{Name:nginx-sandbox,Uid:hdishd83djaidwnduwk28bcsb,Namespace:default,Attempt:1,},Hostname:,LogDirectory:,}`},
			want:  []string{"sandbox_requested src=containerd lvl=info ns=default pod=nginx-sandbox uid=hdishd83djaidwnduwk28bcsb attempt=1"},
		},
		{
			name:  "truncated metadata value is not used",
			lines: []string{`level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:busybox,Uid:d43d8679-073c-4204-bad7-a2e62ac2706c,Namespace:defa`},
			want:  []string{"sandbox_requested src=containerd lvl=info pod=busybox uid=d43d8679-073c-4204-bad7-a2e62ac2706c"},
		},
		{
			name:  "quoted bare timestamp without time=",
			lines: []string{`"2023-11-22T09:37:33.957154015+02:00" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:doca-hbn,Uid:fb3979320f71f4ddc8ae1e75c69dda05,Namespace:default,Attempt:1,}"`},
			want:  []string{"sandbox_requested t=2023-11-22T09:37:33.957154015+02:00 src=containerd lvl=info ns=default pod=doca-hbn uid=fb3979320f71f4ddc8ae1e75c69dda05 attempt=1"},
		},
		{
			name:  "JSON log format",
			lines: []string{`{"level":"info","msg":"RunPodSandbox for \u0026PodSandboxMetadata{Name:nginx,Uid:` + uid1 + `,Namespace:default,Attempt:0,} returns sandbox id \"` + sb1 + `\"","time":"2024-11-29T18:32:17.157167764Z"}`},
			want:  []string{"sandbox_ready t=2024-11-29T18:32:17.157167764Z src=containerd lvl=info ns=default pod=nginx uid=" + uid1 + " sb=" + sb1},
		},
		{
			name:  "version line, then an event",
			lines: []string{`time="2024-11-29T18:00:00Z" level=info msg="starting containerd" revision=1e1ea6e986c6c86565bc33d52e34b81b3e2bc71f version=v1.6.20`, `time="2024-11-29T18:13:11.737579537Z" level=info msg="StartContainer for \"` + c1 + `\" returns successfully"`},
			want:  []string{"container_started t=2024-11-29T18:13:11.737579537Z src=containerd lvl=info ver=v1.6.20 cid=" + c1},
		},
		{
			name:  "PullImage returns",
			lines: []string{`time="2023-09-04T18:35:49.209338486Z" level=info msg="PullImage \"nginx:1.25\" returns image reference \"sha256:ae819fd2a0d75d119af03d7b933ab72df32a42360ef607ba36106575fae38e18\""`},
			want:  []string{"image_pulled t=2023-09-04T18:35:49.209338486Z src=containerd lvl=info image=nginx:1.25 imageid=sha256:ae819fd2a0d75d119af03d7b933ab72df32a42360ef607ba36106575fae38e18"},
		},
		{
			// containerd 1.6.20 (Debian 12) in the e2e node: no "Pulled image ...
			// repo digest" line; the repo digest is the name of an image store
			// event between the request and its answer.
			name: "1.6 pull: the ImageCreate of the repo digest gives the digest",
			lines: []string{
				`time="2026-11-23T13:50:03.451737431Z" level=info msg="PullImage \"registry.k8s.io/kube-proxy:v1.33.13\""`,
				`time="2026-11-23T13:50:04.670508335Z" level=info msg="ImageCreate event &ImageCreate{Name:registry.k8s.io/kube-proxy:v1.33.13,Labels:map[string]string{io.cri-containerd.image: managed,},XXX_unrecognized:[],}"`,
				`time="2026-11-23T13:50:04.681353702Z" level=info msg="ImageCreate event &ImageCreate{Name:sha256:bec1ac4f88b199264723bb6831953a83f66c791c3031bcc5d8d209be967caad4,Labels:map[string]string{io.cri-containerd.image: managed,},XXX_unrecognized:[],}"`,
				`time="2026-11-23T13:50:04.695697755Z" level=info msg="ImageCreate event &ImageCreate{Name:registry.k8s.io/kube-proxy@sha256:489532f71e9857e3c5387dc9c9489fba613703dd6d1bad6769c73b833c0e33a6,Labels:map[string]string{io.cri-containerd.image: managed,},XXX_unrecognized:[],}"`,
			},
			want: []string{
				"image_pulled t=2026-11-23T13:50:04.695697755Z src=containerd lvl=info image=registry.k8s.io/kube-proxy:v1.33.13 digest=registry.k8s.io/kube-proxy@sha256:489532f71e9857e3c5387dc9c9489fba613703dd6d1bad6769c73b833c0e33a6",
			},
		},
		{
			name: "1.7 pull of a Docker Hub short name: the ImageCreate of docker.io/library/... matches",
			lines: []string{
				`time="2026-11-20T09:15:18.467816000Z" level=info msg="PullImage \"nginx:1.27\""`,
				`time="2026-11-20T09:15:20.297816000Z" level=info msg="ImageCreate event name:\"docker.io/library/nginx@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\" labels:{key:\"io.cri-containerd.image\" value:\"managed\"}"`,
			},
			want: []string{"image_pulled t=2026-11-20T09:15:20.297816Z src=containerd lvl=info image=nginx:1.27 digest=docker.io/library/nginx@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65"},
		},
		{
			name:  "ImageCreate with no pull requested gives nothing",
			lines: []string{`time="2026-11-23T13:50:04.695697755Z" level=info msg="ImageCreate event &ImageCreate{Name:registry.k8s.io/pause@sha256:489532f71e9857e3c5387dc9c9489fba613703dd6d1bad6769c73b833c0e33a6,Labels:map[string]string{},XXX_unrecognized:[],}"`},
		},
	})
}

func TestCRIO(t *testing.T) {
	const pre = `Dec 12 15:22:16 node1 crio[5083]: time="2024-12-12 15:22:16.073983199+01:00" level=info msg=`
	const w = "t=2024-12-12T15:22:16.073983199+01:00 src=crio lvl=info"
	runCases(t, []parseCase{
		{
			name:  "Stopped container",
			lines: []string{pre + `"Stopped container ` + c1 + `: default/nginx/nginx" id=a1 name=/runtime.v1.RuntimeService/StopContainer`},
			want:  []string{"container_exited " + w + " cri=v1 node=node1 ns=default pod=nginx cid=" + c1 + " ctr=nginx req=a1"},
		},
		{
			name:  "Removed container",
			lines: []string{pre + `"Removed container ` + c1 + `: default/nginx/nginx" id=a2 name=/runtime.v1.RuntimeService/RemoveContainer`},
			want:  []string{"container_removed " + w + " cri=v1 node=node1 ns=default pod=nginx cid=" + c1 + " ctr=nginx req=a2"},
		},
		{
			name:  "Stopped pod sandbox",
			lines: []string{pre + `"Stopped pod sandbox: ` + sb1 + `" id=a3 name=/runtime.v1.RuntimeService/StopPodSandbox`},
			want:  []string{"sandbox_stopped " + w + " cri=v1 node=node1 sb=" + sb1 + " req=a3"},
		},
		{
			name:  "Stopped pod sandbox (already stopped)",
			lines: []string{pre + `"Stopped pod sandbox (already stopped): ` + sb1 + `"`},
			want:  []string{"sandbox_stopped " + w + " node=node1 sb=" + sb1},
		},
		{
			name:  "old stopped pod sandbox with infra container",
			lines: []string{pre + `"stopped pod sandbox with infra container: default/nginx/POD"`},
			want:  []string{"sandbox_stopped " + w + " node=node1 ns=default pod=nginx"},
		},
		{
			name:  "Removed pod sandbox",
			lines: []string{pre + `"Removed pod sandbox: ` + sb1 + `" id=a4 name=/runtime.v1alpha2.RuntimeService/RemovePodSandbox`},
			want:  []string{"sandbox_removed " + w + " cri=v1alpha2 node=node1 sb=" + sb1 + " req=a4"},
		},
		{
			name:  "old Started container form",
			lines: []string{pre + `"Started container ` + c1 + `: default/nginx/nginx" id=a5 name=/runtime.v1alpha2.RuntimeService/StartContainer`},
			want:  []string{"container_started " + w + " cri=v1alpha2 node=node1 ns=default pod=nginx cid=" + c1 + " ctr=nginx req=a5"},
		},
		{
			name:  "TTY Ran pod sandbox with fields",
			lines: []string{`INFO[2021-07-28 09:33:40.000000000+02:00] Ran pod sandbox ` + sb1 + ` with infra container: default/nginx/POD  id=a6 name=/runtime.v1alpha2.RuntimeService/RunPodSandbox`},
			want:  []string{"sandbox_ready t=2021-07-28T09:33:40+02:00 src=crio lvl=info cri=v1alpha2 ns=default pod=nginx sb=" + sb1 + " req=a6"},
		},
		{
			name: "Pulled image takes the requested name from Pulling image",
			lines: []string{
				pre + `"Pulling image: docker.io/library/nginx:1.25" id=p1 name=/runtime.v1.ImageService/PullImage`,
				pre + `"Pulled image: docker.io/library/nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac" id=p1 name=/runtime.v1.ImageService/PullImage`,
			},
			want: []string{"image_pulled " + w + " cri=v1 node=node1 image=docker.io/library/nginx:1.25 digest=docker.io/library/nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac req=p1"},
		},
		{
			name:  "Image status nil",
			lines: []string{pre + `"Image status: &ImageStatusResponse{Image:nil,Info:map[string]string{},}" id=s1`},
		},
		{
			name:  "Image status protobuf text",
			lines: []string{pre + `"Image status: image:{id:\"80d28bedfe5dec59da9ebf8e6260224ac9008ab5c11dbbe16ee3ba3e4439ac2c\"  repo_tags:\"k8s.gcr.io/pause:3.2\"  repo_digests:\"k8s.gcr.io/pause@sha256:4a1c4b21597c1b4415bdbecb28a3296c6b5e23ca4f9feeb599860a1dac6a0108\"  size:688049}" id=s2`},
			want:  []string{"image_present " + w + " node=node1 image=k8s.gcr.io/pause:3.2 imageid=sha256:80d28bedfe5dec59da9ebf8e6260224ac9008ab5c11dbbe16ee3ba3e4439ac2c digest=k8s.gcr.io/pause@sha256:4a1c4b21597c1b4415bdbecb28a3296c6b5e23ca4f9feeb599860a1dac6a0108 req=s2"},
		},
		{
			name:  "debug RunPodSandbox request and response",
			lines: []string{`time="2019-12-11 20:59:16.8Z" level=debug msg="response: &RunPodSandboxResponse{PodSandboxId:` + sb1 + `,}" file="go-grpc-middleware/chain.go:25" id=r1`},
			want:  []string{"sandbox_ready t=2019-12-11T20:59:16.8Z src=crio lvl=debug sb=" + sb1 + " req=r1"},
		},
		{
			name:  "version",
			lines: []string{`time="2022-05-05 06:00:00+02:00" level=info msg="Starting CRI-O, version: 1.20.7, git: 9a3e0b1(clean)"`, pre + `"Running pod sandbox: default/nginx/POD" id=x1 name=/runtime.v1.RuntimeService/RunPodSandbox`},
			want:  []string{"sandbox_requested " + w + " ver=1.20.7 cri=v1 node=node1 ns=default pod=nginx req=x1"},
		},
	})
}

func TestDocker(t *testing.T) {
	const uid = "5da5612b-9738-493c-af51-a213072997f6"
	runCases(t, []parseCase{
		{
			name:  "docker events: sandbox start",
			lines: []string{`2024-03-01T10:00:00.123456789Z container start ` + sb1 + ` (image=registry.k8s.io/pause:3.9, io.kubernetes.docker.type=podsandbox, io.kubernetes.pod.name=nginx, io.kubernetes.pod.namespace=default, io.kubernetes.pod.uid=` + uid + `, name=k8s_POD_nginx_default_` + uid + `_0)`},
			want:  []string{"sandbox_ready t=2024-03-01T10:00:00.123456789Z src=docker ns=default pod=nginx uid=" + uid + " sb=" + sb1},
		},
		{
			name:  "docker events: container create",
			lines: []string{`2024-03-01T10:00:01.000000000Z container create ` + c1 + ` (image=nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac, io.kubernetes.container.name=web, io.kubernetes.sandbox.id=` + sb1 + `, name=k8s_web_nginx_default_` + uid + `_1)`},
			want:  []string{"container_created t=2024-03-01T10:00:01Z src=docker ns=default pod=nginx uid=" + uid + " sb=" + sb1 + " cid=" + c1 + " ctr=web attempt=1 image=nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac"},
		},
		{
			name:  "docker events: non-Kubernetes container",
			lines: []string{`2024-03-01T10:00:01.000000000Z container die ` + c1 + ` (exitCode=0, image=alpine, name=happy_turing)`},
		},
		{
			name:  "dockerd debug create of a pod sandbox",
			lines: []string{`Mar 01 10:00:00 node1 dockerd[1044]: time="2024-03-01T10:00:00.5Z" level=debug msg="Calling POST /v1.41/containers/create?name=k8s_POD_nginx_default_` + uid + `_0"`},
			want:  []string{"sandbox_requested t=2024-03-01T10:00:00.5Z src=docker lvl=debug node=node1 ns=default pod=nginx uid=" + uid},
		},
		{
			name: "cri-dockerd pull, version",
			lines: []string{
				`Mar 01 09:00:00 node1 cri-dockerd[900]: time="2024-03-01T09:00:00Z" level=info msg="Starting cri-dockerd 0.3.1 (1d9d5f3)"`,
				`Mar 01 10:00:00 node1 cri-dockerd[900]: time="2024-03-01T10:00:00Z" level=info msg="Stop pulling image nginx:latest: Status: Downloaded newer image for nginx:latest"`,
			},
			want: []string{"image_pulled t=2024-03-01T10:00:00Z src=cri-dockerd lvl=info ver=0.3.1 node=node1 image=nginx:latest"},
		},
		{
			name:  "dockerd version",
			lines: []string{`time="2022-10-14T17:00:00-07:00" level=info msg="Docker daemon" commit=e42327a graphdriver(s)=overlay2 version=20.10.19`, `2022-10-14T17:14:06Z container destroy ` + c1 + ` (name=k8s_web_nginx_default_` + uid + `_0)`},
			want:  []string{"container_removed t=2022-10-14T17:14:06Z src=docker ver=20.10.19 ns=default pod=nginx uid=" + uid + " cid=" + c1 + " ctr=web"},
		},
		{
			name:  "docker events JSON",
			lines: []string{`{"status":"die","id":"` + sb1 + `","from":"registry.k8s.io/pause:3.9","Type":"container","Action":"die","Actor":{"ID":"` + sb1 + `","Attributes":{"exitCode":"0","image":"registry.k8s.io/pause:3.9","name":"k8s_POD_nginx_default_` + uid + `_2"}},"scope":"local","time":1709287200,"timeNano":1709287200123456789}`},
			want:  []string{"sandbox_stopped t=2024-03-01T10:00:00.123456789Z src=docker ns=default pod=nginx uid=" + uid + " sb=" + sb1 + " attempt=2"},
		},
		{
			name:  "dockerd sandbox name conflict",
			lines: []string{`Jan 29 18:09:50 node1 dockerd[4111]: time="2019-01-29T18:09:50.28Z" level=error msg="Handler for POST /v1.38/containers/create returned error: Conflict. The container name \"/k8s_POD_nginx_default_` + uid + `_1\" is already in use by container \"` + sb1 + `\"."`},
			want:  []string{"sandbox_requested t=2019-01-29T18:09:50.28Z src=docker lvl=error node=node1 ns=default pod=nginx uid=" + uid + " attempt=1 err=Conflict. The container name \\\"/k8s_POD_nginx_default_" + uid + "_1\\\" is already in use by container \\\"" + sb1 + "\\\"."},
		},
		{
			name:  "dockerd teardown noise",
			lines: []string{`Nov 25 06:00:10 minikube dockerd[2421]: time="2020-11-25T06:00:10.612008258Z" level=info msg="ignoring event" module=libcontainerd namespace=moby topic=/tasks/delete type="*events.TaskDelete"`},
		},
	})
}

func TestParseKubeName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want KubeName
		ok   bool
	}{
		{"k8s_POD_nginx_default_uid-1_0", KubeName{Sandbox: true, PodName: "nginx", PodNamespace: "default", PodUID: "uid-1"}, true},
		{"/k8s_web_nginx_default_uid-1_3", KubeName{ContainerName: "web", PodName: "nginx", PodNamespace: "default", PodUID: "uid-1", Attempt: 3}, true},
		{"k8s_podsandbox1_redhat.test.crio_redhat-test-crio_1", KubeName{Sandbox: true, PodName: "podsandbox1", PodNamespace: "redhat.test.crio", PodUID: "redhat-test-crio", Attempt: 1}, true},
		{"k8s_POD.d8dbe16c_nginx_default_uid-1_abcd1234", KubeName{Sandbox: true, PodName: "nginx", PodNamespace: "default", PodUID: "uid-1"}, true},
		{"k8s_a_b_c", KubeName{}, false},
		{"happy_turing", KubeName{}, false},
		{"k8s_a_b_c_d_e_f_g", KubeName{}, false},
	} {
		got, ok := ParseKubeName(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseKubeName(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseSingleAndOwnership(t *testing.T) {
	p := NewParser(Options{Reference: ref2024})
	line := []byte(`I1129 18:20:18.242812    2775 kubelet.go:2449] "SyncLoop ADD" source="api" pods=["default/a","default/b"]`)
	ev, ok, err := p.Parse(line)
	if err != nil || !ok || ev.PodName != "a" {
		t.Fatalf("Parse = %+v, %v, %v", ev, ok, err)
	}
	evs, err := p.ParseAll(line, nil)
	if err != nil || len(evs) != 2 {
		t.Fatalf("ParseAll = %v, %v", evs, err)
	}
	for i := range line {
		line[i] = 'X' // the caller reuses its buffer
	}
	if ev.PodName != "a" || evs[1].PodName != "b" || evs[1].PodNamespace != "default" || !strings.HasPrefix(evs[0].Line, "I1129") {
		t.Fatalf("events alias the input buffer: %+v %+v", ev, evs)
	}
	st := p.Stats()
	if st.Total.Records != 2 || st.Total.Events != 4 || st.BySource[SourceKubelet].Events != 4 {
		t.Fatalf("stats = %+v", st)
	}
	if _, ok, err := p.Parse([]byte("garbage")); ok || err == nil {
		t.Fatal("garbage accepted")
	}
	if p.Stats().Total.Unknown != 1 {
		t.Fatalf("stats = %+v", p.Stats())
	}
}

func TestWrappedRecord(t *testing.T) {
	lines := []string{
		`    Nov 06 09:58:48 s00vl9974123 kubelet[558]: E1106 09:58:48.855639     558 `,
		`    kuberuntime_sandbox.go:54] CreatePodSandbox for pod "kube-dns-545bc4bfd4-mjn49_kube-`,
		`    system(2ffdece1-c2d0-11e7-98cb-005056008ce3)" failed: rpc error: code = Unknown desc = failed to `,
		`    start sandbox container`,
		`Nov 06 09:58:49 s00vl9974123 kubelet[558]: I1106 09:58:49.000000     558 kubelet.go:1914] SyncLoop (ADD, "api"): "x_default(u-1)"`,
	}
	var j Joiner
	var recs []string
	for _, l := range lines {
		if r, ok := j.Add([]byte(l)); ok {
			recs = append(recs, string(r))
		}
	}
	if r, ok := j.Flush(); ok {
		recs = append(recs, string(r))
	}
	if len(recs) != 2 || strings.Count(recs[0], "\n") != 3 {
		t.Fatalf("records = %q", recs)
	}
	p := NewParser(Options{Year: 2017})
	evs, err := p.ParseAll([]byte(recs[0]), nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("ParseAll = %v, %v", evs, err)
	}
	got := summary(evs[0])
	want := "sandbox_requested t=2017-11-06T09:58:48.855639Z src=kubelet lvl=error node=s00vl9974123 ns=kube-system pod=kube-dns-545bc4bfd4-mjn49 uid=2ffdece1-c2d0-11e7-98cb-005056008ce3 err=rpc error: code = Unknown desc = failed to start sandbox container"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if evs[0].Line != recs[0] {
		t.Fatalf("Line = %q", evs[0].Line)
	}
	for i, l := range lines {
		if IsContinuation([]byte(l)) != (i >= 1 && i <= 3) {
			t.Errorf("IsContinuation(%q) wrong", l)
		}
	}
	for _, l := range []string{
		"Fri 2024-11-29 19:20:18 CET node1 kubelet[2775]: x",
		"[  123.456789] node1 containerd[2506]: x",
		"<30>1 2024-11-29T18:13:11.9Z node1 crio 2440 - - x",
		"sept. 20 16:41:05 erebos kubelet[8665]: x",
		"9月 20 16:41:05 node kubelet[1]: x",
		`INFO[0097] RunPodSandbox`,
		`{"ts":1}`,
	} {
		if !IsRecordStart([]byte(l)) || !lineStartRE.MatchString(l) {
			t.Errorf("%q: IsRecordStart=%v pattern=%v", l, IsRecordStart([]byte(l)), lineStartRE.MatchString(l))
		}
	}
}

func TestAllocations(t *testing.T) {
	p := NewParser(Options{Year: 2024})
	noEvent := []byte(`Nov 29 18:20:18 aks-np2 containerd[2506]: time="2024-11-29T18:20:18.329810628Z" level=info msg="shim disconnected" id=` + c1 + ` namespace=k8s.io`)
	event := []byte(`Nov 29 18:13:11 aks-np2 containerd[2506]: time="2024-11-29T18:13:11.682692569Z" level=info msg="CreateContainer within sandbox \"` + sb1 + `\" for &ContainerMetadata{Name:nginx,Attempt:0,} returns container id \"` + c1 + `\""`)
	dst := make([]Event, 0, 4)
	if n := testing.AllocsPerRun(200, func() { dst, _ = p.ParseAll(noEvent, dst[:0]) }); n != 0 {
		t.Errorf("no-event record: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() { dst, _ = p.ParseAll(event, dst[:0]) }); n != 1 {
		t.Errorf("event record: %v allocs, want 1 (the owned line)", n)
	}
}
