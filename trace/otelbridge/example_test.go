package otelbridge_test

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/otelbridge"
	"github.com/weftrace/weft/trace/propagation"
)

// The one line that moves OpenTelemetry instrumentation to weft (plus the propagator, if the program sets one).
func ExampleNewTracerProvider() {
	p := trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: "matchmaker"}})
	defer p.Shutdown(context.Background())
	otel.SetTracerProvider(otelbridge.NewTracerProvider(p))
	otel.SetTextMapPropagator(otelbridge.Propagator(propagation.Default()))

	http.Handle("/", otelhttp.NewHandler(http.NotFoundHandler(), "root"))
}

func ExamplePropagator() {
	prop := otelbridge.Propagator(propagation.Composite{propagation.W3C{}, propagation.B3{}})
	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithPropagators(prop))}
	_ = client
}
