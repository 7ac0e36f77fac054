package nethttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/nethttp"
)

// A server whose requests are spans named after their route, called by a client whose requests are spans too.
func Example() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec, Resource: &trace.Resource{Service: "beers"}})
	opts := nethttp.Options{Tracer: p.Tracer("example")}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /beers/{name}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a fine "+r.PathValue("name"))
	})
	srv := httptest.NewServer(nethttp.Handler(mux, opts))
	defer srv.Close()

	client := nethttp.Client(nil, nethttp.Options{Tracer: p.Tracer("example"), Service: "beers"})
	ctx, root := p.Tracer("example").Start(context.Background(), "lunch")
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/beers/IPA", nil)
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	root.End()
	p.Shutdown(context.Background())

	for _, name := range []string{"lunch", "GET beers", "GET /beers/{name}"} {
		for _, s := range rec.Spans() {
			if s.Name == name {
				fmt.Println(s.Kind, s.Name)
			}
		}
	}
	// Output:
	// internal lunch
	// client GET beers
	// server GET /beers/{name}
}
