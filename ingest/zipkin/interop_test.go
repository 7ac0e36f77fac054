package zipkin

import (
	"net/http/httptest"
	"testing"
	"time"

	zipkingo "github.com/openzipkin/zipkin-go"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"github.com/openzipkin/zipkin-go/reporter"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// TestZipkinGo sends spans with zipkin-go's HTTP reporter, in its JSON and its proto3 encodings.
func TestZipkinGo(t *testing.T) {
	for _, tt := range []struct {
		name       string
		serializer reporter.SpanSerializer
	}{
		{"json", reporter.JSONSerializer{}},
		{"proto3", zipkin_proto3.SpanSerializer{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(NewHandler(rec, ingest.Options{}))
			defer srv.Close()
			rep := zipkinhttp.NewReporter(srv.URL+SpansPathV2, zipkinhttp.Serializer(tt.serializer), zipkinhttp.BatchInterval(time.Hour))
			local, _ := zipkingo.NewEndpoint("matchmaker", "192.168.99.1:8080")
			tracer, err := zipkingo.NewTracer(rep, zipkingo.WithLocalEndpoint(local), zipkingo.WithTraceID128Bit(true))
			if err != nil {
				t.Fatal(err)
			}
			remote, _ := zipkingo.NewEndpoint("taster", "172.19.0.2:9411")
			client := tracer.StartSpan("get /pairings/kölsch", zipkingo.Kind(zipkinmodel.Client), zipkingo.RemoteEndpoint(remote))
			client.Tag("http.method", "GET")
			client.Tag("http.path", "/pairings/kölsch")
			client.Tag("error", "taster unavailable")
			client.Annotate(time.Now(), "wire send ☕")
			child := tracer.StartSpan("pick donut", zipkingo.Parent(client.Context()))
			child.Finish()
			client.Finish()
			if err := rep.Close(); err != nil { // flushes
				t.Fatal(err)
			}

			if len(rec.spans) != 2 {
				t.Fatalf("received %d spans, want 2", len(rec.spans))
			}
			c, p := rec.spans[0], rec.spans[1]
			if c.Name != "pick donut" {
				c, p = p, c
			}
			if p.Name != "get /pairings/kölsch" || p.Kind != model.KindClient || p.Service() != "matchmaker" ||
				p.StatusCode != model.StatusError || p.StatusMessage != "taster unavailable" || p.SpanResource != "GET /pairings/kölsch" {
				t.Errorf("client span %+v", p)
			}
			if v, _ := p.Attr(AttrPeerService); v.Str != "taster" {
				t.Errorf("peer.service = %q", v.Str)
			}
			if v, _ := p.Attr(AttrPeerPort); v.Int() != 9411 {
				t.Errorf("net.peer.port = %d", v.Int())
			}
			if len(p.Events) != 1 || p.Events[0].Name != "wire send ☕" {
				t.Errorf("events %+v", p.Events)
			}
			if c.ParentID != p.SpanID || c.TraceID != p.TraceID || [8]byte(p.TraceID[:8]) == [8]byte{} {
				t.Errorf("ids: child %v/%v parent %v/%v (want a 128-bit trace ID)", c.TraceID, c.ParentID, p.TraceID, p.SpanID)
			}
			if p.Resource != c.Resource {
				t.Error("spans of one service do not share a resource")
			}
		})
	}
}
