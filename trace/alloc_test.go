package trace

import (
	"context"
	"testing"
)

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []*SpanData) error { return nil }
func (discardExporter) Shutdown(context.Context) error                 { return nil }

func TestStartEndAllocs(t *testing.T) {
	p := NewProvider(Config{Exporter: discardExporter{}})
	defer p.Shutdown(context.Background())
	tr := p.Tracer("t")
	ctx, parent := tr.Start(context.Background(), "parent")
	defer parent.End()
	n := testing.AllocsPerRun(1000, func() {
		_, s := tr.Start(ctx, "child", WithAttrs(Bool("b", true), String("s", "x"), Int64("i", 1), Float64("f", 1.5)))
		s.End()
	})
	t.Logf("allocs %v", n)
}

func BenchmarkStartEnd4(b *testing.B) {
	p := NewProvider(Config{Exporter: discardExporter{}})
	defer p.Shutdown(context.Background())
	tr := p.Tracer("t")
	ctx, parent := tr.Start(context.Background(), "parent")
	defer parent.End()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tr.Start(ctx, "child", WithAttrs(Bool("b", true), String("s", "x"), Int64("i", 1), Float64("f", 1.5)))
		s.End()
	}
}

func BenchmarkStartEnd0(b *testing.B) {
	p := NewProvider(Config{Exporter: discardExporter{}})
	defer p.Shutdown(context.Background())
	tr := p.Tracer("t")
	ctx, parent := tr.Start(context.Background(), "parent")
	defer parent.End()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tr.Start(ctx, "child")
		s.End()
	}
}

func BenchmarkStartEndNoExport(b *testing.B) {
	p := NewProvider(Config{})
	tr := p.Tracer("t")
	ctx, parent := tr.Start(context.Background(), "parent")
	defer parent.End()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tr.Start(ctx, "child")
		s.End()
	}
}
