// Package propagation moves a trace's context across process boundaries: it injects the current span's
// context into outgoing headers and extracts a remote one from incoming headers, in the formats other systems
// speak (W3C trace context and baggage, B3, Datadog, Jaeger) and in any combination of them (Composite).
//
// It sits at the edge of the library: instrumentation (an HTTP middleware, a gRPC interceptor, a message
// producer) calls Inject before sending and Extract on receipt; the core package trace starts the spans. A
// header that does not parse is ignored and counted (see ParseFailures); the receiving side then starts a new
// trace instead of continuing a corrupted one. Nothing in this package panics on input from the network.
package propagation

import (
	"context"
	"net/http"
	"net/textproto"
	"sync/atomic"

	"github.com/weftrace/weft/trace"
)

// Propagator writes a span context into a carrier and reads one back. Implementations are safe for concurrent
// use and keep no state between calls.
type Propagator interface {
	// Inject writes the context of the span current in ctx (and, for baggage, the baggage in ctx) into c.
	// It writes nothing when ctx carries no valid span context.
	Inject(ctx context.Context, c Carrier)
	// Extract returns ctx with the remote span context (or baggage) read from c. When c holds nothing of this
	// format, or only a malformed header, ctx is returned unchanged and a span started from it begins a new trace.
	Extract(ctx context.Context, c Carrier) context.Context
	// Fields are the header names the propagator reads and writes, lowercase.
	Fields() []string
}

// Carrier holds headers as text key/value pairs. Keys are given lowercase; a carrier that is case-insensitive
// (HTTP) canonicalises them itself.
type Carrier interface {
	// Get returns the first value under key, or "".
	Get(key string) string
	// Set replaces the values under key with value.
	Set(key, value string)
}

// ValuesCarrier is a Carrier that can hold several values under one key, as HTTP can. Propagators use it where
// a format gives repeated headers a meaning: a repeated traceparent is invalid, repeated tracestate and baggage
// headers are joined.
type ValuesCarrier interface {
	Carrier
	// Values returns every value under key, in order. The slice must not be modified.
	Values(key string) []string
}

// HeaderCarrier adapts an http.Header to a ValuesCarrier. Lookups of the headers this package knows cost no
// allocation.
type HeaderCarrier http.Header

// Get returns the first value of the header key.
func (h HeaderCarrier) Get(key string) string {
	if v := h[canonicalKey(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns every value of the header key.
func (h HeaderCarrier) Values(key string) []string { return h[canonicalKey(key)] }

// Set replaces the header key with a single value. Like http.Header.Set it makes a new value slice: one copied
// shallowly from another header must not be written through.
func (h HeaderCarrier) Set(key, value string) { h[canonicalKey(key)] = []string{value} }

// canonicalKey is textproto.CanonicalMIMEHeaderKey without the allocation for the headers propagators use.
func canonicalKey(k string) string {
	switch k {
	case hTraceparent:
		return "Traceparent"
	case hTracestate:
		return "Tracestate"
	case hBaggage:
		return "Baggage"
	case hB3:
		return "B3"
	case hB3TraceID:
		return "X-B3-Traceid"
	case hB3SpanID:
		return "X-B3-Spanid"
	case hB3ParentSpanID:
		return "X-B3-Parentspanid"
	case hB3Sampled:
		return "X-B3-Sampled"
	case hB3Flags:
		return "X-B3-Flags"
	case hDDTraceID:
		return "X-Datadog-Trace-Id"
	case hDDParentID:
		return "X-Datadog-Parent-Id"
	case hDDPriority:
		return "X-Datadog-Sampling-Priority"
	case hDDOrigin:
		return "X-Datadog-Origin"
	case hDDTags:
		return "X-Datadog-Tags"
	case hJaeger:
		return "Uber-Trace-Id"
	}
	return textproto.CanonicalMIMEHeaderKey(k)
}

// MapCarrier is a Carrier over a map with exact keys, for transports without case-insensitive headers (message
// metadata, tests).
type MapCarrier map[string]string

// Get returns the value under key.
func (m MapCarrier) Get(key string) string { return m[key] }

// Set stores value under key.
func (m MapCarrier) Set(key, value string) { m[key] = value }

// Failures counts the headers that were present but malformed and therefore ignored, by header kind, since
// the process started.
type Failures struct {
	Traceparent uint64 // W3C traceparent
	Tracestate  uint64 // W3C tracestate, including a malformed weft entry
	Baggage     uint64 // W3C baggage
	B3          uint64 // B3 single or multiple headers
	Datadog     uint64 // x-datadog-* headers
	Jaeger      uint64 // uber-trace-id
}

// Total is the sum over all header kinds.
func (f Failures) Total() uint64 {
	return f.Traceparent + f.Tracestate + f.Baggage + f.B3 + f.Datadog + f.Jaeger
}

type failureKind int

const (
	failTraceparent failureKind = iota
	failTracestate
	failBaggage
	failB3
	failDatadog
	failJaeger
	numFailureKinds
)

// failures is process-wide on purpose: like the core's process counters it describes the traffic this process
// received, whatever propagator instance parsed it.
var failures [numFailureKinds]atomic.Uint64

func fail(k failureKind) { failures[k].Add(1) }

// ParseFailures returns how many malformed headers each format has ignored since the process started.
func ParseFailures() Failures {
	return Failures{
		Traceparent: failures[failTraceparent].Load(),
		Tracestate:  failures[failTracestate].Load(),
		Baggage:     failures[failBaggage].Load(),
		B3:          failures[failB3].Load(),
		Datadog:     failures[failDatadog].Load(),
		Jaeger:      failures[failJaeger].Load(),
	}
}

// spanContextExtractor is implemented by this package's trace-context propagators so that Composite can stop
// at the first valid context without building contexts it throws away.
type spanContextExtractor interface {
	extract(c Carrier) (trace.SpanContext, bool)
}
