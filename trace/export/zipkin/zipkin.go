// Package zipkin is the library's Zipkin exporter: it posts batches of ended spans as a Zipkin v2 JSON list to
// a Zipkin server's /api/v2/spans (Zipkin itself, weft serve's port 9411, or any collector that speaks Zipkin).
// It sits at the end of the library's flow, behind the core's batcher.
//
// The mapping follows Zipkin's conventions: 64-bit trace IDs (upper half zero) in 16 hex digits and 128-bit
// ones in 32; times in microseconds, a non-zero duration under one rounded up to one; the span's service as the
// local endpoint and peer.service as the remote one; attributes as string tags (slices as JSON arrays); an error
// status as the error tag; a Datadog priority of 2 (user keep) as debug. The span's resource and type are the
// tags resource.name and span.type, and its place in weft's event DAG the weft.* tags of docs/causality.md.
// Span events become annotations named after the event: Zipkin has nowhere for their attributes, so events
// exported this way lose their weft.seq and weft.cause.
//
// Failed exports are retried with exponential backoff and jitter on 429, 502, 503, 504 and network errors,
// honouring Retry-After, never past the deadline of the export's context.
package zipkin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/retry"
)

// DefaultEndpoint is where spans go when Config.Endpoint is empty.
const DefaultEndpoint = "http://localhost:9411/api/v2/spans"

// Config configures an Exporter.
type Config struct {
	// Endpoint is the full URL spans are posted to.
	Endpoint string
	// Headers are added to every request.
	Headers map[string]string
	// Client sends the requests; nil means a client of its own.
	Client *http.Client
	// Retry says how failed exports are retried.
	Retry retry.Policy
}

// Exporter posts spans to a Zipkin server. It implements trace.Exporter.
type Exporter struct {
	endpoint string
	headers  http.Header
	client   *http.Client
	retry    retry.Policy

	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

var _ trace.Exporter = (*Exporter)(nil)

// ErrShutdown is returned by ExportSpans after Shutdown.
var ErrShutdown = errors.New("zipkin: exporter is shut down")

// New makes an Exporter. It fails on an endpoint that is not an http or https URL.
func New(cfg Config) (*Exporter, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("zipkin: endpoint %q is not an http or https URL", cfg.Endpoint)
	}
	e := &Exporter{endpoint: cfg.Endpoint, headers: http.Header{}, client: cfg.Client, retry: cfg.Retry}
	if e.client == nil {
		e.client = &http.Client{}
	}
	for k, v := range cfg.Headers {
		e.headers.Set(k, v)
	}
	e.headers.Set("Content-Type", "application/json")
	return e, nil
}

// ExportSpans encodes spans as Zipkin v2 JSON and posts them, retrying as the Config says.
func (e *Exporter) ExportSpans(ctx context.Context, spans []*trace.SpanData) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrShutdown
	}
	e.buf.Reset()
	if err := json.NewEncoder(&e.buf).Encode(Spans(spans)); err != nil {
		return fmt.Errorf("zipkin: %w", err)
	}
	body := e.buf.Bytes()
	return retry.Do(ctx, e.retry, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
		if err != nil {
			return err
		}
		for k, v := range e.headers {
			req.Header[k] = v
		}
		resp, err := e.client.Do(req)
		if err != nil {
			return retry.NetworkError(ctx, fmt.Errorf("zipkin: %w", err))
		}
		defer resp.Body.Close()
		if err := retry.CheckResponse(resp); err != nil {
			return fmt.Errorf("zipkin: %w", err)
		}
		return nil
	})
}

// Shutdown makes later exports fail with ErrShutdown, after an export in progress ends or ctx does.
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

// Span is one span in Zipkin's v2 JSON model.
type Span struct {
	TraceID        string            `json:"traceId"`
	ParentID       string            `json:"parentId,omitempty"`
	ID             string            `json:"id"`
	Kind           string            `json:"kind,omitempty"`
	Name           string            `json:"name,omitempty"`
	Timestamp      int64             `json:"timestamp,omitempty"`
	Duration       int64             `json:"duration,omitempty"`
	LocalEndpoint  *Endpoint         `json:"localEndpoint,omitempty"`
	RemoteEndpoint *Endpoint         `json:"remoteEndpoint,omitempty"`
	Annotations    []Annotation      `json:"annotations,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Debug          bool              `json:"debug,omitempty"`
}

// Endpoint is a Zipkin endpoint; weft fills only the service name.
type Endpoint struct {
	ServiceName string `json:"serviceName,omitempty"`
}

// Annotation is a timestamped event of a Zipkin span.
type Annotation struct {
	Timestamp int64  `json:"timestamp"`
	Value     string `json:"value"`
}

// Spans converts ended spans to Zipkin's model, as ExportSpans sends them.
func Spans(spans []*trace.SpanData) []Span {
	out := make([]Span, len(spans))
	for i, d := range spans {
		out[i] = FromSpanData(d)
	}
	return out
}

// FromSpanData converts one ended span to Zipkin's model.
func FromSpanData(d *trace.SpanData) Span {
	s := Span{
		TraceID:   traceIDString(d.TraceID),
		ID:        d.SpanID.String(),
		Name:      d.Name,
		Timestamp: d.Start / 1000,
		Duration:  d.Duration() / 1000,
		Debug:     d.Priority == 2,
	}
	if d.Duration() > 0 && s.Duration == 0 {
		s.Duration = 1
	}
	if d.ParentID.IsValid() {
		s.ParentID = d.ParentID.String()
	}
	switch d.Kind {
	case trace.KindServer:
		s.Kind = "SERVER"
	case trace.KindClient:
		s.Kind = "CLIENT"
	case trace.KindProducer:
		s.Kind = "PRODUCER"
	case trace.KindConsumer:
		s.Kind = "CONSUMER"
	}
	if svc := d.ServiceName(); svc != "" {
		s.LocalEndpoint = &Endpoint{ServiceName: svc}
	}
	tags := make(map[string]string, len(d.Attrs)+8)
	for _, a := range d.AppendWeftAttrs(d.Attrs[:len(d.Attrs):len(d.Attrs)]) {
		tags[a.Key] = tagValue(a.Value)
		if a.Key == "peer.service" && a.Value.Type() == trace.TypeString {
			s.RemoteEndpoint = &Endpoint{ServiceName: a.Value.AsString()}
		}
	}
	if d.SpanResource != "" {
		tags["resource.name"] = d.SpanResource
	}
	if d.SpanType != "" {
		tags["span.type"] = d.SpanType
	}
	switch d.StatusCode {
	case trace.StatusError:
		tags["error"] = d.StatusMessage
		if d.StatusMessage == "" {
			tags["error"] = "true"
		}
	case trace.StatusOK:
		tags["otel.status_code"] = "OK"
	}
	if len(tags) > 0 {
		s.Tags = tags
	}
	for _, e := range d.Events {
		s.Annotations = append(s.Annotations, Annotation{Timestamp: e.Time / 1000, Value: e.Name})
	}
	return s
}

// tagValue writes a value as a Zipkin tag: scalars as text, slices as JSON arrays.
func tagValue(v trace.Value) string {
	var x any
	switch v.Type() {
	case trace.TypeString:
		return v.AsString()
	case trace.TypeInt64:
		return strconv.FormatInt(v.AsInt64(), 10)
	case trace.TypeStrings:
		x = v.AsStrings()
	case trace.TypeInt64s:
		x = v.AsInt64s()
	case trace.TypeFloat64s:
		x = v.AsFloat64s()
	case trace.TypeBools:
		x = v.AsBools()
	default:
		return v.String()
	}
	b, err := json.Marshal(x)
	if err != nil { // NaN or infinity in a float slice
		return v.String()
	}
	return string(b)
}

func traceIDString(t trace.TraceID) string {
	for _, b := range t[:8] {
		if b != 0 {
			return t.String()
		}
	}
	return hex.EncodeToString(t[8:])
}
