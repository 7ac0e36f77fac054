package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/weftrace/weft/loadgen"
)

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadgen.Options
	fs.StringVar(&o.Endpoint, "endpoint", "http://127.0.0.1:4318/v1/traces", "OTLP/HTTP traces URL to send to")
	fs.IntVar(&o.Rate, "rate", 0, "spans per second to offer (0: as fast as the server accepts)")
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "how long to send")
	fs.IntVar(&o.Concurrency, "concurrency", 4, "requests in flight at once")
	fs.IntVar(&o.SpansPerBatch, "batch", 1000, "spans per request (in whole traces of 5 to 50 spans)")
	fs.IntVar(&o.Templates, "templates", 32, "distinct batches encoded up front")
	fs.StringVar(&o.Token, "token", "", "bearer token for a server started with --ingest-token")
	fs.DurationVar(&o.Backoff, "backoff", 0, "how long a worker waits after a 429 (0: as long as Retry-After says, as exporters do)")
	seed := fs.Uint64("seed", 1, "random seed")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load generator to this file")
	procs := fs.Int("procs", 1, "processors the load generator's goroutines run on (Go's GOMAXPROCS; 0: all); it needs a fraction of one, and on the server's machine more threads only take time slices from the server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *procs < 0 {
		return fmt.Errorf("--procs: must be 0 or more, got %d", *procs)
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	o.Seed = *seed
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return nil
}
