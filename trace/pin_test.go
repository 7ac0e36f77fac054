package trace

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestNoBlockingWhilePinned runs spans on every P while the garbage collector empties sync.Pools and other
// goroutines contend for the runtime's pool lock. A goroutine that blocked while pinned (procPin) would crash
// the process with "schedule: holding locks"; giving a spent batch back to its sync.Pool once did.
func TestNoBlockingWhilePinned(t *testing.T) {
	// More Ps than CPUs make the lock contended often enough to crash the old code within a second or two.
	for _, procs := range []int{4, 8} {
		prev := runtime.GOMAXPROCS(procs)
		blockWhilePinned(t)
		runtime.GOMAXPROCS(prev)
	}
}

func blockWhilePinned(t *testing.T) {
	p := NewProvider(Config{Exporter: discardExporter{}, BatchSize: 8, QueueSize: 64})
	defer p.Shutdown(context.Background())
	tr := p.Tracer("pin")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, parent := tr.Start(context.Background(), "parent")
			defer parent.End()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 100 {
					_, s := tr.Start(ctx, "child")
					s.End()
				}
			}
		}()
	}
	wg.Add(2)
	go func() { // empties every sync.Pool, so that the next Put on each takes the runtime's pool lock
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	go func() { // contends for that lock with pools of its own
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				var pool sync.Pool
				pool.Put(new(int))
			}
		}
	}()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if c := p.Counters(); c.SpansEnded == 0 {
		t.Fatal("no span ended")
	}
}
