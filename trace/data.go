package trace

import "unsafe"

// Kind is the role of a span in an exchange; the numbering is OpenTelemetry's (and OTLP's).
type Kind uint8

// The span kinds.
const (
	KindUnspecified Kind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

// String is the lowercase name ("server", "client", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unspecified"
}

// StatusCode is the outcome of a span; the numbering is OpenTelemetry's.
type StatusCode uint8

// The status codes.
const (
	StatusUnset StatusCode = iota
	StatusOK
	StatusError
)

// String gives "unset", "ok" or "error".
func (c StatusCode) String() string {
	switch c {
	case StatusOK:
		return "ok"
	case StatusError:
		return "error"
	}
	return "unset"
}

// Resource describes the process that produces spans: its service name and the other resource attributes
// (service.version, host.name, deployment.environment, ...). One Resource is shared by every span of a Provider;
// it must not be modified once the Provider is made.
type Resource struct {
	Service string
	Attrs   []Attr
}

// EventRef names an event of a trace's DAG from elsewhere: the event ID, and the trace it belongs to when that
// is not the trace of the span holding the reference (zero TraceID: same trace).
type EventRef struct {
	TraceID TraceID
	EventID
}

// Event is a span event: a timestamped, named record inside a span, placed on an execution unit. Fork, join,
// send, receive and lock events are events like any other, named weft.fork, weft.join, weft.send, weft.receive,
// weft.lock.wait and weft.lock.acquire.
type Event struct {
	Time  int64 // Unix nanoseconds
	Name  string
	Attrs []Attr

	// Unit is the execution unit the event happened on (the library always sets it; on the wire it is written
	// only when it differs from the span's start unit).
	Unit uint64
	// Seq numbers the event on its unit; zero for an event with no place in the DAG.
	Seq uint32
	// Cause is the event this one waited for (the joined unit's last event, a sending event, a lock release);
	// zero if none.
	Cause EventRef
}

// Link is a reference from a span to another span, of this trace or another.
type Link struct {
	SpanContext SpanContext
	Attrs       []Attr
}

// SpanCounters are a span's counters: kept as plain numbers while the span runs and written as attributes
// (weft.bytes.in, weft.bytes.out, weft.retries) when it ends, for those that are not zero.
type SpanCounters struct {
	BytesIn  int64
	BytesOut int64
	Retries  int64
}

// The attribute keys that span counters are written under at End.
const (
	AttrBytesIn  = "weft.bytes.in"
	AttrBytesOut = "weft.bytes.out"
	AttrRetries  = "weft.retries"
)

// SpanData is the read-only record of an ended span, as exporters receive it. It belongs to the library: an
// exporter reads it during ExportSpans and must not keep the *SpanData, its slices or the batch slice after
// returning (use Clone to keep a copy), because the library reuses the memory for later spans.
type SpanData struct {
	// The fields up to Counters are the ones every span writes; they come first so that a span's start and end
	// touch as few cache lines as possible (see Span).

	TraceID  TraceID
	SpanID   SpanID
	ParentID SpanID // zero for a root span
	Name     string
	Kind     Kind

	StatusCode StatusCode
	// Flags are the W3C trace flags the span propagates (FlagSampled for a sampled span).
	Flags TraceFlags
	// Priority is the sampling priority that travels with the trace (see SpanContext.Priority).
	Priority int8
	// Unitary marks a span kept by unitary sampling: its trace was not sampled, but the span was slow or
	// failed. Exporters write it as the attribute weft.unitary=true.
	Unitary bool

	// StartSeq and EndSeq number the span's start and end events on their execution units (Unit, and EndUnit
	// when it is not zero).
	StartSeq, EndSeq uint32

	Start int64 // Unix nanoseconds
	End   int64 // Unix nanoseconds

	// Unit is the execution unit the span started on.
	Unit uint64

	// Resource is the Provider's resource, shared by all its spans.
	Resource *Resource
	// Scope is the name of the Tracer that started the span (the instrumentation scope).
	Scope string
	// TraceState is the W3C tracestate the span carries, verbatim.
	TraceState string

	Attrs []Attr

	// Counters are the span's counters; nonzero ones are also in Attrs.
	Counters SpanCounters

	StatusMessage string

	// Service overrides Resource.Service for this span when not empty (Datadog lets a span name its own
	// service, e.g. the database it calls).
	Service string
	// SpanResource is what the span served, as Datadog users know it: a route, a query, a method.
	SpanResource string
	// SpanType is the kind of work as Datadog users know it: http, db, cache, rpc, queue, custom, ...
	SpanType string

	Events []Event
	Links  []Link

	// EndUnit is the unit the span ended on when that is not Unit; zero otherwise.
	EndUnit uint64
	// StartCause is the event the span's start waited for: the fork of its goroutine, or the sending event of a
	// remote caller. Zero when nothing is known.
	StartCause EventRef

	// DroppedAttrs, DroppedEvents and DroppedLinks count what the span's limits turned away.
	DroppedAttrs, DroppedEvents, DroppedLinks int
}

// ServiceName is the span's service: its own Service if set, else its resource's.
func (d *SpanData) ServiceName() string {
	if d.Service != "" {
		return d.Service
	}
	if d.Resource != nil {
		return d.Resource.Service
	}
	return ""
}

// Duration is End-Start in nanoseconds.
func (d *SpanData) Duration() int64 { return d.End - d.Start }

// SpanContext is the span's propagated context.
func (d *SpanData) SpanContext() SpanContext {
	return SpanContext{TraceID: d.TraceID, SpanID: d.SpanID, Flags: d.Flags, TraceState: d.TraceState, Priority: d.Priority}
}

// Clone returns a deep copy that the caller may keep.
func (d *SpanData) Clone() *SpanData {
	c := new(SpanData)
	*c = *d
	c.Attrs = cloneAttrs(d.Attrs)
	c.Events = nil
	for _, e := range d.Events {
		e.Attrs = cloneAttrs(e.Attrs)
		c.Events = append(c.Events, e)
	}
	c.Links = nil
	for _, l := range d.Links {
		l.Attrs = cloneAttrs(l.Attrs)
		c.Links = append(c.Links, l)
	}
	return c
}

func cloneAttrs(as []Attr) []Attr {
	if len(as) == 0 {
		return nil
	}
	c := make([]Attr, len(as))
	for i, a := range as {
		c[i] = Attr{a.Key, a.Value.clone()}
	}
	return c
}

// Attr finds an attribute of the span by key.
func (d *SpanData) Attr(key string) (Value, bool) {
	for _, a := range d.Attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return Value{}, false
}

// setString writes v to *dst unless it is there already (see Span.reset): the same string, as Start is given a
// span name or a scope, compared by its data pointer and length rather than by a call to compare the bytes.
func setString(dst *string, v string) {
	if len(*dst) != len(v) || unsafe.StringData(*dst) != unsafe.StringData(v) {
		*dst = v
	}
}
