// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// Lines as journalctl 252 printed them for entries built from the samples
// (containerd/repo-VijayRod-demo-k8s-pod_container_multiple-sandbox.log) and
// for a message that is not valid UTF-8.
const (
	lineContainerd = `{"_SYSTEMD_UNIT":"containerd.service","MESSAGE":"time=\"2024-11-29T18:33:25.940422419Z\" level=info msg=\"RunPodSandbox for &PodSandboxMetadata{Name:multiple,Uid:ecf6beca-4e57-4562-8f89-b6e72312b3fd,Namespace:default,Attempt:0,} returns sandbox id \\\"9782e0cf6742898144c14978eabdbed4af963d2f8eb9d857d4832d98986cf361\\\"\"","SYSLOG_IDENTIFIER":"containerd","__CURSOR":"s=41265c37a56e4de1bff7162bbef76d26;i=1;b=a1ac0b1141674ec4ac6b2dfc2c1baa33;m=3e8;t=628116f3ac0c6;x=3c9d17bd62b82dbd","_BOOT_ID":"a1ac0b1141674ec4ac6b2dfc2c1baa33","_HOSTNAME":"aks-nodepool1-23707431-vmss000000","__REALTIME_TIMESTAMP":"1732905205940422","__MONOTONIC_TIMESTAMP":"1000"}`
	lineBinary     = `{"_BOOT_ID":"a1ac0b1141674ec4ac6b2dfc2c1baa33","__CURSOR":"s=4c7c92cf4b9d4c438f7163d39a24e8bc;i=1;b=a1ac0b1141674ec4ac6b2dfc2c1baa33;m=fa0;t=628116f5a2e00;x=9735c1c9328a38f","MESSAGE":[116,105,109,101,61,34,50,48,50,52,34,32,109,115,103,61,34,99,97,102,233,34],"_HOSTNAME":"aks-node-1","__MONOTONIC_TIMESTAMP":"4000","SYSLOG_IDENTIFIER":"containerd","__REALTIME_TIMESTAMP":"1732905208000000"}`
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    map[int]string // fields present, with values
		realtme int64          // µs; 0 = absent
		err     error
	}{
		{
			name: "containerd entry",
			line: lineContainerd,
			want: map[int]string{
				FieldMessage:  `time="2024-11-29T18:33:25.940422419Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:multiple,Uid:ecf6beca-4e57-4562-8f89-b6e72312b3fd,Namespace:default,Attempt:0,} returns sandbox id \"9782e0cf6742898144c14978eabdbed4af963d2f8eb9d857d4832d98986cf361\""`,
				FieldIdent:    "containerd",
				FieldUnit:     "containerd.service",
				FieldHostname: "aks-nodepool1-23707431-vmss000000",
				FieldCursor:   "s=41265c37a56e4de1bff7162bbef76d26;i=1;b=a1ac0b1141674ec4ac6b2dfc2c1baa33;m=3e8;t=628116f3ac0c6;x=3c9d17bd62b82dbd",
				FieldRealtime: "1732905205940422",
			},
			realtme: 1732905205940422,
		},
		{
			name: "binary message as byte array",
			line: lineBinary,
			want: map[int]string{
				FieldMessage:  "time=\"2024\" msg=\"caf\xe9\"",
				FieldIdent:    "containerd",
				FieldHostname: "aks-node-1",
				FieldCursor:   "s=4c7c92cf4b9d4c438f7163d39a24e8bc;i=1;b=a1ac0b1141674ec4ac6b2dfc2c1baa33;m=fa0;t=628116f5a2e00;x=9735c1c9328a38f",
				FieldRealtime: "1732905208000000",
			},
			realtme: 1732905208000000,
		},
		{
			name: "repeated field: first value",
			line: `{"MESSAGE":["first",[104,105]],"_COMM":[[107,117,98,101,108,101,116],"x"],"__CURSOR":"c"}`,
			want: map[int]string{FieldMessage: "first", FieldComm: "kubelet", FieldCursor: "c"},
		},
		{
			name: "null (field too large without --all) is absent",
			line: `{"MESSAGE":null,"SYSLOG_IDENTIFIER":"kubelet"}`,
			want: map[int]string{FieldIdent: "kubelet"},
		},
		{
			name: "escapes and unicode",
			line: `{"MESSAGE":"a\tb\\c\u00e9\ud83d\ude00 \ud800x","_HOSTNAME":"n\u00f6de"}`,
			want: map[int]string{FieldMessage: "a\tb\\cé😀 \uFFFDx", FieldHostname: "nöde"},
		},
		{
			name: "escaped key",
			line: `{"\u004dESSAGE":"m"}`,
			want: map[int]string{FieldMessage: "m"},
		},
		{
			name: "duplicate key: last wins",
			line: `{"MESSAGE":"a","MESSAGE":"b"}`,
			want: map[int]string{FieldMessage: "b"},
		},
		{
			name: "unknown fields of every kind are skipped",
			line: ` {"A":{"b":[1,{"c":null}],"d":-1.5e+3},"B":true,"C":false,"D":[],"MESSAGE":"m"} `,
			want: map[int]string{FieldMessage: "m"},
		},
		{name: "empty object", line: `{}`, want: map[int]string{}},
		{name: "bad realtime", line: `{"__REALTIME_TIMESTAMP":"12a"}`, want: map[int]string{FieldRealtime: "12a"}},
		{name: "truncated", line: lineContainerd[:200], err: ErrSyntax},
		{name: "not json", line: `-- No entries --`, err: ErrSyntax},
		{name: "array", line: `[1,2]`, err: ErrNotObject},
		{name: "trailing garbage", line: `{"MESSAGE":"m"} x`, err: ErrSyntax},
		{name: "control character in string", line: "{\"MESSAGE\":\"a\x01\"}", err: ErrSyntax},
		{name: "bad escape", line: `{"MESSAGE":"\x"}`, err: ErrSyntax},
		{name: "empty", line: ``, err: ErrSyntax},
	}
	var e Entry
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Decode([]byte(tt.line))
			if tt.err != nil {
				if err != tt.err {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			for f := range nFields {
				v, ok := e.Get(f)
				w, want := tt.want[f]
				if ok != want || string(v) != w {
					t.Errorf("%s = %q (%v), want %q (%v)", FieldNames[f], v, ok, w, want)
				}
			}
			rt, ok := e.Realtime()
			if tt.realtme == 0 {
				if ok {
					t.Errorf("Realtime = %v, want none", rt)
				}
			} else if !ok || !rt.Equal(time.UnixMicro(tt.realtme)) {
				t.Errorf("Realtime = %v %v, want %v", rt, ok, time.UnixMicro(tt.realtme))
			}
		})
	}
}

func TestDecodeAllocations(t *testing.T) {
	var e Entry
	lines := [][]byte{[]byte(lineContainerd), []byte(lineBinary)}
	for _, l := range lines {
		if err := e.Decode(l); err != nil {
			t.Fatal(err)
		}
	}
	n := testing.AllocsPerRun(100, func() {
		for _, l := range lines {
			_ = e.Decode(l)
		}
	})
	if n != 0 {
		t.Errorf("%v allocs per decode, want 0", n)
	}
}

var digitsRE = regexp.MustCompile(`^[0-9]+$`)

// oracleValue applies Decode's value rules to a value encoding/json parsed.
func oracleValue(t *testing.T, raw json.RawMessage, nested bool) (string, bool) {
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("oracle: %v", err)
		}
		return s, true
	case 'n', '{':
		return "", false
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			t.Fatalf("oracle: %v", err)
		}
		if len(elems) == 0 {
			return "", true
		}
		var out []byte
		for _, el := range elems {
			el = bytes.TrimSpace(el)
			n, err := strconv.Atoi(string(el))
			if !digitsRE.Match(el) || err != nil || n > 255 || (len(el) > 1 && el[0] == '0') {
				out = nil
				if nested {
					return "", false
				}
				return oracleValue(t, elems[0], true)
			}
			out = append(out, byte(n))
		}
		return string(out), true
	}
	return string(raw), true // number, true, false
}

// FuzzDecode compares Decode with encoding/json: both accept the same
// lines, and the kept fields have the values Decode's rules give the values
// encoding/json parsed.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		lineContainerd, lineBinary, `{}`, `{"MESSAGE":["a",[1,2]]}`, `{"MESSAGE":[1,"x"]}`, `{"MESSAGE":[[1,2],3]}`,
		`{"MESSAGE":"\ud83d\ude00\ud800"}`, `{"\u004dESSAGE":1e5}`, `{"_COMM":[01]}`, `{"MESSAGE":[-0]}`, `[1]`, `"x"`,
		`{"A":[{"b":{}}],"MESSAGE":true}`, "{\"MESSAGE\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Entry
		err := e.Decode(line)
		var m map[string]json.RawMessage
		stdErr := json.Unmarshal(line, &m)
		var typeErr *json.UnmarshalTypeError
		if stdErr != nil && !asTypeError(stdErr, &typeErr) {
			if err == nil {
				t.Fatalf("Decode accepted what encoding/json rejects (%v): %q", stdErr, line)
			}
			return
		}
		if typeErr != nil || m == nil { // valid JSON, not an object (or null)
			if err == nil && !bytes.Equal(bytes.TrimSpace(line), []byte("null")) {
				t.Fatalf("Decode accepted a non-object: %q", line)
			}
			return
		}
		if err != nil {
			t.Fatalf("Decode: %v; encoding/json accepts %q", err, line)
		}
		for f, name := range FieldNames {
			got, gotOK := e.Get(f)
			raw, present := m[name]
			want, wantOK := "", false
			if present {
				want, wantOK = oracleValue(t, raw, false)
			}
			if gotOK != wantOK || string(got) != want {
				t.Fatalf("%s = %q (%v), encoding/json gives %q (%v); line %q", name, got, gotOK, want, wantOK, line)
			}
		}
	})
}

func asTypeError(err error, target **json.UnmarshalTypeError) bool {
	te, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = te
	}
	return ok
}

func BenchmarkDecode(b *testing.B) {
	var e Entry
	line := []byte(lineContainerd)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Decode(line); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkDecodeEncodingJSON is the same line through encoding/json into a
// map, for comparison.
func BenchmarkDecodeEncodingJSON(b *testing.B) {
	line := []byte(lineContainerd)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
