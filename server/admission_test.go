package server

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/datadog"
	"github.com/weftrace/weft/ingest/jaeger"
	"github.com/weftrace/weft/ingest/otlp"
	"github.com/weftrace/weft/ingest/zipkin"
	"github.com/weftrace/weft/model"
)

// gate is an ingest.Options.Admit that refuses while closed, and counts what it was asked; consumer counts what
// reaches the consumer, which only decoded requests do.
type gate struct {
	closed   atomic.Bool
	asked    atomic.Int64
	consumed atomic.Int64
}

func (g *gate) admit(context.Context) error {
	g.asked.Add(1)
	if g.closed.Load() {
		return &ingest.OverloadError{RetryAfter: 3 * time.Second, Reason: "test gate closed"}
	}
	return nil
}

func (g *gate) consume(context.Context, []*model.Span) error { g.consumed.Add(1); return nil }

// TestReceiversRefuseBeforeDecoding sends every HTTP receiver a body that does not decode. With the gate closed
// the answer must be 429 with Retry-After and nothing may reach the consumer: had the body been decoded, the
// answer would have been 400. With the gate open the same body answers 400, which shows the test can tell.
func TestReceiversRefuseBeforeDecoding(t *testing.T) {
	garbage := []byte("\xff\xff\xff\xff not a payload in any protocol \x00\x01")
	for _, tc := range []struct {
		name, method, path, contentType string
		handler                         func(ingest.Consumer, ingest.Options) http.Handler
	}{
		{"otlp-http protobuf", http.MethodPost, "/v1/traces", "application/x-protobuf", otlp.NewHTTPHandler},
		{"otlp-http json", http.MethodPost, "/v1/traces", "application/json", otlp.NewHTTPHandler},
		{"zipkin v2 json", http.MethodPost, "/api/v2/spans", "application/json", zipkin.NewHandler},
		{"zipkin v2 proto", http.MethodPost, "/api/v2/spans", "application/x-protobuf", zipkin.NewHandler},
		{"zipkin v1", http.MethodPost, "/api/v1/spans", "application/json", zipkin.NewHandler},
		{"datadog v0.4", http.MethodPut, "/v0.4/traces", "application/msgpack", datadog.NewHandler},
		{"datadog v0.5", http.MethodPost, "/v0.5/traces", "application/msgpack", datadog.NewHandler},
		{"jaeger", http.MethodPost, "/api/traces", "application/x-thrift", jaeger.NewHandler},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gate{}
			srv := httptest.NewServer(tc.handler(ingest.ConsumerFunc(g.consume), ingest.Options{Admit: g.admit}))
			defer srv.Close()
			send := func() *http.Response {
				req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(string(garbage)))
				req.Header.Set("Content-Type", tc.contentType)
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp
			}
			g.closed.Store(true)
			for i := 0; i < 3; i++ { // on one kept-alive connection: the unread body was drained
				resp := send()
				if resp.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("gate closed: status %d, want 429 (400 would mean the body was decoded)", resp.StatusCode)
				}
				if got := resp.Header.Get("Retry-After"); got != "3" {
					t.Errorf("gate closed: Retry-After %q, want 3", got)
				}
			}
			if g.asked.Load() != 3 || g.consumed.Load() != 0 {
				t.Fatalf("gate closed: admission asked %d times (want 3), consumer called %d times (want 0)", g.asked.Load(), g.consumed.Load())
			}
			g.closed.Store(false)
			if resp := send(); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("gate open: status %d, want 400 for a body that does not decode", resp.StatusCode)
			}
		})
	}
}

// TestGRPCRefusesBeforeDecoding is the same for OTLP/gRPC: a request with one span of an invalid trace ID is
// answered with partial success when decoded, and RESOURCE_EXHAUSTED with a RetryInfo when the gate is closed.
func TestGRPCRefusesBeforeDecoding(t *testing.T) {
	g := &gate{}
	gs := grpc.NewServer()
	otlp.RegisterGRPC(gs, ingest.ConsumerFunc(g.consume), ingest.Options{Admit: g.admit})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	defer gs.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := coltracepb.NewTraceServiceClient(conn)
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{
		Spans: []*tracepb.Span{{TraceId: []byte{1, 2, 3}, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "bad trace id"}}}}}}}

	g.closed.Store(true)
	_, err = client.Export(context.Background(), req)
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("gate closed: %v, want ResourceExhausted", err)
	}
	var hint time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			hint = ri.GetRetryDelay().AsDuration()
		}
	}
	if hint != 3*time.Second {
		t.Errorf("gate closed: retry hint %v, want 3s", hint)
	}
	g.closed.Store(false)
	resp, err := client.Export(context.Background(), req)
	if err != nil {
		t.Fatalf("gate open: %v", err)
	}
	if resp.GetPartialSuccess().GetRejectedSpans() != 1 {
		t.Fatalf("gate open: partial success %v, want the span refused by the decoder", resp.GetPartialSuccess())
	}
	if g.asked.Load() != 2 || g.consumed.Load() != 0 {
		t.Fatalf("admission asked %d times (want 2), consumer called %d times (want 0)", g.asked.Load(), g.consumed.Load())
	}
}

// TestSaturatedServerDecodesNothingAndLosesNothing fills a server's bound on spans not yet in blocks with
// requests sent one after another, until some are refused. Those are answered 429 without being decoded: with
// nothing else sending, the pending count can only fall between the admission check and the pipeline's, so every
// decoded span is a taken one. After a restart every acknowledged trace is there whole and no refused one is.
func TestSaturatedServerDecodesNothingAndLosesNothing(t *testing.T) {
	dir := t.TempDir()
	start := func() *Server {
		cfg, err := ParseConfig("serve", []string{"--data-dir", dir, "--otlp-grpc-addr", "off", "--otlp-http-addr", "0",
			"--zipkin-addr", "off", "--datadog-addr", "off", "--jaeger-addr", "off", "--query-addr", "0",
			"--max-pending-spans", "50", "--admit-wait", "0"}, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start()
	rng := rand.New(rand.NewPCG(5, 5))
	// The pipeline writes the head to a block in the background once it holds 25 spans, checking every 50 ms;
	// requests of 30 spans sent back to back reach the bound of 50 before that; after a refusal the test waits a
	// little, as a client would, and the head written to a block makes room again.
	var acked, refused []string
	for i := 0; i < 400 && (len(refused) < 5 || len(acked) < 4); i++ {
		body, id := otlpTrace(rng, "saturated", 30)
		code, msg := post(t, "http://"+s.Addr("otlp-http")+"/v1/traces", "application/x-protobuf", body)
		switch code {
		case http.StatusOK:
			acked = append(acked, id)
		case http.StatusTooManyRequests:
			refused = append(refused, id)
			time.Sleep(20 * time.Millisecond)
		default:
			t.Fatalf("request %d: %d %s", i, code, msg)
		}
	}
	if len(refused) < 5 || len(acked) < 4 {
		t.Fatalf("%d requests taken and %d refused, want at least 4 and 5", len(acked), len(refused))
	}
	t.Logf("%d requests taken, %d refused", len(acked), len(refused))
	metrics := scrape(t, s.Addr("query"))
	if got, want := metric(t, metrics, `weft_ingest_spans_received_total{receiver="otlp-http"}`), float64(30*len(acked)); got != want {
		t.Errorf("spans decoded: %v, want %v (only the taken requests')", got, want)
	}
	if got := metric(t, metrics, `weft_ingest_requests_total{outcome="overload",receiver="otlp-http"}`); got != float64(len(refused)) {
		t.Errorf("requests counted as overload: %v, want %d", got, len(refused))
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	s = start()
	defer s.Close(context.Background())
	for _, id := range acked {
		if got := jaegerTraceSpans(t, s.Addr("query"), id); got != 30 {
			t.Errorf("acknowledged trace %s has %d spans after restart, want 30", id, got)
		}
	}
	for _, id := range refused {
		if got := jaegerTraceSpans(t, s.Addr("query"), id); got != -1 {
			t.Errorf("refused trace %s has %d spans after restart, want none", id, got)
		}
	}
}

func scrape(t *testing.T, queryAddr string) string {
	t.Helper()
	resp, err := http.Get("http://" + queryAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric is the value of one series in a Prometheus text exposition, 0 when absent.
func metric(t *testing.T, text, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}
