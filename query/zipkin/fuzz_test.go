package zipkin

import (
	"testing"
	"time"

	"github.com/weftrace/weft/internal/endpointtest"
)

// routes are the API's GET endpoints, with {} where the fuzzed path segment goes.
var routes = []string{"/api/v2/trace/{}", "/api/v2/traces", "/api/v2/traceMany", "/api/v2/services", "/api/v2/spans",
	"/api/v2/remoteServices", "/api/v2/dependencies", "/api/v2/autocompleteKeys", "/api/v2/autocompleteValues", "/api/v2/{}"}

// FuzzEndpoints sends arbitrary path segments (trace IDs) and query strings to every endpoint: the answer is
// 200 with a JSON body, or 400 or 404 (Zipkin's plain-text errors), or for a path that is not clean ServeMux's
// redirect to the clean path; never a panic or a 500.
func FuzzEndpoints(f *testing.F) {
	for i := range routes {
		f.Add(uint8(i), traceA.String(), "serviceName=frontend&limit=2")
	}
	f.Add(uint8(0), "4bf9", "")
	f.Add(uint8(2), "", "traceIds="+traceA.String()+",4bf9,zz")
	f.Add(uint8(6), "", "endTs=1&lookback=-1")
	f.Add(uint8(8), "", "key=http.method")
	h := NewHandler(fixture(f), Options{Now: func() time.Time { return time.Unix(0, base).Add(time.Hour) }})
	f.Fuzz(func(t *testing.T, route uint8, seg, raw string) {
		endpointtest.Get(t, h, routes[int(route)%len(routes)], seg, raw, true)
	})
}
