package zipkin

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

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

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestHandler(t *testing.T) {
	v2, v1, pb := readGolden(t, "v2.json"), readGolden(t, "v1.json"), readGolden(t, "v2.pb")
	tests := []struct {
		name, method, path, ct, enc string
		body                        []byte
		limit                       int64
		consumerErr                 error
		status                      int
		stored                      int
		msg                         string
	}{
		{"v2 json", "POST", SpansPathV2, "application/json", "", v2, 0, nil, 202, 3, ""},
		{"v2 json without content type", "POST", SpansPathV2, "", "", v2, 0, nil, 202, 3, ""},
		{"v2 json gzip", "POST", SpansPathV2, "application/json", "gzip", gz(v2), 0, nil, 202, 3, ""},
		{"v2 proto3", "POST", SpansPathV2, "application/x-protobuf", "", pb, 0, nil, 202, 2, ""},
		{"v1 json", "POST", SpansPathV1, "application/json", "", v1, 0, nil, 202, 3, ""},
		{"v1 thrift", "POST", SpansPathV1, "application/x-thrift", "", v1, 0, nil, 415, 0, "unsupported Content-Type"},
		{"bad json", "POST", SpansPathV2, "application/json", "", []byte(`[{"traceId":1}]`), 0, nil, 400, 0, "zipkin: body is not a JSON list of Zipkin v2 spans"},
		{"one bad span fails all", "POST", SpansPathV2, "application/json", "", []byte(`[{"traceId":"1","id":"1"},{"traceId":"1","id":"0"}]`), 0, nil, 400, 0, "span 1: id"},
		{"truncated proto", "POST", SpansPathV2, "application/x-protobuf", "", pb[:len(pb)-3], 0, nil, 400, 0, "zipkin: span 1"},
		{"bad gzip", "POST", SpansPathV2, "application/json", "gzip", v2, 0, nil, 400, 0, "zipkin: body is not valid gzip"},
		{"too large", "POST", SpansPathV2, "application/json", "", v2, 512, nil, 413, 0, "over the limit of 512 bytes"},
		{"overload", "POST", SpansPathV2, "application/json", "", v2, 0, &ingest.OverloadError{RetryAfter: time.Second, Reason: "full"}, 429, 0, "overloaded: full"},
		{"wrong method", "GET", SpansPathV2, "", "", nil, 0, nil, 405, 0, ""},
		{"wrong path", "POST", "/api/v3/spans", "application/json", "", v2, 0, nil, 404, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{err: tt.consumerErr}
			srv := httptest.NewServer(NewHandler(rec, ingest.Options{MaxRequestBytes: tt.limit, Metrics: ingest.NewMetrics(nil)}))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
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
			if !strings.Contains(string(b), tt.msg) {
				t.Errorf("body %q, want it to contain %q", b, tt.msg)
			}
			if tt.status == 429 && resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", resp.Header.Get("Retry-After"))
			}
			if len(rec.spans) != tt.stored {
				t.Errorf("stored %d spans, want %d", len(rec.spans), tt.stored)
			}
		})
	}
}
