// Package ingest holds what every receiver shares: the Consumer that takes decoded spans onward (to the write-ahead
// log, tail sampling and the store), and the errors that receivers turn into protocol answers. The receivers
// themselves live in the sub-packages named for their protocol (ingest/otlp, ingest/zipkin, ingest/datadog,
// ingest/jaeger); each decodes its wire format into model.Span and hands whole requests to a Consumer.
//
// The plumbing they share: Options (size limit, metrics, logger); ReadBody, which reads a request body under the
// size limit and undoes gzip or deflate; WriteError and GRPCError, which answer a failed request with the status
// its error calls for (400, 413, 429 with Retry-After, 500; InvalidArgument, ResourceExhausted with RetryInfo);
// Metrics and Deliver, which count requests and spans per receiver; ExtractCausality, which moves the weft
// library's causal attributes into the model; and Normalize, which fills the Datadog-style resource and type of
// spans from any client.
package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/weftrace/weft/model"
)

// Consumer takes the spans of one request. It returns nil only once the spans are durable (written to the
// write-ahead log under the configured fsync policy), so a receiver may then acknowledge the request. A request is
// taken whole or not at all: on error nothing of it is stored.
type Consumer interface {
	Consume(ctx context.Context, spans []*model.Span) error
}

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc func(ctx context.Context, spans []*model.Span) error

// Consume calls f.
func (f ConsumerFunc) Consume(ctx context.Context, spans []*model.Span) error { return f(ctx, spans) }

// OverloadError is returned by a Consumer that cannot take more now. Receivers answer HTTP 429 or gRPC
// RESOURCE_EXHAUSTED with RetryAfter as the hint.
type OverloadError struct {
	RetryAfter time.Duration
	Reason     string
}

func (e *OverloadError) Error() string { return "overloaded: " + e.Reason }

// ErrOverloaded is matched by errors.Is for every *OverloadError.
var ErrOverloaded = errors.New("overloaded")

// Is makes errors.Is(err, ErrOverloaded) true.
func (e *OverloadError) Is(target error) bool { return target == ErrOverloaded }

// BadInputError says what was wrong with a request's payload. Receivers answer HTTP 400 or gRPC InvalidArgument
// with its message.
type BadInputError struct {
	Protocol string // "otlp", "zipkin", "datadog", "jaeger"
	Msg      string
}

func (e *BadInputError) Error() string { return e.Protocol + ": " + e.Msg }
