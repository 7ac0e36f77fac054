package api

import (
	"context"
	"testing"
	"time"

	"github.com/weftrace/weft/internal/endpointtest"
	"github.com/weftrace/weft/store/memstore"
)

// routes are the analysis endpoints, with {} where the fuzzed path segment goes.
var routes = []string{"traces/{}/critical-path", "traces/{}/clock", "aggregate", "compare", "services/graph",
	"operations/stats", "{}"}

// FuzzEndpoints sends arbitrary trace IDs and query strings to every analysis endpoint: the answer is 200, 400
// or 404 with a JSON body, never a panic or a 500.
func FuzzEndpoints(f *testing.F) {
	tr := pairBeer(1, 3)
	for i := range routes {
		f.Add(uint8(i), tr.trace.String(), "service=matchmaker&limit=2")
	}
	f.Add(uint8(1), tr.trace.String(), "choose=midpoint")
	f.Add(uint8(3), "", "a.q=duration%20%3E%201ms&b.service=taster&b.start=2026-11-22T10:00:00Z")
	f.Add(uint8(2), "", "minDuration=150ms&maxDuration=1&start=1&end=0")
	st := memstore.New()
	if err := st.Write(context.Background(), tr.spans); err != nil {
		f.Fatal(err)
	}
	if err := st.Write(context.Background(), pairBeer(2, -20).spans); err != nil {
		f.Fatal(err)
	}
	h := NewHandler(st, Options{Now: func() time.Time { return time.Unix(0, base+int64(time.Minute)) }})
	f.Fuzz(func(t *testing.T, route uint8, seg, raw string) {
		endpointtest.Get(t, h, Prefix+routes[int(route)%len(routes)], seg, raw, false)
	})
}

// FuzzParseTimes: the time and duration parameters are a bound of a search, in nanoseconds: never negative.
func FuzzParseTimes(f *testing.F) {
	for _, s := range []string{"0", "1700000000000000", "2026-11-22T10:00:00Z", "2026-11-22T10:00:00.123456789+02:00", "150ms",
		"9223372036854775", "9223372036854776", "-1", "1e3", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := parseTime(s, "start"); err == nil && n < 0 {
			t.Fatalf("parseTime(%q) = %d, negative", s, n)
		}
		if n, err := parseDuration(s, "minDuration"); err == nil && n < 0 {
			t.Fatalf("parseDuration(%q) = %d, negative", s, n)
		}
	})
}
