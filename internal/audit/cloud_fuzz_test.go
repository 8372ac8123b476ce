// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// seedSamples adds the cloud-audit samples, wrapped as their cloud delivers
// them, when the shared samples are there (fuzzing never fails for want of
// them: the inline seeds are enough to start).
func seedSamples(f *testing.F, sample string, wrap func(variant) []byte) {
	if os.Getenv("PODTRAIL_SAMPLES") == "" {
		if _, err := os.Stat("../../../shared/samples/cloud-audit"); err != nil {
			return
		}
	}
	for _, v := range cloudVariants(f, sample) {
		if b := wrap(v); b != nil {
			f.Add(b)
		}
	}
}

// checkBody is what every decoder must keep: no panic, every accepted event
// has its identity, and its record body decodes to the same event.
func checkBody(t *testing.T, b Body) {
	t.Helper()
	for _, it := range b.Items {
		if it.Err != nil {
			if it.Event != nil {
				t.Fatalf("item with both an event and an error: %v", it.Err)
			}
			continue
		}
		ev := it.Event
		if ev == nil || ev.AuditID == "" || ev.Stage == "" || ev.Verb == "" {
			t.Fatalf("accepted event without identity: %+v", ev)
		}
		back, err := Decode(it.Raw)
		if err != nil {
			t.Fatalf("record body %q does not decode: %v", it.Raw, err)
		}
		if cloudSummary(back) != cloudSummary(ev) {
			t.Fatalf("record body decodes differently:\n%s%s", cloudSummary(back), cloudSummary(ev))
		}
		_, _ = DecodePod(ev.RequestObject)
		_, _ = DecodePod(ev.ResponseObject)
	}
	if b.Skipped < 0 {
		t.Fatal("negative skipped")
	}
}

func FuzzDecodeGKE(f *testing.F) {
	f.Add([]byte(gkeCreate))
	f.Add([]byte(`{"insertId":"x","resource":{"type":"k8s_cluster"},"protoPayload":{"methodName":"io.k8s.get","resourceName":"/healthz","status":{"code":16}},"timestamp":"2024-01-01T00:00:00Z"}`))
	f.Add(pubSubPush([]byte(gkeCreate)))
	seedSamples(f, sampleGKE, func(v variant) []byte { return v.body })
	f.Fuzz(func(t *testing.T, data []byte) {
		if ev, err := DecodeGKE(data); err == nil {
			if ev.AuditID == "" || ev.Verb == "" || ev.Stage == "" {
				t.Fatalf("accepted entry without identity: %+v", ev)
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatalf("event does not marshal: %v", err)
			}
		}
		checkBody(t, DecodeBody(data, FormGKE))
	})
}

func FuzzDecodeEKS(f *testing.F) {
	msg := []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"ResponseComplete","verb":"get","user":{"username":"kubernetes-admin","extra":{"arn":["arn:aws:sts::1:assumed-role/r/s"]}}}`)
	f.Add(cwPayload("kube-apiserver-audit-1", msg))
	f.Add([]byte(cwControl))
	f.Add(firehose(msg))
	f.Add(append([]byte("2021-09-27T08:36:44.021Z "), msg...))
	f.Add([]byte(`{"id":"1","timestamp":1,"message":` + jsonString(string(msg)) + `}`))
	seedSamples(f, sampleEKS, func(v variant) []byte {
		if v.body[0] == 0x1f { // gzip'd: the fuzzer mutates plain payloads better
			return nil
		}
		return v.body
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		items, skipped, err := DecodeEKS(data)
		checkBody(t, Body{Items: items, Skipped: skipped, Err: err})
		checkBody(t, DecodeBody(data, FormEKS))
	})
}

func FuzzDecodeAKS(f *testing.F) {
	inner := []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"ResponseComplete","verb":"get","user":{"username":"aad:6b2f5c1e-1d0a-4a4b-9d0b-2f1f0b7c1a11"}}`)
	f.Add(azRecord(AKSCategoryAudit, inner))
	f.Add(azRecords(azRecord(AKSCategoryAudit, inner), azRecord("guard", []byte("x"))))
	f.Add([]byte(`{"category":"kube-audit","properties":{"log":` + string(inner) + `}}`))
	seedSamples(f, sampleAKS, func(v variant) []byte { return v.body })
	f.Fuzz(func(t *testing.T, data []byte) {
		if raw, ev, err := DecodeAKS(data); err == nil {
			checkBody(t, Body{Items: []Item{{Raw: raw, Event: ev}}})
		}
		checkBody(t, DecodeBody(data, FormAKS))
	})
}

// FuzzDecodeBody runs the form detector and every decoder behind it.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(gkeCreate))
	f.Add([]byte(`{"kind":"EventList","items":[{"auditID":"a","stage":"ResponseComplete","verb":"get"}]}`))
	f.Add([]byte(`{"records":[{"category":"kube-audit","properties":{"log":"{\"auditID\":\"a\",\"stage\":\"ResponseComplete\",\"verb\":\"get\"}"}}]}`))
	f.Add([]byte(`{"requestId":"r","timestamp":1,"records":[{"data":"e30="}]}`))
	f.Add([]byte(`{"awslogs":{"data":"H4sIAAAAAAAA/6tWSs5PSS3KzM/zSc1LL8nPz1GyUkpJTczJyVfSUcrPzy9JLS4GAFoIRN8kAAAA"}}`))
	for _, s := range []string{sampleGKE, sampleEKS, sampleAKS, sampleGDCH} {
		seedSamples(f, s, func(v variant) []byte { return v.body })
	}
	var d Decoder // reused across inputs, as the receiver's are
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, form := range []Form{FormAuto, FormNative} {
			b := DecodeBody(data, form)
			checkBody(t, b)
			if form == FormNative && b.Form != FormNative && b.Err == nil {
				t.Fatalf("native forced, got %s without error", b.Form)
			}
			// The receiver's way: items one by one, native events in
			// d's reused Event. Same items, same body.
			i := 0
			db := d.DecodeBody(data, form, func(f Form, it Item) {
				if i >= len(b.Items) {
					t.Fatalf("item %d: Decoder.DecodeBody %s %#v, DecodeBody has %d items", i, f, it, len(b.Items))
				}
				if f != b.Form || !reflect.DeepEqual(it, b.Items[i]) {
					t.Fatalf("item %d: Decoder.DecodeBody %s %#v, DecodeBody %s %#v", i, f, it, b.Form, b.Items[i])
				}
				i++
			})
			if i != len(b.Items) || db.Form != b.Form || db.Skipped != b.Skipped || (db.Err == nil) != (b.Err == nil) {
				t.Fatalf("Decoder.DecodeBody gave %d items (%+v), DecodeBody %d (%+v)", i, db, len(b.Items), b)
			}
		}
	})
}
