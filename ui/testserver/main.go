// Command testserver serves weft's UI bundle with weft's real query and analysis APIs (query/weft, query/jaeger,
// analyze/api over weft serve's embedded store, in a temporary directory) over generated traces, for the UI's browser tests (ui/web/tests) and for
// working on the UI without a full `weft serve`. The data is
// generated from a fixed seed: the matchmaker demo's shapes (a frontend calling matchmaker, which calls taster,
// MySQL and Redis, partly in parallel, with weft's causal attributes) plus one trace of about 100,000 spans.
//
// It listens on 127.0.0.1 only and prints one JSON line with its address and the IDs tests need.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	analyzeapi "github.com/weftrace/weft/analyze/api"
	jaegerapi "github.com/weftrace/weft/query/jaeger"
	weftapi "github.com/weftrace/weft/query/weft"
	"github.com/weftrace/weft/ui"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (127.0.0.1 only)")
	traces := flag.Int("traces", 600, "number of demo traces to generate")
	big := flag.Int("big", 100000, "spans in the large trace (0: none)")
	distDir := flag.String("dist", "", "serve the UI bundle from this directory (e.g. ui/dist after `npm run build`) instead of the embedded one")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil || host != "127.0.0.1" {
		log.Fatalf("testserver: -addr must be 127.0.0.1:<port>, got %q", *addr)
	}
	data := generate(time.Now(), *traces, *big)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "weft-testserver-")
	if err != nil {
		log.Fatal(err)
	}
	st, err := data.load(dir)
	if err != nil {
		os.RemoveAll(dir)
		log.Fatal(err)
	}
	// The generated traces are in the store now; a server holds no second copy of them.
	ntraces := len(data.traces)
	data.traces = nil
	// The tests stop the server with a signal; the store's directory goes with it.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		st.Close()
		os.RemoveAll(dir)
		os.Exit(0)
	}()
	// Mounted as weft serve mounts them (server/serve.go): the analysis, weft's API, the Jaeger API, the UI.
	mux := http.NewServeMux()
	analysis := analyzeapi.NewHandler(st, analyzeapi.Options{Window: 3 * time.Hour})
	for _, p := range []string{"traces/{id}/critical-path", "traces/{id}/clock", "aggregate", "compare", "services/graph", "operations/stats"} {
		mux.Handle("GET "+analyzeapi.Prefix+p, analysis)
	}
	mux.Handle("/api/weft/v1/", weftapi.NewHandler(st, weftapi.Options{}))
	mux.Handle("/api/", jaegerapi.NewHandler(st, jaegerapi.Options{}))
	if *distDir != "" {
		mux.Handle("/", ui.HandlerFS(os.DirFS(*distDir)))
	} else {
		mux.Handle("/", ui.Handler())
	}
	info, _ := json.Marshal(map[string]any{
		"addr":      ln.Addr().String(),
		"bigTrace":  data.bigID,
		"bigSpans":  *big,
		"errTrace":  data.errID,
		"someTrace": data.someID,
		"traces":    ntraces,
	})
	fmt.Println(string(info))
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, mux))
}
