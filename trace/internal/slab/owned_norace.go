//go:build !race

package slab

// takeOwned moves *next on by n, if that stays within limit, and returns where it was. Only the goroutine
// pinned to the P that owns *next calls it (see the package comment).
func takeOwned(next *uint32, limit, n uint32) (uint32, bool) {
	i := *next
	if n > limit-i {
		return 0, false
	}
	*next = i + n
	return i, true
}
