package demo

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/apache/thrift/lib/go/thrift"
	jaegerthrift "github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlphttp"
	"github.com/weftrace/weft/trace/export/zipkin"
)

// Protocols are the ways a demo service can report its spans.
var Protocols = []string{"otlp", "zipkin", "datadog", "jaeger"}

// EndpointPath is the path each protocol's receiver listens on.
func EndpointPath(protocol string) string {
	switch protocol {
	case "otlp":
		return "/v1/traces"
	case "zipkin":
		return "/api/v2/spans"
	case "datadog":
		return "/v0.4/traces"
	case "jaeger":
		return "/api/traces"
	}
	return ""
}

// newExporter makes the exporter for protocol posting to endpoint (a full URL).
func newExporter(protocol, endpoint string, hdr map[string]string) (trace.Exporter, error) {
	switch protocol {
	case "otlp":
		return otlphttp.New(otlphttp.Config{Endpoint: endpoint, Headers: hdr})
	case "zipkin":
		return zipkin.New(zipkin.Config{Endpoint: endpoint, Headers: hdr})
	case "datadog":
		return &datadogExporter{endpoint: endpoint, client: &http.Client{}, hdr: hdr}, nil
	case "jaeger":
		return &jaegerExporter{endpoint: endpoint, client: &http.Client{}, hdr: hdr}, nil
	}
	return nil, fmt.Errorf("demo: unknown protocol %q (want otlp, zipkin, datadog or jaeger)", protocol)
}

// post sends one encoded batch and reads the answer; a non-2xx answer is an error (the batcher counts it).
func post(ctx context.Context, c *http.Client, url, contentType string, body []byte, hdr ...map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	for _, h := range hdr {
		for k, v := range h {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// weftTags are a span's attributes, its causal attributes and its counters as text and numbers, for the
// protocols whose tags are flat: strings in meta, numbers in metrics.
func weftTags(d *trace.SpanData) []trace.Attr {
	attrs := append([]trace.Attr(nil), d.Attrs...)
	return d.AppendWeftAttrs(attrs)
}

// datadogExporter posts spans as a Datadog tracer does (/v0.4/traces, msgpack): enough of the format for the
// demo to show a Datadog-reporting service in a mixed fleet.
type datadogExporter struct {
	endpoint string
	client   *http.Client
	hdr      map[string]string
}

type ddSpan struct {
	TraceID  uint64             `msgpack:"trace_id"`
	SpanID   uint64             `msgpack:"span_id"`
	ParentID uint64             `msgpack:"parent_id"`
	Name     string             `msgpack:"name"`
	Resource string             `msgpack:"resource"`
	Service  string             `msgpack:"service"`
	Type     string             `msgpack:"type"`
	Start    int64              `msgpack:"start"`
	Duration int64              `msgpack:"duration"`
	Error    int32              `msgpack:"error"`
	Meta     map[string]string  `msgpack:"meta"`
	Metrics  map[string]float64 `msgpack:"metrics"`
}

type ddEvent struct {
	Name       string         `json:"name"`
	Time       int64          `json:"time_unix_nano"`
	Attributes map[string]any `json:"attributes"`
}

func (e *datadogExporter) ExportSpans(ctx context.Context, spans []*trace.SpanData) error {
	byTrace := map[trace.TraceID][]ddSpan{}
	var order []trace.TraceID
	for _, d := range spans {
		s := ddSpan{
			TraceID:  binary.BigEndian.Uint64(d.TraceID[8:]),
			SpanID:   binary.BigEndian.Uint64(d.SpanID[:]),
			ParentID: binary.BigEndian.Uint64(d.ParentID[:]),
			Name:     d.Name, Resource: d.SpanResource, Service: d.ServiceName(), Type: d.SpanType,
			Start: d.Start, Duration: d.Duration(),
			Meta:    map[string]string{"_dd.p.tid": fmt.Sprintf("%x", d.TraceID[:8]), "span.kind": d.Kind.String()},
			Metrics: map[string]float64{},
		}
		if s.Resource == "" {
			s.Resource = d.Name
		}
		if d.StatusCode == trace.StatusError {
			s.Error = 1
			s.Meta["error.msg"] = d.StatusMessage
		}
		if d.ParentID == (trace.SpanID{}) {
			s.Metrics["_sampling_priority_v1"] = 1
		}
		for _, a := range weftTags(d) {
			if strings.HasPrefix(a.Key, "weft.") {
				// As a Datadog tracer's tags: text in meta (weft's receiver reads the numbers back from it).
				s.Meta[a.Key] = a.Value.String()
				continue
			}
			switch a.Value.Type() {
			case trace.TypeInt64:
				s.Metrics[a.Key] = float64(a.Value.AsInt64())
			case trace.TypeFloat64:
				s.Metrics[a.Key] = a.Value.AsFloat64()
			default:
				s.Meta[a.Key] = a.Value.String()
			}
		}
		if len(d.Events) > 0 {
			evs := make([]ddEvent, len(d.Events))
			for i := range d.Events {
				ev := &d.Events[i]
				attrs := map[string]any{}
				for _, a := range ev.AppendWeftAttrs(ev.Attrs[:len(ev.Attrs):len(ev.Attrs)], d.Unit, d.TraceID) {
					attrs[a.Key] = jsonAttr(a.Value)
				}
				evs[i] = ddEvent{Name: ev.Name, Time: ev.Time, Attributes: attrs}
			}
			b, _ := json.Marshal(evs)
			s.Meta["events"] = string(b)
		}
		if _, ok := byTrace[d.TraceID]; !ok {
			order = append(order, d.TraceID)
		}
		byTrace[d.TraceID] = append(byTrace[d.TraceID], s)
	}
	payload := make([][]ddSpan, 0, len(order))
	for _, id := range order {
		payload = append(payload, byTrace[id])
	}
	body, err := msgpack.Marshal(payload)
	if err != nil {
		return err
	}
	return post(ctx, e.client, e.endpoint, "application/msgpack", body, map[string]string{
		"X-Datadog-Trace-Count": strconv.Itoa(len(payload)), "Datadog-Meta-Lang": "go", "Datadog-Meta-Tracer-Version": "weft-demo",
	}, e.hdr)
}

func (e *datadogExporter) Shutdown(context.Context) error { return nil }

func jsonAttr(v trace.Value) any {
	switch v.Type() {
	case trace.TypeInt64:
		return v.AsInt64()
	case trace.TypeFloat64:
		return v.AsFloat64()
	case trace.TypeBool:
		return v.AsBool()
	case trace.TypeString:
		return v.AsString()
	}
	return v.String()
}

// jaegerExporter posts spans as a Jaeger client does to the collector (/api/traces, Thrift binary).
type jaegerExporter struct {
	endpoint string
	client   *http.Client
	hdr      map[string]string
}

func (e *jaegerExporter) ExportSpans(ctx context.Context, spans []*trace.SpanData) error {
	if len(spans) == 0 {
		return nil
	}
	byService := map[string][]*jaegerthrift.Span{}
	var order []string
	for _, d := range spans {
		s := &jaegerthrift.Span{
			TraceIdHigh:   int64(binary.BigEndian.Uint64(d.TraceID[:8])),
			TraceIdLow:    int64(binary.BigEndian.Uint64(d.TraceID[8:])),
			SpanId:        int64(binary.BigEndian.Uint64(d.SpanID[:])),
			ParentSpanId:  int64(binary.BigEndian.Uint64(d.ParentID[:])),
			OperationName: d.Name,
			Flags:         int32(d.Flags),
			StartTime:     d.Start / 1e3,
			Duration:      d.Duration() / 1e3,
		}
		tags := weftTags(d)
		if d.Kind != trace.KindInternal && d.Kind != trace.KindUnspecified {
			tags = append(tags, trace.String("span.kind", d.Kind.String()))
		}
		if d.StatusCode == trace.StatusError {
			tags = append(tags, trace.Bool("error", true))
		}
		for _, a := range tags {
			s.Tags = append(s.Tags, jaegerTag(a))
		}
		for i := range d.Events {
			ev := &d.Events[i]
			l := &jaegerthrift.Log{Timestamp: ev.Time / 1e3, Fields: []*jaegerthrift.Tag{jaegerTag(trace.String("event", ev.Name))}}
			for _, a := range ev.AppendWeftAttrs(ev.Attrs[:len(ev.Attrs):len(ev.Attrs)], d.Unit, d.TraceID) {
				l.Fields = append(l.Fields, jaegerTag(a))
			}
			s.Logs = append(s.Logs, l)
		}
		svc := d.ServiceName()
		if _, ok := byService[svc]; !ok {
			order = append(order, svc)
		}
		byService[svc] = append(byService[svc], s)
	}
	for _, svc := range order {
		batch := &jaegerthrift.Batch{Process: &jaegerthrift.Process{ServiceName: svc}, Spans: byService[svc]}
		body, err := thrift.NewTSerializer().Write(ctx, batch)
		if err != nil {
			return err
		}
		if err := post(ctx, e.client, e.endpoint, "application/x-thrift", body, e.hdr); err != nil {
			return err
		}
	}
	return nil
}

func (e *jaegerExporter) Shutdown(context.Context) error { return nil }

func jaegerTag(a trace.Attr) *jaegerthrift.Tag {
	t := &jaegerthrift.Tag{Key: a.Key}
	switch a.Value.Type() {
	case trace.TypeInt64:
		v := a.Value.AsInt64()
		t.VType, t.VLong = jaegerthrift.TagType_LONG, &v
	case trace.TypeFloat64:
		v := a.Value.AsFloat64()
		t.VType, t.VDouble = jaegerthrift.TagType_DOUBLE, &v
	case trace.TypeBool:
		v := a.Value.AsBool()
		t.VType, t.VBool = jaegerthrift.TagType_BOOL, &v
	default:
		v := a.Value.String()
		if a.Value.Type() == trace.TypeString {
			v = a.Value.AsString()
		}
		t.VType, t.VStr = jaegerthrift.TagType_STRING, &v
	}
	return t
}
