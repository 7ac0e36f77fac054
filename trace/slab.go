package trace

import (
	"sync/atomic"
	"unsafe"
)

// Nodes (the contexts Start returns) and execution units outlive the spans that made them, so they are never
// pooled: each is taken once from a slab and the garbage collector frees the slab when nothing refers to any
// of it. Each P has a slab of each in hand, so that a span costs a fraction of an allocation (1/nodeSlabSize
// for its context, 1/unitSlabSize for a new unit). Slots are taken with an atomic add, so a goroutine that moves
// to another P between choosing a slab and taking from it is still correct; it only shares a cache line.
//
// The price is that a context kept long keeps its whole slab alive, with the parent contexts of the other nodes
// in it; slabs of nodes are kept small for that reason. Units hold no pointers and cost the collector nothing to
// scan.
const (
	nodeSlabSize = (8192 - 8) / unsafe.Sizeof(node{}) // as many as fill the runtime's 8 KiB size class
	unitSlabSize = 256
)

type nodeSlab struct {
	next  atomic.Uint32 // the next free slot; slabSize and beyond when the slab is used up
	nodes [nodeSlabSize]node
}

type unitSlab struct {
	next  atomic.Uint32
	units [unitSlabSize]unit
}

// newNode takes a fresh, zero node from the P's slab.
func (pp *perP) newNode() *node {
	if sl := pp.nodes.Load(); sl != nil {
		if i := sl.next.Add(1) - 1; i < uint32(nodeSlabSize) {
			return &sl.nodes[i]
		}
	}
	sl := new(nodeSlab)
	sl.next.Store(1)
	pp.nodes.Store(sl)
	return &sl.nodes[0]
}

// newUnit takes a fresh unit with a new ID from the P's slab.
func (pp *perP) newUnit() *unit {
	var u *unit
	if sl := pp.units.Load(); sl != nil {
		if i := sl.next.Add(1) - 1; i < unitSlabSize {
			u = &sl.units[i]
		}
	}
	if u == nil {
		sl := new(unitSlab)
		sl.next.Store(1)
		pp.units.Store(sl)
		u = &sl.units[0]
	}
	u.id = newUnitID()
	return u
}
