// Package analyze computes what a waterfall cannot show: the critical path of a trace (exactly, on the event DAG
// of weft-instrumented traces; by a heuristic on the span tree for foreign ones), each process's clock offset
// within the bounds causality allows, and views over many traces — calling-context trees, request-flow graphs,
// structure groups, comparisons of two populations or two traces, the service graph and per-operation RED
// metrics.
//
// It sits after the store in weft's flow (receive → write-ahead log → store → query → analysis → UI): its
// functions are pure computations over spans ([]*model.Span, never modified) and the package analyze/api serves
// them as JSON under /api/weft/v1/. Times inside the package are Unix nanoseconds and durations nanoseconds.
package analyze

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
	"unsafe"

	"github.com/weftrace/weft/model"
)

// tree is one trace's spans arranged as a forest: parent and children by index into spans. A span whose parent is
// absent but which links to a span of the same trace (a follows-from reference, as producers and consumers often
// have) hangs under the linked span. Parent cycles in bad input are broken, so every span is reached from a root.
type tree struct {
	spans  []*model.Span
	parent []int32 // -1 for a root
	first  []int32 // children of i are kids[first[i]:first[i+1]], sorted by start
	kids   []int32
	roots  []int32 // sorted: the main root first (see mainRoot)
	order  []int32 // every span, parents before children (pre-order from the roots)
	// Each span's fields that the analyses read again and again, copied once: the spans lie scattered in the heap
	// and every pass over them through their pointers would miss the cache.
	start []int64
	dur   []int64
	kind  []model.Kind
	res   []*model.Resource
	key   []uint64 // the span's ID as an idTable key
	pkey  []uint64 // the parent's ID as an idTable key
	links []bool   // whether the span hangs under the span it links to (follows-from), its parent being absent
	// Each span's process (service instance), numbered in procs as the spans are read; filled for the critical
	// path and the clock only (buildTreeDAG).
	proc  []int32
	procs procTable
	// orig[i] is the index in the spans given of the span numbered i here, and inv the reverse; both nil when the
	// numbering is the caller's. The critical path and the clock number the spans in the order they lie in memory
	// (see buildTreeDAG); every tie between spans is broken by orig, so that the answer is the same in any numbering.
	orig, inv []int32

	// scratch for build, link and walk
	ids            idTable
	fill, stack    []int32
	seen           []bool
	morder, mstart []int32 // memoryOrder's memory
}

// buildTree indexes spans.
func buildTree(spans []*model.Span) *tree {
	return new(tree).build(spans)
}

func spanKey(id model.SpanID) uint64 { return binary.BigEndian.Uint64(id[:]) }

// build indexes spans into t, reusing t's memory from an earlier trace.
func (t *tree) build(spans []*model.Span) *tree {
	t.orig, t.inv = nil, nil
	t.parents(spans, nil, memoryOrder(spans, &t.morder, &t.mstart))
	t.link()
	return t
}

// origOf is span i's index in the spans given.
func (t *tree) origOf(i int32) int32 {
	if t.orig == nil {
		return i
	}
	return t.orig[i]
}

// buildTreeDAG indexes spans as a tree and, in the same pass over the spans, as an event DAG, in ws's memory.
//
// Spans are numbered in the order they lie in memory (see memoryOrder), not in the order given, when the two differ:
// every array of the analysis is then written and read in the order of the spans' memory, which for a large trace
// of scattered spans halves the time (the same 100K-span trace, 110 against 55 ms per critical path in one run). The
// numbering is internal: tree.orig translates it back, and the answers name spans by their index in spans.
func buildTreeDAG(spans []*model.Span, ws *workspace) (*tree, *dag) {
	t, b := &ws.t, &ws.b
	n := len(spans)
	t.orig, t.inv = nil, nil
	if order := memoryOrder(spans, &t.morder, &t.mstart); order != nil {
		ws.in = grow(ws.in, n)
		ws.inv = grow(ws.inv, n)
		for k, i := range order {
			ws.in[k] = spans[i]
			ws.inv[i] = int32(k)
		}
		spans, t.orig, t.inv = ws.in[:n], order, ws.inv[:n]
	}
	b.reset(spans)
	b.orig = t.orig
	t.proc = grow(t.proc, n)
	b.proc = t.proc
	t.procs.reset()
	t.parents(spans, b, nil)
	t.link()
	// The span-ID table is done with: its memory numbers the execution units (and the unit table's, from an
	// earlier trace, will index the next one's span IDs).
	b.d.units, t.ids = t.ids, b.d.units
	return t, b.finish()
}

// workspace is the scratch memory of one critical-path or clock computation: the tree, the event DAG and the
// walk's arrays, about 400 bytes per span. A server computes critical paths again and again, so workspaces are
// kept in a pool and reused, grown as needed, instead of allocated for every trace: allocating them (46 MB for a
// 100K-span trace) made the collector run about once per call. Apart from tree.spans and tree.res, which release
// clears, a workspace holds no pointers (indexes only), so the collector does not scan its arrays. Each call takes
// a workspace of its own: concurrent calls never share one.
type workspace struct {
	t tree
	b dagBuilder
	d dag

	cons     []constraint // the clock's constraints between processes
	bad      []broken     // the clock's broken constraints
	spanProc []int32      // the clock's process per span
	as, ae   []int64      // the walk's adjusted span times
	poff     []int64      // the walk's offset per process
	crit     []int64      // critical time per span
	self     []int64      // self time per span on the path
	keys     []uint64     // the path's spans, sorted
	keys2    []uint64     // radixSort\'s scratch
	segs     []Segment    // the path, as the walk finds it (backwards)
	scratch  []int32
	in       []*model.Span // the spans in memory order (see buildTreeDAG)
	inv      []int32
}

// workspaces keeps idle workspaces. A sync.Pool alone drops what it holds at every other collection, and a server
// collects many times between two requests for a critical path (ingestion allocates all the time): the pool would
// be empty at nearly every request, and every request would pay for a new workspace (allocating it costs about
// half as much again as the analysis, in the collections it brings on). So the most recently released workspace is
// kept as long as its arrays hold at most keepSpans spans (about 45 MB for 100K spans: the price of answering a
// 100K-span trace at the steady-state figure, of the order of the store's caches); others, and a larger one, go to
// the sync.Pool, where concurrent calls find theirs while the collector lets them.
var workspaces = struct {
	sync.Mutex
	kept *workspace
	pool sync.Pool
}{pool: sync.Pool{New: func() any { return new(workspace) }}}

// keepSpans is the largest trace whose workspace is kept beyond the collector's reach (see workspaces).
const keepSpans = 150_000

// getWorkspace takes a workspace: the kept one, or one from the pool; release returns it.
func getWorkspace() *workspace {
	workspaces.Lock()
	ws := workspaces.kept
	workspaces.kept = nil
	workspaces.Unlock()
	if ws == nil {
		ws = workspaces.pool.Get().(*workspace)
	}
	ws.b.d = &ws.d
	return ws
}

// release forgets the trace's spans and resources (so that an idle workspace keeps no trace alive) and keeps ws
// for the next call (see workspaces).
func (ws *workspace) release() {
	ws.t.spans = nil
	clear(ws.t.res)
	clear(ws.in)
	ws.t.procs.forget()
	if cap(ws.t.start) <= keepSpans {
		workspaces.Lock()
		ws, workspaces.kept = workspaces.kept, ws
		workspaces.Unlock()
		if ws == nil {
			return
		}
	}
	workspaces.pool.Put(ws)
}

// parents finds each span's parent (only: no children, roots or order), which is all some views need. Parent
// cycles are left as they are. When b is not nil, every span is added to it too, and order must be nil. The spans
// are read in the order given by order (nil: their own), and their fields written by index.
func (t *tree) parents(spans []*model.Span, b *dagBuilder, order []int32) {
	n := len(spans)
	t.spans, t.parent, t.first = spans, grow(t.parent, n), grow(t.first, n+1)
	t.start, t.dur, t.kind, t.res = grow(t.start, n), grow(t.dur, n), grow(t.kind, n), grow(t.res, n)
	t.pkey, t.links = grow(t.pkey, n), grow(t.links, n)
	ids := &t.ids
	ids.reset(n)
	// A Zipkin server span that shares its client's ID (model.FlagShared) is the client's child, and the parent
	// of the spans that name that ID: the table keeps the shared span, and sharedPeer its client.
	var sharedPeer map[int32]int32
	// First copy the fields from the spans, then index the IDs: in a loop of independent loads the processor
	// fetches the next spans while it waits for one, which a loop that also probes the table leaves it no room for.
	t.key = grow(t.key, n)
	for k := range n {
		i := k
		if order != nil {
			i = int(order[k])
		}
		s := spans[i]
		t.key[i], t.pkey[i] = spanKey(s.SpanID), spanKey(s.ParentID)
		t.start[i], t.dur[i], t.kind[i], t.res[i] = s.Start, s.Duration, s.Kind, s.Resource
		t.links[i] = len(s.Links) > 0
		if b != nil {
			t.proc[i] = t.procs.add(t.origOf(int32(i)), s.Resource, s.Start)
			b.add(i, s) // order is nil: spans come in the order of their index
		}
	}
	// IDs are indexed in the order of the spans given: of spans that share an ID (bad input), the one that stays in
	// the table is the same in any numbering.
	for o := range n {
		i := o
		if t.inv != nil {
			i = int(t.inv[o])
		}
		key := t.key[i]
		j, dup := ids.getOrPut(key, int32(i))
		if !dup {
			continue
		}
		if s := spans[i]; (s.Flags|spans[j].Flags)&model.FlagShared != 0 {
			if sharedPeer == nil {
				sharedPeer = map[int32]int32{}
			}
			if s.Flags&model.FlagShared != 0 {
				sharedPeer[int32(i)] = j
				ids.put(key, int32(i))
			} else {
				sharedPeer[j] = int32(i)
			}
		} else {
			ids.put(key, int32(i))
		}
	}
	for i := range spans {
		p := int32(-1)
		if j, ok := sharedPeer[int32(i)]; ok {
			p = j
		} else if j, ok := ids.get(t.pkey[i]); ok && int(j) != i {
			p = j
		}
		linked := t.links[i]
		t.links[i] = false
		if p < 0 && linked {
			s := spans[i]
			for _, l := range s.Links {
				if l.TraceID != s.TraceID && !l.TraceID.IsZero() {
					continue
				}
				if j, ok := ids.get(spanKey(l.SpanID)); ok && int(j) != i {
					p, t.links[i] = j, true // from here on links[i] means "hangs by a link"
					break
				}
			}
		}
		t.parent[i] = p
	}
}

// link fills children, roots and order from parent, breaking cycles.
func (t *tree) link() {
	n := len(t.spans)
	clear(t.first)
	for _, p := range t.parent {
		if p >= 0 {
			t.first[p+1]++
		}
	}
	for i := 0; i < n; i++ {
		t.first[i+1] += t.first[i]
	}
	t.kids = grow(t.kids, n)
	t.fill = append(t.fill[:0], t.first[:n]...)
	fill := t.fill
	t.roots = t.roots[:0]
	for i, p := range t.parent {
		if p >= 0 {
			t.kids[fill[p]] = int32(i)
			fill[p]++
		} else {
			t.roots = append(t.roots, int32(i))
		}
	}
	byStart := func(a, b int32) int {
		if t.start[a] != t.start[b] {
			return cmpInt64(t.start[a], t.start[b])
		}
		if t.dur[a] != t.dur[b] {
			return cmpInt64(t.dur[b], t.dur[a])
		}
		return int(t.origOf(a)) - int(t.origOf(b))
	}
	for i := 0; i < n; i++ {
		if k := t.kids[t.first[i]:t.first[i+1]]; len(k) > 1 && !slices.IsSortedFunc(k, byStart) {
			slices.SortFunc(k, byStart)
		}
	}
	slices.SortFunc(t.roots, t.rootOrder)
	t.order = grow(t.order, n)[:0]
	t.seen = grow(t.seen, n)
	clear(t.seen)
	seen := t.seen
	t.walk(seen)
	if len(t.order) < n {
		// Spans left unreached sit on parent cycles: cut each cycle at one span (the first of the spans given) and
		// walk again.
		cut := int32(-1)
		for i := 0; i < n; i++ {
			if !seen[i] && (cut < 0 || t.origOf(int32(i)) < t.origOf(cut)) {
				cut = int32(i)
			}
		}
		t.parent[cut] = -1
		t.link()
		return
	}
}

// walk appends spans reachable from the roots in pre-order.
func (t *tree) walk(seen []bool) {
	stack := t.stack[:0]
	defer func() { t.stack = stack[:0] }()
	for r := len(t.roots) - 1; r >= 0; r-- {
		stack = append(stack, t.roots[r])
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[i] {
			continue
		}
		seen[i] = true
		t.order = append(t.order, i)
		k := t.children(i)
		for j := len(k) - 1; j >= 0; j-- {
			stack = append(stack, k[j])
		}
	}
}

// memoryOrderMin is the fewest spans memoryOrder orders (a variable for the tests, which order small traces too).
var memoryOrderMin = 4096

// memoryOrder is the indexes of spans in the order of their addresses, to the nearest KiB, or nil when spans are
// in that order already (in long runs) or few. Spans lie scattered in the heap, in whatever order they were decoded
// or made: read in the slice's order, each of a large trace's spans costs a page walk and misses of the cache that
// the processor cannot foresee; read in the order of memory, the same reads stream. The order is made in *mem, and
// *scratch is used, both grown as needed.
func memoryOrder(spans []*model.Span, mem, scratch *[]int32) []int32 {
	n := len(spans)
	if n < memoryOrderMin {
		return nil
	}
	lo, hi, prev, descents := ^uintptr(0), uintptr(0), uintptr(0), 0
	for _, s := range spans {
		a := uintptr(unsafe.Pointer(s))
		lo, hi = min(lo, a), max(hi, a)
		if a < prev {
			descents++
		}
		prev = a
	}
	// Runs of a thousand spans or more in order of memory (the store's decoded spans lie in a few arrays) stream as
	// well as one run: they are read as they are.
	if descents <= n>>10 {
		return nil
	}
	shift := 10
	for (hi-lo)>>shift >= uintptr(4*n) {
		shift++
	}
	*scratch = zeroed(*scratch, int((hi-lo)>>shift+2))
	start := *scratch
	for _, s := range spans {
		start[(uintptr(unsafe.Pointer(s))-lo)>>shift+1]++
	}
	for k := 1; k < len(start); k++ {
		start[k] += start[k-1]
	}
	*mem = grow(*mem, n)
	order := *mem
	for i, s := range spans {
		k := (uintptr(unsafe.Pointer(s)) - lo) >> shift
		order[start[k]] = int32(i)
		start[k]++
	}
	return order
}

// rootOrder puts true roots (no parent ID at all) before orphans whose parent is missing, then earlier starts,
// then longer spans.
func (t *tree) rootOrder(a, b int32) int {
	sa, sb := t.spans[a], t.spans[b]
	ta, tb := sa.ParentID.IsZero(), sb.ParentID.IsZero()
	if ta != tb {
		if ta {
			return -1
		}
		return 1
	}
	if sa.Start != sb.Start {
		return cmpInt64(sa.Start, sb.Start)
	}
	if sa.Duration != sb.Duration {
		return cmpInt64(sb.Duration, sa.Duration)
	}
	return int(t.origOf(a)) - int(t.origOf(b))
}

func (t *tree) children(i int32) []int32 { return t.kids[t.first[i]:t.first[i+1]] }

// async reports whether span i is work its parent did not wait for: a span that hangs by a follows-from link, or
// a consumer under a producer.
func (t *tree) async(i int32) bool {
	p := t.parent[i]
	return p >= 0 && (t.links[i] || t.kind[i] == model.KindConsumer && t.kind[p] == model.KindProducer)
}

// mainRoot is the span that stands for the whole trace, or -1 for an empty trace.
func (t *tree) mainRoot() int32 {
	if len(t.roots) == 0 {
		return -1
	}
	return t.roots[0]
}

// alignServers moves, in start and end (the spans' raw times on entry), each server span that does not fit inside
// its client parent of another resource to the nearest place inside it, and the server's subtree with it: the
// views over many traces compare a span with its children, which a skewed clock between a client and its server
// would set apart. It is the client/server half of EstimateClock's constraints, solved one call at a time, cheap
// enough for thousands of traces; a server that fits (every call of a trace whose clocks agree) does not move.
func (t *tree) alignServers(start, end []int64) {
	var shift []int64
	for _, i := range t.order {
		p := t.parent[i]
		if p < 0 {
			continue
		}
		by := int64(0)
		if shift != nil {
			by = shift[p]
		}
		if t.kind[p] == model.KindClient && t.kind[i] == model.KindServer && t.res[p] != t.res[i] {
			// start[p], end[p] are already moved; the server moves with its parent, then into it
			lo, hi := start[p]-(start[i]+by), end[p]-(end[i]+by)
			by += min(max(0, min(lo, hi)), max(lo, hi))
		}
		if by == 0 {
			continue
		}
		if shift == nil {
			shift = make([]int64, len(t.spans))
		}
		shift[i] = by
		start[i] += by
		end[i] += by
	}
}

// selfTime is span i's duration less the union of its children's intervals clipped to it; start and end give
// each span's (possibly clock-adjusted) times.
func (t *tree) selfTime(i int32, start, end []int64) int64 {
	s, e := start[i], end[i]
	kids := t.children(i)
	sorted := true
	for j := 1; j < len(kids); j++ {
		if start[kids[j]] < start[kids[j-1]] {
			sorted = false
			break
		}
	}
	if !sorted { // adjusted times of children in other processes may reorder them
		kids = slices.Clone(kids)
		slices.SortFunc(kids, func(a, b int32) int { return cmpInt64(start[a], start[b]) })
	}
	covered, cur := int64(0), s
	for _, c := range kids {
		cs, ce := max(start[c], cur), min(end[c], e)
		if ce > cs {
			covered += ce - cs
			cur = ce
		}
	}
	return max(e-s-covered, 0)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// traceBounds is the earliest start and latest end of spans.
func traceBounds(spans []*model.Span) (start, end int64) {
	for i, s := range spans {
		if i == 0 || s.Start < start {
			start = s.Start
		}
		if i == 0 || s.End() > end {
			end = s.End()
		}
	}
	return start, end
}

// idTable maps random 64-bit IDs (span IDs, execution units) to indexes: open addressing with linear probing,
// three times faster than a map for the hundreds of thousands of lookups of a large trace. A key and its value
// share a slot, so that a probe of a table larger than the cache misses it once, and the table is filled up to
// four fifths: a probe reads a few more slots of the same line, but a smaller table stays in the cache more (half
// the memory of a half-full table for 100K spans, measured 5-15% faster on the critical path). ID 0 (no span, no
// unit) is never stored and never found.
type idTable struct {
	slots []idSlot
	n     int
}

type idSlot struct {
	key uint64
	val int32
}

const fibHash = 0x9e3779b97f4a7c15

// slot is where k is or would go. Fibonacci hashing takes the product's top bits, which mix every bit of the key:
// sequential IDs and IDs that differ only in high or low bits spread as well as random ones.
func (t *idTable) slot(k uint64) int {
	mask := uint64(len(t.slots) - 1)
	i := (k * fibHash) >> (64 - bits.Len64(mask))
	for t.slots[i].key != 0 && t.slots[i].key != k {
		i = (i + 1) & mask
	}
	return int(i)
}

// reset empties the table and sizes it for about n IDs, reusing its memory.
func (t *idTable) reset(n int) {
	size := 64
	for 4*size < 5*n {
		size *= 2
	}
	if cap(t.slots) >= size {
		t.slots = t.slots[:size]
		clear(t.slots)
	} else {
		t.slots = make([]idSlot, size)
	}
	t.n = 0
}

func (t *idTable) get(k uint64) (int32, bool) {
	if k == 0 || len(t.slots) == 0 {
		return 0, false
	}
	s := &t.slots[t.slot(k)]
	return s.val, s.key == k
}

func (t *idTable) put(k uint64, v int32) {
	if k == 0 {
		return
	}
	t.grow()
	i := t.slot(k)
	if t.slots[i].key == 0 {
		t.n++
	}
	t.slots[i] = idSlot{k, v}
}

// getOrPut returns k's value if k is present; otherwise it stores v under k and returns v, false. Key 0 is never
// stored: for it getOrPut returns v, false.
func (t *idTable) getOrPut(k uint64, v int32) (int32, bool) {
	if k == 0 {
		return v, false
	}
	t.grow()
	s := &t.slots[t.slot(k)]
	if s.key == k {
		return s.val, true
	}
	t.n++
	*s = idSlot{k, v}
	return v, false
}

// grow doubles the table when one more key would fill more than four fifths of it.
func (t *idTable) grow() {
	if 5*(t.n+1) <= 4*len(t.slots) {
		return
	}
	old := t.slots
	t.slots = make([]idSlot, max(64, 2*len(old)))
	for _, s := range old {
		if s.key != 0 {
			t.slots[t.slot(s.key)] = s
		}
	}
}

// procTable numbers a trace's processes (service instances: spans with the same service and resource attributes) as
// the spans are read, in any order, keeping for each its earliest start, its span of lowest index and that span's
// resource: what processes needs to number them as EstimateClock does (the root's first, then by first start,
// then by first appearance in the spans given), whatever the order of reading.
type procTable struct {
	lastRes *model.Resource
	last    int32
	recent  []procSeen // a trace has a few resources, usually shared by pointer: searched before the maps
	byRes   map[*model.Resource]int32
	byKey   map[string]int32
	res     []*model.Resource // per process: the resource of its span of lowest index
	first   []int64           // per process: the earliest start
	low     []int32           // per process: its span of lowest index
	spans   []int32           // per process: its number of spans
}

type procSeen struct {
	r *model.Resource
	p int32
}

// reset empties pt for a new trace, reusing its memory.
func (pt *procTable) reset() {
	pt.forget()
	pt.last = -1
	if pt.byRes == nil {
		pt.byRes, pt.byKey = map[*model.Resource]int32{}, map[string]int32{}
	}
	pt.first, pt.low, pt.spans = pt.first[:0], pt.low[:0], pt.spans[:0]
}

// forget drops every resource, so that an idle workspace keeps no trace alive.
func (pt *procTable) forget() {
	pt.lastRes = nil
	clear(pt.recent)
	pt.recent = pt.recent[:0]
	clear(pt.byRes)
	clear(pt.byKey)
	clear(pt.res)
	pt.res = pt.res[:0]
}

// add counts span i, of resource r starting at start, in its process and returns the process's number.
func (pt *procTable) add(i int32, r *model.Resource, start int64) int32 {
	p := pt.last
	if r != pt.lastRes || p < 0 {
		p = -1
		for _, x := range pt.recent {
			if x.r == r {
				p = x.p
				break
			}
		}
		if p < 0 {
			var ok bool
			if p, ok = pt.byRes[r]; !ok {
				key := resourceKey(r)
				if p, ok = pt.byKey[key]; !ok {
					p = int32(len(pt.res))
					pt.byKey[key] = p
					pt.res, pt.first, pt.low, pt.spans = append(pt.res, r), append(pt.first, start), append(pt.low, i), append(pt.spans, 0)
				}
				pt.byRes[r] = p
				if len(pt.recent) < 8 {
					pt.recent = append(pt.recent, procSeen{r, p})
				}
			}
		}
		pt.lastRes, pt.last = r, p
	}
	pt.spans[p]++
	pt.first[p] = min(pt.first[p], start)
	if i < pt.low[p] {
		pt.low[p], pt.res[p] = i, r
	}
	return p
}
