package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/opentracing/opentracing-go"
	"github.com/opentracing/opentracing-go/ext"
	otlog "github.com/opentracing/opentracing-go/log"
	jaegerclient "github.com/uber/jaeger-client-go"
	"github.com/uber/jaeger-client-go/transport"
)

// TestJaegerClientGo sends the trace with jaeger-client-go's HTTP sender (thrift to /api/traces on weft's Jaeger
// port) and reads it back through the Jaeger, Zipkin and weft APIs. Jaeger tags are typed; process tags become
// resource attributes; logs become events named by their "event" field.
func TestJaegerClientGo(t *testing.T) {
	t.Parallel()
	w := startWeft(t)
	const service = "café-jaeger"
	sender := transport.NewHTTPTransport("http://" + w.addr(t, "jaeger") + "/api/traces")
	tracer, closer := jaegerclient.NewTracer(service, jaegerclient.NewConstSampler(true),
		jaegerclient.NewRemoteReporter(sender), jaegerclient.TracerOptions.Gen128Bit(true),
		jaegerclient.TracerOptions.Tag("region", "brasserie-est"))

	base := traceStart()
	root := tracer.StartSpan(rootName, opentracing.StartTime(base), ext.SpanKindRPCServer,
		opentracing.Tags{"bière": "stout", "boisson": "café crème", "table": 7, "vip": true, "montant": 4.5})
	grind := tracer.StartSpan(grindName, opentracing.ChildOf(root.Context()), opentracing.StartTime(base.Add(5*time.Millisecond)))
	grind.FinishWithOptions(opentracing.FinishOptions{FinishTime: base.Add(5*time.Millisecond + grindLength),
		LogRecords: []opentracing.LogRecord{{Timestamp: base.Add(30 * time.Millisecond),
			Fields: []otlog.Field{otlog.String("event", "grains moulus"), otlog.Int("grammes", 18)}}}})
	pay := tracer.StartSpan(payName, opentracing.ChildOf(root.Context()), opentracing.StartTime(base.Add(40*time.Millisecond)),
		ext.SpanKindRPCClient, opentracing.Tag{Key: "peer.service", Value: "banque"})
	ext.Error.Set(pay, true)
	pay.FinishWithOptions(opentracing.FinishOptions{FinishTime: base.Add(40*time.Millisecond + payLength),
		LogRecords: []opentracing.LogRecord{{Timestamp: base.Add(55 * time.Millisecond),
			Fields: []otlog.Field{otlog.String("event", "error"), otlog.Error(errors.New(payError))}}}})
	root.FinishWithOptions(opentracing.FinishOptions{FinishTime: base.Add(rootLength),
		LogRecords: []opentracing.LogRecord{{Timestamp: base.Add(time.Millisecond),
			Fields: []otlog.Field{otlog.String("event", "commande reçue")}}}})
	rootCtx := root.Context().(jaegerclient.SpanContext)
	if rootCtx.TraceID().High == 0 {
		t.Fatal("the client made a 64-bit trace ID; the test wants 128 bits")
	}
	if err := closer.Close(); err != nil { // flushes the reporter
		t.Fatal(err)
	}

	want := wantTrace{traceID: rootCtx.TraceID().String(), service: service, spans: []wantSpan{
		{name: rootName, kind: "server", duration: rootLength,
			jaeger: []jaegerKV{{"boisson", "string", "café crème"}, {"table", "int64", 7.0}, {"vip", "bool", true},
				{"montant", "float64", 4.5}, {"bière", "string", "stout"}},
			zipkin: map[string]string{"bière": "stout", "boisson": "café crème", "table": "7", "vip": "true", "montant": "4.5",
				"region": "brasserie-est"},
			events: []string{"commande reçue"}},
		{name: grindName, parent: rootName, duration: grindLength, events: []string{"grains moulus"}},
		{name: payName, parent: rootName, kind: "client", duration: payLength, errMsg: payError,
			jaeger: []jaegerKV{{"peer.service", "string", "banque"}},
			zipkin: map[string]string{"peer.service": "banque"},
			events: []string{"error"}},
	}}
	if len(want.traceID) != 32 {
		t.Fatalf("trace ID %q is not 32 hex digits", want.traceID)
	}
	checkJaeger(t, w, want)
	checkZipkin(t, w, want)
	checkWeftTrace(t, w, want)

	// What only weft's API shows as the receiver stored it: IDs, process tags as resource attributes, a log's
	// typed fields as event attributes.
	tr := weftTrace(t, w, want.traceID, 3)
	for _, s := range tr.Spans {
		if s.Name == rootName && s.SpanID != rootCtx.SpanID().String() {
			t.Errorf("root span ID %s, want %s", s.SpanID, rootCtx.SpanID())
		}
		res := tr.Resources[s.Resource].Attributes
		for k, v := range map[string]string{"region": "brasserie-est", "telemetry.sdk.language": "go"} {
			if !hasAttr(res, k, v) {
				t.Errorf("%q: resource attributes %+v, want %s=%s among them", s.Name, res, k, v)
			}
		}
		if s.Name == grindName && (len(s.Events) != 1 || !hasAttr(s.Events[0].Attributes, "grammes", "18")) {
			t.Errorf("%q: events %+v, want one with grammes = int64 18", s.Name, s.Events)
		}
	}
}
