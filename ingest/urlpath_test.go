package ingest

import (
	"net/url"
	"testing"
)

// urlPathCases are URLs of the shapes urlPath answers and of the shapes it leaves to url.Parse.
var urlPathCases = []string{
	"/", "/pair/3?beer=stout&n=7", "/a#frag?x", "/a?x#y", "/a?", "/a b", "/é", "//host/path", "///x",
	"http://host", "http://host/", "https://brewery.example:8443/pair/3?x=1", "http://host:/p", "http:///path",
	"HTTP://Host.Example-1:80/P", "http://host:8x/p", "http://host:1:2/p", "http://user@host/p", "http://[::1]/p",
	"http://h_st/p", "http://host/p%20q", "/p%zz", "/p#%zz", "http://host/p\x7f", "/p\n", "mailto:x", "a/b",
	"a:b/c", "1http://host/p", "h+s://host/p", "", "?q", "#f", "*", "http:/p", "http:host/p", "http://ho st/p",
	"http://host?q", "http://host#f", "ftp://host:21",
}

// TestURLPathMatchesParse: where urlPath answers, it answers as url.Parse does.
func TestURLPathMatchesParse(t *testing.T) {
	answered := 0
	for _, s := range urlPathCases {
		if sameURLPath(t, s) {
			answered++
		}
	}
	if answered < 10 {
		t.Fatalf("urlPath answered only %d of %d cases: the test compares little", answered, len(urlPathCases))
	}
}

// sameURLPath fails unless urlPath, where it answers for s, gives url.Parse's path, and a URL url.Parse refuses is
// one urlPath leaves to it; it reports whether urlPath answered.
func sameURLPath(t *testing.T, s string) bool {
	t.Helper()
	p, ok := urlPath(s)
	if !ok {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("urlPath(%q) = %q, but url.Parse refuses it: %v", s, p, err)
	}
	if p != u.Path {
		t.Fatalf("urlPath(%q) = %q, url.Parse's path is %q", s, p, u.Path)
	}
	return true
}

func FuzzURLPath(f *testing.F) {
	for _, s := range urlPathCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameURLPath(t, s) })
}
