package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tests := []struct {
		path     string
		status   int
		location string
		body     string // a substring the body must contain
		cache    string
	}{
		{"/", http.StatusFound, "/search", "", ""},
		{"/search", http.StatusOK, "", `<div id="app">`, "no-cache"},
		{"/search?service=a&q=x", http.StatusOK, "", `<div id="app">`, "no-cache"},
		{"/trace/0123456789abcdef0123456789abcdef", http.StatusOK, "", `<div id="app">`, "no-cache"},
		{"/aggregate", http.StatusOK, "", `<div id="app">`, "no-cache"},
		{"/compare", http.StatusOK, "", `<div id="app">`, "no-cache"},
		{"/services", http.StatusOK, "", `<div id="app">`, "no-cache"},
		{"/api/services", http.StatusNotFound, "", "", ""},
		{"/api", http.StatusNotFound, "", "", ""},
		{"/nothing", http.StatusNotFound, "", "", ""},
		{"/assets/missing.js", http.StatusNotFound, "", "", ""},
		{"/../etc/passwd", http.StatusNotFound, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := client.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body does not contain %q", tt.body)
			}
			if tt.cache != "" && resp.Header.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", resp.Header.Get("Cache-Control"), tt.cache)
			}
		})
	}
}

// TestAssets checks that every script and stylesheet index.html names is served, with a long cache lifetime,
// so a stale or partial bundle fails here rather than in a browser.
func TestAssets(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/search")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var assets []string
	for _, part := range strings.Split(string(body), `"`) {
		if strings.HasPrefix(part, "/assets/") {
			assets = append(assets, part)
		}
	}
	if len(assets) == 0 {
		t.Fatal("index.html names no /assets/ files")
	}
	for _, a := range assets {
		resp, err := http.Get(srv.URL + a)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", a, resp.StatusCode)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", a, cc)
		}
	}
}

// TestHandlerFS: a directory served as the bundle is read as it is at each request, so that a rebuilt index.html
// (new asset names) is served without restarting; a directory without index.html says how to build it.
func TestHandlerFS(t *testing.T) {
	dir := fstest.MapFS{
		"index.html":        {Data: []byte(`<script src="/assets/index-1.js"></script>`)},
		"assets/index-1.js": {Data: []byte(`// one`)},
	}
	h := HandlerFS(dir)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	for _, c := range []struct {
		edit       func()
		path, body string
		status     int
	}{
		{nil, "/trace/abc", "index-1.js", 200},
		{nil, "/assets/index-1.js", "// one", 200},
		{func() {
			dir["index.html"] = &fstest.MapFile{Data: []byte(`<script src="/assets/index-2.js"></script>`)}
			dir["assets/index-2.js"] = &fstest.MapFile{Data: []byte(`// two`)}
			delete(dir, "assets/index-1.js")
		}, "/trace/abc", "index-2.js", 200},
		{nil, "/assets/index-1.js", "", 404},
		{func() { delete(dir, "index.html") }, "/search", "ui/check-bundle.sh", 200},
	} {
		if c.edit != nil {
			c.edit()
		}
		status, body := get(c.path)
		if status != c.status || !strings.Contains(body, c.body) {
			t.Errorf("GET %s: %d %q, want %d with %q", c.path, status, body, c.status, c.body)
		}
	}
}
