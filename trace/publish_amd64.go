//go:build amd64 && !race

package trace

// publish stores v to *p, which a consumer on another CPU reads with an atomic load, after every store before
// it. On amd64 every store is a release store, in program order, so a plain store is enough; an atomic store
// is an XCHG, a locked instruction.
func publish(p *uint64, v uint64) { *p = v }

// publish32 is publish for a 32-bit word.
func publish32(p *uint32, v uint32) { *p = v }
