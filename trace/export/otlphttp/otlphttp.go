// Package otlphttp is the library's OTLP/HTTP exporter: it posts batches of ended spans as protobuf
// (ExportTraceServiceRequest, gzip-compressed by default) to an OTLP endpoint's /v1/traces, such as weft serve's
// port 4318 or an OpenTelemetry Collector. It sits at the end of the library's flow: the core's batcher calls
// ExportSpans from its background goroutine.
//
// Failed exports are retried with exponential backoff and jitter on 429, 502, 503, 504 and network errors,
// honouring Retry-After, and never past the deadline of the context ExportSpans is given.
package otlphttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlp"
	"github.com/weftrace/weft/trace/export/retry"
)

// DefaultEndpoint is where spans go when Config.Endpoint is empty.
const DefaultEndpoint = "http://localhost:4318/v1/traces"

// Config configures an Exporter. The zero value posts gzip-compressed protobuf to DefaultEndpoint.
type Config struct {
	// Endpoint is the full URL spans are posted to, path included (.../v1/traces).
	Endpoint string
	// Headers are added to every request (authentication, tenant).
	Headers map[string]string
	// Compression is "gzip" (the default) or "none".
	Compression string
	// Client sends the requests; nil means a client of its own. Each export is bounded by its context, so the
	// client needs no timeout.
	Client *http.Client
	// Retry says how failed exports are retried.
	Retry retry.Policy
}

// Exporter posts spans to an OTLP/HTTP endpoint. It implements trace.Exporter.
type Exporter struct {
	endpoint string
	headers  http.Header
	gzip     bool
	client   *http.Client
	retry    retry.Policy

	mu     sync.Mutex // one export at a time: the buffers below are reused
	raw    []byte
	zbuf   bytes.Buffer
	zw     *gzip.Writer
	closed bool
}

var _ trace.Exporter = (*Exporter)(nil)

// ErrShutdown is returned by ExportSpans after Shutdown.
var ErrShutdown = errors.New("otlphttp: exporter is shut down")

// New makes an Exporter. It fails on an endpoint that is not an http or https URL, or an unknown compression.
func New(cfg Config) (*Exporter, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("otlphttp: endpoint %q is not an http or https URL", cfg.Endpoint)
	}
	e := &Exporter{endpoint: cfg.Endpoint, headers: http.Header{}, client: cfg.Client, retry: cfg.Retry}
	switch cfg.Compression {
	case "", "gzip":
		e.gzip = true
		e.zw = gzip.NewWriter(&e.zbuf)
	case "none":
	default:
		return nil, fmt.Errorf("otlphttp: compression %q is not gzip or none", cfg.Compression)
	}
	if e.client == nil {
		e.client = &http.Client{}
	}
	for k, v := range cfg.Headers {
		e.headers.Set(k, v)
	}
	e.headers.Set("Content-Type", "application/x-protobuf")
	if e.gzip {
		e.headers.Set("Content-Encoding", "gzip")
	}
	return e, nil
}

// ExportSpans encodes spans and posts them, retrying as the Config says. A server that accepts the request but
// refuses some spans (partial success) yields an otlp.PartialSuccess error, which is not retried.
func (e *Exporter) ExportSpans(ctx context.Context, spans []*trace.SpanData) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrShutdown
	}
	e.raw = otlp.AppendRequest(e.raw[:0], spans)
	body := e.raw
	if e.gzip {
		e.zbuf.Reset()
		e.zw.Reset(&e.zbuf)
		if _, err := e.zw.Write(e.raw); err != nil {
			return err
		}
		if err := e.zw.Close(); err != nil {
			return err
		}
		body = e.zbuf.Bytes()
	}
	return retry.Do(ctx, e.retry, func(ctx context.Context) error { return e.post(ctx, body) })
}

func (e *Exporter) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range e.headers {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return retry.NetworkError(ctx, fmt.Errorf("otlphttp: %w", err))
	}
	defer resp.Body.Close()
	if err := retry.CheckResponse(resp); err != nil {
		return fmt.Errorf("otlphttp: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil // the spans were accepted; only the answer's details were lost
	}
	if ps, err := otlp.ParseResponse(b); err == nil && ps.RejectedSpans > 0 {
		return ps
	}
	return nil
}

// Shutdown makes later exports fail with ErrShutdown and closes idle connections. It waits for an export in
// progress, or for ctx to end.
func (e *Exporter) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.client.CloseIdleConnections()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
