// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"strings"
	"testing"
	"time"
)

// TestFraming: the same statements in the wrappers nodes give them —
// journald and syslog prefixes, the kubelet's JSON logging, CRI container
// log files (with partial lines), Docker json-file logs, journal exports,
// klog's multi-line values — give the same events.
func TestFraming(t *testing.T) {
	const created = `"Created PodSandbox for pod" podSandboxID="` + sb1 + `" pod="shop/cart-6f7d9c8b4-ttp4z"`
	const want = "sandbox_ready t=2025-11-20T09:15:18.467816Z src=kubelet lvl=info ns=shop pod=cart-6f7d9c8b4-ttp4z sb=" + sb1
	y := Options{Year: 2025}
	runCases(t, []parseCase{
		{
			name:  "klog text",
			opts:  y,
			lines: []string{`I1120 09:15:18.467816    2775 kuberuntime_manager.go:1622] ` + created},
			want:  []string{want},
		},
		{
			name:  "journald short-precise",
			opts:  y,
			lines: []string{`Nov 20 09:15:18.467900 node-a kubelet[2775]: I1120 09:15:18.467816    2775 kuberuntime_manager.go:1622] ` + created},
			want:  []string{strings.Replace(want, "lvl=info", "lvl=info node=node-a", 1)},
		},
		{
			name:  "RFC 5424 syslog",
			opts:  y,
			lines: []string{`<30>1 2025-11-20T09:15:18.467900Z node-a kubelet 2775 - - I1120 09:15:18.467816    2775 kuberuntime_manager.go:1622] ` + created},
			want:  []string{strings.Replace(want, "lvl=info", "lvl=info node=node-a", 1)},
		},
		{
			name:  "kubelet JSON logging (ts in milliseconds, pod object)",
			lines: []string{`{"ts":1763630118467.816,"caller":"kuberuntime/kuberuntime_manager.go:1622","msg":"Created PodSandbox for pod","v":4,"podSandboxID":"` + sb1 + `","pod":{"name":"cart-6f7d9c8b4-ttp4z","namespace":"shop"}}`},
			want:  []string{want},
		},
		{
			name:  "kubelet JSON logging: an error record has err and no v",
			lines: []string{`{"ts":1763630118467.816,"caller":"kuberuntime/kuberuntime_sandbox.go:70","msg":"Failed to create sandbox for pod","pod":{"name":"cart-6f7d9c8b4-ttp4z","namespace":"shop"},"err":"rpc error: code = Unknown desc = failed to reserve sandbox name"}`},
			want:  []string{"sandbox_requested t=2025-11-20T09:15:18.467816Z src=kubelet lvl=error ns=shop pod=cart-6f7d9c8b4-ttp4z err=rpc error: code = Unknown desc = failed to reserve sandbox name"},
		},
		{
			name:  "kubelet JSON logging: podUID beside the pod",
			lines: []string{`{"ts":1763630118467.816,"caller":"kuberuntime/kuberuntime_container.go:918","msg":"Container exited normally","v":3,"pod":{"name":"cart-6f7d9c8b4-ttp4z","namespace":"shop"},"podUID":"` + uid1 + `","containerName":"cart","containerID":"containerd://` + c1 + `"}`},
			want:  []string{"container_exited t=2025-11-20T09:15:18.467816Z src=kubelet lvl=info ns=shop pod=cart-6f7d9c8b4-ttp4z uid=" + uid1 + " cid=" + c1 + " ctr=cart"},
		},
		{
			name:  "kubelet JSON logging: an event",
			lines: []string{`{"ts":1763630118467.816,"caller":"record/event.go:389","msg":"Event occurred","v":3,"object":{"name":"cart-6f7d9c8b4-ttp4z","namespace":"shop"},"fieldPath":"spec.containers{cart}","kind":"Pod","apiVersion":"v1","type":"Warning","reason":"Failed","message":"Failed to pull image \"ghcr.io/acme-corp/cart:1.2.0\": not found"}`},
			want:  []string{`image_pull_failed t=2025-11-20T09:15:18.467816Z src=kubelet lvl=info ns=shop pod=cart-6f7d9c8b4-ttp4z ctr=cart image=ghcr.io/acme-corp/cart:1.2.0 err=Failed to pull image \"ghcr.io/acme-corp/cart:1.2.0\": not found reason=Failed`},
		},
		{
			name:  "kubelet JSON logging: PLEG",
			lines: []string{`{"ts":1763630118467.816,"caller":"kubelet/kubelet.go:2737","msg":"SyncLoop (PLEG): event for pod","v":2,"pod":{"name":"cart-6f7d9c8b4-ttp4z","namespace":"shop"},"event":{"ID":"` + uid1 + `","Type":"ContainerDied","Data":"` + c1 + `"}}`},
			want:  []string{"container_exited t=2025-11-20T09:15:18.467816Z src=kubelet lvl=info ns=shop pod=cart-6f7d9c8b4-ttp4z uid=" + uid1 + " cid=" + c1},
		},
		{
			name:  "kubelet JSON logging after a journald prefix",
			lines: []string{`2025-11-20T09:15:18.467900+0000 node-a kubelet[2775]: {"ts":1763630118467.816,"caller":"kuberuntime/kuberuntime_manager.go:1622","msg":"Created PodSandbox for pod","v":4,"podSandboxID":"` + sb1 + `","pod":{"name":"cart-6f7d9c8b4-ttp4z","namespace":"shop"}}`},
			want:  []string{strings.Replace(want, "lvl=info", "lvl=info node=node-a", 1)},
		},
		{
			name:  "CRI container log file",
			opts:  y,
			lines: []string{`2025-11-20T09:15:18.467900000Z stderr F I1120 09:15:18.467816    2775 kuberuntime_manager.go:1622] ` + created},
			want:  []string{want},
		},
		{
			name:  "CRI container log file, containerd in a container",
			lines: []string{`2025-11-20T09:15:18.467900000Z stderr F time="2025-11-20T09:15:18.467816000Z" level=info msg="StartContainer for \"` + c1 + `\" returns successfully"`},
			want:  []string{"container_started t=2025-11-20T09:15:18.467816Z src=containerd lvl=info cid=" + c1},
		},
		{
			name:  "Docker json-file (a kubelet run by docker)",
			opts:  y,
			lines: []string{`{"log":"I1120 09:15:18.467816    2775 kuberuntime_manager.go:1622] \"Created PodSandbox for pod\" podSandboxID=\"` + sb1 + `\" pod=\"shop/cart-6f7d9c8b4-ttp4z\"\n","stream":"stderr","time":"2025-11-20T09:15:18.4679Z"}`},
			want:  []string{want},
		},
		{
			name:  "journalctl -o json saved to a file",
			lines: []string{`{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1763630118467900","_HOSTNAME":"node-a","SYSLOG_IDENTIFIER":"containerd","_SYSTEMD_UNIT":"containerd.service","MESSAGE":"time=\"2025-11-20T09:15:18.467816000Z\" level=info msg=\"StartContainer for \\\"` + c1 + `\\\" returns successfully\""}`},
			want:  []string{"container_started t=2025-11-20T09:15:18.467816Z src=containerd lvl=info node=node-a cid=" + c1},
		},
		{
			name:  "journal export of a kubelet klog line dates it",
			opts:  Options{Reference: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
			lines: []string{`{"__REALTIME_TIMESTAMP":"1763630118467900","_HOSTNAME":"node-a","SYSLOG_IDENTIFIER":"kubelet","MESSAGE":"I1120 09:15:18.467816    2775 kuberuntime_manager.go:1622] \"Created PodSandbox for pod\" podSandboxID=\"` + sb1 + `\" pod=\"shop/cart-6f7d9c8b4-ttp4z\""}`},
			want:  []string{strings.Replace(want, "lvl=info", "lvl=info node=node-a", 1)},
		},
		{
			name:  "journal export with a message journald did not keep (null)",
			lines: []string{`{"__REALTIME_TIMESTAMP":"1763630118467900","_HOSTNAME":"node-a","SYSLOG_IDENTIFIER":"kubelet","MESSAGE":null}`},
		},
	})
}

// TestFramingJoined: records that span physical lines.
func TestFramingJoined(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{
			name: "CRI partial lines",
			lines: []string{
				`2025-11-20T09:15:18.467900000Z stderr P I1120 09:15:18.467816    2775 kuberuntime_manager.go:1622] "Created PodSandbox for pod" podSandboxID="` + sb1[:20],
				`2025-11-20T09:15:18.467901000Z stderr P ` + sb1[20:50],
				`2025-11-20T09:15:18.467902000Z stderr F ` + sb1[50:] + `" pod="shop/cart-6f7d9c8b4-ttp4z"`,
			},
			want: "sandbox_ready t=2025-11-20T09:15:18.467816Z src=kubelet lvl=info ns=shop pod=cart-6f7d9c8b4-ttp4z sb=" + sb1,
		},
		{
			name: "klog multi-line value in journalctl's short output (continuations indented)",
			lines: []string{
				`Nov 20 09:15:18 node-a kubelet[2775]: E1120 09:15:18.467816    2775 kuberuntime_sandbox.go:70] "Failed to create sandbox for pod" err=<`,
				"                                              \trpc error: code = Unknown desc = failed to create containerd task: failed to create shim task:",
				"                                              \tOCI runtime create failed: unable to apply cgroup configuration",
				`                                               > pod="shop/cart-6f7d9c8b4-ttp4z"`,
			},
			want: "sandbox_requested t=2025-11-20T09:15:18.467816Z src=kubelet lvl=error node=node-a ns=shop pod=cart-6f7d9c8b4-ttp4z err=rpc error: code = Unknown desc = failed to create containerd task: failed to create shim task: OCI runtime create failed: unable to apply cgroup configuration",
		},
		{
			name: "klog multi-line value, continuation lines without prefix",
			lines: []string{
				`Nov 20 09:15:18 node-a kubelet[2775]: E1120 09:15:18.467816    2775 kuberuntime_sandbox.go:70] "Failed to create sandbox for pod" err=<`,
				"\trpc error: code = Unknown desc = failed to create containerd task",
				"\tOCI runtime create failed",
				` > pod="shop/cart-6f7d9c8b4-ttp4z"`,
			},
			want: "sandbox_requested t=2025-11-20T09:15:18.467816Z src=kubelet lvl=error node=node-a ns=shop pod=cart-6f7d9c8b4-ttp4z err=rpc error: code = Unknown desc = failed to create containerd task OCI runtime create failed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var j Joiner
			var recs [][]byte
			for _, l := range tc.lines {
				if r, ok := j.Add([]byte(l)); ok {
					recs = append(recs, append([]byte(nil), r...))
				}
			}
			if r, ok := j.Flush(); ok {
				recs = append(recs, append([]byte(nil), r...))
			}
			p := NewParser(Options{Year: 2025})
			var got []string
			for _, r := range recs {
				evs, err := p.ParseAll(r, nil)
				if err != nil {
					t.Fatalf("%q: %v", r, err)
				}
				for _, ev := range evs {
					got = append(got, summary(ev))
				}
			}
			if len(recs) != 1 || len(got) != 1 || got[0] != tc.want {
				t.Errorf("%d records, events:\n%s\nwant:\n%s", len(recs), strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

// TestFramingJournalMultiline: a journal entry whose MESSAGE has klog's
// multi-line value (raw newlines), as the journald input hands it over.
func TestFramingJournalMultiline(t *testing.T) {
	p := NewParser(Options{})
	msg := "E1120 09:15:18.467816    2775 pod_workers.go:1301] \"Error syncing pod, skipping\" err=<\n\tfailed to \"StartContainer\" for \"cart\" with ErrImagePull: \"failed to pull and unpack image \\\"ghcr.io/acme-corp/cart:1.2.0\\\":\n\tnot found\"\n > pod=\"shop/cart-6f7d9c8b4-ttp4z\" podUID=\"" + uid1 + "\""
	evs, err := p.ParseMessage([]byte(msg), Meta{Ident: "kubelet", Host: "node-a", Time: time.Date(2025, 11, 20, 9, 15, 18, 468000000, time.UTC)}, nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %v", evs, err)
	}
	got := summary(evs[0])
	want := `image_pull_failed t=2025-11-20T09:15:18.467816Z src=kubelet lvl=error node=node-a ns=shop pod=cart-6f7d9c8b4-ttp4z uid=` + uid1 + ` ctr=cart image=ghcr.io/acme-corp/cart:1.2.0 err=failed to pull and unpack image \"ghcr.io/acme-corp/cart:1.2.0\": not found reason=ErrImagePull`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
