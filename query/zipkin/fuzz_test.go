package zipkin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"
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
		path := strings.ReplaceAll(routes[int(route)%len(routes)], "{}", url.PathEscape(seg))
		req := httptest.NewRequest("GET", path, nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if redirected(rec, path) {
			return
		}
		if rec.Code == 200 && !json.Valid(rec.Body.Bytes()) || rec.Code != 200 && rec.Code != 400 && rec.Code != 404 {
			t.Fatalf("%s?%s: %d %s", path, raw, rec.Code, rec.Body)
		}
	})
}

// redirected reports whether the answer is ServeMux's redirect of a path that is not clean (an empty, "." or ".."
// segment) to its clean form, which is how every net/http server answers such a path.
func redirected(rec *httptest.ResponseRecorder, p string) bool {
	return rec.Code == http.StatusTemporaryRedirect && path.Clean(p) != p
}
