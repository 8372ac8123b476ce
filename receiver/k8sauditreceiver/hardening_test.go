package k8sauditreceiver

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// TestWebhookInvalidUTF8: bytes that are not UTF-8 in a posted event (a
// user agent, an object name) never reach a record: body and attributes
// carry U+FFFD in their place (one per run of bad bytes), as the file input makes them.
func TestWebhookInvalidUTF8(t *testing.T) {
	bad := strings.Replace(evA, `"userAgent":"kubectl/`, "\"userAgent\":\"kube\xff\xfectl/", 1)
	bad = strings.Replace(bad, `"name":"web"`, "\"name\":\"w\xc3eb\"", 1)
	require.False(t, utf8.ValidString(bad))
	for name, body := range map[string]string{"list": eventList(bad, evB), "single": bad} {
		t.Run(name, func(t *testing.T) {
			h := startWebhook(t, new(consumertest.LogsSink))
			resp, answer := h.post(t, body)
			require.Equal(t, 200, resp.StatusCode, answer)
			recs := allRecords(h.sink)
			require.NotEmpty(t, recs)
			for _, lr := range recs {
				assert.True(t, utf8.ValidString(lr.Body().Str()), "body: %q", lr.Body().Str())
				lr.Attributes().Range(func(k string, v pcommon.Value) bool {
					assert.True(t, utf8.ValidString(v.AsString()), "%s: %q", k, v.AsString())
					return true
				})
			}
			lr := recs[0]
			assert.Contains(t, lr.Body().Str(), "kube\uFFFDctl/")
			assert.Equal(t, "w\uFFFDeb", attrStr(lr, "k8s.pod.name"))
		})
	}
}
