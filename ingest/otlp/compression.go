package otlp

// OTLP/gRPC clients compress with gzip when asked (OTEL_EXPORTER_OTLP_COMPRESSION=gzip, and the OpenTelemetry
// Collector's exporter by default); grpc-go decompresses only the encodings registered in the process, so the
// receiver registers gzip itself rather than relying on a client package to have done it.
import _ "google.golang.org/grpc/encoding/gzip"
