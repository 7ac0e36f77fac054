package bench

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/weftrace/weft/trace"
	weftprop "github.com/weftrace/weft/trace/propagation"
)

//go:linkname nanotime runtime.nanotime
func nanotime() int64

// floorSpan is the least a client span must hold for the causal hand-over: its IDs, its unit and the unit's
// sequence number, the time of its last send event, and its traceparent, formatted at its first send and reused
// by every later one (the IDs in it never change).
type floorSpan struct {
	sc       trace.SpanContext
	unit     uint64
	seq      atomic.Uint32
	lastSend atomic.Int64
	tp       string
}

type floorKey struct{}

// floorRemote is the least an extracted context can be: its parent, the IDs and flags, the sending event and the
// tracestate (kept to be sent onward, as the specification asks), in one object.
type floorRemote struct {
	context.Context
	traceID trace.TraceID
	spanID  trace.SpanID
	flags   trace.TraceFlags
	cause   trace.EventID
	state   string
}

func (r *floorRemote) Value(key any) any {
	if key == (floorKey{}) {
		return r
	}
	return r.Context.Value(key)
}

// floorValues is what one inject leaves in the header, in one allocation: the two value slices' array and the
// tracestate's bytes ("weft=" 16 hex digits ":" and at most 10 digits).
type floorValues struct {
	vs [2]string
	b  [32]byte
}

// BenchmarkW3CFloor is not a tracer: it is less than any W3C round trip that carries weft's causal hand-over can
// do, written directly, next to otel's round trip in the same run, so that otel / floor bounds the ratio that any
// implementation of what issue 2 asks (the sending event's ID in tracestate) can reach on this machine. Per op,
// as in InjectExtractW3C: the client span is found in the context; a send event is recorded (a clock read, the
// unit's sequence number moved on, no lock and no event kept); the span's traceparent is reused, formatted once
// for the whole run (weft's case ends its span and formats a new one every 16 sends); the tracestate member
// (weft=<unit>:<seq>) is formatted into one new object that also holds both value slices, which go into the
// header with two map writes; the extract does two map reads, weft's traceparent parser and the weft member's
// parse (trace.ParseEventID), and makes one context object of 80 bytes; the span context is read back from it.
// It skips what weft does beyond that: the span's lock and the event kept on the span, the tracestate check,
// the span ended every 16 sends.
func BenchmarkW3CFloor(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		sc, _ := weftprop.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		span := &floorSpan{sc: sc, unit: 0x3d3899d57e98f17f}
		ctx := context.WithValue(context.Background(), floorKey{}, span)
		h := http.Header{}
		bg := context.Background()
		b.ReportAllocs()
		var got *floorRemote
		done := cpuPerOp(b)
		for b.Loop() {
			floorInject(ctx, h)
			got = floorExtract(bg, h).Value(floorKey{}).(*floorRemote)
		}
		done()
		if !got.traceID.IsValid() || !got.cause.IsValid() {
			b.Fatal("the sending event did not travel")
		}
	})
	b.Run("otel", otelW3CRoundTrip)
}

// floorInject records the send event on the span in ctx and writes both headers. Not inlined, as a propagator's
// Inject is not: its header values escape, as they must.
//
//go:noinline
func floorInject(ctx context.Context, h http.Header) {
	s := ctx.Value(floorKey{}).(*floorSpan)
	s.lastSend.Store(nanotime())
	send := trace.EventID{Unit: s.unit, Seq: s.seq.Add(1)}
	if s.tp == "" {
		s.tp = string(weftprop.AppendTraceparent(nil, s.sc))
	}
	v := new(floorValues)
	ts := send.AppendText(append(v.b[:0], "weft="...))
	v.vs[0], v.vs[1] = s.tp, unsafe.String(&ts[0], len(ts))
	h["Traceparent"], h["Tracestate"] = v.vs[0:1:1], v.vs[1:2:2]
}

// floorExtract reads both headers into a new context. Not inlined, as a propagator's Extract is not: the context
// it returns escapes, as it must.
//
//go:noinline
func floorExtract(parent context.Context, h http.Header) context.Context {
	tps, tss := h["Traceparent"], h["Tracestate"]
	if len(tps) != 1 || len(tss) != 1 || len(tss[0]) < 6 || tss[0][:5] != "weft=" {
		return parent
	}
	sc, err := weftprop.ParseTraceparent(tps[0])
	if err != nil {
		return parent
	}
	cause, err := trace.ParseEventID(tss[0][5:])
	if err != nil {
		return parent
	}
	return &floorRemote{Context: parent, traceID: sc.TraceID, spanID: sc.SpanID, flags: sc.Flags, cause: cause, state: tss[0]}
}

// bareRemote is what a traceparent alone carries: its parent, the IDs and the flags.
type bareRemote struct {
	context.Context
	traceID trace.TraceID
	spanID  trace.SpanID
	flags   trace.TraceFlags
}

func (r *bareRemote) Value(key any) any {
	if key == (floorKey{}) {
		return r
	}
	return r.Context.Value(key)
}

// BenchmarkW3CBare is less than any W3C propagator does, weft's or otel's: the traceparent alone, with no
// tracestate, no send event and no clock read. The span's traceparent is formatted once for the whole run; each
// inject puts it into the header in a new one-element slice with one map write; the extract does one map read
// and the parse, and makes one context object of 48 bytes. Beside BenchmarkW3CFloor it shows what carrying the
// sending event costs.
func BenchmarkW3CBare(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		sc, _ := weftprop.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		ctx := context.WithValue(context.Background(), floorKey{}, &floorSpan{sc: sc})
		h := http.Header{}
		bg := context.Background()
		b.ReportAllocs()
		var got *bareRemote
		done := cpuPerOp(b)
		for b.Loop() {
			bareInject(ctx, h)
			got = bareExtract(bg, h).Value(floorKey{}).(*bareRemote)
		}
		done()
		if !got.traceID.IsValid() {
			b.Fatal("nothing extracted")
		}
	})
	b.Run("otel", otelW3CRoundTrip)
}

//go:noinline
func bareInject(ctx context.Context, h http.Header) {
	s := ctx.Value(floorKey{}).(*floorSpan)
	if s.tp == "" {
		s.tp = string(weftprop.AppendTraceparent(nil, s.sc))
	}
	h["Traceparent"] = []string{s.tp}
}

//go:noinline
func bareExtract(parent context.Context, h http.Header) context.Context {
	tps := h["Traceparent"]
	if len(tps) != 1 {
		return parent
	}
	sc, err := weftprop.ParseTraceparent(tps[0])
	if err != nil {
		return parent
	}
	return &bareRemote{Context: parent, traceID: sc.TraceID, spanID: sc.SpanID, flags: sc.Flags}
}
