// SPDX-License-Identifier: Apache-2.0

//go:build unix

package k8sauditreceiver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/podtrail/podtrail/internal/rules"
	"github.com/podtrail/podtrail/receiver/k8sauditreceiver/internal/metadata"
)

const (
	envSlowAddr = "PODTRAIL_TEST_SLOW_ADDR"
	envSlowN    = "PODTRAIL_TEST_SLOW_N"
	// slowClients is how many slow-body connections the helper process
	// opens (as many as its own open-file limit allows, if fewer).
	slowClients = 20_000
	// serverFiles is the open-file limit the webhook's process runs with
	// in TestWebhookSlowClients: well under what the slow clients hold, so
	// that without a bound they would take every descriptor.
	serverFiles = 8192
)

// TestWebhookSlowClients: a process holds up to 20,000 connections that
// sent their headers and the start of a body and then nothing (the
// collector's process has 8,192 file descriptors). A client that posts an
// ordinary EventList still gets 200 within seconds, three times, and the
// rules still reload (the shipped pack read and compiled). The webhook
// holds at most max_connections (half the descriptors) and evicts the
// longest-silent connections to make room.
func TestWebhookSlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 20,000 connections")
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	saved := rl
	rl.Cur = min(rl.Cur, serverFiles)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved) })

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	w := defaultWebhookConfig()
	w.NetAddr.Endpoint = "127.0.0.1:0"
	sink := new(consumertest.LogsSink)
	r, err := newReceiver(set, &Config{Webhook: configoptional.Some(w)}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	addr := r.addr.String()

	// The slow clients, in a process of their own (with its own
	// descriptors).
	cmd := exec.Command(os.Args[0], "-test.run=^TestSlowClientsHelper$", "-test.v")
	cmd.Env = append(os.Environ(), envSlowAddr+"="+addr, envSlowN+"="+strconv.Itoa(slowClients))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe() // the helper holds its connections until it closes
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	held := -1
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "held="); ok {
				held, _ = strconv.Atoi(strings.Fields(v)[0])
				t.Logf("helper: %s", sc.Text())
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(90 * time.Second):
		t.Fatal("the helper did not open its connections within 90 s")
	}

	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 3 {
		start := time.Now()
		resp, err := client.Post("http://"+addr+"/audit", "application/json", strings.NewReader(eventList(evA, evB)))
		if err != nil {
			t.Fatalf("post %d with %d slow connections held: %v", i, held, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("post %d: status %d", i, resp.StatusCode)
		}
		t.Logf("post %d: 200 in %v", i, time.Since(start).Round(time.Millisecond))
	}
	// A rules reload, as the pod_creation processor's watcher does it: the
	// shipped pack and inventory read and compiled while the slow clients
	// hold their connections.
	pack := filepath.Join("..", "..", "distributions", "otelcol-podtrail", "rules")
	if _, err := rules.Load(filepath.Join(pack, "rules.yaml"), filepath.Join(pack, "inventory.yaml")); err != nil {
		t.Fatalf("the rules do not reload while the slow clients hold their connections: %v", err)
	}

	open, evicted := gaugeSum(tel, "otelcol_k8s_audit_webhook_connections"), gaugeSum(tel, "otelcol_k8s_audit_webhook_connections_evicted")
	t.Logf("slow connections held by the helper: %d; open at the webhook: %d (max_connections %d); evicted: %d",
		held, open, defaultMaxConnections(), evicted)
	if held < serverFiles {
		t.Errorf("the helper held only %d connections: the test shows nothing", held)
	}
	if open > int64(defaultMaxConnections()) {
		t.Errorf("%d connections open, over max_connections %d", open, defaultMaxConnections())
	}
	if got := sink.LogRecordCount(); got != 6 {
		t.Errorf("%d records, want 6", got)
	}
}

// gaugeSum is the sum of a sum metric's points, 0 when it has none.
func gaugeSum(tel *componenttest.Telemetry, name string) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var n int64
	if s, ok := m.Data.(metricdata.Sum[int64]); ok {
		for _, dp := range s.DataPoints {
			n += dp.Value
		}
	}
	return n
}

// TestSlowClientsHelper is the helper process of TestWebhookSlowClients:
// it opens up to PODTRAIL_TEST_SLOW_N connections to the webhook, each
// sending a request's headers and the start of a large body, then nothing;
// prints held=N and keeps them until its stdin closes.
func TestSlowClientsHelper(t *testing.T) {
	addr := os.Getenv(envSlowAddr)
	if addr == "" {
		t.Skip("helper process of TestWebhookSlowClients")
	}
	n, _ := strconv.Atoi(os.Getenv(envSlowN))
	req := []byte("POST /audit HTTP/1.1\r\nHost: podtrail\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n" +
		`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	conns := make([]net.Conn, 0, n)
	failed := 0
	var lastErr error
	start := time.Now()
	for len(conns) < n && failed < 20 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_, err = c.Write(req)
		}
		if err != nil {
			failed++
			lastErr = err
			if c != nil {
				c.Close()
			}
			continue
		}
		conns = append(conns, c)
	}
	fmt.Printf("held=%d failed=%d in %v (last error: %v)\n", len(conns), failed, time.Since(start).Round(time.Millisecond), lastErr)
	buf := make([]byte, 1)
	_, _ = os.Stdin.Read(buf) // until the test closes it
}
