package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// recorder is a Consumer that keeps what it is given, or fails with err.
type recorder struct {
	mu    sync.Mutex
	calls int
	spans []*model.Span
	err   error
}

func (r *recorder) Consume(_ context.Context, spans []*model.Span) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.err != nil {
		return r.err
	}
	r.spans = append(r.spans, spans...)
	return nil
}

func serve(t *testing.T, c ingest.Consumer, o ingest.Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(c, o)) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, srv *httptest.Server, method, path, contentType string, body []byte, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestHandlerTraces(t *testing.T) {
	v04 := encodeV04(t, goldenTraces())
	cases := []struct {
		path, contentType string
		body              []byte
	}{
		{"/v0.3/traces", "application/msgpack", v04},
		{"/v0.3/traces", "application/json", encodeJSON(t, goldenTraces())},
		{"/v0.4/traces", "application/msgpack", v04},
		{"/v0.4/traces", "", v04},
		{"/v0.5/traces", "application/msgpack", encodeV05(t, goldenTraces())},
	}
	for _, c := range cases {
		for _, method := range []string{http.MethodPut, http.MethodPost} {
			t.Run(method+c.path+"/"+c.contentType, func(t *testing.T) {
				rec := &recorder{}
				srv := serve(t, rec, ingest.Options{})
				resp, body := send(t, srv, method, c.path, c.contentType, c.body,
					"Datadog-Meta-Lang", "go", "Datadog-Meta-Lang-Version", "go1.26.0",
					"Datadog-Meta-Tracer-Version", "v1.70.1")
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				var answer struct {
					RateByService map[string]float64 `json:"rate_by_service"`
				}
				if err := json.Unmarshal([]byte(body), &answer); err != nil || answer.RateByService["service:,env:"] != 1 {
					t.Fatalf("answer %q: %v", body, err)
				}
				if rec.calls != 1 {
					t.Fatalf("consumer called %d times, want 1", rec.calls)
				}
				checkSpans(t, rec.spans, goldenWant())
			})
		}
	}
}

func TestHandlerGzip(t *testing.T) {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(encodeV05(t, goldenTraces()))
	zw.Close()
	rec := &recorder{}
	srv := serve(t, rec, ingest.Options{})
	resp, body := send(t, srv, http.MethodPut, "/v0.5/traces", "application/msgpack", zb.Bytes(), "Content-Encoding", "gzip")
	if resp.StatusCode != http.StatusOK || len(rec.spans) != 4 {
		t.Fatalf("status %d (%s), %d spans", resp.StatusCode, body, len(rec.spans))
	}
}

func TestHandlerOverload(t *testing.T) {
	rec := &recorder{err: &ingest.OverloadError{RetryAfter: 3 * time.Second, Reason: "write-ahead log queue full"}}
	srv := serve(t, rec, ingest.Options{})
	resp, body := send(t, srv, http.MethodPut, "/v0.4/traces", "application/msgpack", encodeV04(t, goldenTraces()))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want 3", got)
	}
	if !strings.Contains(body, "queue full") {
		t.Errorf("body %q does not say why", body)
	}
}

func TestHandlerTooLarge(t *testing.T) {
	rec := &recorder{}
	srv := serve(t, rec, ingest.Options{MaxRequestBytes: 100})
	resp, _ := send(t, srv, http.MethodPut, "/v0.4/traces", "application/msgpack", encodeV04(t, goldenTraces()))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if rec.calls != 0 {
		t.Error("consumer was called")
	}
}

func TestHandlerMethods(t *testing.T) {
	srv := serve(t, &recorder{}, ingest.Options{})
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/v0.4/traces"},
		{http.MethodDelete, "/v0.5/traces"},
		{http.MethodPost, "/info"},
	} {
		resp, _ := send(t, srv, c.method, c.path, "", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 405", c.method, c.path, resp.StatusCode)
		}
	}
}

func TestHandlerInfo(t *testing.T) {
	srv := serve(t, &recorder{}, ingest.Options{MaxRequestBytes: 1 << 20})
	resp, body := send(t, srv, http.MethodGet, "/info", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	eps, _ := info["endpoints"].([]any)
	has := map[string]bool{}
	for _, e := range eps {
		has[e.(string)] = true
	}
	for _, e := range []string{"/v0.4/traces", "/v0.5/traces", "/telemetry/proxy/"} {
		if !has[e] {
			t.Errorf("endpoints lack %s: %v", e, eps)
		}
	}
	if has["/v0.6/stats"] {
		t.Error("endpoints list /v0.6/stats, which makes tracers compute stats weft drops")
	}
	if info["client_drop_p0s"] != false || info["span_events"] != true || info["span_meta_structs"] != false {
		t.Errorf("feature answers: client_drop_p0s=%v span_events=%v span_meta_structs=%v",
			info["client_drop_p0s"], info["span_events"], info["span_meta_structs"])
	}
	if v, _ := info["version"].(string); v == "" {
		t.Error("no version")
	}
	cfg, _ := info["config"].(map[string]any)
	if cfg["max_request_bytes"] != float64(1<<20) {
		t.Errorf("config.max_request_bytes = %v", cfg["max_request_bytes"])
	}
}

func TestHandlerAcceptedOnly(t *testing.T) {
	rec := &recorder{}
	srv := serve(t, rec, ingest.Options{})
	for _, p := range []string{
		"/v0.6/stats", "/v0.7/config", "/telemetry/proxy/api/v2/apmtelemetry", "/v0.1/pipeline_stats",
		"/evp_proxy/v2/api/v2/citestcycle", "/evp_proxy/v4/api/v2/llmobs",
	} {
		resp, body := send(t, srv, http.MethodPost, p, "application/json", []byte(`{"request_type":"app-heartbeat"}`))
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != "{}" {
			t.Errorf("%s: status %d body %q, want 200 {}", p, resp.StatusCode, body)
		}
	}
	if rec.calls != 0 {
		t.Error("the consumer was given something from a non-trace endpoint")
	}
}

// badInputs are payloads that must be refused whole with 400 and a message naming what was wrong.
func badInputs(t testing.TB) []struct {
	name, path, contentType string
	body                    []byte
	want                    string
} {
	v04 := encodeV04(t, goldenTraces())
	v05 := encodeV05(t, goldenTraces())
	one := func(mod func(*ddSpan)) [][]ddSpan {
		tr := goldenTraces()
		mod(&tr[0][1])
		return tr
	}
	mp := func(vals ...any) []byte {
		var buf bytes.Buffer
		e := msgpack.NewEncoder(&buf)
		for _, v := range vals {
			if err := e.Encode(v); err != nil {
				t.Fatal(err)
			}
		}
		return buf.Bytes()
	}
	// v0.5 with one string index past the end of the table: the span's name (element 1) of the last span.
	badIndex := bytes.Clone(v05)
	nameIdx := bytes.LastIndex(badIndex, []byte{0x9c}) + 2 // fixarray(12), service index, name index
	badIndex[nameIdx] = 0x7f
	return []struct {
		name, path, contentType string
		body                    []byte
		want                    string
	}{
		{"v04 truncated", "/v0.4/traces", "application/msgpack", v04[:len(v04)/2], "truncated or corrupt"},
		{"v05 truncated", "/v0.5/traces", "application/msgpack", v05[:len(v05)-3], "truncated"},
		{"v04 empty body", "/v0.4/traces", "application/msgpack", nil, "truncated"},
		{"v04 not an array", "/v0.4/traces", "application/msgpack", mp("traces"), "traces"},
		{"v04 trace_id is a string", "/v0.4/traces", "application/msgpack",
			mp([]any{[]any{map[string]any{"trace_id": "1", "span_id": 2}}}), `"trace_id"`},
		{"v04 meta value is a number", "/v0.4/traces", "application/msgpack",
			mp([]any{[]any{map[string]any{"meta": map[string]any{"http.status_code": 200}}}}), `"http.status_code"`},
		{"v04 metrics value is a string", "/v0.4/traces", "application/msgpack",
			mp([]any{[]any{map[string]any{"metrics": map[string]any{"x": "1"}}}}), `"metrics"`},
		{"v04 zero trace_id", "/v0.4/traces", "application/msgpack",
			encodeV04(t, one(func(s *ddSpan) { s.TraceID = 0 })), "trace 0 span 1: trace_id is zero"},
		{"v04 zero span_id", "/v0.4/traces", "application/msgpack",
			encodeV04(t, one(func(s *ddSpan) { s.SpanID = 0 })), "trace 0 span 1: span_id is zero"},
		{"v04 negative duration", "/v0.4/traces", "application/msgpack",
			encodeV04(t, one(func(s *ddSpan) { s.Duration = -5 })), "duration -5 is negative"},
		{"v05 negative duration", "/v0.5/traces", "application/msgpack",
			encodeV05(t, one(func(s *ddSpan) { s.Duration = -5 })), "duration -5 is negative"},
		{"v04 start plus duration overflows", "/v0.4/traces", "application/msgpack",
			encodeV04(t, one(func(s *ddSpan) { s.Duration = 1 << 62; s.Start = 1 << 62 })), "out of range"},
		{"v05 zero span_id", "/v0.5/traces", "application/msgpack",
			encodeV05(t, one(func(s *ddSpan) { s.SpanID = 0 })), "span_id is zero"},
		{"v04 huge array length", "/v0.4/traces", "application/msgpack",
			[]byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x90}, "exceeds"},
		{"v04 huge map length", "/v0.4/traces", "application/msgpack",
			[]byte{0x91, 0x91, 0xdf, 0x7f, 0xff, 0xff, 0xff}, "exceeds"},
		{"v04 huge string length", "/v0.4/traces", "application/msgpack",
			[]byte{0x91, 0x91, 0x81, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'}, "exceeds"},
		{"v05 huge string table", "/v0.5/traces", "application/msgpack",
			[]byte{0x92, 0xdd, 0x7f, 0xff, 0xff, 0xff}, "string table"},
		{"v05 string index out of range", "/v0.5/traces", "application/msgpack", badIndex,
			"name: string index 127 out of range"},
		{"v05 span of 11 elements", "/v0.5/traces", "application/msgpack",
			mp([]any{[]string{""}, []any{[]any{[]any{0, 0, 0, 1, 2, 0, 0, 0, 0, map[int]int{}, map[int]float64{}}}}}),
			"want an array of 12 elements, got 11"},
		{"v05 not a pair", "/v0.5/traces", "application/msgpack", mp([]any{[]string{}}), "want an array of 2"},
		{"v04 trailing bytes", "/v0.4/traces", "application/msgpack", append(bytes.Clone(v04), 0xc0), "1 trailing bytes"},
		{"v04 unknown field nested too deep", "/v0.4/traces", "application/msgpack",
			append([]byte{0x91, 0x91, 0x81, 0xa1, 'x'}, bytes.Repeat([]byte{0x91}, 100000)...), "nested too deep"},
		{"json wrong type", "/v0.3/traces", "application/json", []byte(`[[{"trace_id":"abc"}]]`), `"trace_id"`},
		{"json truncated", "/v0.3/traces", "application/json", []byte(`[[{"trace_id":1,`), "truncated"},
		{"json zero span_id", "/v0.3/traces", "application/json",
			[]byte(`[[{"trace_id":1,"span_id":0}]]`), "span_id is zero"},
	}
}

func TestHandlerBadInput(t *testing.T) {
	for _, c := range badInputs(t) {
		for _, method := range []string{http.MethodPut, http.MethodPost} {
			t.Run(method+" "+c.name, func(t *testing.T) {
				rec := &recorder{}
				srv := serve(t, rec, ingest.Options{})
				resp, body := send(t, srv, method, c.path, c.contentType, c.body)
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("status %d, want 400 (%s)", resp.StatusCode, body)
				}
				if !strings.Contains(body, c.want) {
					t.Errorf("message %q does not contain %q", strings.TrimSpace(body), c.want)
				}
				if rec.calls != 0 {
					t.Errorf("consumer was called %d times", rec.calls)
				}
			})
		}
	}
}

// TestHandlerEmpty: tracers flush empty payloads; they are answered without troubling the consumer.
func TestHandlerEmpty(t *testing.T) {
	rec := &recorder{}
	srv := serve(t, rec, ingest.Options{})
	for _, c := range []struct {
		path string
		body []byte
	}{
		{"/v0.4/traces", []byte{0x90}},
		{"/v0.5/traces", []byte{0x92, 0x90, 0x90}},
		{"/v0.3/traces", []byte("[]")},
	} {
		resp, body := send(t, srv, http.MethodPut, c.path, "", c.body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "rate_by_service") {
			t.Errorf("%s: status %d body %q", c.path, resp.StatusCode, body)
		}
	}
	if rec.calls != 0 {
		t.Errorf("consumer called %d times for empty payloads", rec.calls)
	}
}
