package datadog

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// Resource attribute keys set from Datadog's span fields and request headers.
const (
	attrEnv            = "deployment.environment.name"
	attrVersion        = "service.version"
	attrSDKName        = "telemetry.sdk.name"
	attrSDKLanguage    = "telemetry.sdk.language"
	attrSDKVersion     = "telemetry.sdk.version"
	attrRuntimeName    = "process.runtime.name"
	attrRuntimeVersion = "process.runtime.version"
	attrContainerID    = "container.id"
)

// unknownService names the service of a span that has none, as OpenTelemetry does.
const unknownService = "unknown_service"

// Meta keys with a meaning of their own in the model.
const (
	metaTraceIDHigh = "_dd.p.tid"
	metaSpanKind    = "span.kind"
	metaErrorMsg    = "error.msg"
	metaErrorMsg2   = "error.message"
	metaEnv         = "env"
	metaVersion     = "version"
)

// header is what the request's Datadog-Meta-* headers say about the tracer; it goes into every Resource.
type header struct {
	lang, langVersion, interpreter, tracerVersion, containerID string
}

// rawSpan holds a Datadog span's scalar fields while its maps stream into the builder.
type rawSpan struct {
	service, name, resource, typ string
	traceID, spanID, parentID    uint64
	start, duration              int64
	err                          int32
}

type resourceKey struct{ service, env, version string }

// builder turns Datadog spans into model spans for one request. Spans and their attributes are carved out of
// shared slabs, so a request costs few allocations whatever its size: the attributes of the span being decoded
// are appended straight to the attribute slab, from mark on.
type builder struct {
	norm      ingest.Normalizer
	hdr       header
	resources map[resourceKey]*model.Resource
	spans     []*model.Span
	slab      []model.Span
	attrs     []model.Attr
	mark      int // where the current span's attributes start in attrs

	// state of the span being decoded
	tidHigh uint64
	kind    model.Kind
	errMsg  string
	env     string
	version string
	events  []model.Event
	links   []model.Link
}

func newBuilder(h header) *builder {
	return &builder{hdr: h, resources: make(map[resourceKey]*model.Resource, 4)}
}

// begin clears the per-span state.
func (b *builder) begin() {
	b.attrs = b.attrs[:b.mark]
	b.tidHigh = 0
	b.kind = model.KindUnspecified
	b.errMsg, b.env, b.version = "", "", ""
	b.events, b.links = nil, nil
}

// meta takes one entry of a span's meta map.
func (b *builder) meta(k, v string) {
	switch k {
	case metaTraceIDHigh:
		if h, ok := parseHex64(v); ok {
			b.tidHigh = h
			return
		}
	case metaSpanKind:
		if kind := model.ParseKind(v); kind != model.KindUnspecified {
			b.kind = kind
			return
		}
	case metaEnv:
		b.env = v
		return
	case metaVersion:
		b.version = v
		return
	case metaEvents:
		if ev, ok := metaEventsJSON(v); ok {
			b.events = append(b.events, ev...)
			return
		}
	case metaLinks:
		if ls, ok := metaLinksJSON(v); ok {
			b.links = append(b.links, ls...)
			return
		}
	case metaErrorMsg, metaErrorMsg2:
		if b.errMsg == "" || k == metaErrorMsg {
			b.errMsg = v
		}
	}
	b.add(model.Attr{Key: k, Value: model.String(v)})
}

// metric takes one entry of a span's metrics map. _sampling_priority_v1 and every other metric stay attributes.
func (b *builder) metric(k string, f float64) {
	b.add(model.Attr{Key: k, Value: model.Float(f)})
}

// add appends an attribute of the current span, moving the span's attributes so far to a new slab when the
// slab is full (the spans already taken keep the old one).
func (b *builder) add(a model.Attr) {
	if len(b.attrs) == cap(b.attrs) {
		cur := b.attrs[b.mark:]
		next := make([]model.Attr, len(cur), max(1024, 2*len(cur)))
		copy(next, cur)
		b.attrs, b.mark = next, 0
	}
	b.attrs = append(b.attrs, a)
}

// finish validates the span and appends it to the request's spans; ti and si place it in error messages.
func (b *builder) finish(r *rawSpan, ti, si int) error {
	where := func() string { return fmt.Sprintf("trace %d span %d", ti, si) }
	switch {
	case r.traceID == 0:
		return badInput("%s: trace_id is zero", where())
	case r.spanID == 0:
		return badInput("%s: span_id is zero", where())
	case r.duration < 0:
		return badInput("%s: duration %d is negative", where(), r.duration)
	case r.start < 0:
		return badInput("%s: start %d is negative", where(), r.start)
	case r.duration > math.MaxInt64-r.start:
		return badInput("%s: start %d plus duration %d is out of range", where(), r.start, r.duration)
	}
	if len(b.slab) == cap(b.slab) {
		b.slab = make([]model.Span, 0, 64)
	}
	b.slab = b.slab[:len(b.slab)+1]
	s := &b.slab[len(b.slab)-1]
	binary.BigEndian.PutUint64(s.TraceID[:8], b.tidHigh)
	binary.BigEndian.PutUint64(s.TraceID[8:], r.traceID)
	binary.BigEndian.PutUint64(s.SpanID[:], r.spanID)
	if r.parentID != 0 {
		binary.BigEndian.PutUint64(s.ParentID[:], r.parentID)
	}
	s.Name = r.name
	s.SpanResource = r.resource
	s.SpanType = r.typ
	s.Kind = b.kind
	if s.Kind == model.KindUnspecified {
		s.Kind = kindOfType(r.typ)
	}
	s.Start = r.start
	s.Duration = r.duration
	if r.err != 0 {
		s.StatusCode = model.StatusError
		s.StatusMessage = b.errMsg
	}
	s.Resource = b.resource(r.service)
	s.Attrs = b.takeAttrs()
	s.Events = b.events
	s.Links = b.links
	ingest.ExtractCausality(s)
	b.norm.Normalize(s)
	b.spans = append(b.spans, s)
	return nil
}

// endTrace completes the 128-bit trace IDs of one trace chunk, the spans from first on. Tracers put _dd.p.tid,
// the upper half of the trace ID, on one span of a chunk only (dd-trace-go on the chunk's first span); the other
// spans of the chunk with the same lower half get it too, or the trace would split in two.
func (b *builder) endTrace(first int) {
	spans := b.spans[first:]
	for _, s := range spans {
		if [8]byte(s.TraceID[:8]) == [8]byte{} {
			continue
		}
		for _, o := range spans {
			if [8]byte(o.TraceID[:8]) == [8]byte{} && [8]byte(o.TraceID[8:]) == [8]byte(s.TraceID[8:]) {
				copy(o.TraceID[:8], s.TraceID[:8])
			}
		}
		return
	}
}

// takeAttrs returns the current span's attributes with their capacity capped, so that an append by a later
// stage cannot overwrite the next span's.
func (b *builder) takeAttrs() []model.Attr {
	start, end := b.mark, len(b.attrs)
	b.mark = end
	if start == end {
		return nil
	}
	return b.attrs[start:end:end]
}

// resource returns the request's Resource for the span's service, env and version, making it on first use.
func (b *builder) resource(service string) *model.Resource {
	if service == "" {
		service = unknownService
	}
	k := resourceKey{service, b.env, b.version}
	if r, ok := b.resources[k]; ok {
		return r
	}
	r := &model.Resource{Service: service}
	add := func(key, v string) {
		if v != "" {
			r.Attrs = append(r.Attrs, model.Attr{Key: key, Value: model.String(v)})
		}
	}
	add(attrEnv, b.env)
	add(attrVersion, b.version)
	add(attrSDKName, "datadog")
	add(attrSDKLanguage, strings.ToLower(b.hdr.lang))
	add(attrSDKVersion, b.hdr.tracerVersion)
	add(attrRuntimeName, b.hdr.interpreter)
	add(attrRuntimeVersion, b.hdr.langVersion)
	add(attrContainerID, b.hdr.containerID)
	b.resources[k] = r
	return r
}

// kindOfType infers a span's kind from its Datadog type when the tracer set no span.kind (older tracers do not):
// a "web" span serves a request; http, database and cache spans are calls out. Other types say nothing.
func kindOfType(typ string) model.Kind {
	switch typ {
	case "web":
		return model.KindServer
	case "http", "sql", "db", "cache", "redis", "memcached", "mongodb", "cassandra", "elasticsearch", "opensearch":
		return model.KindClient
	}
	return model.KindUnspecified
}

// parseHex64 reads 1 to 16 hex digits.
func parseHex64(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 16 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

func badInput(format string, args ...any) error {
	return &ingest.BadInputError{Protocol: "datadog", Msg: fmt.Sprintf(format, args...)}
}
