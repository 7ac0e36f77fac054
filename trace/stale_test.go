package trace

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

type staleKey struct{}

// churn starts and ends spans on p from two goroutines until stop is closed, so that ended spans' memory is
// reused while a test holds contexts of ended spans.
func churn(p *Provider, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	tr := p.Tracer("churn")
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, s := tr.Start(context.Background(), "churn")
				_, c := tr.Start(ctx, "churn child")
				c.AddEvent("e")
				c.End()
				s.End()
			}
		}()
	}
	return &wg
}

// TestContextOutlivesSpan keeps the context of an ended span and uses it, from other goroutines too, while new
// spans reuse the ended span's memory: it must go on answering for the ended span, and never reach the span
// that now lives in its memory.
func TestContextOutlivesSpan(t *testing.T) {
	for _, exporter := range []struct {
		name string
		e    Exporter
	}{{"no exporter", nil}, {"batcher", discardExporter{}}} {
		t.Run(exporter.name, func(t *testing.T) {
			p := NewProvider(Config{Exporter: exporter.e, BatchSize: 8})
			t.Cleanup(func() { p.Shutdown(context.Background()) })
			tr := p.Tracer("test")
			stop := make(chan struct{})
			wg := churn(p, stop)
			defer func() { close(stop); wg.Wait() }()

			iterations := 2000
			if raceEnabled {
				iterations = 500
			}
			reused := 0
			for i := range iterations {
				base, cancel := context.WithCancel(context.WithValue(context.Background(), staleKey{}, i))
				held, s := tr.Start(base, "held")
				want := s.SpanContext()
				s.End()

				// A new span on this goroutine most likely takes the ended span's memory.
				_, next := tr.Start(context.Background(), "next")
				if next == s {
					reused++
				}
				// The held context is used on another goroutine, as a library's watchdog would, while this one
				// keeps starting spans.
				done := make(chan struct{})
				go func() {
					defer close(done)
					if SpanContextFromContext(held) != want {
						t.Errorf("iteration %d: the held context's span context changed", i)
					}
					if SpanFromContext(held) != nil {
						t.Errorf("iteration %d: SpanFromContext returned a span after End", i)
					}
					if got := held.Value(staleKey{}); got != i {
						t.Errorf("iteration %d: Value = %v", i, got)
					}
					<-held.Done()
				}()
				_, c := tr.Start(held, "child of ended")
				if c.data.TraceID != want.TraceID || c.data.ParentID != want.SpanID {
					t.Errorf("iteration %d: child of the held context has trace %v parent %v, want %v %v",
						i, c.data.TraceID, c.data.ParentID, want.TraceID, want.SpanID)
				}
				if id := RecordSend(held); id.IsValid() {
					t.Errorf("iteration %d: RecordSend on an ended span's context recorded %v", i, id)
				}
				if len(next.data.Events) != 0 {
					t.Errorf("iteration %d: the span reusing the memory got events %v", i, next.data.Events)
				}
				c.End()
				next.End()
				cancel()
				<-done
				if t.Failed() {
					return
				}
			}
			t.Logf("%d of %d ended spans were reused at once", reused, iterations)
			if exporter.e == nil && reused == 0 {
				t.Error("no span was reused: the test did not test reuse")
			}
		})
	}
}

// TestUnitOutlivesSpan ends the span that started a unit before the spans started after it on the same unit:
// the unit's events keep being numbered in order, however the ended span's memory is reused.
func TestUnitOutlivesSpan(t *testing.T) {
	p := NewProvider(Config{}) // no exporter: an ended span's memory is reused at once
	tr := p.Tracer("test")
	stop := make(chan struct{})
	wg := churn(p, stop)
	defer func() { close(stop); wg.Wait() }()

	ctx, root := tr.Start(context.Background(), "root")
	unit := root.Unit()
	root.End()
	var last uint32 = 2 // root's start and end
	for i := range 300 {
		_, other := tr.Start(context.Background(), "other") // most likely in root's memory, the first time
		_, c := tr.Start(ctx, "child")
		if c.data.Unit != unit || c.data.StartSeq != last+1 {
			t.Fatalf("child %d: unit %x seq %d, want unit %x seq %d", i, c.data.Unit, c.data.StartSeq, unit, last+1)
		}
		c.End() // c's memory may be reused from here on
		if got := CurrentEvent(ctx); got != (EventID{Unit: unit, Seq: last + 2}) {
			t.Fatalf("child %d: CurrentEvent after its end = %v, want %x:%d", i, got, unit, last+2)
		}
		last += 2
		other.End()
	}
}

// TestForkJoinAfterEnd forks and joins from a context whose span has ended: the new unit's spans are children of
// the ended span, and no fork or join event lands on the span that reuses its memory.
func TestForkJoinAfterEnd(t *testing.T) {
	p := NewProvider(Config{}) // no exporter: an ended span's memory is reused at once
	tr := p.Tracer("test")
	for i := range 50 {
		ctx, root := tr.Start(context.Background(), "root")
		want, rootUnit := root.SpanContext(), root.Unit()
		root.End()
		_, other := tr.Start(context.Background(), "other")
		type seen struct {
			trace    TraceID
			parent   SpanID
			unit     uint64
			startSeq uint32
		}
		var fromTask, fromGroup seen
		worker := func(ctx context.Context, into *seen) {
			_, w := tr.Start(ctx, "worker")
			*into = seen{w.data.TraceID, w.data.ParentID, w.data.Unit, w.data.StartSeq}
			w.End()
		}
		task := Go(ctx, func(ctx context.Context) { worker(ctx, &fromTask) })
		g := NewGroup(ctx)
		g.Go(func(ctx context.Context) error { worker(ctx, &fromGroup); return nil })
		task.Join()
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		for name, got := range map[string]seen{"Go": fromTask, "Group.Go": fromGroup} {
			if got.trace != want.TraceID || got.parent != want.SpanID || got.unit == rootUnit || got.startSeq != 1 {
				t.Errorf("iteration %d: %s worker %+v, want a child of %v on a new unit", i, name, got, want.SpanID)
			}
		}
		if len(other.data.Events) != 0 {
			t.Errorf("iteration %d: the span started after root ended got events %v", i, other.data.Events)
		}
		other.End()
	}
}

// TestRingReuse has several goroutines share each P while the batcher exports spans from the Ps' rings and the
// Ps reuse them: under -race, the export, the reuse and a push that laps a slot must be ordered for the detector
// too.
func TestRingReuse(t *testing.T) {
	p := NewProvider(Config{Exporter: discardExporter{}, BatchSize: 4, BatchTimeout: time.Millisecond})
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	tr := p.Tracer("test")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				ctx, s := tr.Start(context.Background(), "s")
				_, c := tr.Start(ctx, "c")
				c.End()
				s.End()
				if i%64 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := p.Counters(); c.SpansEnded != 8*3000*2 {
		t.Errorf("ended %d spans, want %d", c.SpansEnded, 8*3000*2)
	}
}
