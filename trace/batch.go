package trace

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// batcher is the span processor between End and the Exporter. An ended span goes into the ring of the P its
// goroutine runs on (no lock, no shared cache line); one background goroutine hands the exporter each P's spans
// straight from that ring, in batches, and then marks them exported, upon which that P's next Starts reuse
// them. The application never waits on it: when a ring is full the span is dropped and counted.
type batcher struct {
	p         *Provider
	exp       Exporter
	batchSize int
	kickAt    uint64 // ring length at which a parked batcher is woken
	wakeAt    uint64 // ring length at which a napping batcher is woken
	yieldAt   uint64 // ring length at which a producer yields to a batcher that was woken and has not run
	crowdAt   uint64 // ring length at which a producer yields to the batcher whatever its state
	timeout   time.Duration
	expTO     time.Duration

	over overflow

	kick    chan struct{}
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	closed  atomic.Bool
	// state is what the background goroutine is doing: running, parked (waiting for a kick or the ticker), or
	// napping (spans are flowing: it will look again after napTime by itself), or kicked (woken and not yet
	// run). The first producer to see it parked with kickAt spans in its ring, or napping with wakeAt, kicks it.
	state   atomic.Uint32
	stopped sync.Once

	exported, errors, failed atomic.Uint64

	batch []*SpanData // owned by the background goroutine: spans of the overflow queue
}

func newBatcher(p *Provider, exp Exporter, batchSize int, timeout, exportTimeout time.Duration) *batcher {
	b := &batcher{
		p: p, exp: exp, batchSize: batchSize, timeout: timeout, expTO: exportTimeout,
		kick: make(chan struct{}, 1), flushes: make(chan chan struct{}), stop: make(chan struct{}),
		done: make(chan struct{}), batch: make([]*SpanData, 0, batchSize),
	}
	per := uint64(len(p.ps[0].queue.slots))
	b.kickAt = max(1, min(per/2, uint64(batchSize)))
	b.wakeAt = max(b.kickAt, per/2)
	b.yieldAt = max(b.kickAt+1, min(2*b.kickAt, per*3/4))
	b.crowdAt = max(b.yieldAt, per*3/4)
	go b.run()
	return b
}

// enqueue queues an ended span for export and counts it as ended; false means the queue was full (or shut
// down), the span was not taken, and it was counted as dropped.
func (b *batcher) enqueue(s *Span) bool {
	if b.closed.Load() {
		b.p.count(countEndedDropped)
		return false
	}
	pid := procPin()
	if pid >= len(b.p.ps) {
		procUnpin()
		return b.enqueueOverflow(s)
	}
	pp := &b.p.ps[pid]
	ok, old := pp.queue.push(s) // the ring's tail counts the spans it took as ended (see Counters)
	if !ok {
		pp.ended.Add(1)
		pp.dropped.Add(1)
	}
	n := pp.queue.len()
	procUnpin()
	if old != nil {
		b.p.release(old) // after unpinning: sync.Pool.Put may take a lock
	}
	if n >= b.kickAt {
		if st := b.state.Load(); (st == batcherParked || st == batcherNapping && n >= b.wakeAt) &&
			b.state.CompareAndSwap(st, batcherKicked) {
			select {
			case b.kick <- struct{}{}:
			default:
			}
		} else if n%64 == 0 && (st == batcherKicked && n >= b.yieldAt || n >= b.crowdAt) {
			// The batcher has been woken but has not run (every P is busy with goroutines that never block), or
			// it is running but the ring is still filling up (it was descheduled). Give it this P for a moment
			// rather than drop spans; this costs a yield every 64 spans, never a wait. A batcher that is running
			// on another CPU is not yielded to: the yield would only cost this goroutine a trip through the
			// scheduler.
			runtime.Gosched()
		}
	}
	return ok
}

func (b *batcher) enqueueOverflow(s *Span) bool {
	b.over.mu.Lock()
	defer b.over.mu.Unlock()
	if len(b.over.spans) >= len(b.p.ps[0].queue.slots) {
		b.p.count(countEndedDropped)
		return false
	}
	b.p.count(countEnded)
	b.over.spans = append(b.over.spans, s)
	return true
}

func (b *batcher) depth() uint64 {
	var n uint64
	for i := range b.p.ps {
		n += b.p.ps[i].queue.len()
	}
	b.over.mu.Lock()
	n += uint64(len(b.over.spans))
	b.over.mu.Unlock()
	return n
}

// The batcher's states (batcher.state).
const (
	batcherRunning uint32 = iota
	batcherParked
	batcherNapping
	batcherKicked // a producer woke it from parked or napping, and it has not run since
)

// napTime is how long the batcher naps while spans are flowing. Waking a parked goroutine costs the producer that
// kicks it a system call (several microseconds here, once per batch); a nap ends on the batcher's own timer, so
// that at up to a batch per napTime per P no producer pays for a wake-up, and above that they kick once per half
// ring instead of once per batch.
const napTime = time.Millisecond

func (b *batcher) run() {
	defer close(b.done)
	tick := time.NewTicker(b.timeout)
	defer tick.Stop()
	nap := time.NewTimer(napTime)
	defer nap.Stop()
	busy := false // the last drain found a batch's worth of spans in some ring
	for {
		var napped <-chan time.Time
		if busy {
			b.state.Store(batcherNapping)
			nap.Reset(napTime)
			napped = nap.C
		} else {
			b.state.Store(batcherParked)
			if b.full() { // a ring filled while this goroutine was draining: no producer saw it parked
				b.state.Store(batcherRunning)
				busy = b.drain()
				select { // never starve a flush or a shutdown
				case ch := <-b.flushes:
					b.drain()
					close(ch)
				case <-b.stop:
					b.drain()
					return
				default:
				}
				continue
			}
		}
		select {
		case <-tick.C:
		case <-napped:
		case <-b.kick:
		case ch := <-b.flushes:
			b.state.Store(batcherRunning)
			busy = b.drain()
			close(ch)
			continue
		case <-b.stop:
			b.state.Store(batcherRunning)
			b.drain()
			return
		}
		b.state.Store(batcherRunning)
		busy = b.drain()
	}
}

// full reports whether some P's ring holds a batch's worth of spans.
func (b *batcher) full() bool {
	for i := range b.p.ps {
		if b.p.ps[i].queue.len() >= b.kickAt {
			return true
		}
	}
	return false
}

// drain takes everything queued and exports it. It reports whether some P's ring held a batch's worth (kickAt).
func (b *batcher) drain() (busy bool) {
	for i := range b.p.ps {
		// Take only what is there now, so that a busy P cannot keep the batcher here forever. The batcher never
		// reads a span or writes a slot itself, so that their memory stays in the cache of the CPU that wrote it.
		q := &b.p.ps[i].queue
		n := q.len()
		busy = busy || n >= b.kickAt
		for n > 0 {
			spans := q.exportable(min(n, uint64(b.batchSize)))
			b.export(spans)
			q.exported(uint64(len(spans))) // after the exporter is done with them: the P may now reuse them
			n -= uint64(len(spans))
		}
	}
	b.over.mu.Lock()
	over := b.over.spans
	b.over.spans = nil
	b.over.mu.Unlock()
	for _, s := range over {
		if b.batch = append(b.batch, &s.data); len(b.batch) == b.batchSize {
			b.exportOverflow()
		}
	}
	if len(b.batch) > 0 {
		b.exportOverflow()
	}
	return busy
}

// export sends a batch of spans and counts the outcome.
func (b *batcher) export(spans []*SpanData) {
	ctx, cancel := context.WithTimeout(context.Background(), b.expTO)
	err := b.exp.ExportSpans(ctx, spans)
	cancel()
	if err != nil {
		b.errors.Add(1)
		b.failed.Add(uint64(len(spans)))
	} else {
		b.exported.Add(uint64(len(spans)))
	}
}

// exportOverflow exports the overflow queue's spans gathered in b.batch and gives them to the pool.
func (b *batcher) exportOverflow() {
	b.export(b.batch)
	for i, d := range b.batch {
		b.p.release(spanOf(d))
		b.batch[i] = nil
	}
	b.batch = b.batch[:0]
}

func (b *batcher) flush(ctx context.Context) error {
	if b.closed.Load() {
		return nil
	}
	ch := make(chan struct{})
	select {
	case b.flushes <- ch:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *batcher) shutdown(ctx context.Context) error {
	var err error
	b.stopped.Do(func() {
		b.closed.Store(true)
		close(b.stop)
		select {
		case <-b.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		err = errors.Join(err, b.exp.Shutdown(ctx))
	})
	return err
}
