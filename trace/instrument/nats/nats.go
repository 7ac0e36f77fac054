// Package nats traces NATS messaging with nats.go: publish, subscribe (also in queue groups: point-to-point),
// request and respond, with the trace context carried in the message headers through trace/instrument/messaging.
// It is a module of its own so that the library does not depend on nats.go.
//
//	tc := weftnats.New(nc, messaging.Options{})
//	tc.Subscribe("orders", func(ctx context.Context, msg *nats.Msg) { ... })
//	tc.Publish(ctx, "orders", data)
package nats

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/weftrace/weft/trace/instrument/messaging"
	"github.com/weftrace/weft/trace/propagation"
)

// Conn is a NATS connection whose messages are traced.
type Conn struct {
	// NC is the underlying connection, for everything that is not traced.
	NC *nats.Conn
	m  *messaging.Messaging
}

// New wraps nc; o.System defaults to "nats".
func New(nc *nats.Conn, o messaging.Options) *Conn {
	if o.System == "" {
		o.System = "nats"
	}
	return &Conn{NC: nc, m: messaging.New(o)}
}

// header adapts nats.Header to a propagation.Carrier. NATS header keys are case-sensitive; the propagators use
// lowercase keys on both sides.
type header nats.Header

func (h header) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (h header) Set(key, value string) { h[key] = []string{value} }

func carrier(msg *nats.Msg) header {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	return header(msg.Header)
}

// Publish sends data on subj in a producer span.
func (c *Conn) Publish(ctx context.Context, subj string, data []byte) error {
	return c.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: data})
}

// PublishMsg sends msg in a producer span, adding the context to its headers.
func (c *Conn) PublishMsg(ctx context.Context, msg *nats.Msg) error {
	if msg == nil {
		return c.NC.PublishMsg(msg)
	}
	return c.m.Publish(ctx, msg.Subject, carrier(msg), func() error { return c.NC.PublishMsg(msg) })
}

// Handler handles a message with the context of its consumer span.
type Handler func(ctx context.Context, msg *nats.Msg)

func (c *Conn) handle(h Handler) nats.MsgHandler {
	return func(msg *nats.Msg) {
		c.m.Consume(context.Background(), msg.Subject, carrier(msg), func(ctx context.Context) error {
			h(ctx, msg)
			return nil
		})
	}
}

// Subscribe subscribes to subj (publish/subscribe: every subscriber gets every message); each message is handled
// in a consumer span.
func (c *Conn) Subscribe(subj string, h Handler) (*nats.Subscription, error) {
	return c.NC.Subscribe(subj, c.handle(h))
}

// QueueSubscribe subscribes to subj in queue group queue (point-to-point: one member gets each message).
func (c *Conn) QueueSubscribe(subj, queue string, h Handler) (*nats.Subscription, error) {
	return c.NC.QueueSubscribe(subj, queue, c.handle(h))
}

// Serve subscribes a responder to subj: each request is handled in a server span, and the handler answers with
// Respond.
func (c *Conn) Serve(subj string, h Handler) (*nats.Subscription, error) {
	return c.NC.Subscribe(subj, func(msg *nats.Msg) {
		c.m.Serve(context.Background(), msg.Subject, carrier(msg), func(ctx context.Context) error {
			h(ctx, msg)
			return nil
		})
	})
}

// Respond answers req with data, recording the reply's send event and naming it in the reply's headers.
func (c *Conn) Respond(ctx context.Context, req *nats.Msg, data []byte) error {
	reply := &nats.Msg{Subject: req.Reply, Data: data, Header: nats.Header{}}
	c.m.Reply(ctx, header(reply.Header))
	return req.RespondMsg(reply)
}

// Request sends data on subj and waits up to timeout for the reply, in a client span whose receive event names
// the responder's reply.
func (c *Conn) Request(ctx context.Context, subj string, data []byte, timeout time.Duration) (*nats.Msg, error) {
	msg := &nats.Msg{Subject: subj, Data: data, Header: nats.Header{}}
	var reply *nats.Msg
	err := c.m.Request(ctx, subj, header(msg.Header), func() (rh propagation.Carrier, err error) {
		reply, err = c.NC.RequestMsg(msg, timeout)
		if err != nil || reply == nil || reply.Header == nil {
			return nil, err
		}
		return header(reply.Header), nil
	})
	return reply, err
}
