package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// The test binary doubles as a weft server process for the tests that kill or signal one: with WEFT_TEST_CHILD
// set it runs `weft serve` with the arguments in WEFT_TEST_ARGS and prints its bound addresses as one JSON line.
func TestMain(m *testing.M) {
	if os.Getenv("WEFT_TEST_CHILD") != "" {
		os.Exit(childServe())
	}
	os.Exit(m.Run())
}

func childServe() int {
	args := strings.Fields(os.Getenv("WEFT_TEST_ARGS"))
	cfg, err := ParseConfig("serve", args, func(string) string { return "" }, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := Start(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	addrs := map[string]string{}
	for _, n := range []string{"otlp-grpc", "otlp-http", "zipkin", "datadog", "jaeger", "query"} {
		addrs[n] = s.Addr(n)
	}
	// The signal is caught before the addresses are printed: a parent that signals as soon as it has read them
	// must not meet the default action, which kills.
	sig := make(chan os.Signal, 1)
	signalNotify(sig)
	b, _ := json.Marshal(addrs)
	fmt.Println(string(b))
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a weft server running in another process.
type child struct {
	cmd   *exec.Cmd
	addrs map[string]string
}

func startChild(t *testing.T, dataDir string, extra ...string) *child {
	t.Helper()
	args := append([]string{"--data-dir", dataDir, "--otlp-grpc-addr", "0", "--otlp-http-addr", "0", "--zipkin-addr", "0",
		"--datadog-addr", "0", "--jaeger-addr", "0", "--query-addr", "0"}, extra...)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WEFT_TEST_CHILD=1", "WEFT_TEST_ARGS="+strings.Join(args, " "))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("child server did not start: %v", err)
	}
	c := &child{cmd: cmd}
	if err := json.Unmarshal([]byte(line), &c.addrs); err != nil {
		t.Fatalf("child said %q: %v", line, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return c
}

// otlpTrace makes an OTLP request holding one trace of n spans, with a trace ID from rng.
func otlpTrace(rng *rand.Rand, service string, n int) ([]byte, string) {
	tid := make([]byte, 16)
	for i := range tid {
		tid[i] = byte(rng.UintN(256))
	}
	tid[0] |= 0x10
	now := time.Now().UnixNano()
	var spans []*tracepb.Span
	for i := 0; i < n; i++ {
		sid := []byte{byte(i + 1), 2, 3, 4, 5, 6, 7, byte(rng.UintN(256))}
		sp := &tracepb.Span{TraceId: tid, SpanId: sid, Name: fmt.Sprintf("op-%d", i),
			Kind:              tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: uint64(now), EndTimeUnixNano: uint64(now + int64(i+1)*1e6),
			Attributes: []*commonpb.KeyValue{{Key: "i", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(i)}}}}}
		if i > 0 {
			sp.ParentSpanId = spans[0].SpanId
		}
		spans = append(spans, sp)
	}
	req := &collectorpb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: service}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
	b, _ := proto.Marshal(req)
	return b, fmt.Sprintf("%x", tid)
}

func post(t testing.TB, url, contentType string, body []byte, hdr ...string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// jaegerTraceSpans asks the Jaeger-compatible API for a trace and counts its spans (-1 when not found).
func jaegerTraceSpans(t testing.TB, queryAddr, traceID string, hdr ...string) int {
	req, _ := http.NewRequest(http.MethodGet, "http://"+queryAddr+"/api/traces/"+traceID, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return -1
	}
	var doc struct {
		Data []struct {
			Spans []json.RawMessage `json:"spans"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Data) == 0 {
		return -1
	}
	return len(doc.Data[0].Spans)
}

// TestKill9LosesNothingAcknowledged loads a server, kills it with SIGKILL at an arbitrary moment, restarts it on
// the same data directory, and checks that every trace whose request was acknowledged is there, whole.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	dir := t.TempDir()
	c := startChild(t, dir)
	var acked sync.Map // trace ID → span count
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for ctx.Err() == nil {
				spans := 1 + rng.IntN(20)
				body, id := otlpTrace(rng, "crash-test", spans)
				code, _ := post(t, "http://"+c.addrs["otlp-http"]+"/v1/traces", "application/x-protobuf", body)
				if code == http.StatusOK {
					acked.Store(id, spans)
					n.Add(1)
				}
			}
		}(w)
	}
	// Kill at a moment that depends on the run, under load.
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < 200+int64(time.Now().UnixNano()%300) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	cancel()
	wg.Wait()
	if n.Load() == 0 {
		t.Fatal("no request was acknowledged before the kill")
	}

	c2 := startChild(t, dir)
	missing, partial, total := 0, 0, 0
	acked.Range(func(k, v any) bool {
		total++
		got := jaegerTraceSpans(t, c2.addrs["query"], k.(string))
		switch {
		case got < 0:
			missing++
		case got != v.(int):
			partial++
		}
		return true
	})
	t.Logf("%d acknowledged traces checked after kill -9", total)
	if missing > 0 || partial > 0 {
		t.Fatalf("after kill -9: %d of %d acknowledged traces missing, %d partial", missing, total, partial)
	}
}

// TestSIGTERMFlushes stops a server with SIGTERM and checks it exits cleanly with its data kept.
func TestSIGTERMFlushes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	c := startChild(t, dir)
	rng := rand.New(rand.NewPCG(7, 7))
	body, id := otlpTrace(rng, "sigterm-test", 3)
	if code, msg := post(t, "http://"+c.addrs["otlp-http"]+"/v1/traces", "application/x-protobuf", body); code != 200 {
		t.Fatalf("export: %d %s", code, msg)
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("server did not exit cleanly on SIGTERM: %v", err)
	}
	c2 := startChild(t, dir)
	if got := jaegerTraceSpans(t, c2.addrs["query"], id); got != 3 {
		t.Fatalf("after SIGTERM and restart: trace has %d spans, want 3", got)
	}
}

// TestTokens checks that receivers and the query API answer 401 without the configured bearer token.
func TestTokens(t *testing.T) {
	cfg, err := ParseConfig("serve", []string{"--data-dir", t.TempDir(), "--otlp-grpc-addr", "off", "--otlp-http-addr", "0",
		"--zipkin-addr", "0", "--datadog-addr", "0", "--jaeger-addr", "0", "--query-addr", "0",
		"--ingest-token", "in-tok", "--query-token", "q-tok"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	rng := rand.New(rand.NewPCG(1, 1))
	body, id := otlpTrace(rng, "tok", 2)
	for _, ep := range []string{s.Addr("otlp-http") + "/v1/traces", s.Addr("zipkin") + "/api/v2/spans",
		s.Addr("datadog") + "/v0.4/traces", s.Addr("jaeger") + "/api/traces"} {
		if code, _ := post(t, "http://"+ep, "application/x-protobuf", body); code != http.StatusUnauthorized {
			t.Errorf("%s without token: %d, want 401", ep, code)
		}
	}
	if code, msg := post(t, "http://"+s.Addr("otlp-http")+"/v1/traces", "application/x-protobuf", body, "Authorization", "Bearer in-tok"); code != 200 {
		t.Fatalf("with token: %d %s", code, msg)
	}
	resp, err := http.Get("http://" + s.Addr("query") + "/api/traces/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("query without token: %d, want 401", resp.StatusCode)
	}
	if got := jaegerTraceSpans(t, s.Addr("query"), id, "Authorization", "Bearer q-tok"); got != 2 {
		t.Errorf("query with token: %d spans, want 2", got)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + s.Addr("query") + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d, want 200 even with a query token", p, resp.StatusCode)
		}
	}
}

// TestMetricsCountIngest checks that /metrics reports what the receivers took.
func TestMetricsCountIngest(t *testing.T) {
	cfg, err := ParseConfig("serve", []string{"--data-dir", t.TempDir(), "--otlp-grpc-addr", "off", "--otlp-http-addr", "0",
		"--zipkin-addr", "off", "--datadog-addr", "off", "--jaeger-addr", "off", "--query-addr", "0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	body, _ := otlpTrace(rand.New(rand.NewPCG(3, 3)), "metrics", 5)
	if code, msg := post(t, "http://"+s.Addr("otlp-http")+"/v1/traces", "application/x-protobuf", body); code != 200 {
		t.Fatalf("export: %d %s", code, msg)
	}
	if code, _ := post(t, "http://"+s.Addr("otlp-http")+"/v1/traces", "application/x-protobuf", []byte{0xff, 0xff, 0xff}); code != 400 {
		t.Errorf("garbage: %d, want 400", code)
	}
	resp, err := http.Get("http://" + s.Addr("query") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	if !strings.Contains(text, `receiver="otlp`) {
		t.Fatalf("/metrics has no per-receiver series:\n%.2000s", text)
	}
	_ = filepath.Join
}
