package messaging_test

import (
	"context"
	"fmt"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/messaging"
	"github.com/weftrace/weft/trace/propagation"
)

// A producer publishes a message with the trace context in its headers; the consumer, which has no other link to
// the producer, continues the trace from those headers, and its span starts by receiving the producer's send.
func ExampleMessaging_Publish() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	m := messaging.New(messaging.Options{Tracer: p.Tracer("shop"), System: "memory"})
	queue := make(chan propagation.MapCarrier, 1)

	ctx, checkout := p.Tracer("shop").Start(context.Background(), "checkout")
	headers := propagation.MapCarrier{}
	_ = m.Publish(ctx, "orders", headers, func() error { queue <- headers; return nil })
	checkout.End()

	_ = m.Consume(context.Background(), "orders", <-queue, func(ctx context.Context) error {
		_, span := p.Tracer("shop").Start(ctx, "reserve stock")
		span.End()
		return nil
	})
	p.Flush(context.Background())

	spans := rec.Spans()
	pub, con := find(spans, "publish orders"), find(spans, "process orders")
	fmt.Println(pub.Kind, con.Kind, con.TraceID == pub.TraceID, con.ParentID == pub.SpanID)
	fmt.Println("consumer starts from the producer's send:", con.StartCause.EventID == id(event(pub, trace.EventSend)))
	// Output:
	// producer consumer true true
	// consumer starts from the producer's send: true
}
