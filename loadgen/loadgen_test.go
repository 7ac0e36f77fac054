package loadgen

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestBatchShape(t *testing.T) {
	for _, n := range []int{1, 100, 1000} {
		body, spans, err := Batch(3, n)
		if err != nil {
			t.Fatal(err)
		}
		req := &collectorpb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			t.Fatal(err)
		}
		got := 0
		traces := map[string]int{}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					got++
					traces[string(s.TraceId)]++
					if len(s.Attributes) != 10 {
						t.Errorf("span with %d attributes, want 10", len(s.Attributes))
					}
				}
			}
		}
		if got != spans || spans < n || spans >= n+50 {
			t.Errorf("Batch(%d): %d spans decoded, %d reported", n, got, spans)
		}
		for id, c := range traces {
			if c < 5 || c > 50 {
				t.Errorf("trace %x has %d spans, want 5 to 50", id, c)
			}
		}
	}
}

// TestFillPatchesIDsAndTimes: every copy of a template gets trace IDs of its own (the same within a trace) and its
// times moved to the time of sending, and is otherwise the template.
func TestFillPatchesIDsAndTimes(t *testing.T) {
	tm, err := buildTemplate(rand.New(rand.NewPCG(1, 2)), 200)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(b []byte) []*tracepb.Span {
		req := &collectorpb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(b, req); err != nil {
			t.Fatal(err)
		}
		var out []*tracepb.Span
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
		return out
	}
	orig := decode(tm.body)
	const later = int64(time.Hour)
	rng := rand.New(rand.NewPCG(3, 4))
	a := decode(tm.fill(nil, rng, tm.built+later))
	b := decode(tm.fill(nil, rng, tm.built+2*later))
	if len(a) != len(orig) || len(b) != len(orig) || len(orig) != tm.spans {
		t.Fatalf("%d, %d and %d spans, want %d", len(a), len(b), len(orig), tm.spans)
	}
	idOf := map[string]string{} // template trace ID → the copy's
	for i := range orig {
		o, x, y := orig[i], a[i], b[i]
		if x.StartTimeUnixNano != o.StartTimeUnixNano+uint64(later) || x.EndTimeUnixNano != o.EndTimeUnixNano+uint64(later) ||
			y.StartTimeUnixNano != o.StartTimeUnixNano+uint64(2*later) {
			t.Fatalf("span %d: times %d..%d and %d, want the template's %d..%d moved by 1h and 2h", i,
				x.StartTimeUnixNano, x.EndTimeUnixNano, y.StartTimeUnixNano, o.StartTimeUnixNano, o.EndTimeUnixNano)
		}
		if bytes.Equal(x.TraceId, o.TraceId) || bytes.Equal(x.TraceId, y.TraceId) {
			t.Fatalf("span %d: trace ID not replaced in every copy", i)
		}
		if prev, ok := idOf[string(o.TraceId)]; ok && prev != string(x.TraceId) {
			t.Fatalf("span %d: the spans of one trace got different trace IDs", i)
		}
		idOf[string(o.TraceId)] = string(x.TraceId)
		x.TraceId, x.StartTimeUnixNano, x.EndTimeUnixNano = o.TraceId, o.StartTimeUnixNano, o.EndTimeUnixNano
		if !proto.Equal(x, o) {
			t.Fatalf("span %d differs from the template beyond its trace ID and times", i)
		}
	}
}

// TestRunCountsAndThrottles runs the generator against a receiver that takes every other request and answers 429
// to the rest, and checks what it counts.
func TestRunCountsAndThrottles(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := proto.Unmarshal(body, &collectorpb.ExportTraceServiceRequest{}); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{Endpoint: srv.URL, Duration: 300 * time.Millisecond, Concurrency: 2,
		SpansPerBatch: 100, Templates: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Requests cut short by the end of the run were counted by the receiver, not by the generator.
	if d := res.Throttled - res.Requests/2; res.Requests == 0 || res.Rejected != 0 || d < -2 || d > 2 ||
		res.SpansAccepted == 0 || res.SpansAccepted >= res.SpansSent {
		t.Fatalf("%+v: want every request read, every other one throttled, none rejected", res)
	}
	if strings.Contains(res.String(), "load generator CPU") != (res.CPU > 0) {
		t.Errorf("String says %q with CPU %v", res.String(), res.CPU)
	}
}

// BenchmarkFill is what the generator does per request before sending: copy a template of 1,000 spans and write
// new trace IDs and times into it.
func BenchmarkFill(b *testing.B) {
	tm, err := buildTemplate(rand.New(rand.NewPCG(1, 2)), 1000)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var buf []byte
	b.SetBytes(int64(len(tm.body)))
	for i := 0; i < b.N; i++ {
		buf = tm.fill(buf, rng, time.Now().UnixNano())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tm.spans), "ns/span")
}

// TestRunWaitsRetryAfter: after a 429 with Retry-After, a worker sends nothing until that time has passed (here
// longer than the run).
func TestRunWaitsRetryAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{Endpoint: srv.URL, Duration: 400 * time.Millisecond, Concurrency: 1,
		SpansPerBatch: 10, Templates: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 1 || res.Throttled != 1 {
		t.Fatalf("%d requests, %d throttled: want one, then a wait past the end of the run", res.Requests, res.Throttled)
	}
}

// TestRunPaces: at a set rate, no more spans are sent than are due by the end of the run.
func TestRunPaces(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	res, err := Run(context.Background(), Options{Endpoint: srv.URL, Duration: 500 * time.Millisecond, Concurrency: 4,
		SpansPerBatch: 100, Templates: 4, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// Requests are due at 0, 100+, 200+, ... ms: at most 5 start within 500 ms (and at least the first).
	if res.Requests < 1 || res.Requests > 5 {
		t.Fatalf("%d requests of 100+ spans in 500 ms at 1,000 spans/s, want 1 to 5", res.Requests)
	}
}
