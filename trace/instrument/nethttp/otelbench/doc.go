// Package otelbench measures what trace/instrument/nethttp adds to an HTTP request against what otelhttp (the
// OpenTelemetry Go contrib instrumentation, on the OpenTelemetry SDK) adds, in one benchmark run. It is a module of
// its own so that the library does not depend on OpenTelemetry. It has no code to import.
package otelbench
