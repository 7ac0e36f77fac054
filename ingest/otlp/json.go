package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/weftrace/weft/ingest"
)

// UnmarshalJSON decodes an ExportTraceServiceRequest (or TracesData, which has the same shape) from OTLP JSON as
// the OTLP specification defines it: trace and span IDs in hex, enums as numbers or names, 64-bit integers as
// strings or numbers, and field names in lowerCamelCase or the proto's snake_case. Unknown fields are ignored.
// A malformed payload gives a *ingest.BadInputError naming the field, e.g.
// "resourceSpans[0].scopeSpans[0].spans[3].traceId: not hex".
func UnmarshalJSON(b []byte, req *coltracepb.ExportTraceServiceRequest) error {
	if unmarshalJSONFast(b, req) {
		return nil
	}
	return unmarshalJSONGeneral(b, req)
}

// unmarshalJSONGeneral is UnmarshalJSON through encoding/json's tree, for every body: the reference the fast reader
// is held to.
func unmarshalJSONGeneral(b []byte, req *coltracepb.ExportTraceServiceRequest) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return &ingest.BadInputError{Protocol: "otlp", Msg: "body is not valid JSON: " + err.Error()}
	}
	if dec.More() {
		return &ingest.BadInputError{Protocol: "otlp", Msg: "body has data after the JSON object"}
	}
	d := &jsonDecoder{}
	top := d.object(root, "")
	req.ResourceSpans = nil
	d.each(top, "resourceSpans", "", func(v any, path string) {
		req.ResourceSpans = append(req.ResourceSpans, d.resourceSpans(v, path))
	})
	if d.err != nil {
		return &ingest.BadInputError{Protocol: "otlp", Msg: d.err.Error()}
	}
	return nil
}

// jsonDecoder walks a decoded JSON value into the OTLP types, keeping the first error with its field path.
type jsonDecoder struct {
	err error
}

// jsonObject is a JSON object with its keys normalised (lowercase, no underscores), so that "traceId",
// "trace_id" and "TraceId" are one field.
type jsonObject map[string]any

func normKey(k string) string {
	if strings.IndexByte(k, '_') < 0 {
		for i := 0; i < len(k); i++ {
			if 'A' <= k[i] && k[i] <= 'Z' {
				return strings.ToLower(k)
			}
		}
		return k
	}
	return strings.ToLower(strings.ReplaceAll(k, "_", ""))
}

func (d *jsonDecoder) fail(path, format string, args ...any) {
	if d.err == nil {
		if path == "" {
			path = "body"
		}
		d.err = fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *jsonDecoder) object(v any, path string) jsonObject {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "expected an object, got %s", jsonType(v))
		return nil
	}
	o := make(jsonObject, len(m))
	for k, e := range m {
		o[normKey(k)] = e
	}
	return o
}

// each calls f for each element of the array under key (camelCase as OTLP spells it) of o.
func (d *jsonDecoder) each(o jsonObject, key, path string, f func(v any, path string)) {
	v, ok := o[normKey(key)]
	if !ok || v == nil || d.err != nil {
		return
	}
	arr, ok := v.([]any)
	if !ok {
		d.fail(join(path, key), "expected an array, got %s", jsonType(v))
		return
	}
	for i, e := range arr {
		if d.err != nil {
			return
		}
		f(e, join(path, key)+"["+strconv.Itoa(i)+"]")
	}
}

func (d *jsonDecoder) str(o jsonObject, key, path string) string {
	v, ok := o[normKey(key)]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(join(path, key), "expected a string, got %s", jsonType(v))
	}
	return s
}

// uint reads an unsigned integer sent as a number or a decimal string.
func (d *jsonDecoder) uint(o jsonObject, key, path string, bits int) uint64 {
	v, ok := o[normKey(key)]
	if !ok || v == nil {
		return 0
	}
	var text string
	switch x := v.(type) {
	case json.Number:
		text = string(x)
	case string:
		text = x
	default:
		d.fail(join(path, key), "expected an integer, got %s", jsonType(v))
		return 0
	}
	n, err := strconv.ParseUint(text, 10, bits)
	if err != nil {
		d.fail(join(path, key), "expected an unsigned %d-bit integer, got %q", bits, text)
	}
	return n
}

// enum reads an enum as a number or as one of its names.
func (d *jsonDecoder) enum(o jsonObject, key, path string, names map[string]int32) int32 {
	v, ok := o[normKey(key)]
	if !ok || v == nil {
		return 0
	}
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 32)
		if err != nil {
			d.fail(join(path, key), "expected an enum number, got %s", x)
		}
		return int32(n)
	case string:
		if n, ok := names[x]; ok {
			return n
		}
		d.fail(join(path, key), "unknown value %q", x)
		return 0
	}
	d.fail(join(path, key), "expected an enum number or name, got %s", jsonType(v))
	return 0
}

// hexID reads a trace or span ID in hex; an empty string is an absent ID.
func (d *jsonDecoder) hexID(o jsonObject, key, path string) []byte {
	s := d.str(o, key, path)
	if s == "" {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		d.fail(join(path, key), "%q is not hex", truncate(s))
		return nil
	}
	return b
}

func (d *jsonDecoder) resourceSpans(v any, path string) *tracepb.ResourceSpans {
	o := d.object(v, path)
	rs := &tracepb.ResourceSpans{SchemaUrl: d.str(o, "schemaUrl", path)}
	if r := d.object(o[normKey("resource")], join(path, "resource")); r != nil {
		rs.Resource = &resourcepb.Resource{
			Attributes:             d.attributes(r, join(path, "resource")),
			DroppedAttributesCount: uint32(d.uint(r, "droppedAttributesCount", join(path, "resource"), 32)),
		}
	}
	scopes := func(key, scopeKey string) {
		d.each(o, key, path, func(v any, p string) {
			so := d.object(v, p)
			ss := &tracepb.ScopeSpans{SchemaUrl: d.str(so, "schemaUrl", p)}
			if sc := d.object(so[normKey(scopeKey)], join(p, scopeKey)); sc != nil {
				sp := join(p, scopeKey)
				ss.Scope = &commonpb.InstrumentationScope{
					Name:                   d.str(sc, "name", sp),
					Version:                d.str(sc, "version", sp),
					Attributes:             d.attributes(sc, sp),
					DroppedAttributesCount: uint32(d.uint(sc, "droppedAttributesCount", sp, 32)),
				}
			}
			d.each(so, "spans", p, func(v any, sp string) {
				ss.Spans = append(ss.Spans, d.span(v, sp))
			})
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		})
	}
	scopes("scopeSpans", "scope")
	scopes("instrumentationLibrarySpans", "instrumentationLibrary") // OTLP before 0.19
	return rs
}

var kindNames = map[string]int32{
	"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
	"SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
}

var statusNames = map[string]int32{"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}

func (d *jsonDecoder) span(v any, path string) *tracepb.Span {
	o := d.object(v, path)
	s := &tracepb.Span{
		TraceId:                d.hexID(o, "traceId", path),
		SpanId:                 d.hexID(o, "spanId", path),
		ParentSpanId:           d.hexID(o, "parentSpanId", path),
		TraceState:             d.str(o, "traceState", path),
		Flags:                  uint32(d.uint(o, "flags", path, 32)),
		Name:                   d.str(o, "name", path),
		Kind:                   tracepb.Span_SpanKind(d.enum(o, "kind", path, kindNames)),
		StartTimeUnixNano:      d.uint(o, "startTimeUnixNano", path, 64),
		EndTimeUnixNano:        d.uint(o, "endTimeUnixNano", path, 64),
		Attributes:             d.attributes(o, path),
		DroppedAttributesCount: uint32(d.uint(o, "droppedAttributesCount", path, 32)),
		DroppedEventsCount:     uint32(d.uint(o, "droppedEventsCount", path, 32)),
		DroppedLinksCount:      uint32(d.uint(o, "droppedLinksCount", path, 32)),
	}
	d.each(o, "events", path, func(v any, p string) {
		eo := d.object(v, p)
		s.Events = append(s.Events, &tracepb.Span_Event{
			TimeUnixNano:           d.uint(eo, "timeUnixNano", p, 64),
			Name:                   d.str(eo, "name", p),
			Attributes:             d.attributes(eo, p),
			DroppedAttributesCount: uint32(d.uint(eo, "droppedAttributesCount", p, 32)),
		})
	})
	d.each(o, "links", path, func(v any, p string) {
		lo := d.object(v, p)
		s.Links = append(s.Links, &tracepb.Span_Link{
			TraceId:                d.hexID(lo, "traceId", p),
			SpanId:                 d.hexID(lo, "spanId", p),
			TraceState:             d.str(lo, "traceState", p),
			Attributes:             d.attributes(lo, p),
			DroppedAttributesCount: uint32(d.uint(lo, "droppedAttributesCount", p, 32)),
			Flags:                  uint32(d.uint(lo, "flags", p, 32)),
		})
	})
	if st := d.object(o[normKey("status")], join(path, "status")); st != nil {
		s.Status = &tracepb.Status{
			Message: d.str(st, "message", join(path, "status")),
			Code:    tracepb.Status_StatusCode(d.enum(st, "code", join(path, "status"), statusNames)),
		}
	}
	return s
}

func (d *jsonDecoder) attributes(o jsonObject, path string) []*commonpb.KeyValue {
	return d.keyValues(o, "attributes", path, 0)
}

func (d *jsonDecoder) keyValues(o jsonObject, key, path string, depth int) []*commonpb.KeyValue {
	var kvs []*commonpb.KeyValue
	d.each(o, key, path, func(v any, p string) {
		ko := d.object(v, p)
		kvs = append(kvs, &commonpb.KeyValue{Key: d.str(ko, "key", p), Value: d.anyValue(ko[normKey("value")], join(p, "value"), depth)})
	})
	return kvs
}

func (d *jsonDecoder) anyValue(v any, path string, depth int) *commonpb.AnyValue {
	o := d.object(v, path)
	if o == nil || d.err != nil {
		return nil
	}
	if depth > maxValueDepth {
		d.fail(path, "values nested more than %d deep", maxValueDepth)
		return nil
	}
	for _, k := range anyValueKeys { // in a fixed order: a value with more than one takes the first here
		x, ok := o[k]
		if !ok {
			continue
		}
		switch k {
		case "stringvalue":
			s, ok := x.(string)
			if !ok {
				d.fail(join(path, "stringValue"), "expected a string, got %s", jsonType(x))
			}
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
		case "boolvalue":
			b, ok := x.(bool)
			if !ok {
				d.fail(join(path, "boolValue"), "expected true or false, got %s", jsonType(x))
			}
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
		case "intvalue":
			var text string
			switch n := x.(type) {
			case json.Number:
				text = string(n)
			case string:
				text = n
			default:
				d.fail(join(path, "intValue"), "expected an integer, got %s", jsonType(x))
				return nil
			}
			i, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				d.fail(join(path, "intValue"), "expected a 64-bit integer, got %q", truncate(text))
			}
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
		case "doublevalue":
			var f float64
			switch n := x.(type) {
			case json.Number:
				var err error
				if f, err = strconv.ParseFloat(string(n), 64); err != nil {
					d.fail(join(path, "doubleValue"), "expected a number, got %s", n)
				}
			case string: // protobuf JSON spells the non-finite values as strings
				switch n {
				case "NaN":
					f = math.NaN()
				case "Infinity":
					f = math.Inf(1)
				case "-Infinity":
					f = math.Inf(-1)
				default:
					var err error
					if f, err = strconv.ParseFloat(n, 64); err != nil {
						d.fail(join(path, "doubleValue"), "expected a number, got %q", truncate(n))
					}
				}
			default:
				d.fail(join(path, "doubleValue"), "expected a number, got %s", jsonType(x))
			}
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
		case "bytesvalue":
			s, ok := x.(string)
			if !ok {
				d.fail(join(path, "bytesValue"), "expected a base64 string, got %s", jsonType(x))
				return nil
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				if b, err = base64.URLEncoding.DecodeString(s); err != nil {
					d.fail(join(path, "bytesValue"), "not base64")
				}
			}
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: b}}
		case "arrayvalue":
			p := join(path, "arrayValue")
			ao := d.object(x, p)
			var vals []*commonpb.AnyValue
			d.each(ao, "values", p, func(v any, ip string) {
				vals = append(vals, d.anyValue(v, ip, depth+1))
			})
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
		case "kvlistvalue":
			p := join(path, "kvlistValue")
			ko := d.object(x, p)
			kvs := d.keyValues(ko, "values", p, depth+1)
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
		}
	}
	return &commonpb.AnyValue{} // an empty value: allowed by OTLP
}

// anyValueKeys are the fields of AnyValue, normalised as jsonObject keys.
var anyValueKeys = []string{"stringvalue", "boolvalue", "intvalue", "doublevalue", "bytesvalue", "arrayvalue", "kvlistvalue"}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
