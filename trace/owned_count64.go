//go:build !race && (amd64 || arm64)

package trace

// Add adds n; only the goroutine pinned to the counter's P calls it (see owned.go). A 64-bit platform writes
// the word at once, so a reader on another P never sees half of it.
func (c *ownedCount) Add(n uint64) { c.v += n }
