// Package slab hands out small objects that are never reused, carved from per-P slabs, so that the library's hot
// paths (a span's context, an extracted remote context, an injected header value) cost a fraction of an
// allocation each.
//
// It sits under the core package trace and its propagators. Such objects outlive the call that made them
// (contexts and header values are kept by whoever received them), so they cannot be pooled: the garbage
// collector frees a slab once nothing refers to any object in it. The price is that one object kept long keeps
// its whole slab alive; slabs are kept small (a few KiB) for that reason.
//
// Each P (the Go scheduler's processor) has a slab of each kind in hand, so that two CPUs do not take from the
// same cache line. A slot is taken by the goroutine pinned to the P (procPin, as sync.Pool does): pinned, it
// cannot be preempted, and the next goroutine on the P is ordered after it by the scheduler, so the slab's index
// needs no locked instruction (owned_norace.go). The race detector knows nothing of pinning: race builds move
// the index atomically (owned_race.go).
package slab

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

func numP() int { return max(runtime.GOMAXPROCS(0), runtime.NumCPU()) }

// Slabs hands out zeroed *T, each once, from per-P slabs of about the size given to New.
type Slabs[T any] struct {
	n   uint32 // objects per slab
	per []shard[T]
}

type shard[T any] struct {
	cur atomic.Pointer[block[T]]
	_   [56]byte // one cache line per P
}

type block[T any] struct {
	next  uint32 // the next free slot; only the goroutine pinned to the shard's P moves it
	items []T
}

// New makes Slabs whose slabs hold as many T as fit in bytes (at least one), bytes being one of the runtime's
// size classes (4096, 8192, ...).
func New[T any](bytes int) *Slabs[T] {
	var t T
	// The allocator puts an 8-byte header before a large object that holds pointers: leave room for it, or a
	// slab of exactly bytes lands in the next size class and wastes up to a seventh of it.
	return &Slabs[T]{n: uint32(max(1, (bytes-mallocHeader)/int(unsafe.Sizeof(t)))), per: make([]shard[T], numP())}
}

const mallocHeader = 8

// Take returns a fresh, zero *T that nothing else has been given.
func (s *Slabs[T]) Take() *T {
	pid := procPin()
	if pid >= len(s.per) { // GOMAXPROCS grew past the Ps counted in New: no slab of its own
		procUnpin()
		return new(T)
	}
	if b := s.per[pid].cur.Load(); b != nil {
		if i, ok := takeOwned(&b.next, uint32(len(b.items)), 1); ok {
			procUnpin()
			return &b.items[i]
		}
	}
	procUnpin()
	return s.refill()
}

// TakePinned is Take for a goroutine already pinned to P pid (procPin): it returns nil, taking nothing, when
// the P's slab is used up or pid is beyond the Ps counted when s was made; the caller then unpins and calls Take.
func (s *Slabs[T]) TakePinned(pid int) *T {
	if pid < len(s.per) {
		if b := s.per[pid].cur.Load(); b != nil {
			if i, ok := takeOwned(&b.next, uint32(len(b.items)), 1); ok {
				return &b.items[i]
			}
		}
	}
	return nil
}

// refill makes a new slab, unpinned (allocating may block), and hands it to the P the goroutine then runs on.
func (s *Slabs[T]) refill() *T {
	b := &block[T]{items: make([]T, s.n), next: 1}
	pid := procPin()
	if pid < len(s.per) { // else GOMAXPROCS grew: the slab serves this one object
		s.per[pid].cur.Store(b)
	}
	procUnpin()
	return &b.items[0]
}

// Strings makes immutable strings in per-P chunks of bytes, which hold no pointers: the garbage collector never
// scans them.
type Strings struct {
	size uint32 // bytes per chunk
	per  []stringShard
}

type stringShard struct {
	cur atomic.Pointer[chunk]
	_   [56]byte
}

type chunk struct {
	next uint32 // the first free byte; only the goroutine pinned to the shard's P moves it
	buf  []byte
}

// NewStrings makes Strings whose chunks are size bytes; strings longer than an eighth of that are allocated
// on their own.
func NewStrings(size int) *Strings {
	return &Strings{size: uint32(size), per: make([]stringShard, numP())}
}

// Make returns b as a string. The bytes are copied: b may be reused.
func (s *Strings) Make(b []byte) string {
	n := uint32(len(b))
	if n == 0 || n > s.size/8 {
		return string(b)
	}
	pid := procPin()
	if pid >= len(s.per) { // GOMAXPROCS grew past the Ps counted in NewStrings: no chunk of its own
		procUnpin()
		return string(b)
	}
	if c := s.per[pid].cur.Load(); c != nil {
		if off, ok := takeOwned(&c.next, uint32(len(c.buf)), n); ok {
			procUnpin()
			return c.string(off, b)
		}
	}
	procUnpin()
	c := &chunk{buf: make([]byte, s.size), next: n}
	pid = procPin()
	if pid < len(s.per) {
		s.per[pid].cur.Store(c)
	}
	procUnpin()
	return c.string(0, b)
}

// string copies b to the chunk at off, a range no one else was given, and returns it as a string; the chunk's
// bytes there are never written again.
func (c *chunk) string(off uint32, b []byte) string {
	dst := c.buf[off : off+uint32(len(b))]
	copy(dst, b)
	return unsafe.String(unsafe.SliceData(dst), len(dst))
}
