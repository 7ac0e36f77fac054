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

// Batch is a request's spans as a BatchConsumer prepares them while a receiver decodes the request (the pipeline
// encodes each for its write-ahead log), so that a span is handled while its memory is still in the processor's
// cache rather than in a second pass over the whole request.
type Batch interface {
	// Add takes the request's next span, as it will be handed over (after ExtractCausality and Normalize).
	Add(s *model.Span)
}

// BatchConsumer is a Consumer that can prepare a request's spans while they are decoded. A receiver that uses it
// asks NewBatch before decoding, Adds every span it will hand over, in order and as they will be handed over, and
// then calls ConsumeBatch with those spans instead of Consume. A request that fails to decode drops its Batch.
// ConsumeBatch answers as Consume does; given a Batch that does not hold exactly spans, it falls back to Consume.
type BatchConsumer interface {
	Consumer
	NewBatch() Batch
	ConsumeBatch(ctx context.Context, spans []*model.Span, b Batch) error
}

// ReleasingBatch is a Batch by which the consumer can tell the receiver, once ConsumeBatch has returned, that it
// let go of the request's spans, so that the receiver may reuse their memory for a later request. It is opt-in on
// both sides: a receiver that does not ask, and a consumer whose Batch does not implement it, keep the rule of
// Consumer, that the spans handed over are the consumer's to keep.
//
// When Released reports true, neither the consumer, the Batch, nor anything they passed the spans to (a store, a
// stage, a log encoder, a logger, a metric) holds, or will later use, any of these once ConsumeBatch has returned:
//   - the spans slice, or a *model.Span in it;
//   - a span's Attrs, Events or Links, their elements, or the Array and Map slices of any model.Value in them;
//   - a span's *model.Resource, or its Attrs.
//
// Everything else may be kept: values copied out of the spans (IDs, times, counts, an encoded record) and strings.
// A string from a span (a name, a key, a value, a service) stays valid for good, since receivers never write
// again into the bytes of a string they have handed over; they reuse only the memory of the structures above.
//
// A consumer that wraps another and passes the Batch on answers for both: if it keeps spans itself, its Batch must
// report false.
type ReleasingBatch interface {
	Batch
	// Released reports whether the consumer let go of the spans, as above, in the ConsumeBatch call that took this
	// batch. It is asked after ConsumeBatch returns, whatever it returned; before that, or if ConsumeBatch was never
	// called (the request did not decode), it reports false.
	Released() bool
}

// Released reports whether b is a ReleasingBatch that was released (see ReleasingBatch): only then may the
// receiver that filled b reuse the memory of the spans it handed over with it. A nil b reports false.
func Released(b Batch) bool {
	rb, ok := b.(ReleasingBatch)
	return ok && rb.Released()
}

// NewBatch is c's Batch for a request about to be decoded, or nil when c is not a BatchConsumer.
func NewBatch(c Consumer) Batch {
	if bc, ok := c.(BatchConsumer); ok {
		return bc.NewBatch()
	}
	return nil
}

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
