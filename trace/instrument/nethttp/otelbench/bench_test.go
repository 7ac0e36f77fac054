package otelbench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	otelprop "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/nethttp"
)

// discard is an exporter for both SDKs that drops every batch: the benchmark measures the request path, not the
// export.
type discard struct{}

func (discard) ExportSpans(context.Context, []*trace.SpanData) error { return nil }
func (discard) Shutdown(context.Context) error                       { return nil }

type otelDiscard struct{}

func (otelDiscard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (otelDiscard) Shutdown(context.Context) error                             { return nil }

var body = strings.Repeat("x", 128)

func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /beers/{name}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	return mux
}

// setup is one way to serve and call: the server's handler and the client's transport, given the base transport.
type setup struct {
	name   string
	server func(http.Handler) http.Handler
	client func(http.RoundTripper) http.RoundTripper
}

func setups(b *testing.B) []setup {
	wp := trace.NewProvider(trace.Config{Exporter: discard{}, Resource: &trace.Resource{Service: "bench"}})
	b.Cleanup(func() { wp.Shutdown(context.Background()) })
	op := sdktrace.NewTracerProvider(sdktrace.WithBatcher(otelDiscard{}), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { op.Shutdown(context.Background()) })
	oprop := otelprop.NewCompositeTextMapPropagator(otelprop.TraceContext{}, otelprop.Baggage{})
	wopts := nethttp.Options{Tracer: wp.Tracer("bench")}
	return []setup{
		{"bare", func(h http.Handler) http.Handler { return h }, func(rt http.RoundTripper) http.RoundTripper { return rt }},
		{"weft", func(h http.Handler) http.Handler { return nethttp.Handler(h, wopts) },
			func(rt http.RoundTripper) http.RoundTripper { return nethttp.Transport(rt, wopts) }},
		{"otelhttp", func(h http.Handler) http.Handler {
			return otelhttp.NewHandler(h, "server", otelhttp.WithTracerProvider(op), otelhttp.WithPropagators(oprop))
		}, func(rt http.RoundTripper) http.RoundTripper {
			return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(op), otelhttp.WithPropagators(oprop))
		}},
	}
}

// inProcess is a RoundTripper that serves the request with a handler in the same goroutine: the request path
// without the network, so that the instrumentation's cost is not lost in the loopback's noise.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	// The server side sees a request as the server would make it: its own copy, with no client trace.
	sr := r.Clone(context.Background())
	sr.RequestURI = r.URL.RequestURI()
	t.h.ServeHTTP(w, sr)
	resp := w.Result()
	resp.Request = r
	return resp, nil
}

// BenchmarkRequest is a GET through the instrumented client transport to the instrumented server handler, both
// sampled, in process (InProcess) and over loopback TCP (Loopback). The cost each instrumentation adds is its
// time less bare's.
func BenchmarkRequest(b *testing.B) {
	for _, s := range setups(b) {
		b.Run("InProcess/"+s.name, func(b *testing.B) {
			client := &http.Client{Transport: s.client(inProcess{s.server(app())})}
			run(b, client, "http://bench/beers/IPA")
		})
	}
	for _, s := range setups(b) {
		b.Run("Loopback/"+s.name, func(b *testing.B) {
			srv := httptest.NewServer(s.server(app()))
			defer srv.Close()
			base := &http.Transport{MaxIdleConnsPerHost: 4}
			defer base.CloseIdleConnections()
			client := &http.Client{Transport: s.client(base)}
			run(b, client, srv.URL+"/beers/IPA")
		})
	}
}

func run(b *testing.B, client *http.Client, url string) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
	// The machine is shared: CPU time per request (all of the process's threads, the exporters' and the
	// collector's included) says more about the cost than wall time does.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process has used, user and system, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// TestSetups checks that each setup serves the request and that the instrumented ones record spans.
func TestSetups(t *testing.T) {
	rec := &trace.Recorder{}
	wp := trace.NewProvider(trace.Config{Exporter: rec})
	defer wp.Shutdown(context.Background())
	opts := nethttp.Options{Tracer: wp.Tracer("test")}
	client := &http.Client{Transport: nethttp.Transport(inProcess{nethttp.Handler(app(), opts)}, opts)}
	resp, err := client.Get("http://bench/beers/IPA")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != body {
		t.Fatalf("body %q", got)
	}
	wp.Flush(context.Background())
	var server, clientSpans int
	for _, s := range rec.Spans() {
		switch s.Kind {
		case trace.KindServer:
			server++
			if s.Name != "GET /beers/{name}" {
				t.Errorf("server span %q", s.Name)
			}
		case trace.KindClient:
			clientSpans++
		}
	}
	if server != 1 || clientSpans != 1 {
		t.Errorf("%d server and %d client spans, want 1 and 1", server, clientSpans)
	}
}
