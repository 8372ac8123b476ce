// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
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

// TestWebhookInsecureWarning: a webhook reachable beyond loopback without
// TLS, or with TLS but without client authentication (client_ca_file or
// an auth extension), logs a warning at start and sets
// otelcol_k8s_audit_webhook_insecure to 1; on loopback, or with mTLS, the
// gauge is 0 and nothing is logged.
func TestWebhookInsecureWarning(t *testing.T) {
	certs := writeTestCerts(t)
	for _, tt := range []struct {
		name     string
		endpoint string
		tls      bool
		clientCA bool
		auth     bool
		insecure bool
		hint     string
	}{
		{name: "all interfaces, plain HTTP", endpoint: "0.0.0.0:0", insecure: true, hint: "without TLS"},
		{name: "all interfaces, TLS without client auth", endpoint: "0.0.0.0:0", tls: true, insecure: true, hint: "without client authentication"},
		{name: "all interfaces, auth without TLS", endpoint: "0.0.0.0:0", auth: true, insecure: true, hint: "without TLS"},
		{name: "all interfaces, mTLS", endpoint: "0.0.0.0:0", tls: true, clientCA: true},
		{name: "loopback, plain HTTP", endpoint: "127.0.0.1:0"},
		{name: "localhost, plain HTTP", endpoint: "localhost:0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.WarnLevel)
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
			set := receivertest.NewNopSettings(metadata.Type)
			set.TelemetrySettings = tel.NewTelemetrySettings()
			set.Logger = zap.New(core)
			w := defaultWebhookConfig()
			w.NetAddr.Endpoint = tt.endpoint
			if tt.tls {
				ts := configtls.NewDefaultServerConfig()
				ts.CertFile, ts.KeyFile = certs.cert, certs.key
				if tt.clientCA {
					ts.ClientCAFile = certs.ca
				}
				w.TLS = configoptional.Some(ts)
			}
			host := componenttest.NewNopHost()
			if tt.auth {
				w.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: component.MustNewID("nopauth")}})
				host = authHost{}
			}
			r, err := newReceiver(set, &Config{Webhook: configoptional.Some(w)}, new(consumertest.LogsSink))
			require.NoError(t, err)
			require.NoError(t, r.Start(context.Background(), host))
			t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

			m, err := tel.GetMetric("otelcol_k8s_audit_webhook_insecure")
			require.NoError(t, err)
			dps := m.Data.(metricdata.Gauge[int64]).DataPoints
			require.Len(t, dps, 1)
			warned := logs.FilterMessageSnippet("audit webhook").Len()
			if tt.insecure {
				assert.Equal(t, int64(1), dps[0].Value)
				require.Equal(t, 1, warned, "one warning at start")
				assert.Contains(t, logs.FilterMessageSnippet("audit webhook").All()[0].Message, tt.hint)
			} else {
				assert.Equal(t, int64(0), dps[0].Value)
				assert.Zero(t, warned, "%v", logs.All())
			}
		})
	}
}

type testCerts struct{ ca, caKey, cert, key string }

// writeTestCerts writes a CA and a server certificate for 127.0.0.1 and
// localhost signed by it.
func writeTestCerts(t *testing.T) testCerts {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "podtrail"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caTmpl, &srvKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	require.NoError(t, err)
	c := testCerts{ca: filepath.Join(dir, "ca.crt"), caKey: filepath.Join(dir, "ca.key"), cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key")}
	write := func(path, typ string, der []byte) {
		require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	}
	write(c.ca, "CERTIFICATE", caDER)
	write(c.cert, "CERTIFICATE", srvDER)
	write(c.key, "EC PRIVATE KEY", keyDER)
	caKeyDER, err := x509.MarshalECPrivateKey(caKey)
	require.NoError(t, err)
	write(c.caKey, "EC PRIVATE KEY", caKeyDER)
	return c
}

// authHost has one server authenticator, nopauth, that lets everyone in.
type authHost struct{}

func (authHost) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{component.MustNewID("nopauth"): nopAuth{}}
}

type nopAuth struct{}

func (nopAuth) Start(context.Context, component.Host) error { return nil }
func (nopAuth) Shutdown(context.Context) error              { return nil }
func (nopAuth) Authenticate(ctx context.Context, _ map[string][]string) (context.Context, error) {
	return ctx, nil
}

var _ extensionauth.Server = nopAuth{}

// TestWebhookMutualTLS: with tls and client_ca_file the webhook (its
// listener counts connections below TLS) answers a client with a
// certificate of the CA, over HTTP/1.1 and HTTP/2, and refuses one
// without.
func TestWebhookMutualTLS(t *testing.T) {
	certs := writeTestCerts(t)
	h := startWebhookWith(t, func(w *WebhookConfig) {
		ts := configtls.NewDefaultServerConfig()
		ts.CertFile, ts.KeyFile, ts.ClientCAFile = certs.cert, certs.key, certs.ca
		w.TLS = configoptional.Some(ts)
	})
	url := strings.Replace(h.url, "http://", "https://", 1)
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(certs.ca)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	clientCert := clientCertificate(t, certs)
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}}, ForceAttemptHTTP2: h2}
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		resp, err := c.Post(url, "application/json", strings.NewReader(eventList(evA)))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		if h2 {
			assert.Equal(t, 2, resp.ProtoMajor)
		}
	}
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	_, err = anon.Post(url, "application/json", strings.NewReader(eventList(evA)))
	require.Error(t, err, "a client without a certificate")
	assert.Equal(t, 2, h.sink.LogRecordCount())
}

// clientCertificate is a client certificate signed by certs' CA.
func clientCertificate(t *testing.T, certs testCerts) tls.Certificate {
	t.Helper()
	caPair, err := tls.LoadX509KeyPair(certs.ca, certs.caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caPair.Certificate[0])
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caPair.PrivateKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
