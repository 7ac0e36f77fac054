// Package interop checks weft's Jaeger receiver against jaeger-client-go's HTTP sender, the client the protocol
// was made for. It is a module of its own so that the client's dependencies stay out of weft's.
package interop

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"
	jaegerclient "github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/transport"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/jaeger"
	"github.com/weftrace/weft/model"
)

type recorder struct {
	mu    sync.Mutex
	spans []*model.Span
}

func (r *recorder) Consume(_ context.Context, spans []*model.Span) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, spans...)
	return nil
}

func TestJaegerClientGo(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(jaeger.NewHandler(rec, ingest.Options{}))
	defer srv.Close()

	sender := transport.NewHTTPTransport(srv.URL + "/api/traces")
	tracer, closer := jaegerclient.NewTracer("matchmaker", jaegerclient.NewConstSampler(true),
		jaegerclient.NewRemoteReporter(sender), jaegerclient.TracerOptions.Gen128Bit(true),
		jaegerclient.TracerOptions.Tag("region", "brasserie-est"))

	root := tracer.StartSpan("HTTP GET /pair")
	ext.SpanKindRPCServer.Set(root)
	ext.HTTPMethod.Set(root, "GET")
	ext.HTTPStatusCode.Set(root, 200)
	root.SetTag("bière", "stout")
	child := tracer.StartSpan("redis GET", opentracing.ChildOf(root.Context()))
	ext.SpanKindRPCClient.Set(child)
	ext.Error.Set(child, true)
	child.LogFields(otlog.String("event", "error"), otlog.Error(errors.New("connection refused")))
	child.Finish()
	root.Finish()
	rootCtx := root.Context().(jaegerclient.SpanContext)
	childCtx := child.Context().(jaegerclient.SpanContext)
	if err := closer.Close(); err != nil { // flushes the reporter
		t.Fatal(err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := map[string]*model.Span{}
	for _, s := range rec.spans {
		got[s.Name] = s
	}
	r, c := got["HTTP GET /pair"], got["redis GET"]
	if r == nil || c == nil {
		t.Fatalf("spans received: %v", got)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("trace ID", r.TraceID.String(), rootCtx.TraceID().String())
	check("child trace ID", c.TraceID.String(), rootCtx.TraceID().String())
	check("root span ID", r.SpanID.String(), rootCtx.SpanID().String())
	check("child span ID", c.SpanID.String(), childCtx.SpanID().String())
	check("child parent", c.ParentID, r.SpanID)
	check("root parent zero", r.ParentID.IsZero(), true)
	if rootCtx.TraceID().High == 0 {
		t.Error("the client made a 64-bit trace ID; the test wants 128 bits")
	}
	check("service", r.Service(), "matchmaker")
	check("root kind", r.Kind, model.KindServer)
	check("child kind", c.Kind, model.KindClient)
	check("child status", c.StatusCode, model.StatusError)
	check("child message", c.StatusMessage, "connection refused")
	check("root status", r.StatusCode, model.StatusUnset)
	v, _ := r.Attr("http.status_code")
	check("http.status_code", v.Type.String()+":"+v.AsString(), "int64:200")
	v, _ = r.Attr("bière")
	check("bière", v.AsString(), "stout")
	v, _ = r.Attr("region")
	check("process tag region", v.AsString(), "brasserie-est")
	v, _ = r.Attr("telemetry.sdk.language")
	check("sdk language", v.AsString(), "go")
	if len(c.Events) != 1 || c.Events[0].Name != "error" {
		t.Errorf("child events %+v", c.Events)
	}
	if r.Duration < 0 || r.Start <= 0 {
		t.Errorf("root start %d duration %d", r.Start, r.Duration)
	}
}
