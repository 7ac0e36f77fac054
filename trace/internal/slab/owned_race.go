//go:build race

package slab

import "sync/atomic"

// takeOwned moves *next on by n, if that stays within limit, and returns where it was. Only the goroutine
// pinned to the P that owns *next calls it (see the package comment); a race build moves it atomically, since
// the race detector knows nothing of pinning.
func takeOwned(next *uint32, limit, n uint32) (uint32, bool) {
	for {
		i := atomic.LoadUint32(next)
		if n > limit-i {
			return 0, false
		}
		if atomic.CompareAndSwapUint32(next, i, i+n) {
			return i, true
		}
	}
}
