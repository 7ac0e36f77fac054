package analyze_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/weftrace/weft/analyze"
	"github.com/weftrace/weft/analyze/api"
	"github.com/weftrace/weft/store"
	"github.com/weftrace/weft/store/memstore"
)

// BenchmarkCriticalPathEndpoint is GET /api/weft/v1/traces/{id}/critical-path on the traces of
// BenchmarkCriticalPath: reading the trace from the store, the analysis and the JSON answer, written to a response
// that counts the bytes as a connection would take them. "memstore" is the test store (whose read is a copy of the
// slice of span pointers, the generator's spans, scattered); "embedded" is weft's own store with the trace in a block,
// as after the head is cut: "-cached" reads it from the store's cache of decoded large traces (every request after
// the first, while it stays there), "-decoded" decodes it from the block on every request (TraceCacheSpans < 0: the
// first request for a trace). The first request of each case allocates the analysis's workspace; the following
// ones reuse it.
func BenchmarkCriticalPathEndpoint(b *testing.B) {
	for _, c := range []struct {
		name       string
		foreign    bool
		store      string // memstore, cached, decoded
		traceCache int
	}{
		{"memstore-causal-100K", false, "memstore", 0}, {"memstore-heuristic-100K", true, "memstore", 0},
		{"embedded-cached-causal-100K", false, "embedded", 0}, {"embedded-cached-heuristic-100K", true, "embedded", 0},
		{"embedded-decoded-causal-100K", false, "embedded", -1},
	} {
		spans := analyze.GenTrace(1, 5, 100_000, 5_000_000, c.foreign)
		var st store.Reader
		if c.store == "memstore" {
			ms := memstore.New()
			if err := ms.Write(context.Background(), spans); err != nil {
				b.Fatal(err)
			}
			st = ms
		} else {
			es, _ := analyze.StoredTrace(b, b.TempDir(), spans, c.traceCache)
			defer es.Close()
			st = es
		}
		h := api.NewHandler(st, api.Options{})
		url := "/api/weft/v1/traces/" + spans[0].TraceID.String() + "/critical-path"
		spans = nil
		b.Run(c.name, func(b *testing.B) {
			var w countingWriter
			analyze.CPULoop(b, func() {
				w = countingWriter{header: http.Header{}}
				h.ServeHTTP(&w, httptest.NewRequest(http.MethodGet, url, nil))
				if w.code != http.StatusOK {
					b.Fatal(w.code)
				}
			})
			b.ReportMetric(float64(w.n)/1e6, "MB-answer")
		})
	}
}

// countingWriter is an http.ResponseWriter that keeps only the status and the number of bytes.
type countingWriter struct {
	header http.Header
	code   int
	n      int
}

func (w *countingWriter) Header() http.Header { return w.header }

func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(b)
	return len(b), nil
}
