package bench

import (
	"context"
	"net/http"
	"syscall"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/weftrace/weft/trace"
	weftprop "github.com/weftrace/weft/trace/propagation"
)

// cpuPerOp starts counting the CPU time (user and system, all threads: the garbage collector and the libraries'
// background goroutines included) that the process spends; the returned function reports it per op as
// cpu-ns/op. On a machine shared with other work it varies far less than ns/op, which counts waiting too.
func cpuPerOp(b *testing.B) func() {
	start := cpuNanos()
	return func() { b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkInjectExtractW3C injects the current span's context into an http.Header as W3C traceparent and
// tracestate, and extracts it back into a fresh context, as a client and a server would on one request. The
// header is made once and written over on every op, as the propagators would find it in a request that net/http
// has already made: what is measured is the propagators' own work and allocations. weft
// does more than otel here: its inject also records a weft.send event on the span and writes it to tracestate
// (weft=<unit>:<seq>), and its extract parses that entry back. Each inject adds an event to the client span, so
// the weft client span is ended and a new one started every 16 injects (1/16 of a span start and end per op), as
// a program that injects once or a few times per client span does; the spans come back from weft's pool with
// room for their events, as they do in a running program. Both read the extracted span context back from the
// context into a local variable, checked after the loop (a package-level sink cost each a write barrier per op).
func BenchmarkInjectExtractW3C(b *testing.B) {
	b.Run("weft", func(b *testing.B) {
		const sendsPerSpan = 16
		tr := weftTracer(b, nil)
		ctx, span := tr.Start(context.Background(), "client")
		p := weftprop.W3C{}
		h := http.Header{}
		b.ReportAllocs()
		n := 0
		var got trace.SpanContext
		done := cpuPerOp(b)
		for b.Loop() {
			if n++; n == sendsPerSpan {
				span.End()
				ctx, span = tr.Start(context.Background(), "client")
				n = 0
			}
			p.Inject(ctx, weftprop.HeaderCarrier(h))
			got = trace.SpanContextFromContext(p.Extract(context.Background(), weftprop.HeaderCarrier(h)))
		}
		done()
		span.End()
		if !got.IsValid() || !got.Cause.IsValid() {
			b.Fatal("the sending event did not travel")
		}
	})
	b.Run("otel", otelW3CRoundTrip)
}

// otelW3CRoundTrip is the otel side of the W3C round-trip benchmarks: the SDK's TraceContext propagator injecting a
// sampled span's context into an http.Header and extracting it back.
func otelW3CRoundTrip(b *testing.B) {
	tr := otelTracer(b, sdktrace.AlwaysSample())
	ctx, span := tr.Start(context.Background(), "client")
	defer span.End()
	p := propagation.TraceContext{}
	h := http.Header{}
	b.ReportAllocs()
	var got oteltrace.SpanContext
	done := cpuPerOp(b)
	for b.Loop() {
		p.Inject(ctx, propagation.HeaderCarrier(h))
		got = oteltrace.SpanContextFromContext(p.Extract(context.Background(), propagation.HeaderCarrier(h)))
	}
	done()
	if !got.IsValid() {
		b.Fatal("nothing extracted")
	}
}
