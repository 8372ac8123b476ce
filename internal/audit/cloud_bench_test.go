// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"testing"
)

func benchBody(b *testing.B, body []byte, form Form, want int) {
	b.Helper()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := DecodeBody(body, form)
		if r.Err != nil || len(r.Items) != want {
			b.Fatalf("err %v items %d", r.Err, len(r.Items))
		}
	}
	b.ReportMetric(float64(b.N*want)/b.Elapsed().Seconds(), "events/s")
}

// eksSampleMessages is the EKS sample event 50 times over, as one
// subscription delivery carries many.
func eksSampleMessages(b *testing.B) [][]byte {
	msg := sampleLines(b, sampleEKS)[0]
	msgs := make([][]byte, 50)
	for i := range msgs {
		msgs[i] = msg
	}
	return msgs
}

func BenchmarkDecodeGKE(b *testing.B) {
	entry := gkeEntryJSON(b)
	b.Run("log_entry", func(b *testing.B) { benchBody(b, entry, FormAuto, 1) })
	b.Run("pubsub_push", func(b *testing.B) { benchBody(b, pubSubPush(entry), FormAuto, 1) })
}

func BenchmarkDecodeEKS(b *testing.B) {
	msgs := eksSampleMessages(b)
	payload := cwPayload("kube-apiserver-audit-1", msgs...)
	b.Run("awslogs_50", func(b *testing.B) { benchBody(b, awsLogs(b, payload), FormAuto, 50) })
	b.Run("firehose_50", func(b *testing.B) { benchBody(b, firehose(gzipBytes(b, payload)), FormAuto, 50) })
	b.Run("export_line", func(b *testing.B) {
		benchBody(b, append([]byte("2021-09-27T08:36:44.021Z "), msgs[0]...), FormAuto, 1)
	})
}

func BenchmarkDecodeAKS(b *testing.B) {
	lines := sampleLines(b, sampleAKS)
	var recs [][]byte
	for i := 0; i < 25; i++ {
		for _, l := range lines {
			recs = append(recs, azRecord(AKSCategoryAudit, l))
		}
	}
	b.Run("records_50", func(b *testing.B) { benchBody(b, azRecords(recs...), FormAuto, 50) })
	b.Run("record_line", func(b *testing.B) { benchBody(b, recs[1], FormAuto, 1) })
}

// BenchmarkDecodeNativeViaBody is the native path through DecodeBody, to
// compare with the cloud forms (and with SplitBody + Decode).
func BenchmarkDecodeNativeViaBody(b *testing.B) {
	msg := sampleLines(b, sampleEKS)[0]
	b.Run("event", func(b *testing.B) { benchBody(b, msg, FormAuto, 1) })
}

func BenchmarkDetectForm(b *testing.B) {
	entry := gkeEntryJSON(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if DetectForm(entry) != FormGKE {
			b.Fatal("not gke")
		}
	}
}
