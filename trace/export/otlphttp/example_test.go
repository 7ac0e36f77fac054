package otlphttp_test

import (
	"context"
	"log"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlphttp"
)

func ExampleNew() {
	exp, err := otlphttp.New(otlphttp.Config{
		Endpoint: "http://127.0.0.1:4318/v1/traces",
		Headers:  map[string]string{"Authorization": "Bearer secret"},
	})
	if err != nil {
		log.Fatal(err)
	}
	p := trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: "matchmaker"}, Exporter: exp})
	trace.SetDefault(p)
	defer p.Shutdown(context.Background())
}
