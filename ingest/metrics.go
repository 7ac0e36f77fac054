package ingest

import (
	"context"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weftrace/weft/model"
)

// Metrics counts what the receivers see, each series labelled with the receiver's name ("otlp-grpc",
// "otlp-http", "zipkin", "datadog", "jaeger"). Every method is safe on a nil *Metrics, which counts nothing.
type Metrics struct {
	requests      *prometheus.CounterVec // receiver, outcome
	spansReceived *prometheus.CounterVec // receiver
	spansAccepted *prometheus.CounterVec // receiver
	spansRejected *prometheus.CounterVec // receiver, reason
	bytes         *prometheus.CounterVec // receiver
	inFlight      *prometheus.GaugeVec   // receiver
}

// Reasons a span is rejected, the values of the "reason" label of weft_ingest_spans_rejected_total.
const (
	ReasonBadInput = "bad_input" // the span (or its whole request) could not be decoded
	ReasonOverload = "overload"  // the consumer was full
	ReasonTooLarge = "too_large" // the request was over the size limit
	ReasonError    = "error"     // the consumer failed otherwise
)

// NewMetrics makes the receivers' metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_ingest_requests_total",
			Help: "Requests received, by receiver and outcome (ok, bad_input, overload, too_large, error).",
		}, []string{"receiver", "outcome"}),
		spansReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_ingest_spans_received_total",
			Help: "Spans decoded from requests, by receiver.",
		}, []string{"receiver"}),
		spansAccepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_ingest_spans_accepted_total",
			Help: "Spans taken durably and acknowledged, by receiver.",
		}, []string{"receiver"}),
		spansRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_ingest_spans_rejected_total",
			Help: "Spans refused, by receiver and reason (bad_input, overload, too_large, error).",
		}, []string{"receiver", "reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_ingest_bytes_total",
			Help: "Request body bytes received after decompression, by receiver.",
		}, []string{"receiver"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weft_ingest_requests_in_flight",
			Help: "Requests being decoded or waiting for durability, by receiver.",
		}, []string{"receiver"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.spansReceived, m.spansAccepted, m.spansRejected, m.bytes, m.inFlight)
	}
	return m
}

// Outcome is the "outcome" label for a request that ended with err.
func Outcome(err error) string {
	switch HTTPStatus(err) {
	case http.StatusOK:
		return "ok"
	case http.StatusBadRequest:
		return ReasonBadInput
	case http.StatusTooManyRequests:
		return ReasonOverload
	case http.StatusRequestEntityTooLarge:
		return ReasonTooLarge
	}
	return ReasonError
}

// Request counts one finished request of receiver with its outcome (err nil is success).
func (m *Metrics) Request(receiver string, err error) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(receiver, Outcome(err)).Inc()
}

// Bytes counts body bytes of receiver.
func (m *Metrics) Bytes(receiver string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.bytes.WithLabelValues(receiver).Add(float64(n))
}

// Received counts n decoded spans of receiver.
func (m *Metrics) Received(receiver string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.spansReceived.WithLabelValues(receiver).Add(float64(n))
}

// Accepted counts n spans of receiver taken durably.
func (m *Metrics) Accepted(receiver string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.spansAccepted.WithLabelValues(receiver).Add(float64(n))
}

// Rejected counts n spans of receiver refused for reason (one of the Reason constants).
func (m *Metrics) Rejected(receiver, reason string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.spansRejected.WithLabelValues(receiver, reason).Add(float64(n))
}

// Begin counts a request of receiver as in flight; call the returned function when it is answered.
func (m *Metrics) Begin(receiver string) (end func()) {
	if m == nil {
		return func() {}
	}
	g := m.inFlight.WithLabelValues(receiver)
	g.Inc()
	return g.Dec
}

// Deliver hands the decoded spans of one request of receiver to c and counts the result: the spans as received,
// then as accepted, or as rejected with the reason the consumer's error gives. An empty request is not passed
// to c. It returns c's error unchanged, for the receiver to turn into its protocol's answer.
func Deliver(ctx context.Context, c Consumer, o Options, receiver string, spans []*model.Span) error {
	return DeliverBatch(ctx, c, o, receiver, spans, nil)
}

// DeliverBatch is Deliver for spans that were added to b (from NewBatch(c)) as they were decoded; a nil b is
// Deliver.
func DeliverBatch(ctx context.Context, c Consumer, o Options, receiver string, spans []*model.Span, b Batch) error {
	o.Metrics.Received(receiver, len(spans))
	if len(spans) == 0 {
		return nil
	}
	var err error
	if bc, ok := c.(BatchConsumer); ok && b != nil {
		err = bc.ConsumeBatch(ctx, spans, b)
	} else {
		err = c.Consume(ctx, spans)
	}
	if err == nil {
		o.Metrics.Accepted(receiver, len(spans))
		return nil
	}
	o.Metrics.Rejected(receiver, Outcome(err), len(spans))
	if !errors.Is(err, ErrOverloaded) {
		o.Log().Warn("consumer refused spans", "receiver", receiver, "spans", len(spans), "err", err)
	}
	return err
}
