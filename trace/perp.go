package trace

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
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
	queue ring // ended spans: written by this P, exported by the batcher, then taken back by this P for reuse

	// The P's counters (counters.go). Spans queued for export are counted as ended by queue.tail, not ended.
	// Only the goroutine pinned to the P writes them (owned.go).
	unrecorded, recorded, candidates, ended, unitary, dropped ownedCount
	ids                                                       spanIDs
	_                                                         [40]byte // to a multiple of 64 bytes
}

// spanIDs makes the span IDs of one P: wyrand (the generator behind the runtime's cheaprand), its state owned by
// the goroutine pinned to the P, so that an ID costs an add and a multiply, not a call into the runtime.
type spanIDs struct{ state uint64 }

// next returns a new span ID, never zero; only the goroutine pinned to the P calls it.
func (g *spanIDs) next() SpanID {
	for {
		x := ownedLoad(&g.state) + 0xa0761d6478bd642f
		ownedStore(&g.state, x)
		hi, lo := bits.Mul64(x, x^0xe7037ed1a0b428db)
		if v := hi ^ lo; v != 0 {
			var id SpanID
			binary.BigEndian.PutUint64(id[:], v)
			return id
		}
	}
}

func newPerP(n, queueSize int) []perP {
	ps := make([]perP, n)
	size := 1
	for size < (queueSize+n-1)/n {
		size *= 2
	}
	for i := range ps {
		ps[i].queue.init(size)
		ps[i].ids.state = rand.Uint64()
	}
	return ps
}

func numP() int { return max(runtime.GOMAXPROCS(0), runtime.NumCPU()) }

// ring is a bounded single-producer single-consumer queue of spans, whose exported spans go back to the producer
// for reuse. Its indexes only grow; a slot is index&mask:
//
//	reuse <= head <= tail <= reuse+len(slots)
//
// [head, tail) are ended spans waiting for export; the batcher hands them to the exporter straight from the
// slots (no copy, no per-span write) and then moves head past them. [reuse, head) are exported spans that the
// P's next Starts take, in order: the batcher never touches the spans or writes a slot, so both stay in the
// cache of the CPU that used them. A push that laps a slot still holding an exported span nobody took (its
// goroutines moved to another P) gives that span to the pool.
type ring struct {
	head atomic.Uint64 // next slot to export; written by the consumer once the exporter has returned
	_    [56]byte
	tail uint64 // next slot to write; written by the producer (publish), read atomically by the consumer
	// reuse is the next exported slot to take; only the goroutine pinned to the P reads and writes it (owned.go).
	reuse uint64
	_     [48]byte
	mask  uint64
	slots []*SpanData // each the data of a Span (spanOf)
}

func (r *ring) init(size int) {
	r.slots = make([]*SpanData, size)
	r.mask = uint64(size - 1)
}

// push adds s, reporting false when the ring is full. When it laps an exported span that was never taken, it
// returns that span as old, for the caller to give to the pool. Only the producer calls it.
func (r *ring) push(s *Span) (ok bool, old *Span) {
	t := atomic.LoadUint64(&r.tail) // a plain load on amd64; atomic for the race detector
	if t-r.head.Load() > r.mask {
		return false, nil
	}
	slot := &r.slots[t&r.mask]
	if t-ownedLoad(&r.reuse) > r.mask { // the slot holds index t-len(slots): exported (head is past it), not taken
		if *slot != nil {
			old = spanOf(*slot)
		}
		ownedStore(&r.reuse, t-r.mask)
	}
	if *slot != &s.data { // the span often goes back to the slot it was taken from: no write, no write barrier
		*slot = &s.data
	}
	publish(&r.tail, t+1)
	return true, old
}

// take returns an exported span to reuse, or nil when there is none. Only the producer calls it.
func (r *ring) take() *Span {
	u, h := ownedLoad(&r.reuse), r.head.Load()
	if u >= h {
		return nil
	}
	s := r.slots[u&r.mask]
	if u+1 < h {
		// The next Start takes the next span: have the CPU fetch it meanwhile. An exported span has usually
		// left the cache, and clearing it is otherwise the most expensive part of a start. (Read before reuse
		// moves on, after which a push may lap the slot.)
		prefetchSpan(unsafe.Pointer(spanOf(r.slots[(u+1)&r.mask])))
	}
	ownedStore(&r.reuse, u+1)
	return spanOf(s)
}

// exportable returns the oldest spans waiting for export, at most n, in one run of slots (a run stops where the
// slots wrap around). The consumer exports them and then calls exported. Only the consumer calls it.
func (r *ring) exportable(n uint64) []*SpanData {
	h := r.head.Load()
	n = min(n, r.loadTail()-h, r.mask+1-(h&r.mask))
	i := h & r.mask
	return r.slots[i : i+n : i+n]
}

// exported moves head past n spans that the exporter is done with: the producer may now reuse them.
func (r *ring) exported(n uint64) { r.head.Store(r.head.Load() + n) }

func (r *ring) len() uint64 { return r.loadTail() - r.head.Load() }

// loadTail reads the tail from any goroutine.
func (r *ring) loadTail() uint64 { return atomic.LoadUint64(&r.tail) }

// overflow is the queue used when a goroutine runs on a P beyond those counted at start (GOMAXPROCS grew).
type overflow struct {
	mu    sync.Mutex
	spans []*Span
}
