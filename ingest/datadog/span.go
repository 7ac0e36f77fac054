package datadog

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/internal/spanmem"
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

// builder turns Datadog spans into model spans, one request at a time. Spans and their attributes are carved out
// of blocks (spanmem.Blocks) that serve the next request once the consumer has let go of the spans
// (ingest.Released): the attributes of the span being decoded are appended straight to the attribute block, from
// mark on. Builders are pooled, with their blocks, their strings (spanmem.Strings: keys interned across requests,
// never written again) and their msgpack reader.
type builder struct {
	norm      ingest.Normalizer
	hdr       header
	batch     ingest.Batch // the consumer's, if any: given each span as it is done
	resources map[resourceKey]*model.Resource
	lastKey   resourceKey // the last span's, and its Resource
	last      *model.Resource
	spans     []*model.Span
	slab      spanmem.Blocks[model.Span]
	attrs     spanmem.Blocks[model.Attr]
	mark      int // where the current span's attributes start in attrs
	strs      spanmem.Strings
	m         reader
	table     stringTable // /v0.5's, whose ends are reused; its strings are the spans'

	// state of the span being decoded
	tidHigh uint64
	kind    model.Kind
	errMsg  string
	env     string
	version string
	events  []model.Event
	links   []model.Link
}

// Blocks of 32 KiB or so (a size class): 128 spans, 292 attributes.
const (
	spanBlock = 128
	attrBlock = 292
)

// maxTableBuf bounds the /v0.5 string table buffer a pooled builder keeps (and with it the table's ends).
const maxTableBuf = 1 << 20

var builders = sync.Pool{New: func() any {
	b := &builder{resources: make(map[resourceKey]*model.Resource, 4)}
	b.slab.Size, b.attrs.Size = spanBlock, attrBlock
	b.m.strs = &b.strs
	return b
}}

// newBuilder gives a builder for one request from a tracer that sent h, whose spans are also added to batch
// (unless nil) as they are done. Give it back with release once the spans are handed over.
func newBuilder(h header, batch ingest.Batch) *builder {
	b := builders.Get().(*builder)
	b.hdr, b.batch = h, batch
	return b
}

// release ends the builder's request (see reset) and gives the builder back to the pool.
func (b *builder) release(reuse bool) {
	b.reset(reuse)
	builders.Put(b)
}

// reset ends the builder's request. With reuse (the consumer released the spans: ingest.Released), the blocks that
// held the spans and their attributes are zeroed and kept for the next request, and so is the slice of span
// pointers; otherwise they are left to the spans' new owner. Strings are never written again either way.
func (b *builder) reset(reuse bool) {
	b.slab.Reset(reuse)
	b.attrs.Reset(reuse)
	if reuse {
		clear(b.spans)
		b.spans = b.spans[:0]
	} else {
		b.spans = nil
	}
	b.mark = 0
	b.batch = nil
	b.hdr = header{}
	clear(b.resources)
	b.lastKey, b.last = resourceKey{}, nil
	b.strs.EndRequest()
	b.m.reset(nil)
	b.table.all = ""
	if cap(b.table.buf) > maxTableBuf {
		b.table.buf, b.table.ends = nil, nil
	}
	b.begin()
}

// begin clears the per-span state.
func (b *builder) begin() {
	b.attrs.Truncate(b.mark)
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
	b.mark = b.attrs.Append(b.mark, model.Attr{Key: k, Value: model.String(v)})
}

// metric takes one entry of a span's metrics map. _sampling_priority_v1 and every other metric stay attributes.
func (b *builder) metric(k string, f float64) {
	b.mark = b.attrs.Append(b.mark, model.Attr{Key: k, Value: model.Float(f)})
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
	s := b.slab.New()
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
	s.Attrs = b.attrs.Since(b.mark)
	b.mark = b.attrs.Len()
	s.Events = b.events
	s.Links = b.links
	ingest.ExtractCausality(s)
	b.norm.Normalize(s)
	b.spans = append(b.spans, s)
	return nil
}

// endTrace completes the 128-bit trace IDs of one trace chunk, the spans from first on. Tracers put _dd.p.tid,
// the upper half of the trace ID, on one span of a chunk only (dd-trace-go on the chunk's first span); the other
// spans of the chunk with the same lower half get it too, or the trace would split in two. The chunk's spans are
// then done, and go to the consumer's batch.
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
		break
	}
	if b.batch != nil {
		for _, s := range spans {
			b.batch.Add(s)
		}
	}
}

// resource returns the request's Resource for the span's service, env and version, making it on first use.
func (b *builder) resource(service string) *model.Resource {
	if service == "" {
		service = unknownService
	}
	k := resourceKey{service, b.env, b.version}
	if k == b.lastKey && b.last != nil { // most spans of a request are of one service
		return b.last
	}
	if r, ok := b.resources[k]; ok {
		b.lastKey, b.last = k, r
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
	b.lastKey, b.last = k, r
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
