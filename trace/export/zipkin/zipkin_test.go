package zipkin

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/export/retry"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func fixture() []*trace.SpanData {
	res := &trace.Resource{Service: "matchmaker"}
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	return []*trace.SpanData{
		{
			TraceID: tid, SpanID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, Name: "GET /pairings/{beer}",
			Kind: trace.KindServer, Start: 1_700_000_000_000_000_000, End: 1_700_000_000_250_000_500, Resource: res,
			StatusCode: trace.StatusError, StatusMessage: "no pairing", SpanResource: "GET /pairings/{beer}", SpanType: "web",
			Priority: 2, Flags: trace.FlagSampled,
			Attrs: []trace.Attr{trace.String("http.route", "/pairings/{beer}"), trace.Int64("http.response.status_code", 500),
				trace.Float64("load", 0.5), trace.Bool("cache.hit", true), trace.Strings("tags", []string{"a", "b"}),
				trace.Int64s("ports", []int64{80, 443})},
			Events: []trace.Event{{Time: 1_700_000_000_100_000_000, Name: trace.EventFork, Unit: 0xa596dd19732a1e13, Seq: 2}},
			Unit:   0xa596dd19732a1e13, StartSeq: 1, EndSeq: 3,
			StartCause: trace.EventRef{EventID: trace.EventID{Unit: 0x9c1f0e22aa03b7d4, Seq: 5}},
		},
		{
			TraceID: trace.TraceID{8: 0x64, 9: 0xfe, 15: 0x01}, SpanID: trace.SpanID{1, 1, 1, 1, 1, 1, 1, 1},
			ParentID: trace.SpanID{2, 2, 2, 2, 2, 2, 2, 2}, Name: "SELECT donuts", Kind: trace.KindClient,
			Start: 1_700_000_000_020_000_000, End: 1_700_000_000_020_000_100, Resource: res, Service: "postgres",
			StatusCode: trace.StatusOK, Attrs: []trace.Attr{trace.String("peer.service", "postgres")},
		},
	}
}

func TestGoldenJSON(t *testing.T) {
	got, err := json.MarshalIndent(Spans(fixture()), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "spans.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(got, '\n'), want) {
		t.Errorf("Zipkin JSON changed:\n%s", got)
	}
}

func TestExportRetries503(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, b)
		if r.URL.Path != "/api/v2/spans" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "wrong request", 400)
			return
		}
		if len(bodies) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	e, err := New(Config{Endpoint: srv.URL + "/api/v2/spans", Retry: retry.Policy{Initial: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ExportSpans(context.Background(), fixture()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 {
		t.Fatalf("%d requests, want 2", len(bodies))
	}
	var got []Span
	if err := json.Unmarshal(bodies[1], &got); err != nil || len(got) != 2 || got[0].Tags["weft.unit"] != "a596dd19732a1e13" {
		t.Errorf("server received %s (%v)", bodies[1], err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.ExportSpans(context.Background(), fixture()); err != ErrShutdown {
		t.Errorf("export after shutdown: %v", err)
	}
}

func TestNewRejectsBadEndpoint(t *testing.T) {
	if _, err := New(Config{Endpoint: "localhost:9411"}); err == nil {
		t.Error("accepted an endpoint without scheme")
	}
}

func ExampleNew() {
	exp, err := New(Config{Endpoint: "http://127.0.0.1:9411/api/v2/spans"})
	if err != nil {
		panic(err)
	}
	p := trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: "matchmaker"}, Exporter: exp})
	defer p.Shutdown(context.Background())
}

func ExampleFromSpanData() {
	s := FromSpanData(fixture()[1])
	fmt.Println(s.TraceID, s.Kind, s.LocalEndpoint.ServiceName, s.Duration)
	// Output: 64fe000000000001 CLIENT postgres 1
}
