// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"bytes"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/audit"
	"github.com/podtrail/podtrail/internal/samples"
)

// TestAttributeCountBoundsAttributes: appendEvent sizes the attribute map
// once; no event of the live capture (three audit levels) or the cloud
// samples needs more.
func TestAttributeCountBoundsAttributes(t *testing.T) {
	var lines [][]byte
	for _, f := range [][]string{{"k8s-audit-live", "levels", "audit.log"}, {"cloud-audit", "repo-overdrive3000-go-lambda-eks-logs-README-eks-audit.log"},
		{"cloud-audit", "repo-denniszielke-container_demos-Security_RBAC-aks-audit.log"}} {
		lines = append(lines, bytes.Split(bytes.TrimSpace(samples.Read(t, f...)), []byte("\n"))...)
	}
	lrs := plog.NewLogRecordSlice()
	n := 0
	for _, l := range lines {
		b := audit.DecodeBody(l, audit.FormAuto)
		for _, it := range b.Items {
			if it.Err != nil {
				continue
			}
			appendEvent(lrs, it.Raw, it.Event, b.Form, 0)
			if got, bound := lrs.At(lrs.Len()-1).Attributes().Len(), attributeCount(it.Event); got > bound {
				t.Errorf("%s: %d attributes, attributeCount says %d", it.Event.AuditID, got, bound)
			}
			n++
		}
	}
	if n < 1000 {
		t.Fatalf("only %d events", n)
	}
}
