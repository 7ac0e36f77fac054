package trace

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The hot path keeps its state per P (the Go scheduler's processor): each P has its own ring of ended spans
// waiting for export, its own stack of exported spans to reuse, and its own counters, so that two CPUs never
// write the same cache line for a span and no lock is taken. procPin (the same call sync.Pool makes) keeps the
// goroutine on its P while it touches that state.

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// perP is one P's share of a provider's state.
type perP struct {
	queue ring        // ended spans: written by this P, read by the batcher
	free  freeBatches // exported spans: pushed by the batcher, taken by this P

	// The P's counters (counters.go). Spans queued for export are counted as ended by queue.tail, not ended.
	// Only the goroutine pinned to the P writes them (owned.go).
	unrecorded, recorded, candidates, ended, unitary, dropped ownedCount
	_                                                         [48]byte // to a multiple of 64 bytes
}

func newPerP(n, queueSize int) []perP {
	ps := make([]perP, n)
	size := 1
	for size < (queueSize+n-1)/n {
		size *= 2
	}
	for i := range ps {
		ps[i].queue.init(size)
	}
	return ps
}

func numP() int { return max(runtime.GOMAXPROCS(0), runtime.NumCPU()) }

// ring is a bounded single-producer single-consumer queue of spans.
type ring struct {
	head  atomic.Uint64 // next slot to read; written by the consumer
	_     [56]byte
	tail  uint64 // next slot to write; written by the producer (publish), read atomically by the consumer
	_     [56]byte
	mask  uint64
	slots []*Span // ordered by head and tail: a slot is written before tail (or head) moves past it
}

func (r *ring) init(size int) {
	r.slots = make([]*Span, size)
	r.mask = uint64(size - 1)
}

// push adds s, reporting false when the ring is full. Only the producer calls it.
func (r *ring) push(s *Span) bool {
	t := atomic.LoadUint64(&r.tail) // a plain load on amd64; atomic for the race detector
	if t-r.head.Load() > r.mask {
		return false
	}
	r.slots[t&r.mask] = s
	publish(&r.tail, t+1)
	return true
}

// drain hands the n oldest spans (n at most len) to f, oldest first, and then removes them, moving head once.
// Only the consumer calls it.
func (r *ring) drain(n uint64, f func(*Span)) {
	h := r.head.Load()
	for i := h; i < h+n; i++ {
		slot := &r.slots[i&r.mask]
		f(*slot)
		*slot = nil
	}
	r.head.Store(h + n)
}

func (r *ring) len() uint64 { return r.loadTail() - r.head.Load() }

// loadTail reads the tail from any goroutine.
func (r *ring) loadTail() uint64 { return atomic.LoadUint64(&r.tail) }

// overflow is the queue used when a goroutine runs on a P beyond those counted at start (GOMAXPROCS grew).
type overflow struct {
	mu    sync.Mutex
	spans []*Span
}

// spanBatch is a set of exported spans handed back to one P for reuse: the very batch the exporter was given
// (the spans of one P), so that handing them over writes nothing per span and touches none of their memory,
// which stays in the cache of the CPU that used it. A SpanData is the first field of its Span (spanOf).
type spanBatch struct {
	spans []*SpanData
	// taken counts the spans the P has taken. Only the goroutine pinned to the P reads and writes it, and to the
	// goroutine that spends the batch (owned.go).
	taken int64
	next  *spanBatch // below this one in the P's stack
}

// freeBatches is a lock-free stack of batches for one P. The batcher is the only pusher and the P the only
// popper; with a single popper a batch cannot be popped and pushed back between a pop's read and its
// compare-and-swap, so there is no ABA.
type freeBatches struct {
	head atomic.Pointer[spanBatch]
	n    atomic.Int64 // batches in the stack
	_    [48]byte
}

// maxFreeBatches bounds the batches kept per P; spans beyond go back to the sync.Pool, which the garbage
// collector trims.
const maxFreeBatches = 4

// push hands b to the P, unless it holds enough already.
func (f *freeBatches) push(b *spanBatch) bool {
	if f.n.Load() >= maxFreeBatches {
		return false
	}
	f.n.Add(1)
	for {
		old := f.head.Load()
		b.next = old
		if f.head.CompareAndSwap(old, b) {
			return true
		}
	}
}

// pop takes a span from the top batch, or nil when there is none. A batch it finds empty is removed and
// returned as spent, for the caller to give back once unpinned (giving it back may take a lock). Only the
// goroutine pinned to the P pops.
func (f *freeBatches) pop() (s *Span, spent *spanBatch) {
	for {
		b := f.head.Load()
		if b == nil {
			return nil, spent
		}
		n := int64(len(b.spans))
		if i := ownedLoadInt(&b.taken); i < n {
			taken := spanOf(b.spans[i])
			if i+1 < n {
				// The next Start takes the next span: have the CPU fetch it meanwhile. An exported span has
				// usually left the cache, and clearing it is otherwise the most expensive part of a start.
				prefetchSpan(unsafe.Pointer(b.spans[i+1]))
			}
			ownedStoreInt(&b.taken, i+1)
			return taken, spent
		}
		if spent != nil { // never in practice: batches are pushed full
			return nil, spent
		}
		if f.head.CompareAndSwap(b, b.next) {
			f.n.Add(-1)
			spent = b
		}
	}
}
