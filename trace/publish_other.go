//go:build !amd64 || race

package trace

import "sync/atomic"

// publish stores v to *p, which a consumer on another CPU reads with an atomic load, after every store before
// it.
func publish(p *uint64, v uint64) { atomic.StoreUint64(p, v) }

// publish32 is publish for a 32-bit word.
func publish32(p *uint32, v uint32) { atomic.StoreUint32(p, v) }
