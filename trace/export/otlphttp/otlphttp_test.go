package otlphttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlp"
	"github.com/weftrace/weft/trace/export/retry"
)

func spans() []*trace.SpanData {
	res := &trace.Resource{Service: "matchmaker"}
	return []*trace.SpanData{{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		Name: "pair", Kind: trace.KindServer, Start: 1, End: 2, Resource: res, Flags: trace.FlagSampled,
		Unit: 0xabc, StartSeq: 1, EndSeq: 2,
	}}
}

// collector is a test OTLP endpoint that answers each request with the next of its scripted statuses (200 once
// the script is used up) and keeps the decompressed bodies it received.
type collector struct {
	mu         sync.Mutex
	script     []int
	retryAfter string
	bodies     [][]byte
	headers    []http.Header
	hangUp     int // hang up without answering on the first hangUp requests
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.headers) // requests before this one
	c.headers = append(c.headers, r.Header.Clone())
	if n < c.hangUp {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	c.bodies = append(c.bodies, b)
	if len(c.script) > 0 {
		code := c.script[0]
		c.script = c.script[1:]
		if c.retryAfter != "" {
			w.Header().Set("Retry-After", c.retryAfter)
		}
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

func (c *collector) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.headers)
}

func newExporter(t *testing.T, url string, cfg Config) *Exporter {
	t.Helper()
	cfg.Endpoint = url + "/v1/traces"
	if cfg.Retry == (retry.Policy{}) {
		cfg.Retry = retry.Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestExport(t *testing.T) {
	for _, compression := range []string{"", "none"} {
		t.Run("compression="+compression, func(t *testing.T) {
			c := &collector{}
			srv := httptest.NewServer(c)
			defer srv.Close()
			e := newExporter(t, srv.URL, Config{Compression: compression, Headers: map[string]string{"X-Tenant": "brewery"}})
			if err := e.ExportSpans(context.Background(), spans()); err != nil {
				t.Fatal(err)
			}
			if len(c.bodies) != 1 || !bytes.Equal(c.bodies[0], otlp.AppendRequest(nil, spans())) {
				t.Fatalf("server received %d bodies, not the encoded spans", len(c.bodies))
			}
			h := c.headers[0]
			if h.Get("Content-Type") != "application/x-protobuf" || h.Get("X-Tenant") != "brewery" {
				t.Errorf("headers %v", h)
			}
			if gz := h.Get("Content-Encoding") == "gzip"; gz != (compression == "") {
				t.Errorf("Content-Encoding %q with compression %q", h.Get("Content-Encoding"), compression)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		c        *collector
		wantErr  string
		requests int
	}{
		{"503 then 200", &collector{script: []int{503}}, "", 2},
		{"429, 502, 504 then 200", &collector{script: []int{429, 502, 504}}, "", 4},
		{"network error then 200", &collector{hangUp: 1}, "", 2},
		{"400 is not retried", &collector{script: []int{400}}, "400 Bad Request", 1},
		{"500 is not retried", &collector{script: []int{500}}, "500 Internal Server Error", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.c)
			defer srv.Close()
			e := newExporter(t, srv.URL, Config{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := e.ExportSpans(ctx, spans())
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			if n := tt.c.requests(); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
		})
	}
}

// TestRetryAfter: a server's Retry-After is honoured. When it asks for more time than the export has left, the
// exporter gives up at once instead of retrying early; when there is time, it retries and succeeds.
func TestRetryAfter(t *testing.T) {
	t.Run("longer than the deadline", func(t *testing.T) {
		c := &collector{script: []int{429, 429}, retryAfter: "3600"}
		srv := httptest.NewServer(c)
		defer srv.Close()
		e := newExporter(t, srv.URL, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := e.ExportSpans(ctx, spans())
		var he *retry.HTTPError
		if !errors.As(err, &he) || he.StatusCode != 429 {
			t.Fatalf("error %v, want the 429", err)
		}
		if n := c.requests(); n != 1 {
			t.Errorf("%d requests: retried before the server's Retry-After", n)
		}
	})
	t.Run("within the deadline", func(t *testing.T) {
		c := &collector{script: []int{503}, retryAfter: "1"}
		srv := httptest.NewServer(c)
		defer srv.Close()
		e := newExporter(t, srv.URL, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.ExportSpans(ctx, spans()); err != nil {
			t.Fatal(err)
		}
		if n := c.requests(); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
}

func TestPartialSuccess(t *testing.T) {
	// ExportTraceServiceResponse{partial_success: {rejected_spans: 1, error_message: "too old"}}
	resp := []byte{0x0a, 0x0b, 0x08, 0x01, 0x12, 0x07, 't', 'o', 'o', ' ', 'o', 'l', 'd'}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(resp) }))
	defer srv.Close()
	e := newExporter(t, srv.URL, Config{})
	err := e.ExportSpans(context.Background(), spans())
	var ps otlp.PartialSuccess
	if !errors.As(err, &ps) || ps.RejectedSpans != 1 || ps.ErrorMessage != "too old" {
		t.Errorf("error %v, want the partial success", err)
	}
}

func TestShutdown(t *testing.T) {
	srv := httptest.NewServer(&collector{})
	defer srv.Close()
	e := newExporter(t, srv.URL, Config{})
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.ExportSpans(context.Background(), spans()); !errors.Is(err, ErrShutdown) {
		t.Errorf("export after shutdown: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{Endpoint: "localhost:4318"}, {Endpoint: "ftp://x/v1/traces"}, {Endpoint: "http://"}, {Compression: "zstd"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestWithProvider runs the exporter behind the core's batcher: spans ended by the program reach the server.
func TestWithProvider(t *testing.T) {
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	p := trace.NewProvider(trace.Config{Exporter: newExporter(t, srv.URL, Config{})})
	ctx, span := p.Tracer("test").Start(context.Background(), "parent")
	_, child := p.Tracer("test").Start(ctx, "child")
	child.End()
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []byte
	for _, b := range c.bodies {
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte("parent")) || !bytes.Contains(all, []byte("child")) {
		t.Errorf("server did not receive both spans (%d requests)", len(c.bodies))
	}
}
