package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServeDemoStopsCleanly runs `weft serve --demo` until the demo is up, stops it as SIGTERM would, and checks
// that it exits without error and leaves no redis-server of the demo's behind.
func TestServeDemoStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, []string{"--data-dir", t.TempDir(), "--demo", "--otlp-grpc-addr", "0", "--otlp-http-addr", "0",
			"--zipkin-addr", "0", "--datadog-addr", "0", "--jaeger-addr", "0", "--query-addr", "0"}, &logs)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "matchmaker and taster are up") {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not start:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	redis := regexp.MustCompile(`started redis-server for the donut facts" addr=(\S+)`).FindStringSubmatch(logs.String())
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	if redis == nil {
		t.Log("no redis-server on this machine; the demo used its in-process store")
		return
	}
	if c, err := net.DialTimeout("tcp", redis[1], time.Second); err == nil {
		c.Close()
		t.Fatalf("the demo's redis-server at %s still answers after weft stopped", redis[1])
	}
}

// TestLoadgenRefusesNegativeProcs checks that weft loadgen names a bad --procs before it sends anything.
func TestLoadgenRefusesNegativeProcs(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run([]string{"loadgen", "--procs", "-1", "--endpoint", "http://127.0.0.1:1/v1/traces"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code %d, want 1; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "--procs") {
		t.Fatalf("the error does not name --procs: %q", stderr.String())
	}
}
