//go:build unix

package propagation

import (
	"context"
	"net/http"
	"syscall"
	"testing"

	"github.com/weftrace/weft/trace"
)

// BenchmarkW3CParts times each step of the bench module's InjectExtractW3C round trip on its own, to show the
// floor of each: what the round trip cannot cost less than while it does that step this way. The steps that
// allocate (the header string, the header values, the remote context) are charged here for the collector's work
// on a near-empty heap, not for marking a program's live heap. cpu-ns/op is the process's CPU time per op
// (getrusage), which a shared machine disturbs less than ns/op.
func BenchmarkW3CParts(b *testing.B) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const ts = "weft=3d3899d57e98f17f:12"
	sc, _ := ParseTraceparent(tp)
	sc.TraceState = ts
	remote := trace.ContextWithRemoteSpanContext(context.Background(), sc)
	send := trace.EventID{Unit: 0x3d3899d57e98f17f, Seq: 12}

	run := func(name string, f func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuNanos()
			f(b)
			b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op")
		})
	}
	var sink byte
	run("SpanContextFromContext", func(b *testing.B) {
		for b.Loop() {
			sink += byte(trace.SpanContextFromContext(remote).Flags)
		}
	})
	run("SendEvent", func(b *testing.B) {
		p := trace.NewProvider(trace.Config{})
		tr := p.Tracer("parts")
		ctx, span := tr.Start(context.Background(), "client")
		n := 0
		for b.Loop() {
			if n++; n == 16 { // as the bench module does: a span keeps at most 128 events
				span.End()
				ctx, span = tr.Start(context.Background(), "client")
				n = 0
			}
			sink += byte(trace.RecordSend(ctx).Seq)
		}
		span.End()
	})
	run("FormatTraceparent", func(b *testing.B) {
		var buf [128]byte
		for b.Loop() {
			sink += AppendTraceparent(buf[:0], sc)[7]
		}
	})
	run("FormatTracestate", func(b *testing.B) {
		var buf [128]byte
		sc := sc
		sc.TraceState = ""
		for b.Loop() {
			sink += appendOutgoingTracestate(buf[:0], sc, send)[7]
		}
	})
	run("HeaderString", func(b *testing.B) {
		v := []byte(tp + ts)
		for b.Loop() {
			sink += headerStrings.Make(v)[7]
		}
	})
	run("SetHeaders", func(b *testing.B) {
		h := HeaderCarrier(http.Header{})
		for b.Loop() {
			setHeaders(h, tp, ts)
		}
	})
	run("GetHeaders", func(b *testing.B) {
		h := HeaderCarrier(http.Header{"Traceparent": {tp}, "Tracestate": {ts}})
		for b.Loop() {
			a, c := h["Traceparent"], h["Tracestate"]
			sink += a[0][7] + c[0][7]
		}
	})
	run("ParseTraceparent", func(b *testing.B) {
		for b.Loop() {
			sc, _ := ParseTraceparent(tp)
			sink += sc.TraceID[3]
		}
	})
	run("ReadTracestate", func(b *testing.B) {
		var sc trace.SpanContext
		for b.Loop() {
			readTracestate(&sc, ts)
			sink += byte(sc.Cause.Seq)
		}
	})
	run("RemoteContext", func(b *testing.B) {
		bg := context.Background()
		for b.Loop() {
			if contextWithRemote(bg, sc) == bg {
				sink++
			}
		}
	})
	// What the bytes alone cost: plain Go allocations of the sizes the round trip must leave behind (the header
	// text, the header's value slices, an extracted context), for the floor of the three steps above that make them.
	run("GoString80", func(b *testing.B) {
		v := []byte(tp + ts)
		for b.Loop() {
			keepString = string(v)
		}
	})
	run("GoNew2Strings", func(b *testing.B) {
		for b.Loop() {
			vs := new([2]string)
			vs[0], vs[1] = tp, ts
			keepValues = vs
		}
	})
	run("GoNew104", func(b *testing.B) {
		bg := context.Background()
		for b.Loop() {
			n := new(remoteSized)
			n.ctx, n.state = bg, ts
			n.span, n.lane = nil, nil // every field written, as extract writes its node
			n.spanID, n.traceID = 1, [16]byte{1}
			n.origin, n.causeUnit, n.causeSeq, n.flags = "", 1, 2, [4]byte{1}
			keepRemote = n
		}
	})
	if sink == 42 {
		b.Log(sink)
	}
}

func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// remoteSized is the size and shape of an extracted context (trace's remoteNode, 104 bytes): a parent context,
// two pointers, the IDs, the trace state and origin, the sending event and the flags.
type remoteSized struct {
	ctx        context.Context
	span, lane *byte
	spanID     uint64
	traceID    [16]byte
	state      string
	origin     string
	causeUnit  uint64
	causeSeq   uint32
	flags      [4]byte
}

// Package-level sinks keep the allocations of the Go* cases from being optimised away.
var (
	keepString string
	keepValues *[2]string
	keepRemote *remoteSized
)
