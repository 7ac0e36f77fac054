package trace

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// batcher is the span processor between End and the Exporter. Ended spans go into one of several bounded
// queues (chosen by span ID, so that there is no global lock); one background goroutine swaps each queue for an
// empty one, hands the spans to the exporter in batches, and returns them to the pool. The application never
// waits on it: when a queue is full the span is dropped and counted.
type batcher struct {
	p         *Provider
	exp       Exporter
	queues    []spanQueue
	mask      uint32
	batchSize int
	kickAt    int
	timeout   time.Duration
	expTO     time.Duration

	kick    chan struct{}
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	closed  atomic.Bool
	stopped sync.Once

	exported, errors, failed atomic.Uint64

	// owned by the background goroutine
	spare [][]*Span
	batch []*SpanData
}

type spanQueue struct {
	mu  sync.Mutex
	buf []*Span
	_   [32]byte
}

func newBatcher(p *Provider, exp Exporter, shards, queueSize, batchSize int, timeout, exportTimeout time.Duration) *batcher {
	per := (queueSize + shards - 1) / shards
	b := &batcher{
		p: p, exp: exp, queues: make([]spanQueue, shards), mask: uint32(shards - 1),
		batchSize: batchSize, timeout: timeout, expTO: exportTimeout,
		kick: make(chan struct{}, 1), flushes: make(chan chan struct{}), stop: make(chan struct{}),
		done: make(chan struct{}), spare: make([][]*Span, shards), batch: make([]*SpanData, 0, batchSize),
	}
	b.kickAt = max(1, min(per/2, batchSize/shards))
	for i := range b.queues {
		b.queues[i].buf = make([]*Span, 0, per)
		b.spare[i] = make([]*Span, 0, per)
	}
	go b.run()
	return b
}

func (b *batcher) enqueue(s *Span) bool {
	if b.closed.Load() {
		return false
	}
	q := &b.queues[uint32(s.data.SpanID[0])&b.mask]
	q.mu.Lock()
	n := len(q.buf)
	if n == cap(q.buf) {
		q.mu.Unlock()
		return false
	}
	q.buf = append(q.buf, s)
	q.mu.Unlock()
	if n+1 == b.kickAt {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return true
}

func (b *batcher) depth() uint64 {
	var n int
	for i := range b.queues {
		q := &b.queues[i]
		q.mu.Lock()
		n += len(q.buf)
		q.mu.Unlock()
	}
	return uint64(n)
}

func (b *batcher) run() {
	defer close(b.done)
	tick := time.NewTicker(b.timeout)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			b.drain()
		case <-b.kick:
			b.drain()
		case ch := <-b.flushes:
			b.drain()
			close(ch)
		case <-b.stop:
			b.drain()
			return
		}
	}
}

// drain takes everything queued and exports it.
func (b *batcher) drain() {
	for i := range b.queues {
		q := &b.queues[i]
		q.mu.Lock()
		spans := q.buf
		q.buf = b.spare[i]
		q.mu.Unlock()
		for _, s := range spans {
			b.batch = append(b.batch, &s.data)
			if len(b.batch) == b.batchSize {
				b.export()
			}
		}
		clear(spans)
		b.spare[i] = spans[:0]
	}
	if len(b.batch) > 0 {
		b.export()
	}
}

func (b *batcher) export() {
	ctx, cancel := context.WithTimeout(context.Background(), b.expTO)
	err := b.exp.ExportSpans(ctx, b.batch)
	cancel()
	if err != nil {
		b.errors.Add(1)
		b.failed.Add(uint64(len(b.batch)))
	} else {
		b.exported.Add(uint64(len(b.batch)))
	}
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
