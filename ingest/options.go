package ingest

import (
	"context"
	"log/slog"
)

// DefaultMaxRequestBytes is the largest request body a receiver accepts when Options.MaxRequestBytes is zero
// (the default of --max-request-bytes). The limit applies to the body as sent and again after decompression.
const DefaultMaxRequestBytes = 16 << 20

// Options are the settings every receiver shares. The zero value is usable: a 16 MiB limit, no metrics, and the
// default logger.
type Options struct {
	// MaxRequestBytes bounds a request body, compressed and decompressed; 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// Metrics counts requests and spans per receiver; nil counts nothing.
	Metrics *Metrics
	// Logger receives the receivers' logs; nil means slog.Default().
	Logger *slog.Logger
	// Admit, if set, is asked before a request's body is read whether the consumer would take spans now. A
	// non-nil answer (an *OverloadError) answers the request at once: a saturated server spends nothing reading
	// and decoding requests it would only refuse. It must be cheap when there is room (it runs on every request),
	// may hold the request a bounded while for room to come (ending early when ctx, the request's, ends; at once
	// for a ctx already done, which is how a gRPC request, already read, asks), and may be wrong either way: the
	// consumer still decides on the decoded spans.
	Admit func(ctx context.Context) error
}

// Limit is the effective body limit in bytes.
func (o Options) Limit() int64 {
	if o.MaxRequestBytes <= 0 {
		return DefaultMaxRequestBytes
	}
	return o.MaxRequestBytes
}

// Log is the effective logger.
func (o Options) Log() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}
