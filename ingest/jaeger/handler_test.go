package jaeger

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jaegerthrift "github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"

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

func post(t *testing.T, srv *httptest.Server, method, path, contentType string, body []byte, hdr ...string) (*http.Response, string) {
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

func TestHandler(t *testing.T) {
	bin := encode(t, goldenBatch(), false)
	cmp := encode(t, goldenBatch(), true)
	cases := []struct {
		name, path, contentType string
		body                    []byte
	}{
		{"x-thrift", "/api/traces", "application/x-thrift", bin},
		{"vnd binary", "/api/traces", "application/vnd.apache.thrift.binary", bin},
		{"no content type", "/api/traces", "", bin},
		{"vnd compact", "/api/traces", "application/vnd.apache.thrift.compact", cmp},
		{"format=compact", "/api/traces?format=compact", "application/x-thrift", cmp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			srv := serve(t, rec, ingest.Options{})
			resp, body := post(t, srv, http.MethodPost, c.path, c.contentType, c.body)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("status %d, want 202: %s", resp.StatusCode, body)
			}
			if rec.calls != 1 {
				t.Fatalf("consumer called %d times", rec.calls)
			}
			checkSpans(t, rec.spans, goldenWant())
		})
	}
}

func TestHandlerGzip(t *testing.T) {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(encode(t, goldenBatch(), false))
	zw.Close()
	rec := &recorder{}
	srv := serve(t, rec, ingest.Options{})
	resp, body := post(t, srv, http.MethodPost, "/api/traces", "application/x-thrift", zb.Bytes(), "Content-Encoding", "gzip")
	if resp.StatusCode != http.StatusAccepted || len(rec.spans) != 4 {
		t.Fatalf("status %d (%s), %d spans", resp.StatusCode, body, len(rec.spans))
	}
}

func TestHandlerOverload(t *testing.T) {
	rec := &recorder{err: &ingest.OverloadError{RetryAfter: 2 * time.Second, Reason: "write-ahead log queue full"}}
	srv := serve(t, rec, ingest.Options{})
	resp, body := post(t, srv, http.MethodPost, "/api/traces", "application/x-thrift", encode(t, goldenBatch(), false))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2", got)
	}
}

func TestHandlerTooLarge(t *testing.T) {
	rec := &recorder{}
	srv := serve(t, rec, ingest.Options{MaxRequestBytes: 64})
	resp, _ := post(t, srv, http.MethodPost, "/api/traces", "application/x-thrift", encode(t, goldenBatch(), false))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || rec.calls != 0 {
		t.Fatalf("status %d (want 413), consumer calls %d", resp.StatusCode, rec.calls)
	}
}

func TestHandlerMethod(t *testing.T) {
	srv := serve(t, &recorder{}, ingest.Options{})
	for _, m := range []string{http.MethodGet, http.MethodPut} {
		resp, _ := post(t, srv, m, "/api/traces", "application/x-thrift", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", m, resp.StatusCode)
		}
	}
}

// thriftBytes builds binary-protocol bytes by hand, for payloads no well-behaved encoder writes.
type thriftBytes struct{ b []byte }

func (w *thriftBytes) field(typ byte, id int16) *thriftBytes {
	w.b = append(w.b, typ)
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(id))
	return w
}
func (w *thriftBytes) stop() *thriftBytes { w.b = append(w.b, tStop); return w }
func (w *thriftBytes) i32(v int32) *thriftBytes {
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(v))
	return w
}
func (w *thriftBytes) str(s string) *thriftBytes {
	w.i32(int32(len(s)))
	w.b = append(w.b, s...)
	return w
}
func (w *thriftBytes) list(elem byte, n int32) *thriftBytes {
	w.b = append(w.b, elem)
	return w.i32(n)
}

// process writes field 1 of a Batch: a Process named matchmaker.
func (w *thriftBytes) process() *thriftBytes {
	return w.field(tStruct, 1).field(tString, 1).str("matchmaker").stop()
}

type badCase struct {
	name, path, contentType string
	body                    []byte
	want                    string
}

// badInputs are payloads that must be refused whole with 400 and a message naming what was wrong.
func badInputs(t testing.TB) []badCase {
	bin := encode(t, goldenBatch(), false)
	cmp := encode(t, goldenBatch(), true)
	mod := func(f func(*jaegerthrift.Batch)) []byte {
		b := goldenBatch()
		f(b)
		return encode(t, b, false)
	}
	const x = "application/x-thrift"
	deep := (&thriftBytes{}).process().field(tStruct, 9)
	for i := 0; i < 40; i++ {
		deep.field(tStruct, 1)
	}
	return []badCase{
		{"truncated", "/api/traces", x, bin[:len(bin)/2], "truncated"},
		{"compact truncated", "/api/traces?format=compact", x, cmp[:len(cmp)-5], "truncated"},
		{"empty body", "/api/traces", x, nil, "batch: payload ends early"},
		{"zero trace ID", "/api/traces", x,
			mod(func(b *jaegerthrift.Batch) { b.Spans[1].TraceIdHigh, b.Spans[1].TraceIdLow = 0, 0 }), "span 1: trace ID is zero"},
		{"zero span ID", "/api/traces", x,
			mod(func(b *jaegerthrift.Batch) { b.Spans[2].SpanId = 0 }), "span 2: spanId is zero"},
		{"negative duration", "/api/traces", x,
			mod(func(b *jaegerthrift.Batch) { b.Spans[0].Duration = -1 }), "span 0: duration -1 is negative"},
		{"start out of range", "/api/traces", x,
			mod(func(b *jaegerthrift.Batch) { b.Spans[0].StartTime = 1 << 62 }), "out of range"},
		{"unknown tag type", "/api/traces", x,
			mod(func(b *jaegerthrift.Batch) { b.Spans[0].Tags[1].VType = 9 }), `"http.method": unknown vType 9`},
		{"double tag without value", "/api/traces", x,
			mod(func(b *jaegerthrift.Batch) { b.Spans[1].Tags[4].VDouble = nil }), `"ratio": vType 1 without vDouble`},
		{"no process", "/api/traces", x,
			(&thriftBytes{}).field(tList, 2).list(tStruct, 0).stop().b, "batch has no process"},
		{"spans not structs", "/api/traces", x,
			(&thriftBytes{}).process().field(tList, 2).list(tI32, 1).i32(5).stop().b, "want a list of structs"},
		{"huge span count", "/api/traces", x,
			(&thriftBytes{}).process().field(tList, 2).list(tStruct, 0x7fffffff).b, "list length 2147483647 exceeds"},
		{"huge tag count", "/api/traces", x,
			(&thriftBytes{}).field(tStruct, 1).field(tList, 2).list(tStruct, 0x10000000).b, "list length 268435456 exceeds"},
		{"huge string", "/api/traces", x,
			(&thriftBytes{}).field(tStruct, 1).field(tString, 1).i32(0x7fffffff).b, "string length 2147483647 exceeds"},
		{"negative string length", "/api/traces", x,
			(&thriftBytes{}).field(tStruct, 1).field(tString, 1).i32(-4).b, "string length -4 is negative"},
		{"negative list length", "/api/traces", x,
			(&thriftBytes{}).process().field(tList, 2).list(tStruct, -1).b, "list length -1 is negative"},
		{"nested too deep", "/api/traces", x, deep.b, "nested too deep"},
		{"trailing bytes", "/api/traces", x, append(bytes.Clone(bin), 0), "1 trailing bytes"},
		{"compact bad varint", "/api/traces?format=compact", x,
			[]byte{0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "varint"},
		{"compact read as binary", "/api/traces", x, cmp, "jaeger:"},
		{"not thrift", "/api/traces", "application/json", []byte(`{"spans":[]}`), "unsupported Content-Type"},
		{"unknown format", "/api/traces?format=proto", x, bin, "unsupported"},
	}
}

func TestHandlerBadInput(t *testing.T) {
	for _, c := range badInputs(t) {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			srv := serve(t, rec, ingest.Options{})
			resp, body := post(t, srv, http.MethodPost, c.path, c.contentType, c.body)
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
