// Package model is weft's one internal span model. Every receiver decodes into it, the write-ahead log and the
// stores persist it, and the query APIs and the analysis read it. Conversions to and from wire formats live at
// the edges, in the package of each protocol (ingest/otlp, ingest/zipkin, query/jaeger, ...), never here.
//
// A span from the weft library also carries its place in the trace's DAG of events: the execution unit it ran on,
// the sequence numbers of its start and end events on that unit, and the events it waited for (see Causality).
// Spans from other clients leave those fields zero.
package model

import (
	"encoding/hex"
	"errors"
)

// TraceID is a 128-bit trace identifier. Clients with 64-bit IDs (Datadog, old Zipkin and Jaeger) fill the
// low 8 bytes and leave the high 8 bytes zero.
type TraceID [16]byte

// SpanID is a 64-bit span identifier.
type SpanID [8]byte

// IsZero reports whether the ID is all zeroes, which no valid trace has.
func (t TraceID) IsZero() bool { return t == TraceID{} }

// String is the 32-digit lowercase hex form used by W3C, OTLP JSON and the query APIs.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// IsZero reports whether the ID is all zeroes (no span; no parent).
func (s SpanID) IsZero() bool { return s == SpanID{} }

// String is the 16-digit lowercase hex form.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// ErrBadID is returned by the ID parsers for text that is not hex of an acceptable length.
var ErrBadID = errors.New("model: id is not hex of an acceptable length")

// ParseTraceID reads 1 to 32 hex digits (shorter forms are 64-bit IDs from Zipkin and Jaeger clients, left-padded
// with zeroes). It rejects the all-zero ID.
func ParseTraceID(s string) (TraceID, error) {
	var t TraceID
	if len(s) == 0 || len(s) > 32 {
		return t, ErrBadID
	}
	var buf [32]byte
	for i := range buf {
		buf[i] = '0'
	}
	copy(buf[32-len(s):], s)
	if _, err := hex.Decode(t[:], buf[:]); err != nil {
		return TraceID{}, ErrBadID
	}
	if t.IsZero() {
		return t, ErrBadID
	}
	return t, nil
}

// ParseSpanID reads 1 to 16 hex digits, left-padded with zeroes. It rejects the all-zero ID.
func ParseSpanID(s string) (SpanID, error) {
	var id SpanID
	if len(s) == 0 || len(s) > 16 {
		return id, ErrBadID
	}
	var buf [16]byte
	for i := range buf {
		buf[i] = '0'
	}
	copy(buf[16-len(s):], s)
	if _, err := hex.Decode(id[:], buf[:]); err != nil {
		return SpanID{}, ErrBadID
	}
	if id.IsZero() {
		return id, ErrBadID
	}
	return id, nil
}

// Kind is the role of a span in an exchange, as in OpenTelemetry.
type Kind uint8

const (
	KindUnspecified Kind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

// String is the lowercase name Jaeger and Zipkin use ("server", "client", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unspecified"
}

// ParseKind reads a kind name in any case; unknown names give KindUnspecified.
func ParseKind(s string) Kind {
	for i, n := range kindNames {
		if equalFold(s, n) {
			return Kind(i)
		}
	}
	return KindUnspecified
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// StatusCode is the outcome of a span, as in OpenTelemetry.
type StatusCode uint8

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

// Resource describes the process that produced a batch of spans. Spans decoded from one batch share one
// *Resource, so it is stored and compared once.
type Resource struct {
	Service string // service.name, or the Datadog/Zipkin/Jaeger service
	Attrs   []Attr // every other resource or process attribute (host.name, telemetry.sdk.*, ...)
}

// Span is one timed operation. Times are Unix nanoseconds.
type Span struct {
	TraceID  TraceID
	SpanID   SpanID
	ParentID SpanID // zero for a root span

	Name     string
	Kind     Kind
	Start    int64 // Unix nanoseconds
	Duration int64 // nanoseconds, never negative

	StatusCode    StatusCode
	StatusMessage string

	Resource *Resource // never nil once decoded

	// The fields that Datadog users know. Receivers fill them from Datadog's own fields, or from conventions
	// (http.route, db.statement, ...) where a client has none; empty when nothing applies.
	SpanResource string // the route, query or method the span served
	SpanType     string // http, db, cache, rpc, queue, custom, ...

	Scope        string // instrumentation scope name
	ScopeVersion string

	Attrs  []Attr
	Events []Event
	Links  []Link

	TraceState string // W3C tracestate as received, if any

	// Flags records how the span came to be kept.
	Flags Flags

	// Causality from the weft library; zero for foreign spans.
	Causality Causality
}

// Flags are properties of a span that are neither attributes nor status.
type Flags uint16

const (
	// FlagUnitary marks a span kept by unitary sampling: its trace was not sampled, but the span itself was
	// slow or failed, so it was kept on its own.
	FlagUnitary Flags = 1 << iota
	// FlagShared marks a Zipkin span whose ID is shared between client and server sides.
	FlagShared
)

// End is the span's end time in Unix nanoseconds.
func (s *Span) End() int64 { return s.Start + s.Duration }

// Service is the span's service name ("" when the span has no resource).
func (s *Span) Service() string {
	if s.Resource == nil {
		return ""
	}
	return s.Resource.Service
}

// IsError reports whether the span failed.
func (s *Span) IsError() bool { return s.StatusCode == StatusError }

// Attr finds a span attribute, then a resource attribute, by key.
func (s *Span) Attr(key string) (Value, bool) {
	for _, a := range s.Attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	if s.Resource != nil {
		for _, a := range s.Resource.Attrs {
			if a.Key == key {
				return a.Value, true
			}
		}
	}
	return Value{}, false
}

// Event is a timestamped record inside a span (an OpenTelemetry span event, a Zipkin annotation, a Jaeger log).
// Events from the weft library also carry their place on an execution unit.
type Event struct {
	Time  int64 // Unix nanoseconds
	Name  string
	Attrs []Attr

	// Unit and Seq place the event on an execution unit (Unit zero means the span's own start unit). Seq zero
	// means the event has no place in the DAG (a foreign event).
	Unit  uint64
	Seq   uint32
	Cause EventRef // the event this one waited for (a join, a receive, a lock hand-over); zero if none
}

// Link is a reference from a span to a span of another (or the same) trace.
type Link struct {
	TraceID    TraceID
	SpanID     SpanID
	TraceState string
	Attrs      []Attr
}

// EventRef names one event of the DAG: the event with sequence number Seq on execution unit Unit of trace
// TraceID. A zero TraceID means "the same trace as the span that holds the reference".
type EventRef struct {
	TraceID TraceID
	Unit    uint64
	Seq     uint32
}

// IsZero reports whether the reference names nothing.
func (r EventRef) IsZero() bool { return r.Unit == 0 && r.Seq == 0 }

// Causality is a weft span's place in the event DAG. Unit is the execution unit (one goroutine doing sequential
// work for the trace) on which the span started; StartSeq and EndSeq number its start and end events on that unit
// (EndUnit is set when the span ended on another unit). StartCause is the event the start waited for: the fork
// event of the goroutine that started it, or, for the first span of a process in a trace, the sending event of
// the caller, carried in tracestate.
type Causality struct {
	Unit       uint64
	StartSeq   uint32
	EndUnit    uint64 // zero: same as Unit
	EndSeq     uint32
	StartCause EventRef
}

// IsZero reports whether the span carries no causal information (a foreign span).
func (c Causality) IsZero() bool { return c.Unit == 0 }
