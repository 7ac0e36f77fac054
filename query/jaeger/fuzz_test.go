package jaeger

import (
	"testing"
	"time"

	"github.com/weftrace/weft/internal/endpointtest"
)

// routes are the API's GET endpoints, with {} where the fuzzed path segment goes.
var routes = []string{"/api/traces/{}", "/api/traces", "/api/services", "/api/services/{}/operations", "/api/operations",
	"/api/dependencies", "/api/{}"}

// FuzzEndpoints sends arbitrary path segments (trace IDs, service names) and query strings to every endpoint: the
// answer is 200, 400 or 404 (or, for a path that is not clean, ServeMux's redirect to the clean path) in Jaeger's
// JSON envelope, never a panic or a 500.
func FuzzEndpoints(f *testing.F) {
	for i := range routes {
		f.Add(uint8(i), traceA.String(), "service=frontend&limit=2")
	}
	f.Add(uint8(0), "4bf9", "")
	f.Add(uint8(3), "café-ñ", "spanKind=server")
	f.Add(uint8(5), "", "endTs=1&lookback=-1")
	f.Add(uint8(4), "", "service=db&spanKind=x")
	h := NewHandler(fixture(f), Options{Now: func() time.Time { return time.Unix(0, base).Add(time.Hour) }})
	f.Fuzz(func(t *testing.T, route uint8, seg, raw string) {
		endpointtest.Get(t, h, routes[int(route)%len(routes)], seg, raw, false)
	})
}
