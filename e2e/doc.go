// Package e2e holds weft's end-to-end tests: real clients (the OpenTelemetry Go SDK's OTLP exporters, zipkin-go,
// dd-trace-go, jaeger-client-go and weft's own library) send traces to a whole `weft serve` started in-process,
// and the tests read them back through the Jaeger-, Zipkin- and weft-compatible query APIs. It is a module of its
// own so that those clients' many dependencies stay out of weft's; it has no code of its own besides tests.
package e2e
