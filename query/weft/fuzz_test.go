package weft

import (
	"testing"

	"github.com/weftrace/weft/internal/endpointtest"
)

// routes are the API's GET endpoints, with {} where the fuzzed path segment goes.
var routes = []string{"traces/{}", "traces/{}/otlp", "search", "services", "operations", "attributes/keys",
	"attributes/values", "attributes", "attributes/{}/values", "{}"}

// FuzzEndpoints sends arbitrary path segments (trace IDs, attribute keys) and query strings to every endpoint: the
// answer is 200, 400 or 404 (or, for a path that is not clean, ServeMux's redirect to the clean path) with a JSON
// body, never a panic or a 500.
func FuzzEndpoints(f *testing.F) {
	for i := range routes {
		f.Add(uint8(i), traceA.String(), "q=status%20%3D%20error&limit=2")
	}
	f.Add(uint8(0), "4bf9", "format=waterfall&critical=1")
	f.Add(uint8(1), "00000000000000000000000000000000", "")
	f.Add(uint8(8), "http.method", "service=frontend&prefix=G&limit=-1")
	f.Add(uint8(4), "", "service=caf%C3%A9-%C3%B1&kind=server")
	h := newHandler(f)
	f.Fuzz(func(t *testing.T, route uint8, seg, raw string) {
		endpointtest.Get(t, h, Prefix+routes[int(route)%len(routes)], seg, raw, false)
	})
}
