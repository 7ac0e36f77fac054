package trace

import (
	"context"
	"testing"
)

func benchTracer(b *testing.B) *Tracer {
	p := NewProvider(Config{Exporter: discardExporter{}})
	b.Cleanup(func() { p.Shutdown(context.Background()) })
	return p.Tracer("bench")
}

func BenchmarkStartEnd(b *testing.B) {
	tr := benchTracer(b)
	ctx, parent := tr.Start(context.Background(), "parent")
	defer parent.End()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tr.Start(ctx, "child")
		s.End()
	}
}

func BenchmarkStartEnd4Attrs(b *testing.B) {
	tr := benchTracer(b)
	ctx, parent := tr.Start(context.Background(), "parent")
	defer parent.End()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tr.Start(ctx, "child", WithAttrs(Bool("b", true), String("s", "x"), Int64("i", 1), Float64("f", 1.5)))
		s.End()
	}
}

func BenchmarkUnsampled(b *testing.B) {
	tr := benchTracer(b)
	ctx := ContextWithSpanContext(context.Background(), SpanContext{TraceID: TraceID{1}, SpanID: SpanID{1}})
	b.ReportAllocs()
	for b.Loop() {
		_, s := tr.Start(ctx, "child")
		s.End()
	}
}

func BenchmarkStartEndParallel(b *testing.B) {
	tr := benchTracer(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx, parent := tr.Start(context.Background(), "parent")
		defer parent.End()
		for pb.Next() {
			_, s := tr.Start(ctx, "child")
			s.End()
		}
	})
}

func BenchmarkGoJoin(b *testing.B) {
	tr := benchTracer(b)
	ctx, parent := tr.Start(context.Background(), "parent")
	defer parent.End()
	b.ReportAllocs()
	for b.Loop() {
		Go(ctx, func(context.Context) {}).Join()
	}
}
