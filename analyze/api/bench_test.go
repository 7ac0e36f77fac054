package api

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/memstore"
)

// wideTrace is a 100-span trace: a root calling 9 services, each calling 10 operations, with random durations and
// a shape chosen among a few.
func wideTrace(id uint64, rng *rand.Rand) []*model.Span {
	b := newBuilder(id)
	r := b.span(nil, "front", "GET /x", model.KindServer, 0, 10_000)
	shape := rng.IntN(8)
	for i := int64(0); i < 9; i++ {
		svc := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}[i]
		start := 100 + i*1000
		c := b.span(r, svc, "call", model.KindClient, start, start+900)
		for k := int64(0); k < 10; k++ {
			s := start + 10 + k*80
			name := []string{"get", "put", "scan"}[(k+int64(shape))%3]
			b.span(c, svc+"-db", name, model.KindClient, s, s+10+rng.Int64N(60))
		}
	}
	return b.spans
}

// BenchmarkAggregateEndpoint is GET /api/weft/v1/aggregate over 10K traces / 1M spans in memstore, from the search
// to the JSON answer. memstore answers a search by scanning every span: most of the time is the store's.
func BenchmarkAggregateEndpoint(b *testing.B) {
	st := memstore.New()
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 10_000; i++ {
		if err := st.Write(context.Background(), wideTrace(uint64(i+1), rng)); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(NewHandler(st, Options{}))
	defer srv.Close()
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get(srv.URL + "/api/weft/v1/aggregate?service=front&limit=10000")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}
