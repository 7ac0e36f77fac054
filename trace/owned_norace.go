//go:build !race

package trace

// The owner-only state that no other goroutine reads (a free batch's index) is written plainly on every
// platform; see owned.go.

func ownedLoadInt(p *int64) int64     { return *p }
func ownedStoreInt(p *int64, v int64) { *p = v }
