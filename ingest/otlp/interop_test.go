package otlp

import (
	"context"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// sendWithSDK records two spans with the OpenTelemetry Go SDK and exports them through exp.
func sendWithSDK(t *testing.T, exp *otlptrace.Exporter) {
	t.Helper()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "matchmaker"), attribute.String("host.name", "bar-1"))),
	)
	tr := tp.Tracer("github.com/weftrace/weft/interop", oteltrace.WithInstrumentationVersion("0.1.0"))
	ctx, parent := tr.Start(context.Background(), "GET /pairings/{beer}", oteltrace.WithSpanKind(oteltrace.SpanKindServer),
		oteltrace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/pairings/{beer}"),
			attribute.Int("http.response.status_code", 500), attribute.StringSlice("beers", []string{"Kölsch", "ビール"})))
	_, child := tr.Start(ctx, "SELECT donuts", oteltrace.WithSpanKind(oteltrace.SpanKindClient),
		oteltrace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("db.statement", "SELECT 1")))
	child.AddEvent("rows", oteltrace.WithAttributes(attribute.Int("count", 3)))
	child.End()
	parent.SetStatus(codes.Error, "no donut")
	parent.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func checkSDKSpans(t *testing.T, spans []*model.Span) {
	t.Helper()
	if len(spans) != 2 {
		t.Fatalf("received %d spans, want 2", len(spans))
	}
	child, parent := spans[0], spans[1]
	if parent.Name != "GET /pairings/{beer}" || parent.Kind != model.KindServer || parent.StatusCode != model.StatusError ||
		parent.StatusMessage != "no donut" || parent.SpanResource != "GET /pairings/{beer}" || parent.SpanType != "web" {
		t.Errorf("parent %+v", parent)
	}
	if v, ok := parent.Attr("beers"); !ok || v.AsString() != `["Kölsch","ビール"]` {
		t.Errorf("beers = %v", v.AsString())
	}
	if child.ParentID != parent.SpanID || child.TraceID != parent.TraceID || child.SpanType != "db" || len(child.Events) != 1 ||
		child.Events[0].Name != "rows" || child.Duration <= 0 {
		t.Errorf("child %+v", child)
	}
	if parent.Service() != "matchmaker" || parent.Scope != "github.com/weftrace/weft/interop" || parent.ScopeVersion != "0.1.0" {
		t.Errorf("resource %+v scope %q %q", parent.Resource, parent.Scope, parent.ScopeVersion)
	}
	if v, ok := parent.Attr("host.name"); !ok || v.Str != "bar-1" {
		t.Errorf("host.name = %v", v)
	}
}

// TestOpenTelemetrySDKOverHTTP sends with the SDK's OTLP/HTTP exporter, gzip-compressed protobuf.
func TestOpenTelemetrySDKOverHTTP(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(NewHTTPHandler(rec, ingest.Options{}))
	defer srv.Close()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(srv.URL+TracesPath),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	sendWithSDK(t, exp)
	checkSDKSpans(t, rec.spans)
}

// TestOpenTelemetrySDKOverGRPC sends with the SDK's OTLP/gRPC exporter.
func TestOpenTelemetrySDKOverGRPC(t *testing.T) {
	rec := &recorder{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(ServerOptions(ingest.Options{})...)
	RegisterGRPC(s, rec, ingest.Options{})
	go s.Serve(lis)
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(lis.Addr().String()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	sendWithSDK(t, exp)
	checkSDKSpans(t, rec.spans)
}

// TestOpenTelemetrySDKSeesOverload: the SDK's exporter reports the 429 as an export error.
func TestOpenTelemetrySDKSeesOverload(t *testing.T) {
	rec := &recorder{err: &ingest.OverloadError{RetryAfter: time.Second, Reason: "full"}}
	srv := httptest.NewServer(NewHTTPHandler(rec, ingest.Options{}))
	defer srv.Close()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(srv.URL+TracesPath),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	stub := sdktrace.NewTracerProvider().Tracer("t")
	_, sp := stub.Start(context.Background(), "x")
	sp.End()
	ro := sp.(sdktrace.ReadOnlySpan)
	if err := exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{ro}); err == nil {
		t.Error("the exporter saw no error from an overloaded receiver")
	}
	if rec.stored() != 0 {
		t.Error("spans stored while overloaded")
	}
}
