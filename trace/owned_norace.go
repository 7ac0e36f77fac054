//go:build !race

package trace

// Add adds n; only the goroutine pinned to the counter's P calls it (see owned.go).
func (c *ownedCount) Add(n uint64) { c.v += n }

func ownedLoadInt(p *int64) int64     { return *p }
func ownedStoreInt(p *int64, v int64) { *p = v }
