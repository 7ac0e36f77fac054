package propagation

import (
	"context"
	"net/http"
	"testing"

	"github.com/weftrace/weft/trace"
)

// The propagators' own costs, without a span: the bench module compares the whole round trip with peers.

func BenchmarkW3CInject(b *testing.B) {
	sc, _ := ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
	h := HeaderCarrier(http.Header{})
	b.ReportAllocs()
	for b.Loop() {
		W3C{}.Inject(ctx, h)
	}
}

func BenchmarkW3CExtract(b *testing.B) {
	h := HeaderCarrier(http.Header{
		"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"Tracestate":  {"weft=3d3899d57e98f17f:12"},
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := (W3C{}).extract(h); !ok {
			b.Fatal("nothing extracted")
		}
	}
}

func BenchmarkW3CExtractContext(b *testing.B) {
	h := HeaderCarrier(http.Header{
		"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"Tracestate":  {"weft=3d3899d57e98f17f:12"},
	})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		W3C{}.Extract(ctx, h)
	}
}

// BenchmarkW3CRoundTrip is inject and extract through a reused header from a remote context: the propagator's
// whole work without the core's send event.
func BenchmarkW3CRoundTrip(b *testing.B) {
	sc, _ := ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	sc.TraceState = "weft=3d3899d57e98f17f:12"
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
	h := HeaderCarrier(http.Header{})
	b.ReportAllocs()
	for b.Loop() {
		W3C{}.Inject(ctx, h)
		W3C{}.Extract(context.Background(), h)
	}
}
