// Package interop is the whole-product check with tracing clients that no one here wrote. Its test builds the
// weft binary, starts `weft serve` on loopback ports with a fresh data directory, runs one small Node program per
// client under node/ (OpenTelemetry JS with its OTLP protobuf, JSON and gRPC exporters, zipkin-js, dd-trace and
// jaeger-client), each sending one known trace, and reads every trace back through the Jaeger- and
// Zipkin-compatible query APIs, checking structure, names, attribute values and types, errors, events, links,
// durations and service names as far as each protocol can express them.
//
// It sits outside the flow of data: it talks to weft only over the network, as users' programs do. Run it with
// interop/run.sh (npm ci, then go test); with CI=true a missing node, npm or package fails the test instead of
// skipping it.
package interop
