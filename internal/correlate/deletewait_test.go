// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"testing"
	"time"
)

// blinkLines are containerd 2.4.2's lines of the e2e's blink pod (Kubernetes
// v1.33.13, make e2e-matrix): the kubelet ran its sandbox and container
// though the delete had come 3 ms after the sandbox's request, and the
// agent's lines reached the gateway after the delete.
func blinkLines() []string {
	c := "Dec  6 22:24:07 e2e-node-1 containerd[12420]: "
	sb := "28a5c4d2a89417cb883be565052078c8cc775d2648d571f98447ce23bf6ac3b2"
	id := "c3405c29975e9b353d8df7f14406490f8b08f20037b5743d6bb18691eb747042"
	return []string{
		c + `time="2026-12-06T22:24:07.527125942Z" level=info msg="RunPodSandbox for name:\"blink\"  uid:\"` + blinkUID + `\"  namespace:\"kube-system\""`,
		c + `time="2026-12-06T22:24:08.038712288Z" level=info msg="RunPodSandbox for name:\"blink\"  uid:\"` + blinkUID + `\"  namespace:\"kube-system\" returns sandbox id \"` + sb + `\""`,
		c + `time="2026-12-06T22:24:08.059638953Z" level=info msg="CreateContainer within sandbox \"` + sb + `\" for container name:\"blink\""`,
		c + `time="2026-12-06T22:24:08.130044680Z" level=info msg="CreateContainer within sandbox \"` + sb + `\" for name:\"blink\" returns container id \"` + id + `\""`,
		c + `time="2026-12-06T22:24:08.531591908Z" level=info msg="StartContainer for \"` + id + `\" returns successfully"`,
		c + `time="2026-12-06T22:24:08.626162713Z" level=info msg="received container exit event container_id:\"` + id + `\"  id:\"` + id + `\"  pid:24617  exited_at:{seconds:1796595848  nanos:625587962}"`,
	}
}

const blinkUID = "79f3901d-2b16-4965-b5f2-524688cfc1c6"

// TestDeleteWaitsForNode: the record of a pod deleted once bound waits for
// the node's lines still on their way (DigestWait) and has the sandbox and
// container the kubelet ran; one deleted before it was bound goes out at
// once; one whose node never tells goes out when the wait ends, missing
// node.
func TestDeleteWaitsForNode(t *testing.T) {
	at := time.Date(2026, 12, 6, 22, 24, 7, 177000000, time.UTC)
	blink := pod{ns: "kube-system", name: "blink", uid: blinkUID, ctrs: []ctr{{"blink", "docker.io/library/nginx:1.27"}}}
	alice := person("alice@example.com")
	api := decodeAll(t, blink.create("c1", alice, at), blink.binding("b1", "e2e-node-1", at.Add(10*time.Millisecond)),
		blink.deleteEv("d1", alice, at.Add(350*time.Millisecond)))
	node := parseInputs(t, blinkLines())

	t.Run("node lines after the delete", func(t *testing.T) {
		c := New(DefaultConfig())
		recs := run(c, append(append([]input(nil), api...), node...))
		if len(recs) != 1 {
			t.Fatalf("want one record: %s", js(recs))
		}
		r := recs[0]
		if r.DeletedAt.IsZero() || r.Sandbox.ID == "" || len(r.Containers) != 1 || r.Containers[0].ID == "" ||
			r.Containers[0].StartedAt.IsZero() || contains(r.Missing, SourceNode) {
			t.Errorf("want the deleted pod's sandbox and started container: %s", js(r))
		}
		if st := c.Stats(); st.DeleteWaits != 1 || st.Late != 0 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("deleted before it was bound", func(t *testing.T) {
		c := New(DefaultConfig())
		in := decodeAll(t, blink.create("c1", alice, at), blink.deleteEv("d1", alice, at.Add(5*time.Millisecond)))
		now := at
		if recs := c.AddAudit(in[0].audit, now); len(recs) != 0 {
			t.Fatalf("a record before the delete: %s", js(recs))
		}
		recs := c.AddAudit(in[1].audit, now.Add(time.Millisecond))
		if len(recs) != 1 || recs[0].DeletedAt.IsZero() {
			t.Fatalf("want the record at the delete: %s", js(recs))
		}
	})
	t.Run("the node never tells", func(t *testing.T) {
		c := New(DefaultConfig())
		now := at
		for _, in := range api {
			now = now.Add(time.Millisecond)
			if recs := c.AddAudit(in.audit, now); len(recs) != 0 {
				t.Fatalf("a record before the wait ended: %s", js(recs))
			}
		}
		if recs := c.Expire(now.Add(DefaultConfig().DigestWait - time.Millisecond)); len(recs) != 0 {
			t.Fatalf("a record before the wait ended: %s", js(recs))
		}
		recs := c.Expire(now.Add(DefaultConfig().DigestWait))
		if len(recs) != 1 || !contains(recs[0].Missing, SourceNode) || recs[0].Partial != "" {
			t.Fatalf("want the record, missing node, when the wait ends: %s", js(recs))
		}
	})
}
