package bench

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlp"
)

const encodeBatch = 1000

// BenchmarkEncodeOTLP encodes ended spans as an OTLP ExportTraceServiceRequest in protobuf, in batches of 1000;
// one op is one span (ns/op and B/op are per span). The spans are what StartEnd4Attrs records: a child span with a
// bool, a string, an int64 and a float64 attribute, from one provider and one scope, recorded by each library
// itself beforehand (weft's also carry their weft.unit, weft.seq.start and weft.seq.end causal attributes).
//
//   - weft: trace/export/otlp.AppendRequest into a reused buffer, what the otlphttp and otlpgrpc exporters do.
//   - otel: the OpenTelemetry SDK's OTLP trace exporter (otlptrace.Exporter.ExportSpans, which converts the
//     ReadOnlySpans to the OTLP proto types with its internal transform) with a client whose UploadTraces only
//     proto.Marshals the ExportTraceServiceRequest: the exporter's transform plus marshal, with no network.
func BenchmarkEncodeOTLP(b *testing.B) {
	b.Run("weft", func(b *testing.B) {
		spans := weftSpans(b)
		buf := otlp.AppendRequest(nil, spans)
		b.ReportAllocs()
		b.ResetTimer()
		done := cpuPerOp(b)
		for i := 0; i < b.N; i += encodeBatch {
			buf = otlp.AppendRequest(buf[:0], spans)
		}
		done()
	})
	b.Run("otel", func(b *testing.B) {
		spans := otelSpans(b)
		exp, err := otlptrace.New(context.Background(), &marshalClient{})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		done := cpuPerOp(b)
		for i := 0; i < b.N; i += encodeBatch {
			if err := exp.ExportSpans(ctx, spans); err != nil {
				b.Fatal(err)
			}
		}
		done()
	})
}

// weftSpans records a batch of 1000 spans with the weft library.
func weftSpans(b *testing.B) []*trace.SpanData {
	var rec trace.Recorder
	p := trace.NewProvider(trace.Config{Exporter: &rec, Resource: &trace.Resource{Service: "bench"}, BatchSize: encodeBatch})
	tr := p.Tracer("bench")
	ctx, parent := tr.Start(context.Background(), "parent")
	for range encodeBatch {
		_, s := tr.Start(ctx, "child", trace.WithAttrs(trace.Bool("cached", true),
			trace.String("pairing", "stout+glazed"), trace.Int64("rows", 42), trace.Float64("score", 0.93)))
		s.End()
	}
	parent.End()
	if err := p.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	spans := rec.Spans()[:encodeBatch]
	if spans[0].Unit == 0 || len(spans[0].Attrs) != 4 {
		b.Fatalf("unexpected span: %+v", spans[0])
	}
	return spans
}

// otelSpans records a batch of 1000 spans with the OpenTelemetry SDK.
func otelSpans(b *testing.B) []sdktrace.ReadOnlySpan {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "bench"))))
	tr := tp.Tracer("bench")
	ctx, parent := tr.Start(context.Background(), "parent")
	for range encodeBatch {
		_, s := tr.Start(ctx, "child", oteltrace.WithAttributes(attribute.Bool("cached", true),
			attribute.String("pairing", "stout+glazed"), attribute.Int64("rows", 42), attribute.Float64("score", 0.93)))
		s.End()
	}
	parent.End()
	return rec.Ended()[:encodeBatch]
}

// marshalClient is an otlptrace.Client that marshals the request the exporter built and throws it away.
type marshalClient struct{ buf []byte }

func (c *marshalClient) Start(context.Context) error { return nil }
func (c *marshalClient) Stop(context.Context) error  { return nil }
func (c *marshalClient) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	var err error
	c.buf, err = proto.MarshalOptions{}.MarshalAppend(c.buf[:0], &coltracepb.ExportTraceServiceRequest{ResourceSpans: rs})
	return err
}
