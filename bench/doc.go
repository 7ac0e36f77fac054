// Package bench compares the weft library with its peers (the OpenTelemetry Go SDK, zipkin-go and the
// OpenTelemetry no-op tracer) in one `go test -bench . -benchmem` run. It is its own module so that the peers
// never become dependencies of the library. Sub-benchmarks are named <Case>/<system>.
package bench
