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
// the JSON answer, as a client receives it, without the network.
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
			size := 0
			analyze.CPULoop(b, func() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code, rec.Body.String())
				}
				size = rec.Body.Len()
			})
			b.ReportMetric(float64(size)/1e6, "MB-answer")
		})
	}
}
