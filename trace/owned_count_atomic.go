//go:build race || !(amd64 || arm64)

package trace

import "sync/atomic"

// Add adds n; only the goroutine pinned to the counter's P calls it (see owned.go). Race builds, and platforms
// where a plain 64-bit add could be seen half done by a reader, add atomically.
func (c *ownedCount) Add(n uint64) { atomic.AddUint64(&c.v, n) }
