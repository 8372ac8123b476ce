// SPDX-License-Identifier: Apache-2.0

package noderuntime

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMessage(t *testing.T) {
	const (
		sbMulti  = "9782e0cf6742898144c14978eabdbed4af963d2f8eb9d857d4832d98986cf361"
		uidMulti = "ecf6beca-4e57-4562-8f89-b6e72312b3fd"
	)
	at := func(s string) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name string
		opts Options
		msg  string
		meta Meta
		want []string // summaries; nil = no event
		err  Reason
	}{
		{
			name: "containerd by identifier: payload time, host from the entry",
			msg:  `time="2024-11-29T18:33:25.940422419Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:multiple,Uid:` + uidMulti + `,Namespace:default,Attempt:0,} returns sandbox id \"` + sbMulti + `\""`,
			meta: Meta{Ident: "containerd", Unit: "containerd.service", Host: "aks-nodepool1-23707431-vmss000000", Time: at("2024-11-29T18:33:25.940500Z")},
			want: []string{"sandbox_ready t=2024-11-29T18:33:25.940422419Z src=containerd lvl=info node=aks-nodepool1-23707431-vmss000000 ns=default pod=multiple uid=" + uidMulti + " sb=" + sbMulti},
		},
		{
			name: "kubelet klog stamp takes its year from the entry time",
			msg:  `I1129 18:33:26.509801    2983 kubelet.go:2465] "SyncLoop (PLEG): event for pod" pod="default/multiple" event={"ID":"` + uidMulti + `","Type":"ContainerStarted","Data":"` + sbMulti + `"}`,
			meta: Meta{Ident: "kubelet", Host: "aks-nodepool1-23707431-vmss000000", Time: at("2021-11-29T18:33:26.510000Z")},
			want: []string{"container_started t=2021-11-29T18:33:26.509801Z src=kubelet lvl=info node=aks-nodepool1-23707431-vmss000000 ns=default pod=multiple uid=" + uidMulti + " cid=" + sbMulti},
		},
		{
			name: "klog written in another zone is aligned to the entry time",
			msg:  `I1202 10:32:16.613526    2782 topology_manager.go:215] "Topology Admit Handler" podUID="d02bf488-3589-4d20-9dcf-5aee17dac3a7" podNamespace="default" podName="nginx"`,
			meta: Meta{Ident: "kubelet", Host: "aks-nodepool1-21231904-vmss000001", Time: at("2024-12-02T18:32:16.613700Z")},
			want: []string{"pod_admitted t=2024-12-02T18:32:16.613526Z src=kubelet lvl=info node=aks-nodepool1-21231904-vmss000001 ns=default pod=nginx uid=d02bf488-3589-4d20-9dcf-5aee17dac3a7"},
		},
		{
			name: "year-less stamp of December read in a January journal",
			msg:  `I1231 23:59:59.900000    2509 kubelet.go:2608] "SyncLoop ADD" source="api" pods=["node-density-0/node-density-956"]`,
			meta: Meta{Ident: "kubenswrapper", Time: at("2025-01-01T00:00:00.100000Z")},
			want: []string{"pod_admitted t=2024-12-31T23:59:59.9Z src=kubelet lvl=info ns=node-density-0 pod=node-density-956 from=api"},
		},
		{
			// Options.Year dates the klog stamp, which then disagrees with the
			// entry's full date by whole years and is aligned to it.
			name: "the entry's full date wins over Options.Year",
			opts: Options{Year: 2019},
			msg:  `I1231 23:59:59.900000    2509 kubelet.go:2608] "SyncLoop ADD" source="api" pods=["node-density-0/node-density-956"]`,
			meta: Meta{Ident: "kubenswrapper", Time: at("2025-01-01T00:00:00.100000Z")},
			want: []string{"pod_admitted t=2024-12-31T23:59:59.9Z src=kubelet lvl=info ns=node-density-0 pod=node-density-956 from=api"},
		},
		{
			name: "Options.Year dates a year-less stamp when the entry has no time",
			opts: Options{Year: 2019},
			msg:  `I1231 23:59:59.900000    2509 kubelet.go:2608] "SyncLoop ADD" source="api" pods=["node-density-0/node-density-956"]`,
			meta: Meta{Ident: "kubenswrapper"},
			want: []string{"pod_admitted t=2019-12-31T23:59:59.9Z src=kubelet lvl=info ns=node-density-0 pod=node-density-956 from=api"},
		},
		{
			name: "source from the unit when the identifier is unknown",
			msg:  `time="2026-05-27T16:02:27.950581297Z" level=info msg="Running pod sandbox: node-density-0/node-density-956/POD" id=0be966e9`,
			meta: Meta{Ident: "conmon-wrapper", Unit: "crio.service", Host: "ip-10-0-67-181"},
			want: []string{"sandbox_requested t=2026-05-27T16:02:27.950581297Z src=crio lvl=info node=ip-10-0-67-181 ns=node-density-0 pod=node-density-956 req=0be966e9"},
		},
		{
			name: "cri-docker unit",
			msg:  `time="2023-06-01T10:00:00Z" level=info msg="Stop pulling image nginx:latest: Status: Downloaded newer image for nginx:latest"`,
			meta: Meta{Unit: "cri-docker.service"},
			want: []string{"image_pulled t=2023-06-01T10:00:00Z src=cri-dockerd lvl=info image=nginx:latest"},
		},
		{
			name: "Options.Node overrides the entry host",
			opts: Options{Node: "node-a"},
			msg:  `time="2024-11-29T18:13:11.737579537Z" level=info msg="StartContainer for \"` + c1 + `\" returns successfully"`,
			meta: Meta{Ident: "containerd", Host: "aks-np2-39852331-vmss000000"},
			want: []string{"container_started t=2024-11-29T18:13:11.737579537Z src=containerd lvl=info node=node-a cid=" + c1},
		},
		{
			name: "no metadata: detected from the message",
			msg:  `time="2024-11-29T18:13:11.737579537Z" level=info msg="StartContainer for \"` + c1 + `\" returns successfully"`,
			want: []string{"container_started t=2024-11-29T18:13:11.737579537Z src=containerd lvl=info cid=" + c1},
		},
		{
			name: "another unit: recognised, no event",
			msg:  `Started libcontainer container ` + sbMulti + `.`,
			meta: Meta{Ident: "systemd", Unit: "init.scope", Host: "aks-nodepool1-23707431-vmss000000", Time: at("2024-11-29T18:33:25Z")},
		},
		{
			name: "mixed identifier (k3s): detected from the message",
			msg:  `time="2021-02-26T10:00:00.000000000Z" level=info msg="StartContainer for \"` + c1 + `\" returns successfully"`,
			meta: Meta{Ident: "k3s", Unit: "k3s.service"},
			want: []string{"container_started t=2021-02-26T10:00:00Z src=containerd lvl=info cid=" + c1},
		},
		{
			name: "daemon message of unknown shape",
			msg:  `Flag --pod-infra-container-image has been deprecated, will be removed in a future release.`,
			meta: Meta{Ident: "kubelet", Time: at("2024-11-29T18:33:25Z")},
			err:  ReasonPayload,
		},
		{
			name: "no metadata, unknown text",
			msg:  `hello world`,
			err:  ReasonNoFormat,
		},
		{
			name: "blank message",
			msg:  " \t",
			meta: Meta{Ident: "kubelet"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewParser(tt.opts)
			msg := []byte(tt.msg)
			evs, err := p.ParseMessage(msg, tt.meta, nil)
			if tt.err != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Reason != tt.err {
					t.Fatalf("err = %v, want reason %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, summary(ev))
				if ev.Line != tt.msg {
					t.Errorf("Line = %q, want the message", ev.Line)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestUnitSource(t *testing.T) {
	tests := []struct {
		unit string
		want Source
		ok   bool
	}{
		{"kubelet.service", SourceKubelet, true},
		{"containerd.service", SourceContainerd, true},
		{"crio.service", SourceCRIO, true},
		{"docker.service", SourceDocker, true},
		{"cri-docker.service", SourceCRIDockerd, true},
		{"snap.microk8s.daemon-containerd.service", SourceContainerd, true},
		{"snap.microk8s.daemon-kubelite.service", SourceKubelet, true},
		{"k3s.service", SourceUnknown, false},
		{"init.scope", SourceUnknown, false},
		{"", SourceUnknown, false},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			got, ok := UnitSource(tt.unit)
			if got != tt.want || ok != tt.ok {
				t.Errorf("UnitSource(%q) = %q, %v; want %q, %v", tt.unit, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestParseMessageMatchesPrefixedLines splits every prefixed sample line into
// its syslog prefix and message, as journald stores them, and checks that
// ParseMessage with the prefix's fields yields the events ParseAll yields
// for the whole line.
func TestParseMessageMatchesPrefixedLines(t *testing.T) {
	var checked, events int
	for _, dir := range sampleDirs {
		for _, path := range sampleFiles(t, dir) {
			sf := loadSample(t, path)
			whole, split := NewParser(sf.opts), NewParser(sf.opts)
			for _, r := range sf.records {
				if bytes.IndexByte(r.text, '\n') >= 0 {
					continue // wrapped pastes: no journal entry looks like that
				}
				var pre syslogPrefix
				line := stripWrappers(strings.TrimSpace(string(r.text)))
				msg, ok := parseSyslogPrefix(line, &pre)
				if !ok || pre.ident == "" || !pre.ts.valid {
					continue
				}
				want, werr := whole.ParseAll(r.text, nil)
				meta := Meta{Ident: pre.ident, Host: pre.host, Time: whole.stampTime(&pre.ts)}
				got, gerr := split.ParseMessage([]byte(msg), meta, nil)
				checked++
				events += len(want)
				if (werr == nil) != (gerr == nil) {
					t.Errorf("%s:%d: ParseAll err %v, ParseMessage err %v", sf.rel, r.line, werr, gerr)
					continue
				}
				if len(got) != len(want) {
					t.Errorf("%s:%d: %d events, want %d", sf.rel, r.line, len(got), len(want))
					continue
				}
				for i := range want {
					if g, w := summary(got[i]), summary(want[i]); g != w {
						t.Errorf("%s:%d:\n got: %s\nwant: %s", sf.rel, r.line, g, w)
					}
				}
			}
		}
	}
	if checked < 50 || events < 20 {
		t.Errorf("only %d prefixed lines with %d events checked", checked, events)
	}
	t.Logf("%d prefixed lines, %d events", checked, events)
}

func TestParseMessageAllocations(t *testing.T) {
	p := NewParser(Options{})
	meta := Meta{Ident: "containerd", Host: "aks-np2", Time: time.Date(2024, 11, 29, 18, 13, 11, 0, time.UTC)}
	noEvent := []byte(`time="2024-11-29T18:20:18.329810628Z" level=info msg="shim disconnected" id=` + c1 + ` namespace=k8s.io`)
	event := []byte(`time="2024-11-29T18:13:11.682692569Z" level=info msg="CreateContainer within sandbox \"` + sb1 + `\" for &ContainerMetadata{Name:nginx,Attempt:0,} returns container id \"` + c1 + `\""`)
	dst := make([]Event, 0, 4)
	if n := testing.AllocsPerRun(200, func() { dst, _ = p.ParseMessage(noEvent, meta, dst[:0]) }); n != 0 {
		t.Errorf("no-event message: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() { dst, _ = p.ParseMessage(event, meta, dst[:0]) }); n != 1 {
		t.Errorf("event message: %v allocs, want 1 (the owned line)", n)
	}
}

// FuzzParseMessage feeds arbitrary messages and metadata to ParseMessage and
// checks the invariants ParseAll keeps (owned, well-formed events, only
// *ParseError errors).
func FuzzParseMessage(f *testing.F) {
	fuzzSeeds(f, func(rec []byte) { f.Add(rec, "containerd", "", "node-1", int64(1732905205940422)) })
	f.Add([]byte(`I1231 23:59:59.900000 1 a.go:1] "SyncLoop ADD" source="api" pods=["a/b"]`), "kubenswrapper", "kubelet.service", "h", int64(0))
	f.Add([]byte(`Started libcontainer container x.`), "systemd", "init.scope", "", int64(-1))
	f.Add([]byte(`time="x" level=info msg="Running pod sandbox: a/b/POD"`), "", "crio.service", "", int64(253402300799999999))
	f.Fuzz(func(t *testing.T, data []byte, ident, unit, host string, usec int64) {
		var tm time.Time
		if usec != 0 {
			tm = time.UnixMicro(usec)
		}
		p := NewParser(Options{})
		in := bytes.Clone(data)
		evs, err := p.ParseMessage(in, Meta{Ident: ident, Unit: unit, Host: host, Time: tm}, nil)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if len(evs) != 0 {
				t.Fatalf("events returned with an error")
			}
			return
		}
		before := eventsSnapshot(evs)
		for i := range in {
			in[i] ^= 0xff
		}
		if after := eventsSnapshot(evs); after != before {
			t.Fatalf("events alias the input:\n%s\n%s", before, after)
		}
		for _, ev := range evs {
			if ev.Kind == "" || ev.Line != string(data) {
				t.Fatalf("bad event %+v", ev)
			}
			switch ev.Source {
			case SourceKubelet, SourceContainerd, SourceCRIO, SourceDocker, SourceCRIDockerd:
			default:
				t.Fatalf("bad source %q", ev.Source)
			}
		}
	})
}
