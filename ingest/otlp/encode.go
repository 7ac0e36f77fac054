package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// Encode converts model spans to OTLP, the inverse of the receiver's decoding: spans are grouped by their
// *model.Resource and then by scope, in order of first appearance; the causal fields become the weft.*
// attributes of the wire format again, and the dropped counts kept as otlp.dropped_* attributes become OTLP's
// fields.
func Encode(spans []*model.Span) *tracepb.TracesData {
	td := &tracepb.TracesData{}
	type scopeKey struct {
		res           *model.Resource
		name, version string
	}
	resources := map[*model.Resource]*tracepb.ResourceSpans{}
	scopes := map[scopeKey]*tracepb.ScopeSpans{}
	for _, s := range spans {
		rs := resources[s.Resource]
		if rs == nil {
			rs = &tracepb.ResourceSpans{Resource: encodeResource(s.Resource)}
			resources[s.Resource] = rs
			td.ResourceSpans = append(td.ResourceSpans, rs)
		}
		k := scopeKey{s.Resource, s.Scope, s.ScopeVersion}
		ss := scopes[k]
		if ss == nil {
			ss = &tracepb.ScopeSpans{}
			if s.Scope != "" || s.ScopeVersion != "" {
				ss.Scope = &commonpb.InstrumentationScope{Name: s.Scope, Version: s.ScopeVersion}
			}
			scopes[k] = ss
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, encodeSpan(s))
	}
	return td
}

func encodeResource(r *model.Resource) *resourcepb.Resource {
	out := &resourcepb.Resource{}
	if r == nil {
		return out
	}
	if r.Service != "" {
		out.Attributes = append(out.Attributes, &commonpb.KeyValue{Key: "service.name", Value: encodeValue(model.String(r.Service))})
	}
	for _, a := range r.Attrs {
		if a.Key == AttrDroppedAttributes && a.Value.Type == model.TypeInt {
			out.DroppedAttributesCount = uint32(a.Value.Int())
			continue
		}
		out.Attributes = append(out.Attributes, encodeAttr(a))
	}
	return out
}

func encodeSpan(s *model.Span) *tracepb.Span {
	p := &tracepb.Span{
		TraceId:           append([]byte(nil), s.TraceID[:]...),
		SpanId:            append([]byte(nil), s.SpanID[:]...),
		TraceState:        s.TraceState,
		Name:              s.Name,
		Kind:              tracepb.Span_SpanKind(s.Kind),
		StartTimeUnixNano: uint64(s.Start),
		EndTimeUnixNano:   uint64(s.Start + s.Duration),
	}
	if !s.ParentID.IsZero() {
		p.ParentSpanId = append([]byte(nil), s.ParentID[:]...)
	}
	causal := ingest.SpanWeftAttrs(s)
	p.Attributes = make([]*commonpb.KeyValue, 0, len(s.Attrs)+len(causal))
	for _, a := range s.Attrs {
		if a.Value.Type == model.TypeInt {
			switch a.Key {
			case AttrDroppedAttributes:
				p.DroppedAttributesCount = uint32(a.Value.Int())
				continue
			case AttrDroppedEvents:
				p.DroppedEventsCount = uint32(a.Value.Int())
				continue
			case AttrDroppedLinks:
				p.DroppedLinksCount = uint32(a.Value.Int())
				continue
			}
		}
		p.Attributes = append(p.Attributes, encodeAttr(a))
	}
	for _, a := range causal {
		p.Attributes = append(p.Attributes, encodeAttr(a))
	}
	for i := range s.Events {
		e := &s.Events[i]
		pe := &tracepb.Span_Event{TimeUnixNano: uint64(e.Time), Name: e.Name}
		for _, a := range e.Attrs {
			if a.Key == AttrDroppedAttributes && a.Value.Type == model.TypeInt {
				pe.DroppedAttributesCount = uint32(a.Value.Int())
				continue
			}
			pe.Attributes = append(pe.Attributes, encodeAttr(a))
		}
		for _, a := range ingest.EventCausalityAttrs(e) {
			pe.Attributes = append(pe.Attributes, encodeAttr(a))
		}
		p.Events = append(p.Events, pe)
	}
	for _, l := range s.Links {
		pl := &tracepb.Span_Link{
			TraceId:    append([]byte(nil), l.TraceID[:]...),
			SpanId:     append([]byte(nil), l.SpanID[:]...),
			TraceState: l.TraceState,
		}
		for _, a := range l.Attrs {
			pl.Attributes = append(pl.Attributes, encodeAttr(a))
		}
		p.Links = append(p.Links, pl)
	}
	if s.StatusCode != model.StatusUnset || s.StatusMessage != "" {
		p.Status = &tracepb.Status{Code: tracepb.Status_StatusCode(s.StatusCode), Message: s.StatusMessage}
	}
	return p
}

func encodeAttr(a model.Attr) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: a.Key, Value: encodeValue(a.Value)}
}

func encodeValue(v model.Value) *commonpb.AnyValue {
	switch v.Type {
	case model.TypeString:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.Str}}
	case model.TypeInt:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.Int()}}
	case model.TypeFloat:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.Float()}}
	case model.TypeBool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.Bool()}}
	case model.TypeBytes:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte(v.Str)}}
	case model.TypeArray:
		vals := make([]*commonpb.AnyValue, len(v.Array))
		for i, e := range v.Array {
			vals[i] = encodeValue(e)
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	case model.TypeMap:
		kvs := make([]*commonpb.KeyValue, len(v.Map))
		for i, a := range v.Map {
			kvs[i] = encodeAttr(a)
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
	}
	return &commonpb.AnyValue{}
}

// MarshalJSON writes td as OTLP JSON, the form OTLP/HTTP JSON and the OpenTelemetry file exporter use: lowerCamelCase
// field names, trace and span IDs in hex, 64-bit integers as strings, enums as numbers, bytes in base64. It is
// what UnmarshalJSON reads.
func MarshalJSON(td *tracepb.TracesData) ([]byte, error) {
	w := jsonWriter{b: make([]byte, 0, 1024)}
	w.raw(`{"resourceSpans":[`)
	for i, rs := range td.GetResourceSpans() {
		w.comma(i)
		w.raw(`{"resource":{"attributes":`)
		w.attrs(rs.GetResource().GetAttributes())
		if n := rs.GetResource().GetDroppedAttributesCount(); n > 0 {
			w.raw(`,"droppedAttributesCount":`)
			w.uint(uint64(n))
		}
		w.raw(`},"scopeSpans":[`)
		for j, ss := range rs.GetScopeSpans() {
			w.comma(j)
			w.raw(`{"scope":{"name":`)
			w.str(ss.GetScope().GetName())
			w.raw(`,"version":`)
			w.str(ss.GetScope().GetVersion())
			w.raw(`},"spans":[`)
			for k, s := range ss.GetSpans() {
				w.comma(k)
				w.span(s)
			}
			w.raw(`]`)
			if u := ss.GetSchemaUrl(); u != "" {
				w.raw(`,"schemaUrl":`)
				w.str(u)
			}
			w.raw(`}`)
		}
		w.raw(`]`)
		if u := rs.GetSchemaUrl(); u != "" {
			w.raw(`,"schemaUrl":`)
			w.str(u)
		}
		w.raw(`}`)
	}
	w.raw(`]}`)
	return w.b, nil
}

type jsonWriter struct{ b []byte }

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) comma(i int) {
	if i > 0 {
		w.b = append(w.b, ',')
	}
}

func (w *jsonWriter) uint(n uint64) { w.b = strconv.AppendUint(w.b, n, 10) }

// quint writes a 64-bit integer as a JSON string, as the protobuf JSON mapping does.
func (w *jsonWriter) quint(n uint64) {
	w.b = append(w.b, '"')
	w.b = strconv.AppendUint(w.b, n, 10)
	w.b = append(w.b, '"')
}

func (w *jsonWriter) hex(id []byte) {
	w.b = append(w.b, '"')
	w.b = hex.AppendEncode(w.b, id)
	w.b = append(w.b, '"')
}

// str writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func (w *jsonWriter) str(s string) {
	const digits = "0123456789abcdef"
	w.b = append(w.b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				w.b = append(w.b, '\\', c)
			case c == '\n':
				w.b = append(w.b, '\\', 'n')
			case c == '\r':
				w.b = append(w.b, '\\', 'r')
			case c == '\t':
				w.b = append(w.b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				w.b = append(w.b, '\\', 'u', '0', '0', digits[c>>4], digits[c&0xf])
			default:
				w.b = append(w.b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			w.b = append(w.b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			w.b = append(w.b, '\\', 'u', '2', '0', '2', digits[r&0xf])
		default:
			w.b = append(w.b, s[i:i+size]...)
		}
		i += size
	}
	w.b = append(w.b, '"')
}

func (w *jsonWriter) span(s *tracepb.Span) {
	w.raw(`{"traceId":`)
	w.hex(s.GetTraceId())
	w.raw(`,"spanId":`)
	w.hex(s.GetSpanId())
	if len(s.GetParentSpanId()) > 0 {
		w.raw(`,"parentSpanId":`)
		w.hex(s.GetParentSpanId())
	}
	if s.GetTraceState() != "" {
		w.raw(`,"traceState":`)
		w.str(s.GetTraceState())
	}
	if s.GetFlags() != 0 {
		w.raw(`,"flags":`)
		w.uint(uint64(s.GetFlags()))
	}
	w.raw(`,"name":`)
	w.str(s.GetName())
	w.raw(`,"kind":`)
	w.uint(uint64(s.GetKind()))
	w.raw(`,"startTimeUnixNano":`)
	w.quint(s.GetStartTimeUnixNano())
	w.raw(`,"endTimeUnixNano":`)
	w.quint(s.GetEndTimeUnixNano())
	w.raw(`,"attributes":`)
	w.attrs(s.GetAttributes())
	w.counts(s.GetDroppedAttributesCount(), "droppedAttributesCount")
	if len(s.GetEvents()) > 0 {
		w.raw(`,"events":[`)
		for i, e := range s.GetEvents() {
			w.comma(i)
			w.raw(`{"timeUnixNano":`)
			w.quint(e.GetTimeUnixNano())
			w.raw(`,"name":`)
			w.str(e.GetName())
			w.raw(`,"attributes":`)
			w.attrs(e.GetAttributes())
			w.counts(e.GetDroppedAttributesCount(), "droppedAttributesCount")
			w.raw(`}`)
		}
		w.raw(`]`)
	}
	w.counts(s.GetDroppedEventsCount(), "droppedEventsCount")
	if len(s.GetLinks()) > 0 {
		w.raw(`,"links":[`)
		for i, l := range s.GetLinks() {
			w.comma(i)
			w.raw(`{"traceId":`)
			w.hex(l.GetTraceId())
			w.raw(`,"spanId":`)
			w.hex(l.GetSpanId())
			if l.GetTraceState() != "" {
				w.raw(`,"traceState":`)
				w.str(l.GetTraceState())
			}
			w.raw(`,"attributes":`)
			w.attrs(l.GetAttributes())
			w.counts(l.GetDroppedAttributesCount(), "droppedAttributesCount")
			w.raw(`}`)
		}
		w.raw(`]`)
	}
	w.counts(s.GetDroppedLinksCount(), "droppedLinksCount")
	if st := s.GetStatus(); st != nil {
		w.raw(`,"status":{`)
		sep := ""
		if st.GetMessage() != "" {
			w.raw(`"message":`)
			w.str(st.GetMessage())
			sep = ","
		}
		if st.GetCode() != 0 {
			w.raw(sep + `"code":`)
			w.uint(uint64(st.GetCode()))
		}
		w.raw(`}`)
	}
	w.raw(`}`)
}

func (w *jsonWriter) counts(n uint32, name string) {
	if n > 0 {
		w.raw(`,"` + name + `":`)
		w.uint(uint64(n))
	}
}

func (w *jsonWriter) attrs(kvs []*commonpb.KeyValue) {
	w.raw(`[`)
	for i, kv := range kvs {
		w.comma(i)
		w.raw(`{"key":`)
		w.str(kv.GetKey())
		w.raw(`,"value":`)
		w.value(kv.GetValue())
		w.raw(`}`)
	}
	w.raw(`]`)
}

func (w *jsonWriter) value(v *commonpb.AnyValue) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		w.raw(`{"stringValue":`)
		w.str(x.StringValue)
	case *commonpb.AnyValue_IntValue:
		w.raw(`{"intValue":"`)
		w.b = strconv.AppendInt(w.b, x.IntValue, 10)
		w.raw(`"`)
	case *commonpb.AnyValue_DoubleValue:
		w.raw(`{"doubleValue":`)
		f := x.DoubleValue
		switch {
		case math.IsNaN(f):
			w.raw(`"NaN"`)
		case math.IsInf(f, 1):
			w.raw(`"Infinity"`)
		case math.IsInf(f, -1):
			w.raw(`"-Infinity"`)
		default:
			w.b = strconv.AppendFloat(w.b, f, 'g', -1, 64)
		}
	case *commonpb.AnyValue_BoolValue:
		w.raw(`{"boolValue":`)
		w.b = strconv.AppendBool(w.b, x.BoolValue)
	case *commonpb.AnyValue_BytesValue:
		w.raw(`{"bytesValue":"`)
		w.b = base64.StdEncoding.AppendEncode(w.b, x.BytesValue)
		w.raw(`"`)
	case *commonpb.AnyValue_ArrayValue:
		w.raw(`{"arrayValue":{"values":[`)
		for i, e := range x.ArrayValue.GetValues() {
			w.comma(i)
			w.value(e)
		}
		w.raw(`]}`)
	case *commonpb.AnyValue_KvlistValue:
		w.raw(`{"kvlistValue":{"values":`)
		w.attrs(x.KvlistValue.GetValues())
		w.raw(`}`)
	default:
		w.raw(`{`)
	}
	w.raw(`}`)
}
