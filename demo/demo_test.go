package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/demo"
	"github.com/weftrace/weft/server"
)

// startWeft starts an in-process weft on free loopback ports.
func startWeft(t *testing.T) *server.Server {
	t.Helper()
	args := []string{"--data-dir", t.TempDir(), "--fsync", "interval"}
	for _, f := range []string{"otlp-grpc", "otlp-http", "zipkin", "datadog", "jaeger", "query"} {
		args = append(args, "--"+f+"-addr", "127.0.0.1:0")
	}
	cfg, err := server.ParseConfig("serve", args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// jaegerTrace is the part of the Jaeger API's trace answer the test reads.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		References    []struct {
			SpanID string `json:"spanID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

type criticalPath struct {
	Method   string `json:"method"`
	Segments []struct {
		SpanID  string `json:"spanID"`
		Service string `json:"service"`
		Name    string `json:"name"`
	} `json:"segments"`
}

func getJSON(url string, v any) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return resp.StatusCode, json.Unmarshal(b, v)
}

// pair asks the matchmaker for a pairing and returns the trace ID from its traceresponse header.
func pair(t *testing.T, d *demo.Demo, beer string) string {
	t.Helper()
	resp, err := http.Get(d.MatchmakerURL + "/pair/beer?name=" + url.QueryEscape(beer))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/pair/beer: %s: %s", resp.Status, body)
	}
	tr := strings.Split(resp.Header.Get("Traceresponse"), "-")
	if len(tr) != 4 || len(tr[1]) != 32 {
		t.Fatalf("traceresponse %q", resp.Header.Get("Traceresponse"))
	}
	return tr[1]
}

// TestDemoTraces runs the demo against an in-process weft with the taster reporting through each protocol, and
// checks through the Jaeger API that a pairing's trace holds both services, SQL and Redis spans, and that its
// critical path runs through every one of the sequential taster calls.
func TestDemoTraces(t *testing.T) {
	s := startWeft(t)
	query := "http://" + s.Addr("query")
	listener := map[string]string{"otlp": "otlp-http", "zipkin": "zipkin", "datadog": "datadog", "jaeger": "jaeger"}
	for _, proto := range demo.Protocols {
		t.Run(proto, func(t *testing.T) {
			d, err := demo.Start(demo.Config{
				MatchmakerEndpoint: "http://" + s.Addr("otlp-http") + demo.EndpointPath("otlp"),
				TasterProtocol:     proto,
				TasterEndpoint:     "http://" + s.Addr(listener[proto]) + demo.EndpointPath(proto),
				Rate:               0,
				BatchTimeout:       50 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close(context.Background())
			for _, p := range []string{"/beers", "/donuts", "/beers/IPA", "/donuts/Glazed"} {
				resp, err := http.Get(d.MatchmakerURL + p)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %s", p, resp.Status)
				}
			}
			traceID := pair(t, d, "Stout")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := d.Flush(ctx); err != nil {
				t.Fatal(err)
			}

			var tr struct{ Data []jaegerTrace }
			deadline := time.Now().Add(15 * time.Second)
			for {
				code, err := getJSON(query+"/api/traces/"+traceID, &tr)
				if err == nil && len(tr.Data) == 1 && hasService(tr.Data[0], "taster") && hasService(tr.Data[0], "matchmaker") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("trace %s not complete in weft: status %d, err %v", traceID, code, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			jt := tr.Data[0]
			var sqlSpans, redisSpans int
			tasterServer := map[string]bool{}
			for _, sp := range jt.Spans {
				tags := map[string]any{}
				for _, tg := range sp.Tags {
					tags[tg.Key] = tg.Value
				}
				switch {
				case tags["db.system"] == "sqlite":
					sqlSpans++
				case tags["db.system"] == "redis":
					redisSpans++
				}
				if jt.Processes[sp.ProcessID].ServiceName == "taster" && sp.OperationName == "GET /taste" {
					tasterServer[sp.SpanID] = true
				}
			}
			if sqlSpans < 2 {
				t.Errorf("%d SQL spans, want the beer and donut queries", sqlSpans)
			}
			if redisSpans < 2 {
				t.Errorf("%d Redis spans, want a stock lookup per donut and the INCRBY", redisSpans)
			}
			if len(tasterServer) < 2 {
				t.Fatalf("%d taster server spans, want one per donut in stock", len(tasterServer))
			}

			var cp criticalPath
			if _, err := getJSON(query+"/api/weft/v1/traces/"+traceID+"/critical-path", &cp); err != nil {
				t.Fatal(err)
			}
			if cp.Method != "causal" {
				t.Errorf("critical path method %q, want causal (the spans carry execution units)", cp.Method)
			}
			onPath := map[string]bool{}
			for _, seg := range cp.Segments {
				if tasterServer[seg.SpanID] {
					onPath[seg.SpanID] = true
				}
			}
			if len(onPath) != len(tasterServer) {
				var segs []string
				for _, seg := range cp.Segments {
					segs = append(segs, seg.Service+":"+seg.Name)
				}
				t.Errorf("critical path runs through %d of %d sequential taster calls; segments: %v", len(onPath), len(tasterServer), segs)
			}
		})
	}
}

func hasService(jt jaegerTrace, svc string) bool {
	for _, p := range jt.Processes {
		if p.ServiceName == svc {
			return true
		}
	}
	return false
}

// TestDemoTraffic checks that the traffic generator drives the matchmaker: traces of several routes arrive.
func TestDemoTraffic(t *testing.T) {
	s := startWeft(t)
	d, err := demo.Start(demo.Config{
		MatchmakerEndpoint: "http://" + s.Addr("otlp-http") + demo.EndpointPath("otlp"),
		TasterProtocol:     "zipkin",
		TasterEndpoint:     "http://" + s.Addr("zipkin") + demo.EndpointPath("zipkin"),
		Rate:               40,
		BatchTimeout:       50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	query := "http://" + s.Addr("query")
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ops struct{ Data []string }
		_, err := getJSON(query+"/api/services/matchmaker/operations", &ops)
		seen := map[string]bool{}
		for _, o := range ops.Data {
			seen[o] = true
		}
		if err == nil && seen["GET /pair/beer"] && seen["GET /beers/{name}"] && seen["GET /donuts/{name}"] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("operations of matchmaker after 20s: %v (err %v)", ops.Data, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDemoWithoutRedis checks that the demo runs with its in-process fact store when redis-server is not
// installed, and that the store's commands are still traced.
func TestDemoWithoutRedis(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server to be found
	s := startWeft(t)
	d, err := demo.Start(demo.Config{
		MatchmakerEndpoint: "http://" + s.Addr("otlp-http") + demo.EndpointPath("otlp"),
		TasterProtocol:     "otlp",
		TasterEndpoint:     "http://" + s.Addr("otlp-http") + demo.EndpointPath("otlp"),
		BatchTimeout:       50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	traceID := pair(t, d, "IPA")
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	query := "http://" + s.Addr("query")
	deadline := time.Now().Add(15 * time.Second)
	for {
		var tr struct{ Data []jaegerTrace }
		_, err := getJSON(query+"/api/traces/"+traceID, &tr)
		if err == nil && len(tr.Data) == 1 {
			for _, sp := range tr.Data[0].Spans {
				for _, tg := range sp.Tags {
					if tg.Key == "db.redis.store" && tg.Value == "memory" {
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span of the in-process store in trace %s (err %v)", traceID, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
