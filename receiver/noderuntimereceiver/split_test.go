// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/internal/samples"
)

// Lines from containerd/repo-VijayRod-demo-k8s-pod_container_multiple-sandbox.log
// and the wrapped record of docker/issue-kubernetes-kubeadm-507.log.
const (
	lineSystemd  = `Nov 29 18:33:25 aks-nodepool1-23707431-vmss000000 systemd[1]: Started libcontainer container 9782e0cf6742898144c14978eabdbed4af963d2f8eb9d857d4832d98986cf361.`
	lineSandbox  = `Nov 29 18:33:25 aks-nodepool1-23707431-vmss000000 containerd[2699]: time="2024-11-29T18:33:25.940422419Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:multiple,Uid:ecf6beca-4e57-4562-8f89-b6e72312b3fd,Namespace:default,Attempt:0,} returns sandbox id \"9782e0cf6742898144c14978eabdbed4af963d2f8eb9d857d4832d98986cf361\""`
	wrappedFirst = `    Nov 06 09:58:48 s00vl9974123 kubelet[558]: E1106 09:58:48.855639     558 `
	wrappedCont1 = `    kuberuntime_sandbox.go:54] CreatePodSandbox for pod "kube-dns-545bc4bfd4-mjn49_kube-`
	wrappedCont2 = `    system(2ffdece1-c2d0-11e7-98cb-005056008ce3)" failed: rpc error: code = Unknown desc = failed to `
	criP         = `2025-11-20T09:15:18.467900000Z stderr P I1120 09:15:18.467816    2775 kuberuntime_manager.go:1622] "Created PodSandbox for pod" podSandboxID="9782e0cf6742898144c1`
	criF         = `2025-11-20T09:15:18.467901000Z stderr F 4978eabdbed4af963d2f8eb9d857d4832d98986cf361" pod="shop/cart-6f7d9c8b4-ttp4z"`
)

func TestSplitRecords(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		atEOF  bool
		adv    int
		token  string
		noTok  bool // (0, nil): more data needed
		emptyT bool // an empty token (a blank line)
	}{
		{name: "record ended by the next record", data: lineSystemd + "\n" + lineSandbox + "\n", adv: len(lineSystemd) + 1, token: lineSystemd},
		{name: "last complete record waits for more", data: lineSandbox + "\n", noTok: true},
		{name: "last complete record at EOF", data: lineSandbox + "\n", atEOF: true, adv: len(lineSandbox) + 1, token: lineSandbox},
		{name: "partial line waits, even at EOF", data: lineSandbox[:40], atEOF: true, noTok: true},
		{name: "partial next line that starts a record ends this one", data: lineSystemd + "\n" + lineSandbox[:20], adv: len(lineSystemd) + 1, token: lineSystemd},
		{name: "partial next line that may continue waits", data: wrappedFirst + "\n" + wrappedCont1[:10], noTok: true},
		{
			name:  "wrapped record",
			data:  wrappedFirst + "\n" + wrappedCont1 + "\n" + wrappedCont2 + "\n" + lineSandbox + "\n",
			adv:   len(wrappedFirst + wrappedCont1 + wrappedCont2 + "\n\n\n"),
			token: wrappedFirst + "\n" + wrappedCont1 + "\n" + wrappedCont2,
		},
		{name: "blank line ends a record and is consumed", data: lineSandbox + "\n \t\n" + lineSystemd + "\n", adv: len(lineSandbox) + 4, token: lineSandbox},
		{name: "blank line alone", data: "\r\n" + lineSandbox + "\n", adv: 2, emptyT: true},
		{name: "CRLF lines", data: lineSystemd + "\r\n" + lineSandbox + "\r\n", adv: len(lineSystemd) + 2, token: lineSystemd + "\r"},
		{name: "empty", data: "", atEOF: true, noTok: true},
		{name: "CRI partial line continued by the next CRI line", data: criP + "\n" + criF + "\n" + criF + "\n", adv: len(criP + criF + "\n\n"), token: criP + "\n" + criF},
		{name: "CRI partial line waits for its continuation", data: criP + "\n" + criF[:20], noTok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adv, tok, err := splitRecords([]byte(tt.data), tt.atEOF)
			require.NoError(t, err)
			switch {
			case tt.noTok:
				assert.Zero(t, adv)
				assert.Nil(t, tok)
			case tt.emptyT:
				assert.Equal(t, tt.adv, adv)
				require.NotNil(t, tok)
				assert.Empty(t, tok)
			default:
				assert.Equal(t, tt.adv, adv)
				assert.Equal(t, tt.token, string(tok))
			}
		})
	}
}

// splitAll runs splitRecords over complete data as the file consumer would
// at the end of a file and returns the non-blank records, trimmed as the
// receiver trims them.
func splitAll(data []byte) [][]byte {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	sc.Split(splitRecords)
	var out [][]byte
	for sc.Scan() {
		if tok := trimBlank(sc.Bytes()); len(tok) > 0 {
			out = append(out, bytes.Clone(tok))
		}
	}
	return out
}

// joinAll groups data with noderuntime.Joiner.
func joinAll(data []byte) [][]byte {
	var j noderuntime.Joiner
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if rec, ok := j.Add(sc.Bytes()); ok {
			out = append(out, bytes.Clone(rec))
		}
	}
	if rec, ok := j.Flush(); ok {
		out = append(out, bytes.Clone(rec))
	}
	return out
}

// normRecord removes what the two groupings treat differently on purpose:
// carriage returns (the Joiner drops them per line) and trailing whitespace
// (the file consumer trims it).
func normRecord(b []byte) string {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), " \t\r\n\v\f\u0085\u00a0")
}

func TestSplitRecordsMatchesJoinerOnSamples(t *testing.T) {
	for _, dir := range []string{"containerd", "crio", "docker", "kubelet"} {
		root := samples.Dir(t, dir)
		ents, err := os.ReadDir(root)
		require.NoError(t, err)
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(root, e.Name()))
			require.NoError(t, err)
			t.Run(dir+"/"+e.Name(), func(t *testing.T) {
				assertSameRecords(t, data)
			})
		}
	}
}

func assertSameRecords(t *testing.T, data []byte) {
	t.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(bytes.Clone(data), '\n')
	}
	got, want := splitAll(data), joinAll(data)
	var g, w []string
	for _, r := range got {
		g = append(g, normRecord(r))
	}
	for _, r := range want {
		if n := normRecord(r); n != "" {
			w = append(w, n)
		}
	}
	for i := 0; i < len(g) || i < len(w); i++ {
		var gi, wi string
		if i < len(g) {
			gi = g[i]
		}
		if i < len(w) {
			wi = w[i]
		}
		if gi != wi {
			t.Fatalf("record %d of %d (Joiner: %d):\n got: %q\nwant: %q", i, len(g), len(w), gi, wi)
		}
	}
}

// FuzzSplitRecords checks that the file input groups any complete input
// into the records noderuntime.Joiner makes.
func FuzzSplitRecords(f *testing.F) {
	for _, s := range []string{
		lineSystemd + "\n" + lineSandbox + "\n",
		wrappedFirst + "\n" + wrappedCont1 + "\n" + wrappedCont2 + "\n\n" + lineSandbox,
		"\n\n\r\n", "a\nb\n\nc", "-- Logs begin at x --\n  cont\n",
		"2025-11-20T09:15:18.4679Z stderr P I1120 09:15:18.467816 1 a.go:1] x\n2025-11-20T09:15:18.4679Z stderr P y\n2025-11-20T09:15:18.4679Z stderr F z\n2025-11-20T09:15:19Z stdout F next\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4<<10 {
			return // large inputs add nothing but slow minimisation
		}
		assertSameRecords(t, data)
	})
}
