package propagation_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

// TestSendingEventCrossesProcesses runs the causal hand-over end to end: the client's span records a weft.send
// event when its context is injected, the event travels in tracestate, and the server's span names it as the
// cause of its start.
func TestSendingEventCrossesProcesses(t *testing.T) {
	var rec trace.Recorder
	p := trace.NewProvider(trace.Config{Exporter: &rec})
	tr := p.Tracer("test")

	ctx, client := tr.Start(context.Background(), "call", trace.WithKind(trace.KindClient))
	h := http.Header{}
	propagation.W3C{}.Inject(ctx, propagation.HeaderCarrier(h))
	client.End()

	ts := h.Get("tracestate")
	if !strings.HasPrefix(ts, "weft=") {
		t.Fatalf("tracestate %q has no weft member first", ts)
	}
	sctx := propagation.W3C{}.Extract(context.Background(), propagation.HeaderCarrier(h))
	sent := trace.SpanContextFromContext(sctx).Cause
	_, server := tr.Start(sctx, "serve", trace.WithKind(trace.KindServer))
	server.End()

	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rec.Spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans recorded", len(spans))
	}
	c, s := spans[0], spans[1]
	var send *trace.Event
	for i := range c.Events {
		if c.Events[i].Name == trace.EventSend {
			send = &c.Events[i]
		}
	}
	if send == nil {
		t.Fatalf("client span has no %s event: %+v", trace.EventSend, c.Events)
	}
	want := trace.EventID{Unit: send.Unit, Seq: send.Seq}
	if sent != want {
		t.Errorf("tracestate carried %v, the send event is %v", sent, want)
	}
	if s.StartCause.EventID != want || s.ParentID != c.SpanID || s.TraceID != c.TraceID {
		t.Errorf("server span: parent %v cause %v, want parent %v cause %v", s.ParentID, s.StartCause, c.SpanID, want)
	}
}
