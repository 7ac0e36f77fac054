package otlp

import (
	"encoding/hex"
	"strconv"
	"unsafe"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/weftrace/weft/ingest/internal/jsonread"
)

// unmarshalJSONFast reads OTLP JSON as SDKs and collectors write it — lowerCamelCase field names, each once; IDs in
// hex; integers as numbers or decimal strings; enums as numbers or names; attribute values that are strings,
// booleans, integers or doubles — straight into the official types, without encoding/json's tree of maps. On
// anything else, valid or not, it reports false and UnmarshalJSON's general path decodes the body: its answer
// (including the error naming what was wrong) is the reference, and a test holds the two to equal requests on
// every body this one takes.
func unmarshalJSONFast(b []byte, req *coltracepb.ExportTraceServiceRequest) bool {
	d := otlpJSON{r: jsonread.Reader{B: b}, intern: make(map[string]string, 64)}
	d.r.WS()
	if d.r.Peek() != '{' {
		return false
	}
	var out []*tracepb.ResourceSpans
	ok := d.r.Object(func(key []byte) bool {
		if string(key) != "resourceSpans" {
			return false
		}
		return d.r.Array(func() bool {
			rs := &tracepb.ResourceSpans{}
			out = append(out, rs)
			return d.resourceSpans(rs)
		})
	})
	if !ok || !d.r.End() {
		return false
	}
	req.ResourceSpans = out
	return true
}

// otlpJSON is the reader of unmarshalJSONFast; every method reports false for what it does not take.
type otlpJSON struct {
	r      jsonread.Reader
	intern map[string]string // keys and names: one string per request
}

// str reads a string; shared strings (keys, names) are interned.
func (d *otlpJSON) str(shared bool) (string, bool) {
	b, _, ok := d.r.String()
	if !ok {
		return "", false
	}
	if !shared || len(b) == 0 || len(b) > 64 {
		return string(b), true
	}
	if s, ok := d.intern[string(b)]; ok {
		return s, true
	}
	s := string(b)
	if len(d.intern) < 4096 {
		d.intern[s] = s
	}
	return s, true
}

// text reads a number, or a string as the general path takes for integers, and gives its text for parsing only.
func (d *otlpJSON) text() (string, bool) {
	var b []byte
	var ok bool
	if d.r.Peek() == '"' {
		b, _, ok = d.r.String()
	} else {
		b, ok = d.r.Number()
	}
	if !ok || len(b) == 0 {
		return "", false
	}
	return unsafe.String(&b[0], len(b)), true
}

func (d *otlpJSON) uint(bits int) (uint64, bool) {
	t, ok := d.text()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(t, 10, bits)
	return n, err == nil
}

func (d *otlpJSON) uint32(v *uint32) bool {
	n, ok := d.uint(32)
	*v = uint32(n)
	return ok
}

// enum reads an enum as a number or one of its names.
func (d *otlpJSON) enum(names map[string]int32) (int32, bool) {
	if d.r.Peek() == '"' {
		b, _, ok := d.r.String()
		if !ok {
			return 0, false
		}
		n, ok := names[string(b)]
		return n, ok
	}
	b, ok := d.r.Number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 32)
	return int32(n), err == nil
}

// hexID reads an ID in hex; an empty string is an absent ID.
func (d *otlpJSON) hexID() ([]byte, bool) {
	b, _, ok := d.r.String()
	if !ok || len(b)%2 != 0 {
		return nil, false
	}
	if len(b) == 0 {
		return nil, true
	}
	id := make([]byte, len(b)/2)
	_, err := hex.Decode(id, b)
	return id, err == nil
}

func (d *otlpJSON) resourceSpans(rs *tracepb.ResourceSpans) bool {
	return d.r.Object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "resource":
			rs.Resource = &resourcepb.Resource{}
			ok = d.r.Object(func(key []byte) bool {
				switch string(key) {
				case "attributes":
					return d.attributes(&rs.Resource.Attributes)
				case "droppedAttributesCount":
					return d.uint32(&rs.Resource.DroppedAttributesCount)
				}
				return false
			})
		case "scopeSpans":
			ok = d.r.Array(func() bool {
				ss := &tracepb.ScopeSpans{}
				rs.ScopeSpans = append(rs.ScopeSpans, ss)
				return d.scopeSpans(ss)
			})
		case "schemaUrl":
			rs.SchemaUrl, ok = d.str(false)
		}
		return ok
	})
}

func (d *otlpJSON) scopeSpans(ss *tracepb.ScopeSpans) bool {
	return d.r.Object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "scope":
			sc := &commonpb.InstrumentationScope{}
			ss.Scope = sc
			ok = d.r.Object(func(key []byte) bool {
				var ok bool
				switch string(key) {
				case "name":
					sc.Name, ok = d.str(true)
				case "version":
					sc.Version, ok = d.str(true)
				case "attributes":
					ok = d.attributes(&sc.Attributes)
				case "droppedAttributesCount":
					ok = d.uint32(&sc.DroppedAttributesCount)
				}
				return ok
			})
		case "spans":
			ok = d.r.Array(func() bool {
				s := &tracepb.Span{}
				ss.Spans = append(ss.Spans, s)
				return d.span(s)
			})
		case "schemaUrl":
			ss.SchemaUrl, ok = d.str(false)
		}
		return ok
	})
}

func (d *otlpJSON) span(s *tracepb.Span) bool {
	return d.r.Object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "traceId":
			s.TraceId, ok = d.hexID()
		case "spanId":
			s.SpanId, ok = d.hexID()
		case "parentSpanId":
			s.ParentSpanId, ok = d.hexID()
		case "traceState":
			s.TraceState, ok = d.str(false)
		case "flags":
			ok = d.uint32(&s.Flags)
		case "name":
			s.Name, ok = d.str(true)
		case "kind":
			var k int32
			k, ok = d.enum(kindNames)
			s.Kind = tracepb.Span_SpanKind(k)
		case "startTimeUnixNano":
			s.StartTimeUnixNano, ok = d.uint(64)
		case "endTimeUnixNano":
			s.EndTimeUnixNano, ok = d.uint(64)
		case "attributes":
			ok = d.attributes(&s.Attributes)
		case "droppedAttributesCount":
			ok = d.uint32(&s.DroppedAttributesCount)
		case "droppedEventsCount":
			ok = d.uint32(&s.DroppedEventsCount)
		case "droppedLinksCount":
			ok = d.uint32(&s.DroppedLinksCount)
		case "events":
			ok = d.r.Array(func() bool {
				e := &tracepb.Span_Event{}
				s.Events = append(s.Events, e)
				return d.event(e)
			})
		case "links":
			ok = d.r.Array(func() bool {
				l := &tracepb.Span_Link{}
				s.Links = append(s.Links, l)
				return d.link(l)
			})
		case "status":
			st := &tracepb.Status{}
			s.Status = st
			ok = d.r.Object(func(key []byte) bool {
				var ok bool
				switch string(key) {
				case "message":
					st.Message, ok = d.str(false)
				case "code":
					var c int32
					c, ok = d.enum(statusNames)
					st.Code = tracepb.Status_StatusCode(c)
				}
				return ok
			})
		}
		return ok
	})
}

func (d *otlpJSON) event(e *tracepb.Span_Event) bool {
	return d.r.Object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "timeUnixNano":
			e.TimeUnixNano, ok = d.uint(64)
		case "name":
			e.Name, ok = d.str(true)
		case "attributes":
			ok = d.attributes(&e.Attributes)
		case "droppedAttributesCount":
			ok = d.uint32(&e.DroppedAttributesCount)
		}
		return ok
	})
}

func (d *otlpJSON) link(l *tracepb.Span_Link) bool {
	return d.r.Object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "traceId":
			l.TraceId, ok = d.hexID()
		case "spanId":
			l.SpanId, ok = d.hexID()
		case "traceState":
			l.TraceState, ok = d.str(false)
		case "attributes":
			ok = d.attributes(&l.Attributes)
		case "droppedAttributesCount":
			ok = d.uint32(&l.DroppedAttributesCount)
		case "flags":
			ok = d.uint32(&l.Flags)
		}
		return ok
	})
}

func (d *otlpJSON) attributes(kvs *[]*commonpb.KeyValue) bool {
	return d.r.Array(func() bool {
		kv := &commonpb.KeyValue{}
		*kvs = append(*kvs, kv)
		return d.r.Object(func(key []byte) bool {
			var ok bool
			switch string(key) {
			case "key":
				kv.Key, ok = d.str(true)
			case "value":
				kv.Value, ok = d.anyValue()
			}
			return ok
		})
	})
}

// anyValue reads an AnyValue of one scalar field, or an empty one; arrays, lists and bytes go to the general path.
func (d *otlpJSON) anyValue() (*commonpb.AnyValue, bool) {
	v := &commonpb.AnyValue{}
	n := 0
	ok := d.r.Object(func(key []byte) bool {
		if n++; n > 1 { // the general path takes the first of several in map order: not this one's to decide
			return false
		}
		switch string(key) {
		case "stringValue":
			s, ok := d.str(false)
			v.Value = &commonpb.AnyValue_StringValue{StringValue: s}
			return ok
		case "boolValue":
			b, ok := d.r.Bool()
			v.Value = &commonpb.AnyValue_BoolValue{BoolValue: b}
			return ok
		case "intValue":
			t, ok := d.text()
			if !ok {
				return false
			}
			i, err := strconv.ParseInt(t, 10, 64)
			v.Value = &commonpb.AnyValue_IntValue{IntValue: i}
			return err == nil
		case "doubleValue":
			b, ok := d.r.Number()
			if !ok {
				return false
			}
			f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
			v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: f}
			return err == nil
		}
		return false
	})
	return v, ok
}
