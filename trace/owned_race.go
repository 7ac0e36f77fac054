//go:build race

package trace

import "sync/atomic"

// Add adds n; only the goroutine pinned to the counter's P calls it (see owned.go).
func (c *ownedCount) Add(n uint64) { atomic.AddUint64(&c.v, n) }

func ownedLoadInt(p *int64) int64     { return atomic.LoadInt64(p) }
func ownedStoreInt(p *int64, v int64) { atomic.StoreInt64(p, v) }
