package e2e

import (
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
)

// TestZipkinGo sends the trace with zipkin-go's HTTP reporter (JSON v2) and reads it back through the Jaeger,
// Zipkin and weft APIs. Zipkin tags are text, so every attribute comes back as a string.
func TestZipkinGo(t *testing.T) {
	t.Parallel()
	w := startWeft(t)
	const service = "café-zipkin"
	rep := zipkinhttp.NewReporter("http://"+w.addr(t, "zipkin")+"/api/v2/spans", zipkinhttp.BatchInterval(50*time.Millisecond))
	ep, err := zipkin.NewEndpoint(service, "127.0.0.1:8080")
	need(t, err, "zipkin endpoint")
	tracer, err := zipkin.NewTracer(rep, zipkin.WithLocalEndpoint(ep), zipkin.WithTraceID128Bit(true),
		zipkin.WithSharedSpans(false))
	need(t, err, "zipkin tracer")

	base := traceStart()
	root := tracer.StartSpan(rootName, zipkin.Kind(zipkinmodel.Server), zipkin.StartTime(base),
		zipkin.Tags(map[string]string{"boisson": "café crème", "table": "7"}))
	root.Annotate(base.Add(time.Millisecond), "commande reçue")
	grind := tracer.StartSpan(grindName, zipkin.Parent(root.Context()), zipkin.StartTime(base.Add(5*time.Millisecond)))
	grind.Annotate(base.Add(30*time.Millisecond), "grains moulus")
	grind.FinishedWithDuration(grindLength)
	pay := tracer.StartSpan(payName, zipkin.Kind(zipkinmodel.Client), zipkin.Parent(root.Context()),
		zipkin.StartTime(base.Add(40*time.Millisecond)), zipkin.RemoteEndpoint(&zipkinmodel.Endpoint{ServiceName: "banque"}))
	zipkin.TagError.Set(pay, payError)
	pay.Annotate(base.Add(55*time.Millisecond), "refus")
	pay.FinishedWithDuration(payLength)
	root.FinishedWithDuration(rootLength)
	traceID := root.Context().TraceID.String()
	if len(traceID) != 32 {
		t.Fatalf("zipkin-go made trace ID %q; the test wants 128 bits", traceID)
	}
	if err := rep.Close(); err != nil { // sends what is left
		t.Fatal(err)
	}

	want := wantTrace{traceID: traceID, service: service, spans: []wantSpan{
		{name: rootName, kind: "server", duration: rootLength,
			jaeger: []jaegerKV{{"boisson", "string", "café crème"}, {"table", "string", "7"}},
			zipkin: map[string]string{"boisson": "café crème", "table": "7"},
			events: []string{"commande reçue"}},
		{name: grindName, parent: rootName, duration: grindLength, events: []string{"grains moulus"}},
		{name: payName, parent: rootName, kind: "client", duration: payLength, errMsg: payError,
			jaeger: []jaegerKV{{"peer.service", "string", "banque"}},
			zipkin: map[string]string{"peer.service": "banque"},
			events: []string{"refus"}},
	}}
	checkJaeger(t, w, want)
	checkZipkin(t, w, want)
	checkWeftTrace(t, w, want)
}
