// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/podtrail/podtrail/internal/samples"
)

// sampleEvents is every native audit event of the shared samples: the
// lines and EventList items of k8s-audit and k8s-audit-live.
func sampleEvents(tb testing.TB) (events [][]byte, files []string) {
	tb.Helper()
	for _, sub := range []string{"k8s-audit", filepath.Join("k8s-audit-live", "levels")} {
		dir := samples.Dir(tb, sub)
		entries, err := os.ReadDir(dir)
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range entries {
			if filepath.Ext(e.Name()) == ".md" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				tb.Fatal(err)
			}
			for _, rec := range records(data) {
				items, err := SplitBody(rec)
				if err != nil {
					continue
				}
				for _, it := range items {
					events = append(events, it)
					files = append(files, e.Name())
				}
			}
		}
	}
	return events, files
}

// checkFast fails t when decodeFast accepts data but decodes it otherwise
// than goccy, and reports whether it accepted it.
func checkFast(t *testing.T, data []byte) bool {
	t.Helper()
	var fast, slow Event
	if !decodeFast(data, &fast, nil) {
		return false
	}
	if err := unmarshal(data, &slow); err != nil {
		t.Fatalf("decodeFast accepted what goccy refuses (%v): %q", err, data)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decodeFast and goccy differ on %q:\nfast %#v\ngoccy %#v", data, fast, slow)
	}
	return true
}

// TestDecodeFastSamples holds decodeFast to goccy on every sample event,
// and to reading every event of the live v1.33 capture itself (no fallback
// on the apiserver's own output).
func TestDecodeFastSamples(t *testing.T) {
	events, files := sampleEvents(t)
	fell := map[string]int{}
	var d Decoder
	for i, ev := range events {
		if !checkFast(t, ev) {
			fell[files[i]]++
		}
		checkDecoder(t, &d, ev)
	}
	for _, f := range []string{"audit.log", "webhook-bodies.jsonl"} {
		if fell[f] > 0 {
			t.Errorf("%d events of the live capture's %s were left to goccy", fell[f], f)
		}
	}
	t.Logf("%d sample events; left to goccy: %v", len(events), fell)
}

func TestDecodeFastCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		fast bool
	}{
		{"minimal", `{"auditID":"a","stage":"ResponseComplete","verb":"get"}`, true},
		{"escapes", `{"auditID":"a","stage":"s","verb":"v","annotations":{"authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"x\" \u00e9 \ud83d\ude00 \/ \n"}}`, true},
		{"empty arrays and maps", `{"auditID":"a","stage":"s","verb":"v","sourceIPs":[],"user":{"groups":[],"extra":{}},"annotations":{}}`, true},
		{"unknown keys skipped", `{"auditID":"a","stage":"s","verb":"v","x":[1,-2.5e+3,true,false,null,{"y":[]}],"responseStatus":{"metadata":{},"code":201}}`, true},
		{"raw objects", `{"auditID":"a","stage":"s","verb":"v","requestObject": {"kind":"Pod"} ,"responseObject":[1]}`, true},
		{"non-ASCII", `{"auditID":"a","stage":"s","verb":"v","userAgent":"kubectl/v1.33 (linux) ünïcode"}`, true},
		{"key in another case", `{"auditID":"a","Stage":"s","verb":"v"}`, false},
		{"key twice", `{"auditID":"a","stage":"s","stage":"t","verb":"v"}`, false},
		{"null", `{"auditID":"a","stage":"s","verb":"v","objectRef":null}`, false},
		{"null raw", `{"auditID":"a","stage":"s","verb":"v","requestObject":null}`, false},
		{"escaped key", `{"audit\u0049D":"a","stage":"s","verb":"v"}`, false},
		{"code not an int32", `{"auditID":"a","stage":"s","verb":"v","responseStatus":{"code":2.5}}`, false},
		{"lone surrogate", `{"auditID":"a","stage":"s","verb":"v","userAgent":"\ud83d"}`, false},
		{"invalid UTF-8, as goccy keeps it", "{\"auditID\":\"a\",\"stage\":\"s\",\"verb\":\"v\",\"userAgent\":\"\xff\\n\",\"x\":\"\xfe\"}", true},
		{"control characters, as goccy keeps them", "{\"auditID\":\"a\tb\",\"stage\":\"s\",\"verb\":\"v\",\"x\":\"\x01\"}", true},
		{"trailing data", `{"auditID":"a","stage":"s","verb":"v"} x`, false},
		{"cut", `{"auditID":"a","stage":"s","verb":"v"`, false},
		{"cloud principal", `{"auditID":"a","stage":"s","verb":"v","cloudPrincipal":{"provider":"aws","id":"x"}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkFast(t, []byte(tc.in)); got != tc.fast {
				t.Fatalf("decodeFast took it: %v, want %v", got, tc.fast)
			}
		})
	}
}

// FuzzDecodeFast: whenever decodeFast accepts an input, goccy decodes the
// same event from it.
func FuzzDecodeFast(f *testing.F) {
	events, _ := sampleEvents(f)
	for _, ev := range events {
		f.Add(ev)
	}
	f.Add([]byte(`{"auditID":"a","stage":"s","verb":"v","user":{"username":"u","extra":{"k":["v"]}},"timestamp":"2018-10-25T14:09:12Z"}`))
	var d Decoder // reused across inputs, as the receiver reuses it
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFast(t, data)
		checkDecoder(t, &d, data)
	})
}

// checkDecoder fails t when d, reused, decodes data otherwise than
// DecodeShared.
func checkDecoder(t *testing.T, d *Decoder, data []byte) {
	t.Helper()
	want, wantErr := DecodeShared(data)
	got, err := d.Decode(data)
	if (err == nil) != (wantErr == nil) || (err == nil && !reflect.DeepEqual(got, want)) {
		t.Fatalf("Decoder and DecodeShared differ on %q:\nDecoder %#v (%v)\nDecodeShared %#v (%v)", data, got, err, want, wantErr)
	}
}

func BenchmarkDecodeFast(b *testing.B) {
	lines := records(samples.Read(b, "k8s-audit-live", "levels", "audit.log"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			var ev Event
			if !decodeFast(l, &ev, nil) {
				b.Fatal("left to goccy")
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
}

func TestParseUTC(t *testing.T) {
	for _, s := range []string{"2025-07-01T10:00:00Z", "2025-07-01T10:00:00.1Z", "2025-07-01T10:00:00.123456Z",
		"2025-07-01T10:00:00.123456789Z", "2024-02-29T23:59:59.999999999Z", "2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z",
		"2025-07-01T24:00:00Z", "2025-07-01T10:00:60Z", "2025-07-01T10:00:00.Z", "2025-07-01T10:00:00.1234567890Z",
		"2025-07-01T10:00:00+02:00", "2025-07-01t10:00:00Z", "0000-01-01T00:00:00Z", "2025-07-01T10:00:0aZ"} {
		var want time.Time
		wantErr := want.UnmarshalJSON([]byte(`"` + s + `"`))
		got, ok := parseUTC([]byte(s))
		if ok && (wantErr != nil || !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: parseUTC %v, time.Parse %v (%v)", s, got, want, wantErr)
		}
	}
}
