// SPDX-License-Identifier: Apache-2.0

package cefexporter

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/cef"
	"github.com/podtrail/podtrail/exporter/cefexporter/internal/cef/ceftest"
	"github.com/podtrail/podtrail/exporter/cefexporter/internal/metadata"
)

// loadDemo reads testdata/demo-records.json: what `make run` exported (the
// file exporter's OTLP JSON, one plog.Logs a line), 12 records and 24
// findings, plus one record whose values need every escape.
func loadDemo(t testing.TB) plog.Logs {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "demo-records.json"))
	require.NoError(t, err)
	defer f.Close()
	out := plog.NewLogs()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	var u plog.JSONUnmarshaler
	for sc.Scan() {
		ld, err := u.UnmarshalLogs(sc.Bytes())
		require.NoError(t, err)
		ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 36, out.LogRecordCount())
	appendNasty(out)
	return out
}

// appendNasty adds a finding whose values hold every character CEF, LEEF
// and syslog framing treat specially.
func appendNasty(ld plog.Logs) {
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(cef.EventFinding)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 11, 20, 9, 30, 0, 123e6, time.UTC)))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.Body().SetStr("finding HIGH PT-9999 a|b\\c=d\nline two\r\ttab ^caret 12 octets é")
	a := lr.Attributes()
	a.PutStr("podtrail.audit.id", `id=1\2|3`)
	a.PutStr("k8s.namespace.name", "ns|x")
	a.PutStr("k8s.pod.name", "pod=x y")
	a.PutStr("user.name", "CN=Jane Doe,OU=ops\\eu")
	a.PutStr("client.address", "2001:db8::7")
	a.PutStr("user_agent.original", "curl/8.5.0\r\n<13>1 fake syslog header")
	a.PutStr("podtrail.channel", "tab\there")
	a.PutStr("podtrail.rule.id", "PT-9999")
	a.PutStr("podtrail.rule.title", "Title with | pipe, \\ backslash = equals")
	a.PutStr("podtrail.rule.severity", "high")
	m := a.PutEmptySlice("podtrail.rule.mitre")
	m.AppendEmpty().SetStr("T1=1")
	m.AppendEmpty().SetStr("T2^2")
	a.PutStr("podtrail.finding.owner", "Job/a=b")
	a.PutStr("podtrail.finding.images", "img:1,img:2")
}

func records(ld plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				out = append(out, lr)
			}
		}
	}
	return out
}

// expected is what a line must read back as, worked out from the log record
// with the README's mapping, independently of internal/cef.
type expected struct {
	msgID      string
	syslogSev  int
	signature  string
	name       string
	severity   string
	cef, leef  map[string]string
	auditID    string // identifies the record among the received lines
	eventName  string
	eventTime  time.Time
	hasTimeKey bool
}

func str(a pcommon.Map, k string) string {
	v, ok := a.Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}

func list(a pcommon.Map, k string) string {
	v, ok := a.Get(k)
	if !ok {
		return ""
	}
	if v.Type() != pcommon.ValueTypeSlice {
		return v.AsString()
	}
	var parts []string
	for _, e := range v.Slice().All() {
		if s := e.AsString(); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ",")
}

func expect(lr plog.LogRecord) expected {
	a := lr.Attributes()
	ev := lr.EventName()
	finding, record := ev == "podtrail.finding", ev == "podtrail.pod_creation"
	x := expected{eventName: ev, auditID: str(a, "podtrail.audit.id"), cef: map[string]string{}, leef: map[string]string{}}
	x.msgID = strings.TrimPrefix(ev, "podtrail.")

	sev := 0
	switch {
	case finding:
		sev = map[string]int{"info": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}[str(a, "podtrail.rule.severity")]
	case record && str(a, "podtrail.allowed") == "true":
		sev = 1
	case record:
		sev = 5
	}
	x.severity = strconv.Itoa(sev)
	x.syslogSev = map[int]int{1: 6, 3: 5, 5: 4, 8: 3, 10: 2}[sev]
	x.signature = "pod_creation"
	x.name = lr.Body().Str()
	if finding {
		x.signature, x.name = str(a, "podtrail.rule.id"), str(a, "podtrail.rule.title")
	}
	if i := strings.IndexAny(x.name, "\r\n"); i >= 0 {
		x.name = x.name[:i]
	}

	c := x.cef
	put := func(k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	label := func(k, l, v string) {
		if v != "" {
			c[k], c[k+"Label"] = v, l
		}
	}
	if ts := lr.Timestamp(); ts != 0 {
		x.eventTime = ts.AsTime()
		c["rt"] = strconv.FormatInt(ts.AsTime().UnixMilli(), 10)
	}
	put("cat", ev)
	put("externalId", x.auditID)
	put("suser", str(a, "user.name"))
	put("suid", str(a, "user.id"))
	put("spriv", str(a, "podtrail.actor.kind"))
	client := str(a, "client.address")
	if ip, err := netip.ParseAddr(client); err == nil && ip.Is4() {
		put("src", client)
	} else if err == nil {
		label("c6a2", "client.address", client)
	} else {
		put("shost", client)
	}
	put("requestClientApplication", str(a, "user_agent.original"))
	put("dvchost", str(a, "k8s.node.name"))
	put("act", str(a, "podtrail.decision"))
	if record {
		put("outcome", map[string]string{"allow": "success", "forbid": "failure"}[str(a, "podtrail.decision")])
	}
	put("reason", str(a, "podtrail.reason"))
	label("cn1", "status_code", str(a, "http.response.status_code"))
	label("cs1", "namespace", str(a, "k8s.namespace.name"))
	label("cs2", "pod", str(a, "k8s.pod.name"))
	label("cs3", "rule", str(a, "podtrail.rule.id"))
	label("cs4", "channel", str(a, "podtrail.channel"))
	if k := str(a, "podtrail.pod.owner.kind"); k != "" {
		label("cs5", "owner", k+"/"+str(a, "podtrail.pod.owner.name"))
	} else {
		label("cs5", "owner", str(a, "podtrail.finding.owner"))
	}
	if finding {
		label("cs6", "images", list(a, "podtrail.finding.images"))
	} else {
		label("cs6", "images", list(a, "podtrail.pod.images"))
	}
	label("flexString1", "pod_uid", str(a, "k8s.pod.uid"))
	label("flexString2", "mitre", list(a, "podtrail.rule.mitre"))
	put("msg", lr.Body().Str())

	l := x.leef
	for cefKey, leefKey := range map[string]string{"cat": "cat", "externalId": "auditId", "suser": "usrName",
		"suid": "userId", "spriv": "role", "requestClientApplication": "userAgent", "dvchost": "node", "dhost": "cluster",
		"act": "action", "outcome": "outcome", "reason": "reason", "cn1": "statusCode", "cs1": "namespace",
		"cs2": "pod", "flexString1": "podUid", "cs3": "policy", "cs4": "channel", "cs5": "owner", "cs6": "images",
		"flexString2": "mitre", "msg": "msg", "src": "src", "c6a2": "src", "shost": "clientAddress"} {
		if v, ok := c[cefKey]; ok {
			l[leefKey] = v
		}
	}
	if !x.eventTime.IsZero() {
		l["devTime"] = x.eventTime.UTC().Format("2006-01-02T15:04:05.000-0700")
		l["devTimeFormat"] = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
	}
	l["sev"] = x.severity
	l["name"] = x.name
	ns, pod := str(a, "k8s.namespace.name"), str(a, "k8s.pod.name")
	if ns != "" || pod != "" {
		l["resource"] = ns + "/" + pod
	}
	return x
}

// checkLine parses a received CEF or LEEF line and compares every header
// field and extension with the expectation.
func checkLine(t *testing.T, format string, x expected, line string) {
	t.Helper()
	var (
		l   ceftest.Line
		err error
	)
	if format == FormatLEEF {
		l, err = ceftest.ParseLEEF(line, cef.ParseLEEFDelimiter)
	} else {
		l, err = ceftest.ParseCEF(line)
	}
	require.NoError(t, err, line)
	require.Equal(t, "podtrail", l.Vendor)
	require.Equal(t, "podtrail", l.Product)
	require.Equal(t, x.signature, l.SignatureID, line)
	want := x.cef
	if format == FormatLEEF {
		want = x.leef
	} else {
		require.Equal(t, x.name, l.Name, line)
		require.Equal(t, x.severity, l.Severity, line)
	}
	require.Equal(t, want, l.Map(), line)
	require.Len(t, l.Fields, len(want), "a key is repeated: %s", line)
}

// newTestExporter creates and starts a cef exporter on endpoint; queue nil
// disables the sending queue (ConsumeLogs returns the send's error).
func newTestExporter(t *testing.T, host component.Host, mutate func(*Config)) exporter.Logs {
	t.Helper()
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Hostname = "gw-1"
	cfg.QueueBatchConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.BackOffConfig.Enabled = false
	mutate(cfg)
	require.NoError(t, cfg.Validate())
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type) // the persistent queue is keyed by it: the same across restarts
	set.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	set.BuildInfo.Version = "0.1.0"
	exp, err := f.CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), host))
	return exp
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certFile, keyFile
}

// syslogMsg is one received syslog message split as a receiver would.
type syslogMsg struct {
	pri                             int
	timestamp, hostname, app, msgID string
	msg                             string
}

// parse5424 splits <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
// (SD is always "-" here).
func parse5424(t *testing.T, s string) syslogMsg {
	t.Helper()
	require.True(t, strings.HasPrefix(s, "<"), s)
	end := strings.IndexByte(s, '>')
	pri, err := strconv.Atoi(s[1:end])
	require.NoError(t, err)
	parts := strings.SplitN(s[end+1:], " ", 8)
	require.Len(t, parts, 8, s)
	require.Equal(t, "1", parts[0])
	require.Equal(t, "-", parts[4])
	require.Equal(t, "-", parts[6])
	return syslogMsg{pri: pri, timestamp: parts[1], hostname: parts[2], app: parts[3], msgID: parts[5], msg: parts[7]}
}

func mustReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
