package bench

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	_ "unsafe" // for go:linkname

	"github.com/weftrace/weft/trace"
	weftprop "github.com/weftrace/weft/trace/propagation"
)

//go:linkname nanotime runtime.nanotime
func nanotime() int64

// floorSpan is the least a client span must hold for the causal hand-over: its IDs, its unit and the unit's
// sequence number, and the time of its last send event.
type floorSpan struct {
	sc       trace.SpanContext
	unit     uint64
	seq      atomic.Uint32
	lastSend atomic.Int64
}

type floorKey struct{}

// floorRemote is the least an extracted context can be: its parent, and the span context read from the headers
// (IDs, flags, the sending event and the tracestate) in the same object.
type floorRemote struct {
	context.Context
	sc trace.SpanContext
}

func (r *floorRemote) Value(key any) any {
	if key == (floorKey{}) {
		return r
	}
	return r.Context.Value(key)
}

// BenchmarkW3CFloor is not a tracer: it is the least a W3C round trip with weft's causal hand-over can do, written
// directly, next to otel's round trip in the same run, so that otel / floor bounds the ratio that any
// implementation writing and reading these headers can reach on this machine. Per op, as in InjectExtractW3C:
// the client span is found in the context; a send event is recorded (a clock read, the unit's sequence number
// moved on, no lock and no event kept); traceparent and tracestate (weft=<unit>:<seq>) are formatted with weft's
// own formatters into one new string; the header gets new value slices (one [2]string) and two map writes; the
// extract does two map reads, weft's traceparent parser and the weft member's parse (trace.ParseEventID), and
// makes one context object; the span context is read back from it. It skips what weft does beyond that: the
// span's lock and the event kept on the span, the tracestate check, the slabs, the span ended every 16 sends.
func BenchmarkW3CFloor(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		sc, _ := weftprop.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		sc.Remote = false
		span := &floorSpan{sc: sc, unit: 0x3d3899d57e98f17f}
		ctx := context.WithValue(context.Background(), floorKey{}, span)
		h := http.Header{}
		bg := context.Background()
		b.ReportAllocs()
		var got trace.SpanContext
		done := cpuPerOp(b)
		for b.Loop() {
			floorInject(ctx, h)
			got = floorExtract(bg, h).Value(floorKey{}).(*floorRemote).sc
		}
		done()
		if !got.IsValid() || !got.Cause.IsValid() {
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
	var buf [96]byte
	v := weftprop.AppendTraceparent(buf[:0], s.sc)
	v = append(v, "weft="...)
	v = send.AppendText(v)
	both := string(v)
	vs := new([2]string)
	vs[0], vs[1] = both[:55], both[55:]
	h["Traceparent"], h["Tracestate"] = vs[0:1:1], vs[1:2:2]
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
	if sc.Cause, err = trace.ParseEventID(tss[0][5:]); err != nil {
		return parent
	}
	sc.TraceState = tss[0]
	return &floorRemote{Context: parent, sc: sc}
}
