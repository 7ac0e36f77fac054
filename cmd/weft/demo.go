package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/weftrace/weft/demo"
)

const demoUsage = `Usage: weft demo [flags]

Runs the matchmaker demo — the matchmaker service, the taster it calls, a SQL database, a Redis (started if
redis-server is installed) and a traffic generator — reporting to a running weft. The matchmaker reports through
OTLP/HTTP; --taster-protocol chooses how the taster reports. 'weft serve --demo' does the same in one process.

Flags:
`

func runDemo(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage); fs.PrintDefaults() }
	host := fs.String("weft-host", envOr("WEFT_DEMO_HOST", "127.0.0.1"), "host of the weft to report to (env WEFT_DEMO_HOST)")
	otlp := fs.String("otlp-endpoint", "", "OTLP/HTTP URL the matchmaker posts spans to (default http://<weft-host>:4318/v1/traces)")
	proto := fs.String("taster-protocol", "zipkin", "protocol the taster reports through: "+strings.Join(demo.Protocols, ", "))
	tasterEP := fs.String("taster-endpoint", "", "URL the taster posts spans to (default: weft's default port and path for the protocol)")
	rate := fs.Float64("rate", 5, "requests per second the traffic generator sends")
	redis := fs.String("redis-addr", "", "a Redis to keep the donut facts in (default: start redis-server if installed, else in-process)")
	token := fs.String("ingest-token", os.Getenv("WEFT_INGEST_TOKEN"), "bearer token for weft's receivers, if it requires one (env WEFT_INGEST_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected arguments %q", fs.Args())
	}
	if !slices.Contains(demo.Protocols, *proto) {
		return fmt.Errorf("demo: --taster-protocol: want %s, got %q", strings.Join(demo.Protocols, ", "), *proto)
	}
	if *otlp == "" {
		*otlp = "http://" + net.JoinHostPort(*host, "4318") + demo.EndpointPath("otlp")
	}
	if *tasterEP == "" {
		port := map[string]string{"otlp": "4318", "zipkin": "9411", "datadog": "8126", "jaeger": "14268"}[*proto]
		*tasterEP = "http://" + net.JoinHostPort(*host, port) + demo.EndpointPath(*proto)
	}
	var hdr map[string]string
	if *token != "" {
		hdr = map[string]string{"Authorization": "Bearer " + *token}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	return demo.Run(ctx, demo.Config{
		MatchmakerEndpoint: *otlp, TasterProtocol: *proto, TasterEndpoint: *tasterEP,
		Rate: *rate, RedisAddr: *redis, Headers: hdr, Logger: log,
	})
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
