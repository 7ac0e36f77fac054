// Package endpointtest checks, for the query and analysis APIs' fuzz tests, how an HTTP API answers a GET of any
// path segment and query string. It is imported by those tests only.
package endpointtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
)

// Get sends h a GET of route, its {} replaced by seg (path-escaped), with the query string raw, and fails t unless
// h answered 200, 400 or 404 with a JSON body, or redirected a path that is not clean (an empty, "." or ".."
// segment) to its clean form, as net/http's ServeMux does for every server. With plainErrors only a 200's body
// must be JSON (Zipkin's API answers errors in plain text). Never a panic, never a 500.
func Get(t *testing.T, h http.Handler, route, seg, raw string, plainErrors bool) {
	t.Helper()
	p := strings.ReplaceAll(route, "{}", url.PathEscape(seg))
	req := httptest.NewRequest("GET", p, nil)
	req.URL.RawQuery = raw
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusTemporaryRedirect && path.Clean(p) != p {
		return
	}
	jsonBody := json.Valid(rec.Body.Bytes()) || plainErrors && rec.Code != 200
	if rec.Code != 200 && rec.Code != 400 && rec.Code != 404 || !jsonBody {
		t.Fatalf("%s?%s: %d %s", p, raw, rec.Code, rec.Body)
	}
}
