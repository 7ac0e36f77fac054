package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/weftrace/weft/demo"
)

// demoListener is the listener each protocol's demo exporter posts to.
var demoListener = map[string]string{"otlp": "otlp-http", "zipkin": "zipkin", "datadog": "datadog", "jaeger": "jaeger"}

// RunDemo runs the matchmaker demo and its traffic against s until ctx ends: the matchmaker reports to s's
// OTLP/HTTP listener, the taster through the protocol c.DemoProtocol names.
func RunDemo(ctx context.Context, s *Server, c *Config, log *slog.Logger) error {
	otlpAddr := s.Addr("otlp-http")
	if otlpAddr == "" {
		return fmt.Errorf("demo: the OTLP/HTTP listener is off; the matchmaker reports through it")
	}
	name, ok := demoListener[c.DemoProtocol]
	if !ok {
		return fmt.Errorf("demo: --demo-protocol: want otlp, zipkin, datadog or jaeger, got %q", c.DemoProtocol)
	}
	tasterAddr := s.Addr(name)
	if tasterAddr == "" {
		return fmt.Errorf("demo: the %s listener is off; the taster reports through it (--demo-protocol %s)", name, c.DemoProtocol)
	}
	scheme := "http://"
	if c.TLSCert != "" {
		scheme = "https://"
	}
	var hdr map[string]string
	if c.IngestToken != "" {
		hdr = map[string]string{"Authorization": "Bearer " + c.IngestToken}
	}
	err := demo.Run(ctx, demo.Config{
		MatchmakerEndpoint: scheme + otlpAddr + demo.EndpointPath("otlp"),
		TasterProtocol:     c.DemoProtocol,
		TasterEndpoint:     scheme + tasterAddr + demo.EndpointPath(c.DemoProtocol),
		Headers:            hdr,
		Rate:               c.DemoRate,
		Logger:             log,
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}
