// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/podtrail/podtrail/internal/samples"
)

// readAll reads every item of body through a ListReader fed by wrap(r).
func readAll(body []byte, list bool, maxItem int, wrap func(io.Reader) io.Reader) (items []ListItem, err error) {
	lr := NewListReader(wrap(bytes.NewReader(body)), list, maxItem)
	for {
		it, err := lr.Next()
		if err == io.EOF {
			return items, nil
		}
		if err != nil {
			return items, err
		}
		if !it.Oversize {
			it.Raw = bytes.Clone(it.Raw)
		}
		items = append(items, it)
	}
}

var readers = map[string]func(io.Reader) io.Reader{
	"whole":    func(r io.Reader) io.Reader { return r },
	"one byte": iotest.OneByteReader,
	"halves":   iotest.HalfReader,
	"data+EOF": iotest.DataErrReader,
}

// TestListReaderSamples: every webhook body of the live capture, read
// item by item in pieces of any size, gives SplitBody's items.
func TestListReaderSamples(t *testing.T) {
	data := samples.Read(t, "k8s-audit-live", "levels", "webhook-bodies.jsonl")
	bodies := records(data)
	if len(bodies) == 0 {
		t.Fatal("no webhook bodies")
	}
	bodies = append(bodies, []byte(eventListOf(bigPodCreate(100_000), bigPodCreate(10))))
	for name, wrap := range readers {
		for i, body := range bodies {
			want, err := SplitBody(body)
			if err != nil {
				t.Fatalf("body %d: %v", i, err)
			}
			got, err := readAll(body, true, 1<<20, wrap)
			if err != nil {
				t.Fatalf("%s, body %d: %v", name, i, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s, body %d: %d items, want %d", name, i, len(got), len(want))
			}
			for j := range want {
				if !bytes.Equal(got[j].Raw, want[j]) {
					t.Fatalf("%s, body %d item %d differs", name, i, j)
				}
			}
		}
	}
}

func eventListOf(items ...[]byte) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = string(it)
	}
	return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(s, ",") + `]}`
}

func TestListReaderCases(t *testing.T) {
	small := `{"auditID":"a","stage":"ResponseComplete","verb":"get"}`
	tests := []struct {
		name  string
		body  string
		list  bool
		items []string
		err   error // errors.Is; nil: none
		msg   string
	}{
		{name: "list", body: eventListOf([]byte(small), []byte(small)), list: true, items: []string{small, small}},
		{name: "spaces everywhere", body: " {\n\"kind\" : \"EventList\" ,\"items\" : [ " + small + " ,\n" + small + " ] , \"metadata\" : { } }\n", list: true, items: []string{small, small}},
		{name: "items first", body: `{"items":[` + small + `],"kind":"EventList"}`, list: true, items: []string{small}},
		{name: "empty list", body: `{"kind":"EventList","items":[]}`, list: true},
		{name: "no items", body: `{"kind":"EventList"}`, list: true},
		{name: "null items", body: `{"kind":"EventList","items":null}`, list: true},
		{name: "scalars and strings", body: `{"items":[42,"x\"]",true,null,{"a":"}"}]}`, list: true, items: []string{"42", `"x\"]"`, "true", "null", `{"a":"}"}`}},
		{name: "wrong kind", body: `{"kind":"PodList","items":[]}`, list: true, err: ErrNotAuditEvent},
		{name: "wrong kind after items", body: `{"items":[` + small + `],"kind":"PodList"}`, list: true, items: []string{small}, err: ErrNotAuditEvent},
		{name: "items not an array", body: `{"kind":"EventList","items":{}}`, list: true, err: ErrNotAuditEvent},
		{name: "not an object", body: `[1]`, list: true, err: ErrNotAuditEvent},
		{name: "cut in an item", body: eventListOf([]byte(small), []byte(small))[:len(eventListOf())-2+len(small)+10], list: true, items: []string{small}, err: ErrTruncated},
		{name: "cut in an escape", body: `{"items":[` + small + `,{"a":"\`, list: true, items: []string{small}, err: ErrTruncated},
		{name: "cut before the close", body: `{"items":[` + small + `]`, list: true, items: []string{small}, err: ErrTruncated},
		{name: "data after the list", body: `{"items":[]} {}`, list: true, msg: "data after"},
		{name: "a close for an item", body: `{"kind":"EventList","items":[}`, list: true, msg: "invalid JSON"},
		{name: "missing comma", body: `{"items":[` + small + small + `]}`, list: true, items: []string{small}, msg: "unexpected"},
		{name: "single event", body: "\n" + small + "\n", items: []string{small}},
		{name: "single event cut", body: small[:20], msg: "invalid audit event JSON"},
	}
	for _, tt := range tests {
		for name, wrap := range readers {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				got, err := readAll([]byte(tt.body), tt.list, 1<<20, wrap)
				switch {
				case tt.err != nil && !errors.Is(err, tt.err):
					t.Fatalf("err = %v, want %v", err, tt.err)
				case tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)):
					t.Fatalf("err = %v, want %q", err, tt.msg)
				case tt.err == nil && tt.msg == "" && err != nil:
					t.Fatalf("err = %v", err)
				}
				if len(got) != len(tt.items) {
					t.Fatalf("%d items, want %d: %v", len(got), len(tt.items), got)
				}
				for i := range got {
					if string(got[i].Raw) != tt.items[i] {
						t.Errorf("item %d = %s, want %s", i, got[i].Raw, tt.items[i])
					}
				}
			})
		}
	}
}

// TestListReaderOversize: an item over the limit is skipped with its
// beginning, end and size, what Salvage needs; the items around it are
// read as they are, and memory stays near the limit.
func TestListReaderOversize(t *testing.T) {
	big := bigPodCreate(3 << 20)
	small := bigPodCreate(10)
	body := []byte(eventListOf(small, big, small))
	const limit = 1 << 20
	for name, wrap := range readers {
		if name == "one byte" {
			continue // 6 MiB one byte at a time is slow, and no different
		}
		t.Run(name, func(t *testing.T) {
			got, err := readAll(body, true, limit, wrap)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || !bytes.Equal(got[0].Raw, small) || !bytes.Equal(got[2].Raw, small) {
				t.Fatalf("items around the big one: %d", len(got))
			}
			o := got[1]
			if !o.Oversize || o.Raw != nil {
				t.Fatalf("not oversize: %+v", o.Size)
			}
			if o.Size != int64(len(big)) {
				t.Errorf("Size = %d, want %d", o.Size, len(big))
			}
			if !bytes.Equal(o.Head, big[:limit]) {
				t.Errorf("Head is not the item's first %d bytes", limit)
			}
			if len(o.Tail) < DefaultTailSize || !bytes.HasSuffix(big, o.Tail) {
				t.Errorf("Tail (%d bytes) is not the item's end", len(o.Tail))
			}
			s, err := Salvage(o.Head, o.Tail)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := Decode(s.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if ev.AuditID == "" || ev.StageTimestamp.IsZero() || ev.Decision() != "allow" {
				t.Errorf("salvage lacks identity, time or decision: %s", s.Raw)
			}
		})
	}
	// A single event over the limit.
	got, err := readAll(big, false, limit, readers["whole"])
	if err != nil || len(got) != 1 || !got[0].Oversize {
		t.Fatalf("single oversize event: %v %d", err, len(got))
	}
}

func FuzzListReader(f *testing.F) {
	small := `{"auditID":"a","stage":"ResponseComplete","verb":"get"}`
	f.Add([]byte(eventListOf([]byte(small), []byte(small))), uint16(100), uint8(3))
	f.Add([]byte(`{"items":[1,"a\"",{"b":[]}],"kind":"EventList"}`), uint16(5), uint8(1))
	f.Add(bigPodCreate(300), uint16(200), uint8(7))
	f.Fuzz(func(t *testing.T, body []byte, limit uint16, chunk uint8) {
		wrap := func(r io.Reader) io.Reader { return &chunkReader{r: r, n: int(chunk)%64 + 1} }
		for _, list := range []bool{true, false} {
			got, err := readAll(body, list, int(limit)+1, wrap)
			for _, it := range got {
				if it.Oversize && (len(it.Head) != int(limit)+1 || it.Size <= int64(limit)+1) {
					t.Fatalf("oversize item: head %d, size %d, limit %d", len(it.Head), it.Size, limit+1)
				}
			}
			if !list {
				continue
			}
			// Where SplitBody takes the body and no item is over the
			// limit, the items are SplitBody's.
			want, werr := SplitBody(body)
			if env, _ := detect(bytes.TrimSpace(body)); werr != nil || err != nil || env != EnvelopeEventList {
				continue
			}
			if len(got) != len(want) {
				t.Fatalf("%d items, SplitBody %d", len(got), len(want))
			}
			for i := range want {
				if !got[i].Oversize && !bytes.Equal(got[i].Raw, want[i]) {
					t.Fatalf("item %d = %q, SplitBody %q", i, got[i].Raw, want[i])
				}
			}
		}
	})
}

// chunkReader returns at most n bytes a read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// BenchmarkListReader splits a 1,000-item EventList of pod creates; SetBytes
// gives the throughput (SplitBody, encoding/json's tokenizer, beside it).
func BenchmarkListReader(b *testing.B) {
	items := make([][]byte, 1000)
	for i := range items {
		items[i] = bigPodCreate(1000)
	}
	body := []byte(eventListOf(items...))
	b.Run("ListReader", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			lr := NewListReader(bytes.NewReader(body), true, 16<<20)
			for {
				if _, err := lr.Next(); err != nil {
					break
				}
			}
		}
	})
	b.Run("SplitBody", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = SplitBody(body)
		}
	})
}
