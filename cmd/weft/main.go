// Command weft is the whole tracing backend in one binary: `weft serve` runs the receivers, the store, the query
// APIs and the web UI; `weft demo` runs the matchmaker demo against a weft; `weft loadgen` measures ingest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/weftrace/weft/server"
)

const usage = `weft: distributed tracing in one binary.

Usage:
  weft serve [flags]     receive spans from every common client, store them, serve the APIs and the UI
  weft demo [flags]      run the matchmaker demo services and their traffic against a running weft
  weft loadgen [flags]   send realistic OTLP load to a weft and report accepted spans/s and latency
  weft version           print the version

Run 'weft <command> --help' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stderr)
	case "loadgen":
		err = runLoadgen(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "weft", version)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "weft: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "weft:", err)
		return 1
	}
	return 0
}

var version = "dev"

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := server.ParseConfig("serve", args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	log, err := server.NewLogger(cfg, stderr)
	if err != nil {
		return err
	}
	s, err := server.Start(cfg, log)
	if err != nil {
		return err
	}
	log.Info("weft is ready", "ui", "http://"+s.Addr("query"))
	demoCtx, stopDemo := context.WithCancel(ctx)
	defer stopDemo()
	demoDone := make(chan struct{})
	if cfg.Demo {
		go func() {
			defer close(demoDone)
			if err := server.RunDemo(demoCtx, s, cfg, log); err != nil && demoCtx.Err() == nil {
				log.Error("demo stopped", "err", err)
			}
		}()
	} else {
		close(demoDone)
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down: no new data; flushing")
	case err = <-s.Err():
		log.Error("listener failed; shutting down", "err", err)
	}
	// The demo goes first: it sends its last spans to this server and stops the redis-server it started.
	stopDemo()
	select {
	case <-demoDone:
	case <-time.After(10 * time.Second):
		log.Warn("demo did not stop within 10s")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return errors.Join(err, s.Close(sctx))
}
