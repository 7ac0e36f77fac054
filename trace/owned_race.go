//go:build race

package trace

import "sync/atomic"

// The race detector knows nothing of pinning: race builds move owner-only state atomically (see owned.go).

func ownedLoadInt(p *int64) int64     { return atomic.LoadInt64(p) }
func ownedStoreInt(p *int64, v int64) { atomic.StoreInt64(p, v) }
