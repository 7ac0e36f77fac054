package bench

import (
	"context"
	"testing"

	"github.com/openzipkin/zipkin-go"
	zipkinreporter "github.com/openzipkin/zipkin-go/reporter"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/sample"
)

// discard is a weft exporter that throws batches away.
type discard struct{}

func (discard) ExportSpans(context.Context, []*trace.SpanData) error { return nil }
func (discard) Shutdown(context.Context) error                       { return nil }

// otelDiscard is an OpenTelemetry SDK exporter that throws batches away.
type otelDiscard struct{}

func (otelDiscard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (otelDiscard) Shutdown(context.Context) error                             { return nil }

func weftTracer(b *testing.B, s trace.Sampler) *trace.Tracer {
	tr, _ := weftTracerDrops(b, s)
	return tr
}

// weftTracerDrops is weftTracer and a function that reports, as dropped/op, the ended spans weft dropped
// because its buffer was full (its exporter goroutine fell behind), so that a run says how much of what it timed
// was not exported. The OpenTelemetry SDK's batcher drops too when its queue is full, but does not say.
func weftTracerDrops(b *testing.B, s trace.Sampler) (*trace.Tracer, func()) {
	p := trace.NewProvider(trace.Config{Exporter: discard{}, Sampler: s,
		Resource: &trace.Resource{Service: "bench"}})
	b.Cleanup(func() { p.Shutdown(context.Background()) })
	before := p.Counters().SpansDropped
	return p.Tracer("bench"), func() {
		b.ReportMetric(float64(p.Counters().SpansDropped-before)/float64(b.N), "dropped/op")
	}
}

func otelTracer(b *testing.B, s sdktrace.Sampler) oteltrace.Tracer {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithBatcher(otelDiscard{}))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp.Tracer("bench")
}

func zipkinTracer(b *testing.B, s zipkin.Sampler) *zipkin.Tracer {
	ep, _ := zipkin.NewEndpoint("bench", "")
	t, err := zipkin.NewTracer(zipkinreporter.NewNoopReporter(), zipkin.WithLocalEndpoint(ep), zipkin.WithSampler(s))
	if err != nil {
		b.Fatal(err)
	}
	return t
}

func BenchmarkStartEnd(b *testing.B) {
	b.Run("weft", func(b *testing.B) {
		tr, drops := weftTracerDrops(b, nil)
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			_, s := tr.Start(ctx, "child")
			s.End()
		}
		done()
		drops()
	})
	b.Run("otel", func(b *testing.B) {
		tr := otelTracer(b, sdktrace.AlwaysSample())
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			_, s := tr.Start(ctx, "child")
			s.End()
		}
		done()
	})
	b.Run("zipkin", func(b *testing.B) {
		tr := zipkinTracer(b, zipkin.AlwaysSample)
		parent := tr.StartSpan("parent")
		ctx := zipkin.NewContext(context.Background(), parent)
		defer parent.Finish()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			s, _ := tr.StartSpanFromContext(ctx, "child")
			s.Finish()
		}
		done()
	})
	b.Run("noop", func(b *testing.B) {
		tr := noop.NewTracerProvider().Tracer("bench")
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			_, s := tr.Start(ctx, "child")
			s.End()
		}
		done()
	})
}

func BenchmarkStartEnd4Attrs(b *testing.B) {
	b.Run("weft", func(b *testing.B) {
		tr, drops := weftTracerDrops(b, nil)
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			_, s := tr.Start(ctx, "child", trace.WithAttrs(trace.Bool("cached", true),
				trace.String("pairing", "stout+glazed"), trace.Int64("rows", 42), trace.Float64("score", 0.93)))
			s.End()
		}
		done()
		drops()
	})
	b.Run("otel", func(b *testing.B) {
		tr := otelTracer(b, sdktrace.AlwaysSample())
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			_, s := tr.Start(ctx, "child", oteltrace.WithAttributes(attribute.Bool("cached", true),
				attribute.String("pairing", "stout+glazed"), attribute.Int64("rows", 42), attribute.Float64("score", 0.93)))
			s.End()
		}
		done()
	})
	b.Run("zipkin", func(b *testing.B) {
		tr := zipkinTracer(b, zipkin.AlwaysSample)
		parent := tr.StartSpan("parent")
		ctx := zipkin.NewContext(context.Background(), parent)
		defer parent.Finish()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			// zipkin tags are strings only.
			s, _ := tr.StartSpanFromContext(ctx, "child")
			s.Tag("cached", "true")
			s.Tag("pairing", "stout+glazed")
			s.Tag("rows", "42")
			s.Tag("score", "0.93")
			s.Finish()
		}
		done()
	})
	b.Run("noop", func(b *testing.B) {
		tr := noop.NewTracerProvider().Tracer("bench")
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			_, s := tr.Start(ctx, "child", oteltrace.WithAttributes(attribute.Bool("cached", true),
				attribute.String("pairing", "stout+glazed"), attribute.Int64("rows", 42), attribute.Float64("score", 0.93)))
			s.End()
		}
		done()
	})
}

// BenchmarkUnsampled starts and ends a child span in a trace that was not sampled.
func BenchmarkUnsampled(b *testing.B) {
	b.Run("weft", func(b *testing.B) {
		tr := weftTracer(b, sample.ParentBased(sample.Never()))
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			_, s := tr.Start(ctx, "child")
			s.End()
		}
		done()
	})
	b.Run("otel", func(b *testing.B) {
		tr := otelTracer(b, sdktrace.ParentBased(sdktrace.NeverSample()))
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			_, s := tr.Start(ctx, "child")
			s.End()
		}
		done()
	})
	b.Run("zipkin", func(b *testing.B) {
		tr := zipkinTracer(b, zipkin.NeverSample)
		parent := tr.StartSpan("parent")
		ctx := zipkin.NewContext(context.Background(), parent)
		defer parent.Finish()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			s, _ := tr.StartSpanFromContext(ctx, "child")
			s.Finish()
		}
		done()
	})
	b.Run("noop", func(b *testing.B) {
		tr := noop.NewTracerProvider().Tracer("bench")
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		b.ReportAllocs()
		done := cpuPerOp(b)
		for b.Loop() {
			_, s := tr.Start(ctx, "child")
			s.End()
		}
		done()
	})
}

func BenchmarkStartEndParallel(b *testing.B) {
	b.Run("weft", func(b *testing.B) {
		tr, drops := weftTracerDrops(b, nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx, parent := tr.Start(context.Background(), "parent")
			defer parent.End()
			for pb.Next() {
				_, s := tr.Start(ctx, "child")
				s.End()
			}
		})
		drops()
	})
	b.Run("otel", func(b *testing.B) {
		tr := otelTracer(b, sdktrace.AlwaysSample())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx, parent := tr.Start(context.Background(), "parent")
			defer parent.End()
			for pb.Next() {
				_, s := tr.Start(ctx, "child")
				s.End()
			}
		})
	})
	b.Run("zipkin", func(b *testing.B) {
		tr := zipkinTracer(b, zipkin.AlwaysSample)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			parent := tr.StartSpan("parent")
			ctx := zipkin.NewContext(context.Background(), parent)
			defer parent.Finish()
			for pb.Next() {
				s, _ := tr.StartSpanFromContext(ctx, "child")
				s.Finish()
			}
		})
	})
	b.Run("noop", func(b *testing.B) {
		tr := noop.NewTracerProvider().Tracer("bench")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx, parent := tr.Start(context.Background(), "parent")
			defer parent.End()
			for pb.Next() {
				_, s := tr.Start(ctx, "child")
				s.End()
			}
		})
	})
}

var controlSink int64

func control() int64 {
	var x int64
	for i := 0; i < 100; i++ {
		x += int64(i*i) ^ x
	}
	return x
}

// BenchmarkCPUControl is no tracer: a fixed loop of arithmetic, run serially and with b.RunParallel, to show how
// much the machine lets a parallel benchmark scale during the run (on an idle 2-core machine, parallel is about
// half of serial per op; on a shared one it may not scale at all, and then neither can StartEndParallel).
func BenchmarkCPUControl(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		done := cpuPerOp(b)
		for b.Loop() {
			controlSink += control()
		}
		done()
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var s int64
			for pb.Next() {
				s += control()
			}
			if s == 42 {
				controlSink++
			}
		})
	})
}
