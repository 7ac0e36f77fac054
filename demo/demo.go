// Package demo is the matchmaker: a small beer-and-donut pairing service and the taster it calls, fully traced
// with weft's own library and instrumentation, and a traffic generator that drives them. It is what a newcomer
// sees first (`weft serve --demo`, `weft demo`): a fleet of two services reporting to weft, one through OTLP and
// the other through the protocol chosen (OTLP, Zipkin, Datadog or Jaeger), whose pairing route is slow for a
// reason a trace shows — it asks the taster about each donut one after another.
//
// The demo sits outside weft's flow: it only sends spans to weft's receivers, as any traced program would.
package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/dbsql"
	"github.com/weftrace/weft/trace/instrument/nethttp"
	"github.com/weftrace/weft/trace/propagation"
)

// Config says where the demo reports and how hard it drives itself.
type Config struct {
	// MatchmakerEndpoint is the OTLP/HTTP URL the matchmaker posts its spans to (http://host:4318/v1/traces).
	MatchmakerEndpoint string
	// TasterProtocol is how the taster reports: otlp, zipkin, datadog or jaeger.
	TasterProtocol string
	// TasterEndpoint is the URL the taster's exporter posts to (EndpointPath gives each protocol's path).
	TasterEndpoint string
	// Headers are added to every export request (Authorization: Bearer <token> for a weft with --ingest-token).
	Headers map[string]string
	// Rate is the requests per second the traffic generator sends; zero or less sends none.
	Rate float64
	// RedisAddr is a Redis to keep the donut facts in. Empty: start redis-server on a free loopback port if the
	// binary is installed, else keep them in the process.
	RedisAddr string
	// BatchTimeout is how long the services' exporters hold spans before sending (default 1s).
	BatchTimeout time.Duration
	// Logger logs what the demo does; nil logs nothing.
	Logger *slog.Logger
}

// Demo is a running matchmaker demo.
type Demo struct {
	// MatchmakerURL and TasterURL are the base URLs of the two services (http://127.0.0.1:port).
	MatchmakerURL, TasterURL string

	log       *slog.Logger
	providers []*trace.Provider
	servers   []*http.Server
	db        *sql.DB
	facts     factStore
	redis     *redisServer
	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start starts the taster and matchmaker on free 127.0.0.1 ports, fills the database and the fact store, and
// starts the traffic generator and the bakery (which changes the donut facts every few seconds).
func Start(cfg Config) (d *Demo, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = time.Second
	}
	d = &Demo{log: log}
	defer func() {
		if err != nil {
			d.Close(context.Background())
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel

	mmExp, err := newExporter("otlp", cfg.MatchmakerEndpoint, cfg.Headers)
	if err != nil {
		return nil, err
	}
	tasterExp, err := newExporter(cfg.TasterProtocol, cfg.TasterEndpoint, cfg.Headers)
	if err != nil {
		return nil, err
	}
	mmProv := trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: "matchmaker", Attrs: []trace.Attr{
		trace.String("service.version", "1.4.2"), trace.String("deployment.environment.name", "demo")}},
		Exporter: mmExp, BatchTimeout: cfg.BatchTimeout})
	tProv := trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: "taster", Attrs: []trace.Attr{
		trace.String("service.version", "0.9.0"), trace.String("deployment.environment.name", "demo"),
		trace.String("weft.demo.protocol", cfg.TasterProtocol)}},
		Exporter: tasterExp, BatchTimeout: cfg.BatchTimeout})
	d.providers = []*trace.Provider{mmProv, tProv}
	prop := propagation.Default()

	// The taster.
	t := &taster{tracer: tProv.Tracer("matchmaker/taster")}
	tasterURL, err := d.serve(nethttp.Handler(t.routes(), nethttp.Options{Tracer: tProv.Tracer("weft/nethttp"), Propagator: prop,
		NoReplyEvent: cfg.TasterProtocol == "zipkin"}))
	if err != nil {
		return nil, err
	}
	d.TasterURL = tasterURL

	// The matchmaker's SQL database, through the traced driver.
	mmTracer := mmProv.Tracer("matchmaker")
	d.db, err = dbsql.Open("sqlite", "file:matchmaker?mode=memory&cache=shared", dbsql.Options{Tracer: mmProv.Tracer("weft/dbsql"), System: "sqlite", Name: "matchmaker"})
	if err != nil {
		return nil, fmt.Errorf("open the demo database: %w", err)
	}
	d.db.SetMaxOpenConns(1) // one in-memory database, one connection
	if err := seed(ctx, d.db); err != nil {
		return nil, err
	}

	// The donut facts: Redis if possible.
	var store factStore
	system := "redis"
	switch {
	case cfg.RedisAddr != "":
		store = &respClient{addr: cfg.RedisAddr}
		log.Info("demo: donut facts in Redis", "addr", cfg.RedisAddr)
	default:
		if bin, lerr := exec.LookPath("redis-server"); lerr == nil {
			rs, rerr := startRedis(ctx, bin)
			if rerr == nil {
				d.redis = rs
				store = &respClient{addr: rs.addr}
				log.Info("demo: started redis-server for the donut facts", "addr", rs.addr)
				break
			}
			log.Warn("demo: could not start redis-server; keeping the donut facts in the process", "err", rerr)
		} else {
			log.Warn("demo: redis-server is not installed; keeping the donut facts in the process (install redis-server to see real Redis spans)")
		}
		store, system = &memoryFacts{m: map[string]string{}}, "memory"
	}
	d.facts = &tracedFacts{s: store, tracer: mmProv.Tracer("matchmaker/redis"), system: system}
	if err := bake(ctx, store, true); err != nil {
		return nil, fmt.Errorf("fill the donut facts: %w", err)
	}

	// The matchmaker.
	m := &matchmaker{
		db: d.db, facts: d.facts, tasterURL: tasterURL, tracer: mmTracer,
		taster: nethttp.Client(&http.Client{Timeout: 10 * time.Second}, nethttp.Options{Tracer: mmProv.Tracer("weft/nethttp"), Propagator: prop, Service: "taster"}),
	}
	d.MatchmakerURL, err = d.serve(nethttp.Handler(m.routes(), nethttp.Options{Tracer: mmProv.Tracer("weft/nethttp"), Propagator: prop, TraceResponse: true}))
	if err != nil {
		return nil, err
	}
	log.Info("demo: matchmaker and taster are up", "matchmaker", d.MatchmakerURL, "taster", d.TasterURL,
		"taster_reports_through", cfg.TasterProtocol, "rate", cfg.Rate)

	d.wg.Add(2)
	go func() { defer d.wg.Done(); d.bakery(ctx, store) }()
	go func() { defer d.wg.Done(); d.traffic(ctx, cfg.Rate) }()
	return d, nil
}

// Run starts the demo and runs it until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	d, err := Start(cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Close(cctx)
}

// Close stops the traffic, the services and Redis, and flushes the services' spans.
func (d *Demo) Close(ctx context.Context) error {
	var errs []error
	d.closeOnce.Do(func() {
		if d.stop != nil {
			d.stop()
		}
		d.wg.Wait()
		for _, s := range d.servers {
			s.Shutdown(ctx)
		}
		for _, p := range d.providers {
			if err := p.Shutdown(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if d.facts != nil {
			d.facts.close()
		}
		if d.db != nil {
			d.db.Close()
		}
		if d.redis != nil {
			d.redis.stop()
		}
	})
	return errors.Join(errs...)
}

// Flush sends the spans ended so far to weft.
func (d *Demo) Flush(ctx context.Context) error {
	var errs []error
	for _, p := range d.providers {
		errs = append(errs, p.Flush(ctx))
	}
	return errors.Join(errs...)
}

func (d *Demo) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	d.servers = append(d.servers, srv)
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// bake restocks the donuts and stamps the batch's time; the first bake fills every donut.
func bake(ctx context.Context, s factStore, all bool) error {
	for _, dn := range seedDonuts {
		if !all && rand.IntN(3) != 0 {
			continue
		}
		if _, err := s.do(ctx, "SET", stockKey(dn.Name), strconv.Itoa(20+rand.IntN(30))); err != nil {
			return err
		}
		if _, err := s.do(ctx, "SET", bakedKey(dn.Name), strconv.FormatInt(time.Now().UnixNano(), 10)); err != nil {
			return err
		}
	}
	return nil
}

// bakery restocks some donuts every few seconds: the facts that change fast.
func (d *Demo) bakery(ctx context.Context, s factStore) {
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := bake(ctx, s, false); err != nil && ctx.Err() == nil {
				d.log.Warn("demo: bakery", "err", err)
			}
		}
	}
}

// traffic sends requests at rate per second: half of them pairings, the rest lookups, a few for missing things.
func (d *Demo) traffic(ctx context.Context, rate float64) {
	if rate <= 0 {
		return
	}
	client := &http.Client{Timeout: 10 * time.Second}
	interval := time.Duration(float64(time.Second) / rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	sem := make(chan struct{}, 16) // at most 16 requests in flight: a slow weft must not pile them up
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue
		}
		path := d.pickPath()
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.MatchmakerURL+path, nil)
			if err != nil {
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Debug("demo: request failed", "path", path, "err", err)
				}
				return
			}
			resp.Body.Close()
		}()
	}
}

func (d *Demo) pickPath() string {
	b := seedBeers[rand.IntN(len(seedBeers))].Name
	dn := seedDonuts[rand.IntN(len(seedDonuts))].Name
	switch r := rand.IntN(20); {
	case r < 10:
		return "/pair/beer?name=" + url.QueryEscape(b)
	case r < 12:
		return "/beers"
	case r < 14:
		return "/donuts"
	case r < 16:
		return "/beers/" + url.PathEscape(b)
	case r < 19:
		return "/donuts/" + url.PathEscape(dn)
	}
	return "/beers/Lager%20of%20Nowhere" // a 404
}
