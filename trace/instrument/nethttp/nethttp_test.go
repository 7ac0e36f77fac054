package nethttp_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/otlphttp"
	"github.com/weftrace/weft/trace/instrument/nethttp"
)

// recorded makes a provider that records every span, and a function that flushes and returns them.
func recorded(t *testing.T, service string) (*trace.Provider, func() []*trace.SpanData) {
	t.Helper()
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: service}, Exporter: rec})
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p, func() []*trace.SpanData {
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		return rec.Spans()
	}
}

func byKind(spans []*trace.SpanData, k trace.Kind) []*trace.SpanData {
	var out []*trace.SpanData
	for _, s := range spans {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

func attr(s *trace.SpanData, key string) string {
	v, ok := s.Attr(key)
	if !ok {
		return "<none>"
	}
	return v.String()
}

func event(s *trace.SpanData, name string) *trace.Event {
	for i := range s.Events {
		if s.Events[i].Name == name {
			return &s.Events[i]
		}
	}
	return nil
}

func mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /beers/{name}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "beer "+r.PathValue("name"))
	})
	m.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	})
	m.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	m.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) {})
	m.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	return m
}

// TestHandler checks the server span of each kind of request: its name and route from the ServeMux pattern, the
// status, errors and the body sizes.
func TestHandler(t *testing.T) {
	p, spans := recorded(t, "server")
	srv := httptest.NewUnstartedServer(nethttp.Handler(mux(), nethttp.Options{Tracer: p.Tracer("test")}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the /panic request's panic
	srv.Start()
	defer srv.Close()
	tests := []struct {
		method, path, body  string
		wantName, wantRoute string
		wantStatus          int
		wantErr             bool
		wantIn, wantOut     int64
	}{
		{"GET", "/beers/IPA", "", "GET /beers/{name}", "/beers/{name}", 200, false, 0, 8},
		{"POST", "/echo", "hello, weft", "POST /echo", "/echo", 200, false, 11, 11},
		{"GET", "/fail", "", "GET /fail", "/fail", 500, true, 0, 7},
		{"GET", "/empty", "", "GET /empty", "/empty", 200, false, 0, 0},
		{"GET", "/nowhere", "", "GET", "<none>", 404, false, 0, 19},
		{"GET", "/panic", "", "GET /panic", "/panic", 200, true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			var got *trace.SpanData
			for deadline := time.Now().Add(5 * time.Second); got == nil && time.Now().Before(deadline); {
				for _, s := range spans() {
					if attr(s, nethttp.AttrURLPath) == tt.path {
						got = s
					}
				}
				if got == nil {
					time.Sleep(10 * time.Millisecond) // the span ends after the response is written
				}
			}
			if got == nil {
				t.Fatalf("no span for %s", tt.path)
			}
			if got.Name != tt.wantName || attr(got, nethttp.AttrRoute) != tt.wantRoute || got.Kind != trace.KindServer {
				t.Errorf("span %q route %s kind %v, want %q route %s server", got.Name, attr(got, nethttp.AttrRoute), got.Kind, tt.wantName, tt.wantRoute)
			}
			if tt.wantRoute != "<none>" && got.SpanResource != tt.wantRoute {
				t.Errorf("resource %q, want %q", got.SpanResource, tt.wantRoute)
			}
			if tt.path != "/panic" && attr(got, nethttp.AttrStatusCode) != itoa(tt.wantStatus) {
				t.Errorf("status %s, want %d", attr(got, nethttp.AttrStatusCode), tt.wantStatus)
			}
			if (got.StatusCode == trace.StatusError) != tt.wantErr {
				t.Errorf("status code %v, want error %v", got.StatusCode, tt.wantErr)
			}
			if got.Counters.BytesIn != tt.wantIn || got.Counters.BytesOut != tt.wantOut {
				t.Errorf("bytes in %d out %d, want %d %d", got.Counters.BytesIn, got.Counters.BytesOut, tt.wantIn, tt.wantOut)
			}
		})
	}
}

func itoa(n int) string { return trace.Int("", n).Value.String() }

// TestRoundTrip sends requests through Transport to a server behind Handler and checks the parent chain, the
// causal send and reply events, the httptrace events and connection reuse.
func TestRoundTrip(t *testing.T) {
	cp, clientSpans := recorded(t, "client")
	sp, serverSpans := recorded(t, "server")
	srv := httptest.NewServer(nethttp.Handler(mux(), nethttp.Options{Tracer: sp.Tracer("test")}))
	defer srv.Close()
	client := nethttp.Client(nil, nethttp.Options{Tracer: cp.Tracer("test"), Service: "beers"})

	ctx, root := cp.Tracer("test").Start(context.Background(), "root")
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/echo", strings.NewReader("0123456789"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "0123456789" {
			t.Fatalf("body %q", b)
		}
	}
	root.End()
	time.Sleep(50 * time.Millisecond)
	cs := byKind(clientSpans(), trace.KindClient)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Start < cs[j].Start })
	ss := serverSpans()
	if len(cs) != 2 || len(ss) != 2 {
		t.Fatalf("%d client and %d server spans, want 2 and 2", len(cs), len(ss))
	}
	for i, c := range cs {
		var s *trace.SpanData
		for _, x := range ss {
			if x.ParentID == c.SpanID {
				s = x
			}
		}
		if s == nil {
			t.Fatalf("no server span is the child of client span %v", c.SpanID)
		}
		if c.Name != "POST beers" {
			t.Errorf("client span name %q", c.Name)
		}
		if s.TraceID != c.TraceID {
			t.Errorf("server span's trace %v, want the client's %v", s.TraceID, c.TraceID)
		}
		send := event(c, trace.EventSend)
		if send == nil || s.StartCause.EventID != (trace.EventID{Unit: send.Unit, Seq: send.Seq}) {
			t.Errorf("server span's cause %v, want the client's send event %+v", s.StartCause, send)
		}
		reply := event(s, trace.EventSend)
		recv := event(c, trace.EventReceive)
		if reply == nil || recv == nil || recv.Cause.EventID != (trace.EventID{Unit: reply.Unit, Seq: reply.Seq}) {
			t.Errorf("client's receive %+v does not name the server's reply %+v", recv, reply)
		}
		if send != nil && recv != nil && recv.Seq <= send.Seq {
			t.Errorf("receive seq %d not after send seq %d", recv.Seq, send.Seq)
		}
		for _, name := range []string{nethttp.EventGotConn, nethttp.EventWroteRequest} {
			if event(c, name) == nil {
				t.Errorf("client span %d has no %s event", i, name)
			}
		}
		if c.Counters.BytesOut != 10 || c.Counters.BytesIn != 10 {
			t.Errorf("client bytes out %d in %d, want 10 and 10", c.Counters.BytesOut, c.Counters.BytesIn)
		}
		conn := event(c, nethttp.EventGotConn)
		wantReused := i == 1
		for _, a := range conn.Attrs {
			if a.Key == nethttp.AttrConnReused && a.Value.AsBool() != wantReused {
				t.Errorf("request %d: connection reused %v, want %v", i, a.Value.AsBool(), wantReused)
			}
		}
	}
	if event(cs[0], nethttp.EventConnectDone) == nil {
		t.Error("first request has no connect event")
	}
}

// TestTransportErrors checks that Transport returns exactly what the wrapped transport returns, and records it.
func TestTransportErrors(t *testing.T) {
	p, spans := recorded(t, "client")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	base := &http.Transport{}
	tr := nethttp.Transport(base, nethttp.Options{Tracer: p.Tracer("test")})
	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
	_, wantErr := base.RoundTrip(req)
	_, err := tr.RoundTrip(req)
	if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
		t.Fatalf("error %v, want %v", err, wantErr)
	}
	root.End()
	cs := byKind(spans(), trace.KindClient)
	if len(cs) != 1 || cs[0].StatusCode != trace.StatusError || event(cs[0], "exception") == nil {
		t.Fatalf("want one client span with the error recorded, got %+v", cs)
	}

	// http.Transport panics on a nil request; the traced one returns an error.
	if resp, err := tr.RoundTrip(nil); err == nil || resp != nil {
		t.Errorf("nil request: %v, %v; want an error", resp, err)
	}
	// A request without a URL is the wrapped transport's to refuse.
	_, wantErr = base.RoundTrip(&http.Request{Method: "GET", Header: http.Header{}})
	_, err = tr.RoundTrip(&http.Request{Method: "GET", Header: http.Header{}})
	if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
		t.Errorf("request without URL: error %v, want %v", err, wantErr)
	}
}

// TestOddValues checks that nothing panics on nil requests, nil and closed bodies, and a body read after the
// response is closed.
func TestOddValues(t *testing.T) {
	p, _ := recorded(t, "server")
	var gotNil bool
	h := nethttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotNil = r == nil }), nethttp.Options{Tracer: p.Tracer("test")})
	h.ServeHTTP(httptest.NewRecorder(), nil)
	if !gotNil {
		t.Error("the handler was not called with the nil request")
	}
	req := httptest.NewRequest("POST", "/x", nil)
	req.Body = nil
	h.ServeHTTP(httptest.NewRecorder(), req)

	srv := httptest.NewServer(nethttp.Handler(mux(), nethttp.Options{Tracer: p.Tracer("test")}))
	defer srv.Close()
	client := nethttp.Client(nil, nethttp.Options{Tracer: p.Tracer("test")})
	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	defer root.End()
	r, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/beers/x", nil)
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 4)); err == nil {
		t.Error("read after close succeeded")
	}
}

// TestExporterDown checks that requests are served alike when the spans cannot be delivered.
func TestExporterDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	exp, err := otlphttp.New(otlphttp.Config{Endpoint: "http://" + addr + "/v1/traces"})
	if err != nil {
		t.Fatal(err)
	}
	p := trace.NewProvider(trace.Config{Exporter: exp, BatchTimeout: time.Millisecond, ExportTimeout: 100 * time.Millisecond})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.Shutdown(ctx)
	}()
	srv := httptest.NewServer(nethttp.Handler(mux(), nethttp.Options{Tracer: p.Tracer("test")}))
	defer srv.Close()
	client := nethttp.Client(nil, nethttp.Options{Tracer: p.Tracer("test")})
	for i := 0; i < 20; i++ {
		resp, err := client.Get(srv.URL + "/beers/IPA")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "beer IPA" {
			t.Fatalf("body %q", b)
		}
	}
}

// routeSampler drops the spans of one route, as a per-route sampling rule would.
type routeSampler struct{ drop string }

func (s routeSampler) ShouldSample(p trace.SamplingParams) trace.SamplingResult {
	for _, a := range p.Attrs {
		if a.Key == nethttp.AttrRoute && a.Value.AsString() == s.drop {
			return trace.SamplingResult{Decision: trace.Drop, Priority: trace.PriorityUnset}
		}
	}
	return trace.SamplingResult{Decision: trace.RecordAndSample, Priority: trace.PriorityUnset}
}

func (routeSampler) Description() string { return "route" }

// TestRouteSampling checks that a sampler sees the route of a ServeMux before the span starts.
func TestRouteSampling(t *testing.T) {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec, Sampler: routeSampler{drop: "/fail"}})
	defer p.Shutdown(context.Background())
	h := nethttp.Handler(mux(), nethttp.Options{Tracer: p.Tracer("test")})
	for _, path := range []string{"/fail", "/beers/IPA"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	}
	p.Flush(context.Background())
	var names []string
	for _, s := range rec.Spans() {
		names = append(names, s.Name)
	}
	if len(names) != 1 || names[0] != "GET /beers/{name}" {
		t.Errorf("spans %v, want only GET /beers/{name}", names)
	}
}
