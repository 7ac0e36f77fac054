package otlpgrpc

import (
	"context"
	"testing"

	"github.com/weftrace/weft/trace/config"
)

// TestRegisteredWithConfig: importing the package is enough for OTEL_EXPORTER_OTLP_PROTOCOL=grpc.
func TestRegisteredWithConfig(t *testing.T) {
	c := &collector{}
	addr := serve(t, c)
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr, "OTEL_SERVICE_NAME": "taster",
	}
	s, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.NewProvider()
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer("test").Start(context.Background(), "taste")
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.requests) == 0 {
		t.Fatal("no request reached the collector")
	}
	rs := c.requests[0].ResourceSpans[0]
	if got := rs.Resource.Attributes[0].Value.GetStringValue(); got != "taster" || rs.ScopeSpans[0].Spans[0].Name != "taste" {
		t.Errorf("received %v", rs)
	}
}
