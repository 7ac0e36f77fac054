package trace

import (
	"encoding/binary"
	"encoding/hex"
)

// TraceID is a 128-bit trace identifier; the zero value is invalid.
type TraceID [16]byte

// SpanID is a 64-bit span identifier; the zero value is invalid.
type SpanID [8]byte

// IsValid reports whether the ID is not all zeroes.
func (t TraceID) IsValid() bool { return t != TraceID{} }

// String is the 32-digit lowercase hex form.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// IsValid reports whether the ID is not all zeroes.
func (s SpanID) IsValid() bool { return s != SpanID{} }

// String is the 16-digit lowercase hex form.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// key is the ID as a number (in the machine's order: one load), zero only for the zero ID.
func (s SpanID) key() uint64 { return binary.LittleEndian.Uint64(s[:]) }

// EventID names one event of a trace's DAG: the event numbered Seq on execution unit Unit. It is what a dependent
// event names, and what travels between processes (in W3C tracestate under the "weft" key) so that the receiving
// side's first event can name the sending event.
type EventID struct {
	Unit uint64
	Seq  uint32
}

// IsValid reports whether the ID names an event.
func (e EventID) IsValid() bool { return e.Unit != 0 }

// TraceFlags are the W3C trace flags.
type TraceFlags uint8

// FlagSampled is the W3C sampled flag.
const FlagSampled TraceFlags = 0x01

// SpanContext is the part of a span that crosses process boundaries: what every propagation format injects and
// extracts. It is a value; copying it is cheap and allocation-free.
type SpanContext struct {
	TraceID    TraceID
	SpanID     SpanID
	Flags      TraceFlags
	TraceState string // W3C tracestate, verbatim, including the weft entry
	Remote     bool   // extracted from another process

	// Priority is the sampling priority as Datadog defines it (-1 user reject, 0 auto reject, 1 auto keep,
	// 2 user keep). PriorityUnset when the format carried none; then Flags decides.
	Priority int8
	// Origin is Datadog's x-datadog-origin (synthetics, rum, ...), kept so it can be injected onward.
	Origin string
	// Cause is the event on the sending side that this context was sent from (zero when the sender is not weft).
	Cause EventID
}

// PriorityUnset means no sampling priority was propagated.
const PriorityUnset int8 = -128

// IsValid reports whether both IDs are valid.
func (sc SpanContext) IsValid() bool { return sc.TraceID.IsValid() && sc.SpanID.IsValid() }

// IsDecisionOnly reports whether sc carries only a sampling decision from another process, without IDs, as B3's
// "b3: 0" header does: Remote set, neither ID set. A span started under such a context begins a new trace, and
// a parent-based sampler follows the decision (the sampled flag, or Priority when set).
func (sc SpanContext) IsDecisionOnly() bool {
	return sc.Remote && !sc.TraceID.IsValid() && !sc.SpanID.IsValid()
}

// IsSampled reports whether the sampled flag is set.
func (sc SpanContext) IsSampled() bool { return sc.Flags&FlagSampled != 0 }
