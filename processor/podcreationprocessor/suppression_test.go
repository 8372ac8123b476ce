// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
)

// TestSuppression: a CI service account making one bare pod after another
// in one namespace, with a rule that fires on each: the first finding goes
// out with its record, the rest are counted, and one summary finding goes
// out when the window ends (podtrail.finding.count, the last pod's
// identity); a person's pods are each reported. Layered rules files
// (rules.files) load too.
func TestSuppression(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { _ = tel.Shutdown(context.Background()) }()
	dir := t.TempDir()
	rulesFile, layer := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "local.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - id: ANY\n    severity: low\n    condition: pod.allowed\n"), 0o600))
	require.NoError(t, os.WriteFile(layer, []byte("rules:\n  - id: ANY\n    severity: medium\n    override: {severity: replace}\n"), 0o600))
	cfg := withRules(rulesFile, filepath.Join(packDir, "inventory.yaml"))
	cfg.Rules.Files = []string{layer}
	cfg.Rules.Suppression.Window = 600 * time.Millisecond
	p, sink := newTestProcessor(t, cfg, tel)
	ctx := context.Background()
	ci := map[string]any{"username": "system:serviceaccount:ci:runner", "groups": []string{"system:serviceaccounts"}}
	alice := map[string]any{"username": "alice@example.com", "groups": []string{"system:authenticated"}}
	for i := 0; i < 5; i++ {
		require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent(fmt.Sprintf("a-%d", i), "build", fmt.Sprintf("job-%d", i),
			fmt.Sprintf("uid-a-%d", i), ci, "alpine:3.20"), nil)))
		require.NoError(t, p.ConsumeLogs(ctx, auditLog(t, createEvent(fmt.Sprintf("b-%d", i), "build", fmt.Sprintf("debug-%d", i),
			fmt.Sprintf("uid-b-%d", i), alice, "alpine:3.20"), nil)))
	}
	findings := func() []plog.LogRecord { return byEvent(sink, attr.EventFinding) }
	of := func(fs []plog.LogRecord, prefix string) (out []plog.LogRecord) {
		for _, f := range fs {
			if n := str(f, attr.K8sPodName); len(n) > len(prefix) && n[:len(prefix)] == prefix {
				out = append(out, f)
			}
		}
		return out
	}
	require.Len(t, byEvent(sink, attr.EventPodCreation), 10)
	assert.Len(t, of(findings(), "job-"), 1, "the CI pods: the first finding only, for now")
	assert.Len(t, of(findings(), "debug-"), 5, "a person's pods: every one")
	assert.Equal(t, "MEDIUM", findings()[0].SeverityText(), "the layer's severity")
	require.Eventually(t, func() bool { return len(of(findings(), "job-")) == 2 }, 5*time.Second, 50*time.Millisecond,
		"the summary at the end of the window")
	summary := of(findings(), "job-")[1]
	v, ok := summary.Attributes().Get("podtrail.finding.count")
	assert.True(t, ok)
	assert.Equal(t, int64(4), v.Int(), "four findings kept back")
	assert.Equal(t, "job-4", str(summary, attr.K8sPodName), "the last pod kept back")
	assert.NotEmpty(t, str(summary, "podtrail.finding.first_seen"))
	assert.Contains(t, summary.Body().Str(), " count=4 since=")
	assert.Equal(t, int64(4), sum(t, tel, "otelcol_pod_creation_findings_suppressed"))
}
