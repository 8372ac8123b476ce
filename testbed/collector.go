// SPDX-License-Identifier: Apache-2.0

// Package testbed runs the otelcol-podtrail collector as a user does — a
// built binary, a config file, real files and a real OTLP/HTTP endpoint —
// for correctness and load tests of the whole pipeline.
package testbed

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// Root is the repository checkout.
func Root(tb testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// distPath is a path in the otelcol-podtrail distribution, e.g. its demo
// or its rules pack.
func distPath(tb testing.TB, elem ...string) string {
	return filepath.Join(append([]string{Root(tb), "distributions", "otelcol-podtrail"}, elem...)...)
}

// writeConfig writes a collector config to dir/name and returns its path.
func writeConfig(tb testing.TB, dir, name, config string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Collector builds bin/otelcol-podtrail as `make build` does (once per test
// binary) and returns its path.
func Collector(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "podtrail-testbed")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "otelcol-podtrail")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, "./distributions/otelcol-podtrail/cmd/otelcol-podtrail")
		cmd.Dir = Root(tb)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building the collector: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// Process is a running collector.
type Process struct {
	// LogPath is the file the collector's own log (stderr) goes to.
	LogPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
}

// Start runs the collector with config (a file path) and env.
func Start(tb testing.TB, bin, config string, env ...string) *Process {
	tb.Helper()
	cmd := exec.Command(bin, "--config", config)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = io.Discard
	log, err := os.Create(config + fmt.Sprintf(".%d.log", time.Now().UnixNano()))
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &Process{LogPath: log.Name(), cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(p.exited) }()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			log, _ := os.ReadFile(p.LogPath)
			lines := strings.Split(strings.TrimSpace(string(log)), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			tb.Logf("collector %s %s, last lines of its log:\n%s", filepath.Base(config), strings.Join(env, " "), strings.Join(lines, "\n"))
		}
	})
	return p
}

// StartReady is Start, then WaitReady: the collector has started its
// pipelines when it returns.
func StartReady(tb testing.TB, bin, config string, env ...string) *Process {
	tb.Helper()
	p := Start(tb, bin, config, env...)
	p.WaitReady(tb, "the collector")
	return p
}

// WaitReady waits up to 60 s for the collector to log "Everything is
// ready"; what names it if it does not ("<what> to start").
func (p *Process) WaitReady(tb testing.TB, what string) {
	tb.Helper()
	WaitFor(tb, 60*time.Second, what+" to start", func() bool {
		log, _ := os.ReadFile(p.LogPath)
		return strings.Contains(string(log), "Everything is ready")
	})
}

// Kill ends the process with SIGKILL: no shutdown, no flush.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Stop asks for a graceful shutdown and waits for it.
func (p *Process) Stop(tb testing.TB) {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		tb.Fatal("collector did not stop within 30 s of SIGINT")
	}
}

// Sink is an OTLP/HTTP logs endpoint that keeps what it receives.
type Sink struct {
	URL string
	mu  sync.Mutex
	got []plog.LogRecord
	at  []time.Time // when each of got arrived
	srv *http.Server
	// refuse is how many of the next requests are answered 503 (Refuse);
	// refused counts them.
	refuse, refused int
}

// Refuse makes the sink answer its next n requests 503 Service
// Unavailable, keeping nothing of them: a SIEM that is overloaded.
func (s *Sink) Refuse(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = n
}

// Refused is how many requests the sink refused.
func (s *Sink) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// NewSink listens on a free loopback port.
func NewSink(tb testing.TB) *Sink {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Sink{URL: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/logs", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		if s.refuse > 0 {
			s.refuse--
			s.refused++
			s.mu.Unlock()
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		s.mu.Unlock()
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		arrived := time.Now()
		s.mu.Lock()
		rls := req.Logs().ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					lr := plog.NewLogRecord()
					lrs.At(k).CopyTo(lr)
					s.got = append(s.got, lr)
					s.at = append(s.at, arrived)
				}
			}
		}
		s.mu.Unlock()
		resp, _ := plogotlp.NewExportResponse().MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	tb.Cleanup(func() { _ = s.srv.Shutdown(context.Background()) })
	return s
}

// Records returns the log records received with the given event name.
func (s *Sink) Records(eventName string) []plog.LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []plog.LogRecord
	for _, lr := range s.got {
		if lr.EventName() == eventName {
			out = append(out, lr)
		}
	}
	return out
}

// Arrivals returns, for the records with the given event name, the value
// of attribute key and when the record arrived.
func (s *Sink) Arrivals(eventName, key string) map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]time.Time{}
	for i, lr := range s.got {
		if lr.EventName() == eventName {
			if v, ok := lr.Attributes().Get(key); ok {
				out[v.AsString()] = s.at[i]
			}
		}
	}
	return out
}

// WaitFor polls until cond holds or the timeout passes.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	WaitEvery(tb, 50*time.Millisecond, timeout, what, cond)
}

// WaitEvery is WaitFor checking cond every interval.
func WaitEvery(tb testing.TB, interval, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}
