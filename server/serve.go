// Package server is `weft serve`: it wires the receivers, the write-ahead log, the store, the query APIs, the
// analysis and the web UI into one process, and owns its listeners, access control, metrics and shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	analyzeapi "github.com/weftrace/weft/analyze/api"
	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/datadog"
	"github.com/weftrace/weft/ingest/jaeger"
	"github.com/weftrace/weft/ingest/otlp"
	"github.com/weftrace/weft/ingest/zipkin"
	"github.com/weftrace/weft/pipeline"
	jaegerapi "github.com/weftrace/weft/query/jaeger"
	weftapi "github.com/weftrace/weft/query/weft"
	zipkinapi "github.com/weftrace/weft/query/zipkin"
	"github.com/weftrace/weft/store/embedded"
	"github.com/weftrace/weft/ui"
	"github.com/weftrace/weft/wal"
)

// Server is a running `weft serve`.
type Server struct {
	cfg    *Config
	log    *slog.Logger
	reg    *prometheus.Registry
	wal    *wal.WAL
	store  *embedded.Store
	pipe   *pipeline.Pipeline
	ready  atomic.Bool
	https  []*http.Server
	grpc   *grpc.Server
	addrs  map[string]string // listener name → bound address
	mu     sync.Mutex
	errc   chan error
	closed bool
}

// NewLogger makes the slog logger the flags ask for.
func NewLogger(c *Config, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	o := &slog.HandlerOptions{Level: lvl}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", c.LogFormat)
}

// Start opens the store, replays the log, and starts every configured listener. It returns once the server is
// ready; Addr tells where each listener is bound.
func Start(c *Config, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: c, log: log, reg: prometheus.NewRegistry(), addrs: map[string]string{}, errc: make(chan error, 8)}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if limit, _ := c.memoryLimit(); limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
	// A collection per 100% of heap growth (Go's default) cost about 6% more CPU per ingested span than one per
	// 200% in saturated runs (BENCHMARKS.md); the memory limit still bounds the heap.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(c.GCPercent)
	}
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	var err error
	s.store, err = embedded.Open(filepath.Join(c.DataDir, "blocks"), embedded.Options{
		Retention: c.Retention, Logger: log, Registerer: s.reg,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	wo := wal.Options{Fsync: wal.FsyncAlways(), Logger: log, Registerer: s.reg}
	if c.Fsync == "interval" {
		wo.Fsync = wal.FsyncInterval(c.FsyncInterval)
	}
	s.wal, err = wal.Open(filepath.Join(c.DataDir, "wal"), wo)
	if err != nil {
		s.store.Close()
		return nil, fmt.Errorf("open write-ahead log: %w", err)
	}
	s.pipe, err = pipeline.New(s.wal, s.store, pipeline.Options{MaxInFlightBytes: c.MaxInFlight, MaxPendingSpans: c.MaxPending,
		AdmitWait: admitWait(c.AdmitWait), Logger: log, Registerer: s.reg})
	if err != nil {
		s.wal.Close()
		s.store.Close()
		return nil, fmt.Errorf("start pipeline: %w", err)
	}

	if err := s.listen(); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	s.ready.Store(true)
	return s, nil
}

func (s *Server) listen() error {
	c := s.cfg
	metrics := ingest.NewMetrics(s.reg)
	io := ingest.Options{MaxRequestBytes: c.MaxRequestBytes, Metrics: metrics, Logger: s.log, Admit: s.pipe.Admit}
	limit := newDecodeLimiter(c.MaxInFlight, c.MaxRequestBytes)
	limit.onReject = func(receiver string) { metrics.Request(receiver, &ingest.OverloadError{Reason: "decode budget"}) }
	var tlsConf *tls.Config
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	httpListeners := []struct {
		name, addr string
		token      string
		handler    func() http.Handler
	}{
		{"otlp-http", c.OTLPHTTPAddr, c.IngestToken, func() http.Handler { return otlp.NewHTTPHandler(s.pipe, io) }},
		{"zipkin", c.ZipkinAddr, c.IngestToken, func() http.Handler { return zipkin.NewHandler(s.pipe, io) }},
		{"datadog", c.DatadogAddr, c.IngestToken, func() http.Handler { return datadog.NewHandler(s.pipe, io) }},
		{"jaeger", c.JaegerAddr, c.IngestToken, func() http.Handler { return jaeger.NewHandler(s.pipe, io) }},
		{"query", c.QueryAddr, c.QueryToken, s.queryHandler},
	}
	for _, l := range httpListeners {
		addr := c.addr(l.addr)
		if addr == "" {
			continue
		}
		ln, err := s.bind(l.name, addr, l.token)
		if err != nil {
			return err
		}
		h := l.handler()
		if l.name != "query" {
			h = limit.http(l.name, h)
		}
		h = requireToken(l.token, h)
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConf, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
		s.https = append(s.https, srv)
		go func() {
			var err error
			if tlsConf != nil {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.errc <- fmt.Errorf("%s listener: %w", l.name, err)
			}
		}()
	}

	if addr := c.addr(c.OTLPGRPCAddr); addr != "" {
		ln, err := s.bind("otlp-grpc", addr, c.IngestToken)
		if err != nil {
			return err
		}
		opts := []grpc.ServerOption{
			grpc.MaxRecvMsgSize(int(c.MaxRequestBytes)),
			grpc.ChainUnaryInterceptor(grpcToken(c.IngestToken), limit.grpc()),
			grpc.MaxConcurrentStreams(32),
		}
		if tlsConf != nil {
			opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConf)))
		}
		s.grpc = grpc.NewServer(opts...)
		otlp.RegisterGRPC(s.grpc, s.pipe, io)
		go func() {
			if err := s.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				s.errc <- fmt.Errorf("otlp-grpc listener: %w", err)
			}
		}()
	}
	return nil
}

// bind listens on addr and warns when a listener is reachable beyond loopback without a token.
func (s *Server) bind(name, addr, token string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener on %s: %w", name, addr, err)
	}
	bound := ln.Addr().(*net.TCPAddr)
	if !bound.IP.IsLoopback() && token == "" {
		s.log.Warn("listener is reachable beyond loopback without a token; set --ingest-token / --query-token", "listener", name, "addr", bound.String())
	}
	s.mu.Lock()
	s.addrs[name] = bound.String()
	s.mu.Unlock()
	s.log.Info("listening", "listener", name, "addr", bound.String())
	return ln, nil
}

// queryHandler serves the query APIs, the analysis, the UI and the operational endpoints on one port.
func (s *Server) queryHandler() http.Handler {
	mux := http.NewServeMux()
	analysis := analyzeapi.NewHandler(s.store, analyzeapi.Options{Logger: s.log})
	for _, p := range []string{"traces/{id}/critical-path", "traces/{id}/clock", "aggregate", "compare", "services/graph", "operations/stats"} {
		mux.Handle("GET "+analyzeapi.Prefix+p, analysis)
	}
	mux.Handle("/api/weft/v1/", weftapi.NewHandler(s.store, weftapi.Options{Logger: s.log}))
	mux.Handle("/api/v2/", zipkinapi.NewHandler(s.store, zipkinapi.Options{Logger: s.log}))
	mux.Handle("/api/", jaegerapi.NewHandler(s.store, jaegerapi.Options{Logger: s.log}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("/", ui.Handler())
	return mux
}

// Addr is the address a listener ("otlp-grpc", "otlp-http", "zipkin", "datadog", "jaeger", "query") is bound to,
// or "" when it is off.
func (s *Server) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[name]
}

// Consumer is where spans go in: the same durable pipeline the receivers use.
func (s *Server) Consumer() ingest.Consumer { return s.pipe }

// Err reports a listener that failed after starting.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops taking data, lets requests in progress finish, flushes the pipeline to the store, and closes the
// log and the store. It is safe to call more than once.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.ready.Store(false)
	var errs []error
	for _, h := range s.https {
		if err := h.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.grpc != nil {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpc.Stop()
		}
	}
	if s.pipe != nil {
		errs = append(errs, s.pipe.Close())
	}
	if s.wal != nil {
		errs = append(errs, s.wal.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}

// admitWait is the pipeline's AdmitWait for --admit-wait, where 0 means no wait (the pipeline's 0 is its default).
func admitWait(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
