package concurrency_test

import (
	"context"
	"testing"
	"time"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/concurrency"
)

func events(spans []*trace.SpanData, name string) []trace.Event {
	var out []trace.Event
	for _, s := range spans {
		for _, e := range s.Events {
			if e.Name == name {
				out = append(out, e)
			}
		}
	}
	return out
}

// TestMutex has one goroutine hold the lock while another waits, and checks that the waiter's acquisition names
// the holder's release.
func TestMutex(t *testing.T) {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	defer p.Shutdown(context.Background())
	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	var mu concurrency.Mutex
	mu.Lock(ctx) // uncontended: nothing recorded
	g := trace.NewGroup(ctx)
	waiting := make(chan struct{})
	g.Go(func(ctx context.Context) error {
		ctx, span := p.Tracer("test").Start(ctx, "waiter")
		defer span.End()
		close(waiting)
		mu.Lock(ctx)
		mu.Unlock(ctx)
		return nil
	})
	<-waiting
	// Unlock only once the waiter is blocked in Lock (it counts itself as waiting first).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the waiter never waited")
		}
		if mu.Waiters() > 0 {
			break
		}
	}
	mu.Unlock(ctx)
	g.Wait()
	root.End()
	p.Flush(context.Background())
	spans := rec.Spans()
	rel := events(spans, concurrency.EventLockRelease)
	acq := events(spans, trace.EventLockAcq)
	wait := events(spans, trace.EventLockWait)
	if len(rel) != 1 || len(acq) != 1 || len(wait) != 1 {
		t.Fatalf("%d release, %d acquire, %d wait events; want 1 each", len(rel), len(acq), len(wait))
	}
	if acq[0].Cause.EventID != (trace.EventID{Unit: rel[0].Unit, Seq: rel[0].Seq}) {
		t.Errorf("acquire names %v, want the release %v:%d", acq[0].Cause, rel[0].Unit, rel[0].Seq)
	}
	if acq[0].Seq <= wait[0].Seq || acq[0].Unit != wait[0].Unit {
		t.Errorf("acquire %d:%d does not follow wait %d:%d on one unit", acq[0].Unit, acq[0].Seq, wait[0].Unit, wait[0].Seq)
	}
}

// TestHandOff sends values from one unit to another and checks each receive names its send.
func TestHandOff(t *testing.T) {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	defer p.Shutdown(context.Background())
	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	ch := make(chan concurrency.Message[int])
	task := trace.Go(ctx, func(ctx context.Context) {
		ctx, span := p.Tracer("test").Start(ctx, "consumer")
		defer span.End()
		for {
			v, ok, err := concurrency.Receive(ctx, ch)
			if err != nil || !ok {
				return
			}
			_ = v
		}
	})
	for i := 0; i < 3; i++ {
		if err := concurrency.Send(ctx, ch, i); err != nil {
			t.Fatal(err)
		}
	}
	close(ch)
	task.Join()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := concurrency.Send(cctx, make(chan concurrency.Message[int]), 1); err == nil {
		t.Error("Send on an ended context: no error")
	}
	root.End()
	p.Flush(context.Background())
	spans := rec.Spans()
	sends, recvs := events(spans, trace.EventSend), events(spans, trace.EventReceive)
	if len(recvs) != 3 || len(sends) < 3 {
		t.Fatalf("%d sends, %d receives", len(sends), len(recvs))
	}
	for i, r := range recvs {
		if r.Cause.EventID != (trace.EventID{Unit: sends[i].Unit, Seq: sends[i].Seq}) {
			t.Errorf("receive %d names %v, want send %d:%d", i, r.Cause, sends[i].Unit, sends[i].Seq)
		}
	}
	// Without a span nothing is recorded and nothing fails.
	var mu concurrency.Mutex
	mu.Lock(context.Background())
	mu.Unlock(context.Background())
	c2 := make(chan concurrency.Message[string], 1)
	concurrency.Send(context.Background(), c2, "x")
	if v, ok, _ := concurrency.Receive(context.Background(), c2); !ok || v != "x" {
		t.Errorf("untraced hand-off: %q %v", v, ok)
	}
}
