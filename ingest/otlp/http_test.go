package otlp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// recorder is a Consumer that keeps what it is given, or fails with err.
type recorder struct {
	mu    sync.Mutex
	err   error
	spans []*model.Span
}

func (r *recorder) Consume(_ context.Context, spans []*model.Span) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.spans = append(r.spans, spans...)
	return nil
}

func (r *recorder) stored() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.spans)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func post(t *testing.T, url, contentType, encoding string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestHTTPAccepts(t *testing.T) {
	pb, js := readGolden(t, "request.pb"), readGolden(t, "request.json")
	tests := []struct {
		name, ct, enc string
		body          []byte
	}{
		{"protobuf", "application/x-protobuf", "", pb},
		{"protobuf gzip", "application/x-protobuf", "gzip", gz(pb)},
		{"json", "application/json", "", js},
		{"json gzip with charset", "application/json; charset=utf-8", "gzip", gz(js)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(NewHTTPHandler(rec, ingest.Options{}))
			defer srv.Close()
			resp := post(t, srv.URL+TracesPath, tt.ct, tt.enc, tt.body)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			isJSON := strings.HasPrefix(tt.ct, "application/json")
			if got := resp.Header.Get("Content-Type"); (got == contentJSON) != isJSON {
				t.Errorf("answered in %s to a request in %s", got, tt.ct)
			}
			out := &coltracepb.ExportTraceServiceResponse{}
			if isJSON {
				err := protojson.Unmarshal(body, out)
				if err != nil {
					t.Fatal(err)
				}
			} else if err := proto.Unmarshal(body, out); err != nil {
				t.Fatal(err)
			}
			if out.GetPartialSuccess() != nil {
				t.Errorf("partial success on a good request: %v", out.GetPartialSuccess())
			}
			diffSpans(t, rec.spans, goldenSpans())
		})
	}
}

func TestHTTPPartialSuccess(t *testing.T) {
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[
		{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"1111111111111111","name":"kept"},
		{"traceId":"00000000000000000000000000000000","spanId":"2222222222222222","name":"refused"}]}]}]}`
	rec := &recorder{}
	reg := ingest.NewMetrics(nil)
	srv := httptest.NewServer(NewHTTPHandler(rec, ingest.Options{Metrics: reg}))
	defer srv.Close()
	resp := post(t, srv.URL+TracesPath, "application/json", "", []byte(body))
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	out := &coltracepb.ExportTraceServiceResponse{}
	if err := protojson.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	ps := out.GetPartialSuccess()
	if ps.GetRejectedSpans() != 1 || !strings.Contains(ps.GetErrorMessage(), "spans[1]: traceId must be 16 bytes and not all zero") {
		t.Errorf("partial success %v, want 1 rejected with the reason", ps)
	}
	if rec.stored() != 1 || rec.spans[0].Name != "kept" {
		t.Errorf("stored %d spans, want the good one", rec.stored())
	}
}

func TestHTTPRejects(t *testing.T) {
	pb := readGolden(t, "request.pb")
	tests := []struct {
		name, method, path, ct, enc string
		body                        []byte
		limit                       int64
		status                      int
		msg                         string
	}{
		{"truncated protobuf", "POST", TracesPath, "application/x-protobuf", "", pb[:len(pb)-7], 0, 400, "not a valid ExportTraceServiceRequest"},
		{"json with wrong types", "POST", TracesPath, "application/json", "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":["x"]}]}]}]}`), 0, 400, "spans[0].name: expected a string"},
		{"json bad hex id", "POST", TracesPath, "application/json", "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"g"}]}]}]}`), 0, 400, `traceId: "g" is not hex`},
		{"bad gzip", "POST", TracesPath, "application/x-protobuf", "gzip", pb, 0, 400, "otlp: body is not valid gzip"},
		{"over the limit", "POST", TracesPath, "application/x-protobuf", "", pb, 100, 413, "over the limit of 100 bytes"},
		{"over the limit once decompressed", "POST", TracesPath, "application/x-protobuf", "gzip", gz(bytes.Repeat(pb, 20)), 4000, 413, "once decompressed"},
		{"unsupported content type", "POST", TracesPath, "text/xml", "", pb, 0, 415, "unsupported Content-Type"},
		{"wrong method", "GET", TracesPath, "application/x-protobuf", "", nil, 0, 405, ""},
		{"wrong path", "POST", "/v1/metrics", "application/x-protobuf", "", pb, 0, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(NewHTTPHandler(rec, ingest.Options{MaxRequestBytes: tt.limit}))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ct)
			if tt.enc != "" {
				req.Header.Set("Content-Encoding", tt.enc)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if tt.msg != "" {
				st := &spb.Status{}
				var err error
				switch resp.Header.Get("Content-Type") {
				case contentProtobuf:
					err = proto.Unmarshal(b, st)
				case contentJSON:
					err = protojson.Unmarshal(b, st)
				default:
					st.Message = string(b)
				}
				if err != nil {
					t.Fatalf("error body is not a google.rpc.Status: %v", err)
				}
				if !strings.Contains(st.GetMessage(), tt.msg) {
					t.Errorf("message %q, want it to contain %q", st.GetMessage(), tt.msg)
				}
			}
			if rec.stored() != 0 {
				t.Errorf("%d spans stored from a rejected request", rec.stored())
			}
		})
	}
}

func TestHTTPOverload(t *testing.T) {
	rec := &recorder{err: &ingest.OverloadError{RetryAfter: 3 * time.Second, Reason: "write-ahead log queue full"}}
	srv := httptest.NewServer(NewHTTPHandler(rec, ingest.Options{}))
	defer srv.Close()
	resp := post(t, srv.URL+TracesPath, "application/json", "", readGolden(t, "request.json"))
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("status %d Retry-After %q, want 429 and 3", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	st := &spb.Status{}
	if err := protojson.Unmarshal(b, st); err != nil || !strings.Contains(st.GetMessage(), "queue full") {
		t.Errorf("body %s, want a JSON google.rpc.Status saying why (%v)", b, err)
	}
}

func startGRPC(t *testing.T, c ingest.Consumer, opts ...grpc.ServerOption) coltracepb.TraceServiceClient {
	return coltracepb.NewTraceServiceClient(startGRPCConn(t, c, opts...))
}

func startGRPCConn(t *testing.T, c ingest.Consumer, opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(append(ServerOptions(ingest.Options{}), opts...)...)
	RegisterGRPC(s, c, ingest.Options{})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// rawCodec sends bytes as they are, to put malformed protobuf on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	return proto.Unmarshal(data, v.(proto.Message))
}
func (rawCodec) Name() string { return "proto" }

func TestGRPCBadInputAndPartialSuccess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seen []string
	rec := &recorder{}
	conn := startGRPCConn(t, rec, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		seen = append(seen, info.FullMethod)
		return h(ctx, req)
	}))

	// A span whose name is not UTF-8: the whole request is refused.
	bad := []byte{0x0a, 0x08, 0x12, 0x06, 0x12, 0x04, 0x2a, 0x02, 0xff, 0xfe}
	resp := &coltracepb.ExportTraceServiceResponse{}
	err := conn.Invoke(ctx, exportMethod, bad, resp, grpc.ForceCodec(rawCodec{}))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("error %v, want InvalidArgument naming the UTF-8", err)
	}

	req := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalJSON([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[
		{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"1111111111111111","name":"kept"},
		{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000000","name":"refused"}]}]}]}`), req); err != nil {
		t.Fatal(err)
	}
	out, err := coltracepb.NewTraceServiceClient(conn).Export(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if ps := out.GetPartialSuccess(); ps.GetRejectedSpans() != 1 || !strings.Contains(ps.GetErrorMessage(), "spans[1]: spanId") {
		t.Errorf("partial success %v, want one span refused for its spanId", ps)
	}
	if rec.stored() != 1 {
		t.Errorf("stored %d spans, want 1", rec.stored())
	}
	if len(seen) != 2 || seen[0] != exportMethod {
		t.Errorf("interceptor saw %v, want Export twice", seen)
	}
}

func TestGRPC(t *testing.T) {
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalProto(readGolden(t, "request.pb"), req); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rec := &recorder{}
	resp, err := startGRPC(t, rec).Export(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetPartialSuccess() != nil {
		t.Errorf("partial success on a good request: %v", resp.GetPartialSuccess())
	}
	diffSpans(t, rec.spans, goldenSpans())

	over := &recorder{err: &ingest.OverloadError{RetryAfter: 2 * time.Second, Reason: "full"}}
	_, err = startGRPC(t, over).Export(ctx, req)
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("code %v, want ResourceExhausted", st.Code())
	}
	var hint time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			hint = ri.GetRetryDelay().AsDuration()
		}
	}
	if hint != 2*time.Second {
		t.Errorf("RetryInfo %v, want 2s", hint)
	}

	bad := &recorder{err: &ingest.BadInputError{Protocol: "otlp", Msg: "nope"}}
	if _, err := startGRPC(t, bad).Export(ctx, req); status.Code(err) != codes.InvalidArgument {
		t.Errorf("code %v, want InvalidArgument", status.Code(err))
	}
	internal := &recorder{err: errors.New("disk gone")}
	if _, err := startGRPC(t, internal).Export(ctx, req); status.Code(err) != codes.Internal || strings.Contains(err.Error(), "disk gone") {
		t.Errorf("error %v, want Internal without details", err)
	}
}

// BenchmarkHTTPProto is the whole OTLP/HTTP handler for the 500-span batch of BenchmarkDecodeProto sent
// gzip-compressed, as SDKs send it: body reading, gunzip, decoding, delivery to a consumer that takes
// everything, and the answer.
func BenchmarkHTTPProto(b *testing.B) {
	const n = 500
	body := gz(realisticRequest(n))
	h := NewHTTPHandler(ingest.ConsumerFunc(func(context.Context, []*model.Span) error { return nil }), ingest.Options{})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest("POST", TracesPath, bytes.NewReader(body))
		r.Header.Set("Content-Type", contentProtobuf)
		r.Header.Set("Content-Encoding", "gzip")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	reportSpans(b, n, cpu0)
}

// TestHTTPMetrics: requests, bytes and spans are counted per outcome.
func TestHTTPMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := ingest.Options{Metrics: ingest.NewMetrics(reg)}
	rec := &recorder{}
	srv := httptest.NewServer(NewHTTPHandler(rec, o))
	defer srv.Close()
	post(t, srv.URL+TracesPath, "application/x-protobuf", "", readGolden(t, "request.pb"))
	post(t, srv.URL+TracesPath, "application/json", "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[
		{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"1111111111111111"},{"traceId":"00","spanId":"2222222222222222"}]}]}]}`))
	post(t, srv.URL+TracesPath, "application/x-protobuf", "", []byte{0xff})
	rec.mu.Lock()
	rec.err = &ingest.OverloadError{Reason: "full"}
	rec.mu.Unlock()
	post(t, srv.URL+TracesPath, "application/x-protobuf", "", readGolden(t, "request.pb"))

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() != "receiver" {
					key += "," + l.GetValue()
				}
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"weft_ingest_requests_total,ok":              2,
		"weft_ingest_requests_total,bad_input":       1,
		"weft_ingest_requests_total,overload":        1,
		"weft_ingest_spans_received_total":           3 + 1 + 3,
		"weft_ingest_spans_accepted_total":           3 + 1,
		"weft_ingest_spans_rejected_total,bad_input": 1,
		"weft_ingest_spans_rejected_total,overload":  3,
		"weft_ingest_requests_in_flight":             0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got["weft_ingest_bytes_total"] < float64(len(readGolden(t, "request.pb"))*2) {
		t.Errorf("bytes %v, want at least both protobuf bodies", got["weft_ingest_bytes_total"])
	}
}

// batchRecorder is a BatchConsumer that keeps what its batches were given next to what ConsumeBatch hands over.
type batchRecorder struct {
	recorder
	batches    int
	consumed   int // ConsumeBatch calls
	mismatched []string
}

type listBatch struct{ spans []*model.Span }

func (b *listBatch) Add(s *model.Span) { b.spans = append(b.spans, s) }

func (r *batchRecorder) NewBatch() ingest.Batch {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	return &listBatch{}
}

func (r *batchRecorder) ConsumeBatch(ctx context.Context, spans []*model.Span, b ingest.Batch) error {
	lb := b.(*listBatch)
	r.mu.Lock()
	r.consumed++
	if len(lb.spans) != len(spans) {
		r.mismatched = append(r.mismatched, fmt.Sprintf("batch of %d spans for %d handed over", len(lb.spans), len(spans)))
	}
	for i := range min(len(spans), len(lb.spans)) {
		if lb.spans[i] != spans[i] {
			r.mismatched = append(r.mismatched, fmt.Sprintf("span %d added is not the span handed over", i))
		}
	}
	r.mu.Unlock()
	return r.Consume(ctx, spans)
}

// TestHTTPFillsTheConsumersBatch: for OTLP protobuf, a BatchConsumer's batch is given exactly the spans handed
// over, in order (not a span refused alone, as one with a zero trace ID), and a request that does not decode
// reaches no consumer. JSON takes the plain Consume.
func TestHTTPFillsTheConsumersBatch(t *testing.T) {
	pb := readGolden(t, "request.pb")
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(pb, req); err != nil {
		t.Fatal(err)
	}
	spans := req.ResourceSpans[0].ScopeSpans[0].Spans
	bad := proto.Clone(spans[0]).(*tracepb.Span)
	bad.TraceId = make([]byte, 16)
	req.ResourceSpans[0].ScopeSpans[0].Spans = append([]*tracepb.Span{bad}, spans...)
	withBad, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ct      string
		body          []byte
		status        int
		batches, kept int
	}{
		{"protobuf", "application/x-protobuf", pb, 200, 1, 1},
		{"protobuf with a refused span", "application/x-protobuf", withBad, 200, 1, 1},
		{"truncated protobuf", "application/x-protobuf", pb[:len(pb)-7], 400, 1, 0},
		{"json", "application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"1111111111111111","name":"a"}]}]}]}`), 200, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &batchRecorder{}
			srv := httptest.NewServer(NewHTTPHandler(rec, ingest.Options{}))
			defer srv.Close()
			resp := post(t, srv.URL+TracesPath, tt.ct, "", tt.body)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if rec.batches != tt.batches || rec.consumed != tt.kept {
				t.Errorf("%d batches made, %d consumed as batches; want %d, %d", rec.batches, rec.consumed, tt.batches, tt.kept)
			}
			if len(rec.mismatched) > 0 {
				t.Error(rec.mismatched)
			}
			if tt.status != 200 && rec.stored() != 0 {
				t.Errorf("%d spans stored from a rejected request", rec.stored())
			}
			if tt.status == 200 && rec.stored() == 0 {
				t.Error("nothing stored")
			}
		})
	}
}
