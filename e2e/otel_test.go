package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// The order the trace's spans are listed in every wantTrace: the root first.
const (
	rootName    = "commande café ☕"
	grindName   = "moudre les grains"
	payName     = "payer"
	payError    = "carte refusée"
	rootLength  = 100 * time.Millisecond
	grindLength = 30 * time.Millisecond
	payLength   = 20 * time.Millisecond
)

// traceStart is a start time a little in the past, on a whole millisecond, inside every API's default lookback.
func traceStart() time.Time { return time.Now().Add(-30 * time.Second).Truncate(time.Millisecond) }

// TestOpenTelemetrySDK sends the trace with the OpenTelemetry Go SDK's OTLP exporters (HTTP protobuf with gzip, and
// gRPC with and without gzip) and reads it back through the Jaeger, Zipkin and weft APIs.
func TestOpenTelemetrySDK(t *testing.T) {
	for _, tc := range []struct {
		name     string
		exporter func(ctx context.Context, w *weft) (sdktrace.SpanExporter, error)
	}{
		{"otlp-http", func(ctx context.Context, w *weft) (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(w.addr(t, "otlp-http")), otlptracehttp.WithInsecure(),
				otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}},
		{"otlp-grpc", func(ctx context.Context, w *weft) (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(w.addr(t, "otlp-grpc")), otlptracegrpc.WithInsecure())
		}},
		// In one process the client's import of grpc/encoding/gzip registers the decompressor for the server too,
		// so this case cannot see a server that registers none (the interop suite, with another process, can).
		{"otlp-grpc-gzip", func(ctx context.Context, w *weft) (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(w.addr(t, "otlp-grpc")), otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithCompressor("gzip"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := startWeft(t)
			ctx := context.Background()
			exp, err := tc.exporter(ctx, w)
			need(t, err, "OTLP exporter")
			service := "café-" + tc.name
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
				sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service), attribute.String("host.name", "brasserie-1"))))
			tracer := tp.Tracer("e2e/otel")

			base := traceStart()
			rctx, root := tracer.Start(ctx, rootName, oteltrace.WithSpanKind(oteltrace.SpanKindServer), oteltrace.WithTimestamp(base),
				oteltrace.WithAttributes(attribute.String("boisson", "café crème"), attribute.Int("table", 7),
					attribute.Bool("vip", true), attribute.Float64("montant", 4.5)))
			root.AddEvent("commande reçue", oteltrace.WithTimestamp(base.Add(time.Millisecond)),
				oteltrace.WithAttributes(attribute.Int("tasses", 2)))
			_, grind := tracer.Start(rctx, grindName, oteltrace.WithTimestamp(base.Add(5*time.Millisecond)))
			grind.AddEvent("grains moulus", oteltrace.WithTimestamp(base.Add(30*time.Millisecond)))
			grind.End(oteltrace.WithTimestamp(base.Add(5*time.Millisecond + grindLength)))
			_, pay := tracer.Start(rctx, payName, oteltrace.WithSpanKind(oteltrace.SpanKindClient),
				oteltrace.WithTimestamp(base.Add(40*time.Millisecond)), oteltrace.WithAttributes(attribute.String("peer.service", "banque")))
			pay.RecordError(errors.New(payError), oteltrace.WithTimestamp(base.Add(55*time.Millisecond)))
			pay.SetStatus(codes.Error, payError)
			pay.End(oteltrace.WithTimestamp(base.Add(40*time.Millisecond + payLength)))
			root.End(oteltrace.WithTimestamp(base.Add(rootLength)))
			traceID := root.SpanContext().TraceID().String()
			if err := tp.Shutdown(ctx); err != nil {
				t.Fatalf("exporting: %v", err)
			}

			want := wantTrace{traceID: traceID, service: service, spans: []wantSpan{
				{name: rootName, kind: "server", duration: rootLength,
					jaeger: []jaegerKV{{"boisson", "string", "café crème"}, {"table", "int64", 7.0}, {"vip", "bool", true},
						{"montant", "float64", 4.5}, {"otel.scope.name", "string", "e2e/otel"}},
					zipkin: map[string]string{"boisson": "café crème", "table": "7", "vip": "true", "montant": "4.5",
						"host.name": "brasserie-1"},
					events: []string{"commande reçue"}},
				{name: grindName, parent: rootName, kind: "internal", duration: grindLength, events: []string{"grains moulus"}},
				{name: payName, parent: rootName, kind: "client", duration: payLength, errMsg: payError,
					jaeger: []jaegerKV{{"peer.service", "string", "banque"}, {"otel.status_code", "string", "ERROR"}},
					zipkin: map[string]string{"peer.service": "banque"},
					events: []string{"exception"}},
			}}
			checkJaeger(t, w, want)
			checkZipkin(t, w, want)
			checkWeftTrace(t, w, want)
		})
	}
}
