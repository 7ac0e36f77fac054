// Package otlp is weft's OpenTelemetry (OTLP) trace receiver: TraceService/Export over gRPC and POST /v1/traces
// over HTTP in protobuf and JSON. It decodes into model.Span, moves the weft library's causal attributes into the
// model (ingest.ExtractCausality), applies the shared conventions (ingest.Normalize) and hands each request whole
// to an ingest.Consumer. It also encodes model spans back to OTLP, which the query API uses to offer a trace as
// OTLP JSON. It sits at the start of the flow: receive → write-ahead log → store.
package otlp

import (
	"fmt"
	"math"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// Attribute keys under which the counts OTLP carries outside attributes are kept on the model (OTLP's dropped
// counts have no field of their own in model.Span); Encode turns them back into the OTLP fields.
const (
	AttrDroppedAttributes = "otlp.dropped_attributes_count"
	AttrDroppedEvents     = "otlp.dropped_events_count"
	AttrDroppedLinks      = "otlp.dropped_links_count"
)

// unknownService is the service of a resource without service.name, as the OpenTelemetry specification says.
const unknownService = "unknown_service"

// maxValueDepth bounds the nesting of array and kvlist attribute values that are kept.
const maxValueDepth = 32

// decoded is the result of converting one request: the accepted spans, and the spans refused with the reason
// of the first refusal (for OTLP's partial success).
type decoded struct {
	spans    []*model.Span
	rejected int64
	reason   string
}

func (d *decoded) reject(format string, args ...any) {
	if d.rejected == 0 {
		d.reason = fmt.Sprintf(format, args...)
	}
	d.rejected++
}

// fromProto converts the resource spans of one request to model spans. A span with an invalid trace, span,
// parent or link ID is refused alone; the rest are kept. Spans get ExtractCausality and Normalize.
func fromProto(rss []*tracepb.ResourceSpans) decoded {
	var d decoded
	n := 0
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	d.spans = make([]*model.Span, 0, n)
	block := make([]model.Span, n) // one allocation for all spans of the request
	var norm ingest.Normalizer
	for ri, rs := range rss {
		res := convertResource(rs.GetResource())
		for si, ss := range rs.GetScopeSpans() {
			scope, version := ss.GetScope().GetName(), ss.GetScope().GetVersion()
			for pi, p := range ss.GetSpans() {
				s := &block[len(d.spans)+int(d.rejected)]
				if msg := convertSpan(s, p); msg != "" {
					d.reject("resourceSpans[%d].scopeSpans[%d].spans[%d]: %s", ri, si, pi, msg)
					continue
				}
				s.Resource, s.Scope, s.ScopeVersion = res, scope, version
				ingest.ExtractCausality(s)
				norm.Normalize(s)
				d.spans = append(d.spans, s)
			}
		}
	}
	return d
}

func convertResource(r *resourcepb.Resource) *model.Resource {
	res := &model.Resource{}
	attrs := r.GetAttributes()
	if len(attrs) > 0 {
		res.Attrs = make([]model.Attr, 0, len(attrs))
	}
	for _, kv := range attrs {
		if kv.GetKey() == "service.name" && res.Service == "" {
			if sv, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_StringValue); ok {
				res.Service = sv.StringValue
				continue
			}
		}
		res.Attrs = append(res.Attrs, model.Attr{Key: kv.GetKey(), Value: convertValue(kv.GetValue(), 0)})
	}
	if n := r.GetDroppedAttributesCount(); n > 0 {
		res.Attrs = append(res.Attrs, model.Attr{Key: AttrDroppedAttributes, Value: model.Int(int64(n))})
	}
	if res.Service == "" {
		res.Service = unknownService
	}
	if len(res.Attrs) == 0 {
		res.Attrs = nil
	}
	return res
}

// convertSpan fills s from p, or says why p is refused.
func convertSpan(s *model.Span, p *tracepb.Span) string {
	var ok bool
	if s.TraceID, ok = traceID(p.GetTraceId()); !ok {
		return fmt.Sprintf("traceId must be 16 bytes and not all zero, got %d bytes %x", len(p.GetTraceId()), p.GetTraceId())
	}
	if s.SpanID, ok = spanID(p.GetSpanId()); !ok {
		return fmt.Sprintf("spanId must be 8 bytes and not all zero, got %d bytes %x", len(p.GetSpanId()), p.GetSpanId())
	}
	if len(p.GetParentSpanId()) != 0 {
		if len(p.GetParentSpanId()) != 8 {
			return fmt.Sprintf("parentSpanId must be 8 bytes or empty, got %d bytes", len(p.GetParentSpanId()))
		}
		copy(s.ParentID[:], p.GetParentSpanId())
	}
	start, end := p.GetStartTimeUnixNano(), p.GetEndTimeUnixNano()
	if start > math.MaxInt64 || end > math.MaxInt64 {
		return "startTimeUnixNano and endTimeUnixNano must be below 2^63"
	}
	s.Start = int64(start)
	if end > start {
		s.Duration = int64(end - start)
	}
	s.Name = p.GetName()
	if k := p.GetKind(); k >= 0 && k <= tracepb.Span_SPAN_KIND_CONSUMER {
		s.Kind = model.Kind(k)
	}
	switch p.GetStatus().GetCode() {
	case tracepb.Status_STATUS_CODE_OK:
		s.StatusCode = model.StatusOK
	case tracepb.Status_STATUS_CODE_ERROR:
		s.StatusCode = model.StatusError
	}
	s.StatusMessage = p.GetStatus().GetMessage()
	s.TraceState = p.GetTraceState()

	extra := 0
	if p.GetDroppedAttributesCount() > 0 {
		extra++
	}
	if p.GetDroppedEventsCount() > 0 {
		extra++
	}
	if p.GetDroppedLinksCount() > 0 {
		extra++
	}
	s.Attrs = convertAttrs(p.GetAttributes(), extra)
	if n := p.GetDroppedAttributesCount(); n > 0 {
		s.Attrs = append(s.Attrs, model.Attr{Key: AttrDroppedAttributes, Value: model.Int(int64(n))})
	}
	if n := p.GetDroppedEventsCount(); n > 0 {
		s.Attrs = append(s.Attrs, model.Attr{Key: AttrDroppedEvents, Value: model.Int(int64(n))})
	}
	if n := p.GetDroppedLinksCount(); n > 0 {
		s.Attrs = append(s.Attrs, model.Attr{Key: AttrDroppedLinks, Value: model.Int(int64(n))})
	}

	if evs := p.GetEvents(); len(evs) > 0 {
		s.Events = make([]model.Event, len(evs))
		for i, e := range evs {
			t := e.GetTimeUnixNano()
			if t > math.MaxInt64 {
				return fmt.Sprintf("events[%d].timeUnixNano must be below 2^63", i)
			}
			ev := &s.Events[i]
			ev.Time, ev.Name = int64(t), e.GetName()
			extra := 0
			if e.GetDroppedAttributesCount() > 0 {
				extra = 1
			}
			ev.Attrs = convertAttrs(e.GetAttributes(), extra)
			if n := e.GetDroppedAttributesCount(); n > 0 {
				ev.Attrs = append(ev.Attrs, model.Attr{Key: AttrDroppedAttributes, Value: model.Int(int64(n))})
			}
		}
	}
	if links := p.GetLinks(); len(links) > 0 {
		s.Links = make([]model.Link, len(links))
		for i, l := range links {
			lk := &s.Links[i]
			if lk.TraceID, ok = traceID(l.GetTraceId()); !ok {
				return fmt.Sprintf("links[%d].traceId must be 16 bytes and not all zero", i)
			}
			if lk.SpanID, ok = spanID(l.GetSpanId()); !ok {
				return fmt.Sprintf("links[%d].spanId must be 8 bytes and not all zero", i)
			}
			lk.TraceState = l.GetTraceState()
			lk.Attrs = convertAttrs(l.GetAttributes(), 0)
		}
	}
	return ""
}

func traceID(b []byte) (model.TraceID, bool) {
	var t model.TraceID
	if len(b) != len(t) {
		return t, false
	}
	copy(t[:], b)
	return t, !t.IsZero()
}

func spanID(b []byte) (model.SpanID, bool) {
	var s model.SpanID
	if len(b) != len(s) {
		return s, false
	}
	copy(s[:], b)
	return s, !s.IsZero()
}

func convertAttrs(kvs []*commonpb.KeyValue, extra int) []model.Attr {
	if len(kvs)+extra == 0 {
		return nil
	}
	attrs := make([]model.Attr, len(kvs), len(kvs)+extra)
	for i, kv := range kvs {
		attrs[i] = model.Attr{Key: kv.GetKey(), Value: convertValue(kv.GetValue(), 0)}
	}
	return attrs
}

func convertValue(v *commonpb.AnyValue, depth int) model.Value {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return model.String(x.StringValue)
	case *commonpb.AnyValue_IntValue:
		return model.Int(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return model.Float(x.DoubleValue)
	case *commonpb.AnyValue_BoolValue:
		return model.Bool(x.BoolValue)
	case *commonpb.AnyValue_BytesValue:
		return model.Bytes(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		if depth >= maxValueDepth {
			return model.Value{}
		}
		vs := x.ArrayValue.GetValues()
		out := make([]model.Value, len(vs))
		for i, e := range vs {
			out[i] = convertValue(e, depth+1)
		}
		return model.Value{Type: model.TypeArray, Array: out}
	case *commonpb.AnyValue_KvlistValue:
		if depth >= maxValueDepth {
			return model.Value{}
		}
		kvs := x.KvlistValue.GetValues()
		out := make([]model.Attr, len(kvs))
		for i, kv := range kvs {
			out[i] = model.Attr{Key: kv.GetKey(), Value: convertValue(kv.GetValue(), depth+1)}
		}
		return model.Value{Type: model.TypeMap, Map: out}
	}
	return model.Value{}
}
