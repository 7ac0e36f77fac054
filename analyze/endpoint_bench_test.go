package analyze_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/weftrace/weft/analyze"
	"github.com/weftrace/weft/analyze/api"
	"github.com/weftrace/weft/store/memstore"
)

// BenchmarkCriticalPathEndpoint is GET /api/weft/v1/traces/{id}/critical-path on the traces of
// BenchmarkCriticalPath, held in memstore (whose read is a copy of the slice of span pointers): the analysis and
// the JSON answer, written to a response that counts the bytes as a connection would take them.
func BenchmarkCriticalPathEndpoint(b *testing.B) {
	for _, c := range []struct {
		name    string
		foreign bool
	}{{"causal-100K", false}, {"heuristic-100K", true}} {
		spans := analyze.GenTrace(1, 5, 100_000, 5_000_000, c.foreign)
		st := memstore.New()
		if err := st.Write(context.Background(), spans); err != nil {
			b.Fatal(err)
		}
		h := api.NewHandler(st, api.Options{})
		url := "/api/weft/v1/traces/" + spans[0].TraceID.String() + "/critical-path"
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
