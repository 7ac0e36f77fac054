package trace

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blockingExporter blocks every export until released.
type blockingExporter struct {
	release  chan struct{}
	started  chan struct{}
	once     sync.Once
	exported atomic.Int64
	shutdown atomic.Bool
	err      error
}

func newBlockingExporter() *blockingExporter {
	return &blockingExporter{release: make(chan struct{}), started: make(chan struct{})}
}

func (e *blockingExporter) ExportSpans(ctx context.Context, spans []*SpanData) error {
	e.once.Do(func() { close(e.started) })
	select {
	case <-e.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, d := range spans {
		if !d.SpanID.IsValid() {
			panic("exported a span without an ID")
		}
	}
	e.exported.Add(int64(len(spans)))
	return e.err
}

func (e *blockingExporter) Shutdown(context.Context) error {
	e.shutdown.Store(true)
	return nil
}

func TestFullQueueDrops(t *testing.T) {
	exp := newBlockingExporter()
	p := NewProvider(Config{Exporter: exp, QueueSize: 16, BatchSize: 4, BatchTimeout: time.Millisecond})
	tr := p.Tracer("")
	// The first span reaches the exporter, which then blocks; the rest fill the queue and overflow it, and
	// End never waits.
	_, s := tr.Start(context.Background(), "first")
	s.End()
	<-exp.started
	for i := 0; i < 1000; i++ {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
	c := p.Counters()
	if c.SpansDropped == 0 || c.SpansEnded != 1001 {
		t.Errorf("counters %+v: no drops with a blocked exporter", c)
	}
	if c.QueueDepth == 0 || c.QueueDepth > uint64(len(p.ps)*len(p.ps[0].queue.slots)) {
		t.Errorf("queue depth %d", c.QueueDepth)
	}
	close(exp.release)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c = p.Counters()
	if c.SpansExported+c.SpansDropped != 1001 || int64(c.SpansExported) != exp.exported.Load() || c.QueueDepth != 0 {
		t.Errorf("after shutdown: %+v, exporter saw %d", c, exp.exported.Load())
	}
	if !exp.shutdown.Load() {
		t.Error("the exporter was not shut down")
	}
	// After shutdown, spans are dropped and counted.
	_, s = tr.Start(context.Background(), "late")
	s.End()
	if got := p.Counters().SpansDropped; got != c.SpansDropped+1 {
		t.Errorf("a span after shutdown: dropped %d, want %d", got, c.SpansDropped+1)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Shutdown: %v", err)
	}
}

func TestFlushDeadline(t *testing.T) {
	exp := newBlockingExporter()
	p := NewProvider(Config{Exporter: exp, ExportTimeout: time.Hour})
	_, s := p.Tracer("").Start(context.Background(), "s")
	s.End()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a stuck exporter = %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := p.Shutdown(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a stuck exporter = %v", err)
	}
	close(exp.release)
}

func TestExportErrors(t *testing.T) {
	exp := newBlockingExporter()
	exp.err = errors.New("503")
	close(exp.release)
	p := NewProvider(Config{Exporter: exp})
	for i := 0; i < 3; i++ {
		_, s := p.Tracer("").Start(context.Background(), "s")
		s.End()
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := p.Counters()
	if c.ExportErrors == 0 || c.SpansDropped != 3 || c.SpansExported != 0 {
		t.Errorf("counters %+v", c)
	}
	p.Shutdown(context.Background())
}

// TestManyGoroutines ends spans from many goroutines while the batcher exports and reuses them; run with -race.
func TestManyGoroutines(t *testing.T) {
	var seen atomic.Int64
	exp := exporterFunc(func(spans []*SpanData) {
		for _, d := range spans {
			if d.Name != "work" || d.Duration() < 0 || len(d.Attrs) != 2 {
				t.Errorf("bad span %+v", d)
			}
			seen.Add(1)
		}
	})
	p := NewProvider(Config{Exporter: exp, QueueSize: 1 << 16, BatchSize: 64, BatchTimeout: time.Millisecond})
	tr := p.Tracer("")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				_, s := tr.Start(context.Background(), "work", WithAttrs(Int("g", g), Int("i", i)))
				s.End()
			}
		}()
	}
	wg.Wait()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := p.Counters()
	if c.SpansEnded != 4000 || int64(c.SpansExported) != seen.Load() || c.SpansExported+c.SpansDropped != 4000 {
		t.Errorf("counters %+v, seen %d", c, seen.Load())
	}
}

type exporterFunc func([]*SpanData)

func (f exporterFunc) ExportSpans(_ context.Context, spans []*SpanData) error {
	f(spans)
	return nil
}
func (exporterFunc) Shutdown(context.Context) error { return nil }

// TestBatcherWakes checks that full rings are exported without the timer or a Flush: the batcher is woken by
// the spans themselves.
func TestBatcherWakes(t *testing.T) {
	var exported atomic.Int64
	p := NewProvider(Config{Exporter: exporterFunc(func(spans []*SpanData) { exported.Add(int64(len(spans))) }),
		BatchSize: 8, QueueSize: 1 << 12, BatchTimeout: time.Hour})
	defer p.Shutdown(context.Background())
	tr := p.Tracer("")
	for i := 0; i < 1000; i++ {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := p.Counters()
		// Everything but what is left below one batch in each P's ring has gone out.
		if c.SpansExported+c.SpansDropped+c.QueueDepth == 1000 && c.QueueDepth < uint64(8*len(p.ps)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans stuck in the queue with the timer off: %+v", c)
		}
		time.Sleep(time.Millisecond)
	}
	if exported.Load() == 0 {
		t.Error("nothing exported")
	}
}

// TestBatcherWakeUps covers each way spans leave the rings: a Flush takes everything ended before it; a flow of
// spans (which the batcher's naps export) and a few spans (too few to wake the batcher) all go out without a
// Flush, the last of them on the ticker at the latest.
func TestBatcherWakeUps(t *testing.T) {
	newProvider := func(timeout time.Duration) (*Provider, *atomic.Int64) {
		var exported atomic.Int64
		p := NewProvider(Config{Exporter: exporterFunc(func(spans []*SpanData) { exported.Add(int64(len(spans))) }),
			BatchSize: 8, QueueSize: 1 << 12, BatchTimeout: timeout})
		t.Cleanup(func() { p.Shutdown(context.Background()) })
		return p, &exported
	}
	end := func(p *Provider, n int) {
		tr := p.Tracer("")
		for range n {
			_, s := tr.Start(context.Background(), "s")
			s.End()
		}
	}
	waitFor := func(what string, p *Provider, exported *atomic.Int64, want int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for exported.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %d spans exported: %+v", what, exported.Load(), want, p.Counters())
			}
			time.Sleep(time.Millisecond)
		}
	}

	p, exported := newProvider(time.Hour)
	for round := int64(1); round <= 3; round++ {
		end(p, 1000)
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, c := exported.Load(), p.Counters(); got != round*1000 || c.SpansDropped != 0 || c.QueueDepth != 0 {
			t.Fatalf("flush round %d: %d spans exported, counters %+v", round, got, c)
		}
	}

	p, exported = newProvider(20 * time.Millisecond)
	end(p, 1000)
	waitFor("a flow", p, exported, 1000-int64(p.Counters().SpansDropped))

	p, exported = newProvider(20 * time.Millisecond)
	end(p, 3)
	waitFor("three spans on the ticker", p, exported, 3)
}
