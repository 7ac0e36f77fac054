//go:build !race

package trace

// The owner-only state that no other goroutine reads (a ring's reuse index) is written plainly on every
// platform; see owned.go.

func ownedLoad(p *uint64) uint64     { return *p }
func ownedStore(p *uint64, v uint64) { *p = v }
