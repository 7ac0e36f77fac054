//go:build serverpath

// The whole-path benchmark starts a weft serve, so it builds only with -tags serverpath: the load generator's own
// tests stay independent of the server.

package loadgen_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/weftrace/weft/loadgen"
	"github.com/weftrace/weft/server"
)

var (
	serverPathDuration = flag.Duration("serverpath.duration", 15*time.Second, "how long BenchmarkServerPath sends")
	serverPathRate     = flag.Int("serverpath.rate", 0, "spans per second BenchmarkServerPath offers (0: as fast as accepted)")
	serverPathConc     = flag.Int("serverpath.concurrency", 16, "requests BenchmarkServerPath keeps in flight")
	serverPathBackoff  = flag.Duration("serverpath.backoff", 50*time.Millisecond, "how long the load generator waits after a 429 (0: as Retry-After says)")
)

// BenchmarkServerPath runs the whole durable ingest path in one process, for profiles (-cpuprofile,
// -memprofile): a weft serve with --fsync always on a temporary data directory, and the load generator sending
// to its OTLP/HTTP receiver for -serverpath.duration (run it with -benchtime 1x). It reports accepted spans per second of wall
// time and per CPU-second of the process, which includes the load generator.
func BenchmarkServerPath(b *testing.B) {
	c, err := server.ParseConfig("serve", []string{"--data-dir", b.TempDir(), "--fsync", "always",
		"--otlp-http-addr", "127.0.0.1:0", "--otlp-grpc-addr", "off", "--zipkin-addr", "off",
		"--datadog-addr", "off", "--jaeger-addr", "off", "--query-addr", "off"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	s, err := server.Start(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	b.ResetTimer()
	cpu0 := cpuTime()
	res, err := loadgen.Run(context.Background(), loadgen.Options{
		Endpoint: "http://" + s.Addr("otlp-http") + "/v1/traces", Duration: *serverPathDuration, Rate: *serverPathRate,
		Concurrency: *serverPathConc, Seed: 1, Backoff: *serverPathBackoff})
	if err != nil {
		b.Fatal(err)
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(res.AcceptedPerSec, "spans/s")
	b.ReportMetric(float64(res.SpansAccepted)/cpu.Seconds(), "spans/cpu-s")
	b.ReportMetric(float64(res.Throttled), "throttled")
	b.ReportMetric(0, "ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
