package weft

import (
	"encoding/base64"
	"math"
	"strconv"

	"github.com/weftrace/weft/model"
)

// The OTLP/JSON encoding of a trace (ExportTraceServiceRequest as the OTLP specification's JSON mapping writes it:
// lowerCamelCase names, hex trace and span IDs, 64-bit integers and nanosecond times as decimal strings, enums as
// integers). Downloaded traces can be sent back to any OTLP/HTTP receiver, weft's included: the weft library's
// causal fields travel as the weft.* attributes of docs/causality.md.

type otlpRequest struct {
	ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
}

type otlpResourceSpans struct {
	Resource   otlpResource     `json:"resource"`
	ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
}

type otlpResource struct {
	Attributes []otlpKeyValue `json:"attributes"`
}

type otlpScopeSpans struct {
	Scope otlpScope  `json:"scope"`
	Spans []otlpSpan `json:"spans"`
}

type otlpScope struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

type otlpSpan struct {
	TraceID           string         `json:"traceId"`
	SpanID            string         `json:"spanId"`
	TraceState        string         `json:"traceState,omitempty"`
	ParentSpanID      string         `json:"parentSpanId,omitempty"`
	Name              string         `json:"name"`
	Kind              int            `json:"kind"`
	StartTimeUnixNano string         `json:"startTimeUnixNano"`
	EndTimeUnixNano   string         `json:"endTimeUnixNano"`
	Attributes        []otlpKeyValue `json:"attributes,omitempty"`
	Events            []otlpEvent    `json:"events,omitempty"`
	Links             []otlpLink     `json:"links,omitempty"`
	Status            *otlpStatus    `json:"status,omitempty"`
}

type otlpEvent struct {
	TimeUnixNano string         `json:"timeUnixNano"`
	Name         string         `json:"name"`
	Attributes   []otlpKeyValue `json:"attributes,omitempty"`
}

type otlpLink struct {
	TraceID    string         `json:"traceId"`
	SpanID     string         `json:"spanId"`
	TraceState string         `json:"traceState,omitempty"`
	Attributes []otlpKeyValue `json:"attributes,omitempty"`
}

type otlpStatus struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type otlpKeyValue struct {
	Key   string       `json:"key"`
	Value otlpAnyValue `json:"value"`
}

// otlpAnyValue has exactly one field set; an empty value is {}.
type otlpAnyValue struct {
	StringValue *string         `json:"stringValue,omitempty"`
	BoolValue   *bool           `json:"boolValue,omitempty"`
	IntValue    *string         `json:"intValue,omitempty"`
	DoubleValue any             `json:"doubleValue,omitempty"` // a number, or "NaN", "Infinity", "-Infinity"
	BytesValue  *string         `json:"bytesValue,omitempty"`
	ArrayValue  *otlpArrayValue `json:"arrayValue,omitempty"`
	KvlistValue *otlpKvlist     `json:"kvlistValue,omitempty"`
}

type otlpArrayValue struct {
	Values []otlpAnyValue `json:"values"`
}

type otlpKvlist struct {
	Values []otlpKeyValue `json:"values"`
}

// EncodeOTLP converts the spans of one trace to an OTLP/JSON export request: one resourceSpans per distinct
// resource and one scopeSpans per scope, in the order of the spans' start times.
func EncodeOTLP(spans []*model.Span) any {
	req := otlpRequest{ResourceSpans: []otlpResourceSpans{}}
	rs := newResources()
	type scopeKey struct {
		res           int
		name, version string
	}
	scopeIndex := map[scopeKey]int{}
	for _, s := range sortSpans(spans) {
		ri, isNew := rs.index(s.Resource)
		if isNew {
			var r otlpResource
			if s.Resource != nil {
				if s.Resource.Service != "" {
					r.Attributes = append(r.Attributes, kvString("service.name", s.Resource.Service))
				}
				for _, a := range s.Resource.Attrs {
					r.Attributes = append(r.Attributes, otlpKV(a))
				}
			}
			if r.Attributes == nil {
				r.Attributes = []otlpKeyValue{}
			}
			req.ResourceSpans = append(req.ResourceSpans, otlpResourceSpans{Resource: r, ScopeSpans: []otlpScopeSpans{}})
		}
		rs := &req.ResourceSpans[ri]
		sk := scopeKey{ri, s.Scope, s.ScopeVersion}
		si, ok := scopeIndex[sk]
		if !ok {
			si = len(rs.ScopeSpans)
			scopeIndex[sk] = si
			rs.ScopeSpans = append(rs.ScopeSpans, otlpScopeSpans{Scope: otlpScope{Name: s.Scope, Version: s.ScopeVersion}})
		}
		rs.ScopeSpans[si].Spans = append(rs.ScopeSpans[si].Spans, otlpSpanOf(s))
	}
	return req
}

func otlpSpanOf(s *model.Span) otlpSpan {
	o := otlpSpan{
		TraceID:           s.TraceID.String(),
		SpanID:            s.SpanID.String(),
		TraceState:        s.TraceState,
		Name:              s.Name,
		Kind:              int(s.Kind), // model.Kind follows OTLP's SpanKind numbering
		StartTimeUnixNano: strconv.FormatInt(s.Start, 10),
		EndTimeUnixNano:   strconv.FormatInt(s.End(), 10),
	}
	if !s.ParentID.IsZero() {
		o.ParentSpanID = s.ParentID.String()
	}
	for _, a := range s.Attrs {
		o.Attributes = append(o.Attributes, otlpKV(a))
	}
	c := s.Causality
	if !c.IsZero() {
		o.Attributes = append(o.Attributes,
			kvString("weft.unit", unitText(c.Unit)),
			kvInt("weft.seq.start", int64(c.StartSeq)),
			kvInt("weft.seq.end", int64(c.EndSeq)))
		if c.EndUnit != 0 && c.EndUnit != c.Unit {
			o.Attributes = append(o.Attributes, kvString("weft.unit.end", unitText(c.EndUnit)))
		}
		if !c.StartCause.IsZero() {
			o.Attributes = append(o.Attributes, kvString("weft.cause", causeText(c.StartCause)))
		}
	}
	for _, e := range s.Events {
		ev := otlpEvent{TimeUnixNano: strconv.FormatInt(e.Time, 10), Name: e.Name}
		for _, a := range e.Attrs {
			ev.Attributes = append(ev.Attributes, otlpKV(a))
		}
		if e.Seq != 0 {
			ev.Attributes = append(ev.Attributes, kvInt("weft.seq", int64(e.Seq)))
			if e.Unit != 0 && e.Unit != c.Unit {
				ev.Attributes = append(ev.Attributes, kvString("weft.unit", unitText(e.Unit)))
			}
			if !e.Cause.IsZero() {
				ev.Attributes = append(ev.Attributes, kvString("weft.cause", causeText(e.Cause)))
			}
		}
		o.Events = append(o.Events, ev)
	}
	for _, l := range s.Links {
		ol := otlpLink{TraceID: l.TraceID.String(), SpanID: l.SpanID.String(), TraceState: l.TraceState}
		for _, a := range l.Attrs {
			ol.Attributes = append(ol.Attributes, otlpKV(a))
		}
		o.Links = append(o.Links, ol)
	}
	if s.StatusCode != model.StatusUnset || s.StatusMessage != "" {
		o.Status = &otlpStatus{Code: int(s.StatusCode), Message: s.StatusMessage} // same numbering as OTLP
	}
	return o
}

// causeText is the causal wire format: "<unit>:<seq>", or "<trace>:<unit>:<seq>" for another trace.
func causeText(r model.EventRef) string {
	s := unitText(r.Unit) + ":" + strconv.FormatUint(uint64(r.Seq), 10)
	if !r.TraceID.IsZero() {
		s = r.TraceID.String() + ":" + s
	}
	return s
}

func kvString(k, v string) otlpKeyValue {
	return otlpKeyValue{Key: k, Value: otlpAnyValue{StringValue: &v}}
}

func kvInt(k string, v int64) otlpKeyValue {
	return otlpKeyValue{Key: k, Value: otlpValue(model.Int(v))}
}

func otlpKV(a model.Attr) otlpKeyValue { return otlpKeyValue{Key: a.Key, Value: otlpValue(a.Value)} }

func otlpValue(v model.Value) otlpAnyValue {
	switch v.Type {
	case model.TypeString:
		s := v.Str
		return otlpAnyValue{StringValue: &s}
	case model.TypeBool:
		b := v.Bool()
		return otlpAnyValue{BoolValue: &b}
	case model.TypeInt:
		s := strconv.FormatInt(v.Int(), 10)
		return otlpAnyValue{IntValue: &s}
	case model.TypeFloat:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return otlpAnyValue{DoubleValue: "NaN"}
		case math.IsInf(f, 1):
			return otlpAnyValue{DoubleValue: "Infinity"}
		case math.IsInf(f, -1):
			return otlpAnyValue{DoubleValue: "-Infinity"}
		}
		return otlpAnyValue{DoubleValue: f}
	case model.TypeBytes:
		s := base64.StdEncoding.EncodeToString([]byte(v.Str))
		return otlpAnyValue{BytesValue: &s}
	case model.TypeArray:
		a := &otlpArrayValue{Values: make([]otlpAnyValue, len(v.Array))}
		for i, e := range v.Array {
			a.Values[i] = otlpValue(e)
		}
		return otlpAnyValue{ArrayValue: a}
	case model.TypeMap:
		m := &otlpKvlist{Values: make([]otlpKeyValue, len(v.Map))}
		for i, e := range v.Map {
			m.Values[i] = otlpKV(e)
		}
		return otlpAnyValue{KvlistValue: m}
	}
	return otlpAnyValue{}
}
