//go:build race

package trace

import "sync/atomic"

// The race detector knows nothing of pinning: race builds move owner-only state atomically (see owned.go).

func ownedLoad(p *uint64) uint64     { return atomic.LoadUint64(p) }
func ownedStore(p *uint64, v uint64) { atomic.StoreUint64(p, v) }
