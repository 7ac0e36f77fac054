package otlpgrpc_test

import (
	"context"
	"log"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlpgrpc"
)

func ExampleNew() {
	exp, err := otlpgrpc.New(otlpgrpc.Config{Endpoint: "http://127.0.0.1:4317", Headers: map[string]string{"x-tenant": "brewery"}})
	if err != nil {
		log.Fatal(err)
	}
	p := trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: "matchmaker"}, Exporter: exp})
	trace.SetDefault(p)
	defer p.Shutdown(context.Background())
}
