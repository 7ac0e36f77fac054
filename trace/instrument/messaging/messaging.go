// Package messaging traces message passing — publish/subscribe, point-to-point queues and request-reply — for any
// broker whose messages carry headers. The context travels in the message's headers with the configured
// propagator, which records the producer's weft.send event; the consumer's span starts with a weft.receive event
// naming it, so that the event DAG holds every hand-over. Broker-specific packages (trace/instrument/nats) wrap
// these with the broker's client.
//
//	err := m.Publish(ctx, "orders", headers, func() error { return broker.Send(msg) })
//	m.Consume(ctx, "orders", msg.Headers, func(ctx context.Context) error { return handle(ctx, msg) })
//
// Nothing here changes what the wrapped functions return.
package messaging

import (
	"context"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

// HeaderReply is the header in which a reply names the event that sent it ("<unit16hex>:<seq>"), so that the
// requester's weft.receive can name it.
const HeaderReply = "weft-reply"

// Attribute keys, as OpenTelemetry's messaging semantic conventions name them.
const (
	AttrSystem      = "messaging.system"
	AttrDestination = "messaging.destination.name"
	AttrOperation   = "messaging.operation.type"
	AttrBodySize    = "messaging.message.body.size"
)

// Options configure a Messaging.
type Options struct {
	// Tracer starts the spans; nil means trace.Default().Tracer("weft/messaging").
	Tracer *trace.Tracer
	// Propagator writes the context into messages' headers and reads it back; nil means propagation.Default().
	Propagator propagation.Propagator
	// System names the broker (messaging.system): nats, kafka, rabbitmq, ...
	System string
}

// Messaging makes the spans of one program's messaging.
type Messaging struct {
	t      *trace.Tracer
	prop   propagation.Propagator
	system string
}

// New makes a Messaging.
func New(o Options) *Messaging {
	m := &Messaging{t: o.Tracer, prop: o.Propagator, system: o.System}
	if m.t == nil {
		m.t = trace.Default().Tracer("weft/messaging")
	}
	if m.prop == nil {
		m.prop = propagation.Default()
	}
	return m
}

// Publish runs send, which puts a message on dest, in a producer span named "publish <dest>", after injecting the
// context (and the send event) into the message's headers h. It returns send's error.
func (m *Messaging) Publish(ctx context.Context, dest string, h propagation.Carrier, send func() error) error {
	sctx, span := m.t.Start(ctx, "publish "+dest, trace.WithKind(trace.KindProducer), trace.WithType("queue"),
		trace.WithResource(dest), trace.WithAttrs(trace.String(AttrSystem, m.system), trace.String(AttrDestination, dest),
			trace.String(AttrOperation, "publish")))
	if h != nil {
		m.prop.Inject(sctx, h)
	}
	err := send()
	if err != nil {
		span.RecordError(err)
	}
	span.End()
	return err
}

// Consume runs handle for a message taken from dest whose headers are h, in a consumer span named "process <dest>"
// that continues the producer's trace and starts with a weft.receive event naming the producer's send. It
// returns handle's error.
func (m *Messaging) Consume(ctx context.Context, dest string, h propagation.Carrier, handle func(ctx context.Context) error) error {
	return m.consume(ctx, dest, h, trace.KindConsumer, "process", handle)
}

// Serve is Consume for the responder of a request-reply exchange: a server span named "serve <dest>". The
// handler calls Reply on the reply's headers before sending it.
func (m *Messaging) Serve(ctx context.Context, dest string, h propagation.Carrier, handle func(ctx context.Context) error) error {
	return m.consume(ctx, dest, h, trace.KindServer, "serve", handle)
}

func (m *Messaging) consume(ctx context.Context, dest string, h propagation.Carrier, kind trace.Kind, op string, handle func(ctx context.Context) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if h != nil {
		ctx = m.prop.Extract(ctx, h)
	}
	remote := trace.SpanContextFromContext(ctx)
	hctx, span := m.t.Start(ctx, op+" "+dest, trace.WithKind(kind), trace.WithType("queue"), trace.WithResource(dest),
		trace.WithAttrs(trace.String(AttrSystem, m.system), trace.String(AttrDestination, dest), trace.String(AttrOperation, op)))
	if span == nil {
		return handle(hctx)
	}
	if remote.Cause.IsValid() {
		span.AddCausalEvent(hctx, trace.EventReceive, trace.EventRef{TraceID: remote.TraceID, EventID: remote.Cause})
	}
	err := handle(hctx)
	if err != nil {
		span.RecordError(err)
	}
	span.End()
	return err
}

// Reply records the reply's weft.send event on ctx's span and names it in the reply's headers (HeaderReply), for
// the requester's Request to name as what it received.
func (m *Messaging) Reply(ctx context.Context, h propagation.Carrier) {
	if h == nil {
		return
	}
	if id := trace.RecordSend(ctx); id.IsValid() {
		h.Set(HeaderReply, id.String())
	}
}

// Request runs do, which sends a request on dest with headers h and waits for the reply, in a client span named
// "request <dest>". do returns the reply's headers (nil if none); when they name the reply's send event, a
// weft.receive event naming it is recorded. It returns do's error.
func (m *Messaging) Request(ctx context.Context, dest string, h propagation.Carrier, do func() (reply propagation.Carrier, err error)) error {
	sctx, span := m.t.Start(ctx, "request "+dest, trace.WithKind(trace.KindClient), trace.WithType("queue"),
		trace.WithResource(dest), trace.WithAttrs(trace.String(AttrSystem, m.system), trace.String(AttrDestination, dest),
			trace.String(AttrOperation, "request")))
	if h != nil {
		m.prop.Inject(sctx, h)
	}
	reply, err := do()
	if span != nil {
		if err != nil {
			span.RecordError(err)
		} else if reply != nil {
			if id, perr := trace.ParseEventID(reply.Get(HeaderReply)); perr == nil {
				span.AddCausalEvent(sctx, trace.EventReceive, trace.EventRef{TraceID: span.SpanContext().TraceID, EventID: id})
			}
		}
		span.End()
	}
	return err
}
