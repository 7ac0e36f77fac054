package messaging_test

import (
	"context"
	"errors"
	"testing"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/messaging"
	"github.com/weftrace/weft/trace/propagation"
)

func find(spans []*trace.SpanData, name string) *trace.SpanData {
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func event(s *trace.SpanData, name string) *trace.Event {
	for i := range s.Events {
		if s.Events[i].Name == name {
			return &s.Events[i]
		}
	}
	return nil
}

func id(e *trace.Event) trace.EventID { return trace.EventID{Unit: e.Unit, Seq: e.Seq} }

// TestPublishConsume hands a message over an in-memory queue and checks the trace and the send/receive pair.
func TestPublishConsume(t *testing.T) {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	defer p.Shutdown(context.Background())
	m := messaging.New(messaging.Options{Tracer: p.Tracer("test"), System: "memory"})
	queue := make(chan propagation.MapCarrier, 1)

	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	h := propagation.MapCarrier{}
	if err := m.Publish(ctx, "orders", h, func() error { queue <- h; return nil }); err != nil {
		t.Fatal(err)
	}
	wantErr := errors.New("broker down")
	if err := m.Publish(ctx, "orders", propagation.MapCarrier{}, func() error { return wantErr }); err != wantErr {
		t.Errorf("Publish returned %v, want send's error", err)
	}
	root.End()
	// The consumer runs without the producer's context: only the headers carry it.
	handled := false
	err := m.Consume(context.Background(), "orders", <-queue, func(ctx context.Context) error {
		handled = trace.SpanFromContext(ctx) != nil
		return errors.New("bad order")
	})
	if err == nil || err.Error() != "bad order" || !handled {
		t.Errorf("Consume: %v, handled with a span %v", err, handled)
	}
	p.Flush(context.Background())
	spans := rec.Spans()
	pub, con := find(spans, "publish orders"), find(spans, "process orders")
	if pub == nil || con == nil {
		t.Fatalf("spans %v", spans)
	}
	if con.TraceID != pub.TraceID || con.ParentID != pub.SpanID || con.Kind != trace.KindConsumer || pub.Kind != trace.KindProducer {
		t.Errorf("consumer %v/%v %v, producer %v/%v %v", con.TraceID, con.ParentID, con.Kind, pub.TraceID, pub.SpanID, pub.Kind)
	}
	send, recv := event(pub, trace.EventSend), event(con, trace.EventReceive)
	if send == nil || recv == nil || recv.Cause.EventID != id(send) || con.StartCause.EventID != id(send) {
		t.Errorf("send %+v, receive %+v, consumer cause %v", send, recv, con.StartCause)
	}
	if con.StatusCode != trace.StatusError {
		t.Error("the handler's error is not on the consumer span")
	}
}

// TestRequestReply checks that the requester's receive names the responder's reply.
func TestRequestReply(t *testing.T) {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	defer p.Shutdown(context.Background())
	m := messaging.New(messaging.Options{Tracer: p.Tracer("test"), System: "memory"})
	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	err := m.Request(ctx, "price", propagation.MapCarrier{}, func() (propagation.Carrier, error) {
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	req := propagation.MapCarrier{}
	err = m.Request(ctx, "price", req, func() (propagation.Carrier, error) {
		reply := propagation.MapCarrier{}
		err := m.Serve(context.Background(), "price", req, func(ctx context.Context) error {
			m.Reply(ctx, reply)
			return nil
		})
		return reply, err
	})
	if err != nil {
		t.Fatal(err)
	}
	root.End()
	p.Flush(context.Background())
	spans := rec.Spans()
	var client *trace.SpanData
	for _, s := range spans {
		if s.Name == "request price" && event(s, trace.EventReceive) != nil {
			client = s
		}
	}
	server := find(spans, "serve price")
	if client == nil || server == nil {
		t.Fatalf("spans %v", spans)
	}
	if reply, recv := event(server, trace.EventSend), event(client, trace.EventReceive); reply == nil || recv.Cause.EventID != id(reply) {
		t.Errorf("receive %+v does not name the reply %+v", recv, reply)
	}
	if server.ParentID != client.SpanID || server.Kind != trace.KindServer {
		t.Errorf("server span parent %v kind %v", server.ParentID, server.Kind)
	}
}
