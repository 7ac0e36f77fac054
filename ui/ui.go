// Package ui serves weft's web UI: the single-page application built from ui/web (TypeScript) into ui/dist and
// embedded in the binary. It sits at the end of the flow (receive → store → query → analysis → UI) and reads
// nothing itself: the pages in the browser call the query and analysis APIs under /api/ on the same origin.
//
// The bundle is committed; ui/check-bundle.sh rebuilds it and fails when the committed copy is stale.
package ui

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

// routes are the first path segments of the UI's pages; each answers with index.html and the page's script
// reads the rest of the URL.
var routes = map[string]bool{"search": true, "trace": true, "aggregate": true, "compare": true, "services": true}

// Handler serves the UI. Mount it at "/" beside the API handlers; it answers 404 for anything under /api/ so
// that a missing API route is never mistaken for a page. Files under /assets/ carry content hashes in their
// names and are cached for a year; index.html is revalidated on every visit.
func Handler() http.Handler {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed directive guarantees dist exists
	}
	return HandlerFS(root)
}

// HandlerFS serves the UI as Handler does from another copy of the bundle (the files of ui/dist), for working on
// the UI without rebuilding the binary: ui/testserver's -dist flag serves a directory this way.
func HandlerFS(root fs.FS) http.Handler {
	// index.html is read for every page, so that a rebuilt directory is served as it is now.
	index := func() []byte {
		b, err := fs.ReadFile(root, "index.html")
		if err != nil {
			return []byte("<!doctype html><title>weft</title><p>The UI bundle is missing: run ui/check-bundle.sh.</p>")
		}
		return b
	}
	files := http.FileServer(http.FS(root))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		switch {
		case p == "/api" || strings.HasPrefix(p, "/api/"):
			http.NotFound(w, r)
		case p == "/":
			http.Redirect(w, r, "/search", http.StatusFound)
		case routes[firstSegment(p)]:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index()))
		case strings.HasPrefix(p, "/assets/"):
			if _, err := fs.Stat(root, p[1:]); err != nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			files.ServeHTTP(w, r)
		case p == "/favicon.svg":
			w.Header().Set("Cache-Control", "public, max-age=86400")
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

func firstSegment(p string) string {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}
