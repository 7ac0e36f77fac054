package wal

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"github.com/weftrace/weft/model"
)

// PageWriter builds batches (the store's block pages) out of runs of other batches (log records, or the pages
// of blocks being compacted) without decoding their spans: records are walked once, their string and resource
// references rewritten through tables kept per source batch, and everything else copied. It owns the string
// space of one block: every string gets a global id once per source batch that holds it (a map lookup per
// distinct string of a batch, not per use), and the block's shared dictionary is chosen among those ids.
//
// While it copies, it reports each span's indexable fields (service, name, kind, status, times and top-level
// attributes, with strings as global ids) to a visitor, so that a block's index is built without another pass.
type PageWriter struct {
	ids map[string]uint32
	// base, in a fork (Fork), holds the strings interned before it, read-only and shared with the other forks;
	// ids holds only those interned after.
	base  map[string]uint32
	strs  []string  // by global id
	count []uint32  // source batches holding each string
	slot  []strSlot // by global id
	ndict int
	// dictGen names the dictionary last set (SetDict), which a fork shares with the writer it came from; srcs are
	// the Sources this writer made before the first SetDict, whose tables SetDict fills with the dictionary's
	// references (see Source.local).
	dictGen uint32
	srcs    []*Source
	// dictIDs is the dictionary set, by reference. sharedX caches, for it, the entries (xref) of each shared table
	// given to Source (keyed by its first element): compaction makes a Source for every page of an input, all
	// with the input's table.
	dictIDs []uint32
	sharedX map[*uint32][]uint32

	resKey   map[string]uint32
	res      []globalRes
	resStamp []uint32
	resLocal []uint32

	page  uint32
	pstrs []uint32 // the page's own string table, as global ids
	pres  []byte   // the page's encoded resources
	npres int
	rec   []byte
	nums  []byte
	spids []byte
	n     int
	tmp   []byte
	info  SpanInfo

	// The trace the page's last record belongs to, so that a later run of it joins it (see AddRun).
	curTrace  model.TraceID
	inTrace   bool
	prevStart int64
	traceRow  int // the trace's first row in the page
	// While a trace of several runs is copied, its distinct span IDs get the indexes parent references use: the
	// decoder numbers them in order of first appearance over the whole trace, the encoder over each run. tids
	// holds the IDs in that order (as little-endian words), tRun the run (runNo) that last listed each; srcList
	// maps the current run's indexes. An ID is found through slots, a table of indexes plus one (0: free) by
	// hash, with seed (random, odd) as the multiplier, so that IDs chosen to collide cannot be sent; past
	// maxSlots a trace's IDs go to idx, a map.
	tracking bool
	tids     []uint64
	tRun     []uint32
	slots    []uint32
	seed     uint64
	idx      map[uint64]uint32
	useIdx   bool
	runNo    uint32
	srcList  []uint32
	// parentIdx is set by parentHeader for the record being copied.
	parentIdx int64
	touch     byte // see AddRun
}

// parentHeader is the header to write for a record of the page's current trace: while a joined trace is copied,
// a parent named by its ID (it was in another run of the source) that the trace already holds becomes a reference
// by index (parentIdx, -1 otherwise). t.rec must be at the record's parent field.
func (w *PageWriter) parentHeader(t *transcoder, h uint64) uint64 {
	w.parentIdx = -1
	if !w.tracking || h&recParent == 0 || len(t.rec)-t.r < 8 {
		return h
	}
	i := w.spanIndex(binary.LittleEndian.Uint64(t.rec[t.r:]))
	if i < 0 {
		return h
	}
	w.parentIdx = int64(i)
	return h&^recParent | recParentRef
}

// maxSlots bounds the table of a joined trace's span IDs (see PageWriter.slots); a trace with more than half as
// many distinct IDs has them in a map.
const maxSlots = 1 << 16

// spanIndex is the index of span ID sid (little-endian) among the current trace's, or -1.
func (w *PageWriter) spanIndex(sid uint64) int {
	if w.useIdx {
		if i, ok := w.idx[sid]; ok {
			return int(i)
		}
		return -1
	}
	mask := uint64(len(w.slots) - 1)
	for h := (sid * w.seed) >> 40 & mask; ; h = (h + 1) & mask {
		i := w.slots[h]
		if i == 0 {
			return -1
		}
		if w.tids[i-1] == sid {
			return int(i - 1)
		}
	}
}

// addSpanID gives sid (little-endian, not among the trace's) the trace's next index, listed last by run.
func (w *PageWriter) addSpanID(sid uint64, run uint32) uint32 {
	i := uint32(len(w.tids))
	w.tids = append(w.tids, sid)
	w.tRun = append(w.tRun, run)
	switch {
	case w.useIdx:
		w.idx[sid] = i
	case 2*len(w.tids) > len(w.slots) && 2*len(w.slots) > maxSlots:
		if w.idx == nil || len(w.idx) > 4096 {
			w.idx = make(map[uint64]uint32, len(w.tids))
		} else {
			clear(w.idx)
		}
		for j, x := range w.tids {
			w.idx[x] = uint32(j)
		}
		w.useIdx = true
	case 2*len(w.tids) > len(w.slots):
		w.slots = make([]uint32, 2*len(w.slots))
		for j, x := range w.tids {
			w.putSlot(x, uint32(j))
		}
	default:
		w.putSlot(sid, i)
	}
	return i
}

// putSlot puts index i of sid in the first free slot of its hash.
func (w *PageWriter) putSlot(sid uint64, i uint32) {
	mask := uint64(len(w.slots) - 1)
	h := (sid * w.seed) >> 40 & mask
	for w.slots[h] != 0 {
		h = (h + 1) & mask
	}
	w.slots[h] = i + 1
}

// joinRun starts the renumbering of a run that continues the page's last trace, listing the span IDs of what the
// page holds of that trace when this is its second run.
func (w *PageWriter) joinRun() {
	w.runNo++
	w.srcList = w.srcList[:0]
	if w.tracking {
		return
	}
	w.tracking, w.useIdx = true, false
	w.tids, w.tRun = w.tids[:0], w.tRun[:0]
	if w.seed == 0 {
		w.seed = rand.Uint64() | 1
	}
	if len(w.slots) != 128 {
		w.slots = make([]uint32, 128)
	} else {
		clear(w.slots)
	}
	for r := w.traceRow; r < w.n; r++ {
		if sid := binary.LittleEndian.Uint64(w.spids[8*r:]); w.spanIndex(sid) < 0 {
			w.addSpanID(sid, 0) // listed by no run yet
		}
	}
}

// track notes a span of a joined run: a span ID new to the run gets the run's next index, which is the trace's
// index of that ID (new to the trace or not).
func (w *PageWriter) track(sid uint64) {
	i := w.spanIndex(sid)
	if i < 0 {
		w.srcList = append(w.srcList, w.addSpanID(sid, w.runNo))
		return
	}
	if w.tRun[i] != w.runNo {
		w.tRun[i] = w.runNo
		w.srcList = append(w.srcList, uint32(i))
	}
}

// strSlot is how the page refers to a global string: by its shared dictionary reference (dict >= 0), or by its
// index in the page's own table while stamp is the current page.
type strSlot struct {
	dict  int32
	stamp uint32
	local uint32
}

type globalRes struct {
	r       *model.Resource
	service uint32
	attrs   []AttrRef
}

// AttrRef is a top-level attribute as PageWriter reports it: an integer, or the global id of the value's text
// (model.Value.AsString: the string itself for strings and bytes).
type AttrRef struct {
	Key uint32 // global id of the key
	Int bool   // the value is an integer, Num
	Str uint32 // otherwise the global id of its text
	Num int64
}

// attrRef makes the AttrRef of a value; g is its global id when it is a string or bytes.
func (w *PageWriter) attrRef(key uint32, v *model.Value, g uint32) AttrRef {
	switch v.Type {
	case model.TypeInt:
		return AttrRef{Key: key, Int: true, Num: v.Int()}
	case model.TypeString, model.TypeBytes:
		return AttrRef{Key: key, Str: g}
	}
	return AttrRef{Key: key, Str: w.Intern(v.AsString())}
}

// SpanInfo is what PageWriter reports of each span it copies. It is reused for the next span.
type SpanInfo struct {
	Resource        uint32 // global resource id (see Resource)
	Name            uint32 // global string id
	Kind            model.Kind
	Status          model.StatusCode
	Start, Duration int64
	Attrs           []AttrRef
	SpanID          model.SpanID
	// Parent is the parent's ID when the record names it; ParentRef, when it is not -1, is the parent's index
	// among the distinct span IDs of the trace in the page, in order of first appearance (as the decoder
	// numbers them). Both are zero and -1 for a root.
	Parent    model.SpanID
	ParentRef int
	Flags     model.Flags
}

// dictGens numbers the dictionaries set on page writers, so that a Source's references are used only by
// writers with the dictionary they were made for.
var dictGens atomic.Uint32

// NewPageWriter returns an empty writer.
func NewPageWriter() *PageWriter {
	return &PageWriter{ids: map[string]uint32{}, resKey: map[string]uint32{}, page: 1}
}

// Fork returns a writer that starts from what w has interned (strings, their counts, resources), so that
// several blocks can be written at once from the same Sources, one writer each, with the global ids and
// dictionary counts that w gave them: as if each had made the Sources itself, but paying for it once. w and the
// forks share w's tables: w must not be used again, and a fork must not make Sources. A fork has w's
// dictionary (SetDict on w before forking, once for all forks, rather than on each).
func (w *PageWriter) Fork() *PageWriter {
	if len(w.ids) > 0 && w.base != nil {
		panic("wal: fork of a fork that interned")
	}
	base := w.base
	if base == nil {
		base = w.ids
	}
	n := len(w.strs)
	f := &PageWriter{ids: map[string]uint32{}, base: base, strs: w.strs[:n:n], count: w.count[:n:n],
		slot: make([]strSlot, n), page: 1, ndict: w.ndict, dictGen: w.dictGen, dictIDs: w.dictIDs}
	for i := range f.slot {
		f.slot[i].dict = w.slot[i].dict
	}
	nr := len(w.res)
	f.res = w.res[:nr:nr]
	f.resKey = nil // resource is only called by Source
	f.resStamp = make([]uint32, nr)
	f.resLocal = make([]uint32, nr)
	return f
}

// Intern returns the global id of s.
func (w *PageWriter) Intern(s string) uint32 {
	if w.base != nil {
		if g, ok := w.base[s]; ok {
			return g
		}
	}
	if g, ok := w.ids[s]; ok {
		return g
	}
	if len(w.strs) >= xDict {
		panic("wal: more than 2^31 strings in one page writer")
	}
	g := uint32(len(w.strs))
	w.ids[s] = g
	w.strs = append(w.strs, s)
	w.count = append(w.count, 0)
	w.slot = append(w.slot, strSlot{dict: -1})
	return g
}

// InternAll interns every string of strs, returning their global ids in order.
func (w *PageWriter) InternAll(strs []string) []uint32 {
	out := make([]uint32, len(strs))
	for i, s := range strs {
		out[i] = w.Intern(s)
	}
	return out
}

// String is the string of a global id.
func (w *PageWriter) String(g uint32) string { return w.strs[g] }

// Strings is the number of global ids given so far.
func (w *PageWriter) Strings() int { return len(w.strs) }

// Count is the number of source batches (made with Source) whose own string table holds global id g.
func (w *PageWriter) Count(g uint32) int { return int(w.count[g]) }

// SetDict fixes the shared dictionary the pages refer to: dict[i] is the global id of reference i. It must be
// called before the first AddRun, and the pages are then parsed with those strings as the shared dictionary.
// It also notes, in each Source w made, which of its strings are in the dictionary (and Source does for those
// made after), so that AddRun translates most references without looking at the string's slot; the Sources
// must not be in use by a fork meanwhile.
func (w *PageWriter) SetDict(dict []uint32) {
	for i := range w.slot {
		w.slot[i].dict = -1
	}
	for i, g := range dict {
		w.slot[g].dict = int32(i)
	}
	w.ndict = len(dict)
	w.dictGen = dictGens.Add(1)
	w.dictIDs = slices.Clone(dict)
	w.sharedX = nil
	for _, src := range w.srcs {
		w.noteDict(src)
	}
}

// A Source translates its batch's string references through tables of entries: the string's global id, or, with
// xDict set, its reference in the dictionary the Source was made with (Source.dictIDs), from which AddRun takes
// the global id too. Four bytes an entry rather than eight: a head's runs are copied in trace ID order, from every
// record in turn, so that the entries of its random values (user IDs, addresses) are found in the cache more
// often the smaller the tables of all the records are.
const xDict = 1 << 31

// noteDict makes src's entries those of w's dictionary.
func (w *PageWriter) noteDict(src *Source) {
	for i, e := range src.local {
		src.local[i] = w.xref(xGlobal(e, src.dictIDs))
	}
	src.shared = w.sharedRefs(src.sharedIDs)
	src.dictGen, src.dictIDs = w.dictGen, w.dictIDs
}

// xGlobal is the global id of entry e of a Source made with dictionary dictIDs.
func xGlobal(e uint32, dictIDs []uint32) uint32 {
	if e&xDict != 0 {
		return dictIDs[e&^xDict]
	}
	return e
}

// xref is the entry of global id g for w's dictionary.
func (w *PageWriter) xref(g uint32) uint32 {
	if d := w.slot[g].dict; d >= 0 {
		return xDict | uint32(d)
	}
	return g
}

// sharedRefs is Source.shared for a shared table (global ids), made once for the dictionary set.
func (w *PageWriter) sharedRefs(ids []uint32) []uint32 {
	if len(ids) == 0 {
		return nil
	}
	if x, ok := w.sharedX[&ids[0]]; ok && len(x) == len(ids) {
		return x
	}
	x := make([]uint32, len(ids))
	for i, g := range ids {
		x[i] = w.xref(g)
	}
	if w.sharedX == nil {
		w.sharedX = map[*uint32][]uint32{}
	}
	w.sharedX[&ids[0]] = x
	return x
}

// Resource returns a global resource: the resource, the global id of its service, its attributes.
func (w *PageWriter) Resource(g uint32) (*model.Resource, uint32, []AttrRef) {
	r := &w.res[g]
	return r.r, r.service, r.attrs
}

// Source is a parsed batch prepared for AddRun: its strings and resources mapped to global ids.
type Source struct {
	b *Batch
	// shared and local are the entries (see xDict) of the batch's string references, those of its shared
	// dictionary and then of its own table, for the dictionary of generation dictGen, dictIDs. shared is made from
	// sharedIDs, the global ids of the shared dictionary, and is the same for every Source given the same
	// sharedIDs.
	shared    []uint32
	local     []uint32
	sharedIDs []uint32
	dictIDs   []uint32
	dictGen   uint32
	res       []uint32
}

// Source prepares b for AddRun. shared, if not nil, maps b's shared dictionary to global ids (from InternAll,
// computed once for every page of a block, and not changed after); otherwise it is interned here. Each string of
// b's own table counts once towards Count.
func (w *PageWriter) Source(b *Batch, shared []uint32) *Source {
	if w.resKey == nil {
		panic("wal: Source on a fork")
	}
	if shared == nil && len(b.shared) > 0 {
		shared = w.InternAll(b.shared)
	}
	src := &Source{b: b, sharedIDs: shared, local: make([]uint32, len(b.strs)), res: make([]uint32, len(b.res))}
	for i, s := range b.strs {
		g := w.Intern(s)
		src.local[i] = g
		w.count[g]++
	}
	for i, r := range b.res {
		src.res[i] = w.resource(r)
	}
	if w.dictGen != 0 {
		w.noteDict(src)
	} else {
		src.shared = w.sharedRefs(shared)
		w.srcs = append(w.srcs, src) // for SetDict (kept only until then: compaction makes a Source per page)
	}
	return src
}

// resource gives a global id to a resource, equal resources sharing one.
func (w *PageWriter) resource(r *model.Resource) uint32 {
	k := binary.AppendUvarint(w.tmp[:0], uint64(w.Intern(r.Service)))
	k = w.appendAttrKey(k, r.Attrs)
	w.tmp = k
	if g, ok := w.resKey[string(k)]; ok {
		return g
	}
	g := uint32(len(w.res))
	w.resKey[string(k)] = g
	gr := globalRes{r: r, service: w.Intern(r.Service)}
	for i := range r.Attrs {
		a := &r.Attrs[i]
		var g uint32
		if a.Value.Type == model.TypeString || a.Value.Type == model.TypeBytes {
			g = w.Intern(a.Value.Str)
		}
		gr.attrs = append(gr.attrs, w.attrRef(w.Intern(a.Key), &a.Value, g))
	}
	w.res = append(w.res, gr)
	w.resStamp = append(w.resStamp, 0)
	w.resLocal = append(w.resLocal, 0)
	return g
}

// appendAttrKey encodes attributes with global string ids, as a key for resource equality.
func (w *PageWriter) appendAttrKey(b []byte, attrs []model.Attr) []byte {
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	for i := range attrs {
		b = binary.AppendUvarint(b, uint64(w.Intern(attrs[i].Key)))
		b = w.appendValueKey(b, &attrs[i].Value)
	}
	return b
}

func (w *PageWriter) appendValueKey(b []byte, v *model.Value) []byte {
	b = append(b, byte(v.Type))
	switch v.Type {
	case model.TypeString, model.TypeBytes:
		b = binary.AppendUvarint(b, uint64(w.Intern(v.Str)))
	case model.TypeArray:
		b = binary.AppendUvarint(b, uint64(len(v.Array)))
		for i := range v.Array {
			b = w.appendValueKey(b, &v.Array[i])
		}
	case model.TypeMap:
		b = w.appendAttrKey(b, v.Map)
	default:
		b = binary.LittleEndian.AppendUint64(b, v.Num)
	}
	return b
}

// ref is the page's reference to global string g.
func (w *PageWriter) ref(g uint32) uint64 {
	sl := &w.slot[g]
	if sl.dict >= 0 {
		return uint64(sl.dict)
	}
	if sl.stamp != w.page {
		sl.stamp = w.page
		sl.local = uint32(len(w.pstrs))
		w.pstrs = append(w.pstrs, g)
	}
	return uint64(w.ndict) + uint64(sl.local)
}

// resRef is the page's reference to global resource g, encoding it into the page on first use.
func (w *PageWriter) resRef(g uint32) uint64 {
	if w.resStamp[g] != w.page {
		w.resStamp[g] = w.page
		w.resLocal[g] = uint32(w.npres)
		w.npres++
		r := w.res[g].r
		w.pres = binary.AppendUvarint(w.pres, w.ref(w.Intern(r.Service)))
		w.pres = w.appendResAttrs(w.pres, r.Attrs)
	}
	return uint64(w.resLocal[g])
}

func (w *PageWriter) appendResAttrs(b []byte, attrs []model.Attr) []byte {
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	for i := range attrs {
		b = binary.AppendUvarint(b, w.ref(w.Intern(attrs[i].Key)))
		b = w.appendResValue(b, &attrs[i].Value)
	}
	return b
}

// appendResValue encodes a value of a resource table entry, where integers stay inline (see Encoder).
func (w *PageWriter) appendResValue(b []byte, v *model.Value) []byte {
	b = append(b, byte(v.Type))
	switch v.Type {
	case model.TypeString, model.TypeBytes:
		b = binary.AppendUvarint(b, w.ref(w.Intern(v.Str)))
	case model.TypeInt:
		b = binary.AppendVarint(b, int64(v.Num))
	case model.TypeFloat:
		b = binary.LittleEndian.AppendUint64(b, v.Num)
	case model.TypeBool:
		b = append(b, byte(v.Num&1))
	case model.TypeArray:
		b = binary.AppendUvarint(b, uint64(len(v.Array)))
		for i := range v.Array {
			b = w.appendResValue(b, &v.Array[i])
		}
	case model.TypeMap:
		b = w.appendResAttrs(b, v.Map)
	}
	return b
}

// Spans is the number of spans in the page being built.
func (w *PageWriter) Spans() int { return w.n }

// Pos is the position the next span will have in the page being built.
func (w *PageWriter) Pos() Pos { return Pos{len(w.rec), len(w.nums), w.n} }

// Size estimates the encoded size of the page being built.
func (w *PageWriter) Size() int {
	return len(w.rec) + len(w.nums) + len(w.spids) + len(w.pres) + 16*len(w.pstrs)
}

// AppendPage appends the page built so far, as a batch in the codec's format, to dst and starts a new page.
func (w *PageWriter) AppendPage(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(w.pstrs)))
	for _, g := range w.pstrs {
		s := w.strs[g]
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(w.npres))
	dst = append(dst, w.pres...)
	dst = binary.AppendUvarint(dst, uint64(w.n))
	dst = binary.AppendUvarint(dst, uint64(len(w.rec)))
	dst = append(dst, w.rec...)
	dst = binary.AppendUvarint(dst, uint64(len(w.nums)))
	dst = append(dst, w.nums...)
	dst = append(dst, w.spids...)
	w.page++
	w.pstrs = w.pstrs[:0]
	w.pres = w.pres[:0]
	w.npres = 0
	w.rec = w.rec[:0]
	w.nums = w.nums[:0]
	w.spids = w.spids[:0]
	w.n = 0
	w.inTrace, w.tracking = false, false
	return dst
}

// recUvarint, numsVarint and recUint64 append to the page's streams in place (x = append(x, ...)), which
// writes back only the length while they do not grow: storing what binary.AppendUvarint returns writes the
// slice whole, a pointer, which while the collector marks costs a write barrier (and its flush) each time.
func (w *PageWriter) recUvarint(x uint64) {
	for x >= 0x80 {
		w.rec = append(w.rec, byte(x)|0x80)
		x >>= 7
	}
	w.rec = append(w.rec, byte(x))
}

func (w *PageWriter) numsVarint(v int64) {
	x := uint64(v)<<1 ^ uint64(v>>63)
	for x >= 0x80 {
		w.nums = append(w.nums, byte(x)|0x80)
		x >>= 7
	}
	w.nums = append(w.nums, byte(x))
}

func (w *PageWriter) recUint64(x uint64) {
	w.rec = append(w.rec, byte(x), byte(x>>8), byte(x>>16), byte(x>>24), byte(x>>32), byte(x>>40), byte(x>>48), byte(x>>56))
}

// setRec and setNums put back the page's records or numbers that a loop appended to in a local: when they did
// not grow, only their length (storing the slice whole writes a pointer, which, while the collector marks, costs a
// write barrier and its flush: a large part of a copy's time when it was so for every few bytes).
func (w *PageWriter) setRec(o []byte) {
	if cap(o) == cap(w.rec) { // appending only ever grows the capacity
		w.rec = w.rec[:len(o)]
	} else {
		w.rec = o
	}
}

func (w *PageWriter) setNums(o []byte) {
	if cap(o) == cap(w.nums) {
		w.nums = w.nums[:len(o)]
	} else {
		w.nums = o
	}
}

// transcoder walks one run's records, numbers and span IDs, writing them to the page. It reads them at positions
// (r, ni, ii) rather than by reslicing, which would write a pointer (and, while the collector marks, take a write
// barrier) for every field read.
type transcoder struct {
	w         *PageWriter
	rec       []byte
	nums      []byte
	ids       []byte
	r, ni, ii int
	err       error
	// xs and xl are the source's Source.shared and Source.local, with dictionary references into dictIDs; dbit is
	// xDict when that is w's dictionary (the references are the page's), 0 otherwise.
	xs, xl  []uint32
	dictIDs []uint32
	dbit    uint32
}

func (t *transcoder) fail(what string) {
	if t.err == nil {
		t.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	t.r, t.ni = len(t.rec), len(t.nums)
}

// uvarint reads one from the records and copies it to the page.
func (t *transcoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(t.rec[t.r:])
	if n <= 0 {
		t.fail(what)
		return 0
	}
	if n == 1 {
		t.w.rec = append(t.w.rec, byte(v))
	} else {
		t.w.rec = append(t.w.rec, t.rec[t.r:t.r+n]...)
	}
	t.r += n
	return v
}

// fixed copies n bytes of the records.
func (t *transcoder) fixed(n int, what string) []byte {
	if len(t.rec)-t.r < n {
		t.fail(what)
		return nil
	}
	b := t.rec[t.r : t.r+n]
	t.w.rec = append(t.w.rec, b...)
	t.r += n
	return b
}

// num copies one varint of the numbers stream. It decodes while it finds the varint's end (one pass, not a scan
// and then binary.Varint); like binary.Uvarint, a tenth byte above 1 overflows and reads as 0.
func (t *transcoder) num(signed bool, what string) uint64 {
	nb := t.nums[t.ni:]
	o := t.w.nums // appended to byte by byte: copying a few bytes as a slice calls memmove
	var v uint64
	for n := 0; n < len(nb) && n < binary.MaxVarintLen64; n++ {
		c := nb[n]
		o = append(o, c)
		if c < 0x80 {
			if n == binary.MaxVarintLen64-1 && c > 1 {
				v = 0
			} else {
				v |= uint64(c) << (7 * n)
			}
			t.w.setNums(o)
			t.ni += n + 1
			if signed {
				return uint64(int64(v>>1) ^ -int64(v&1))
			}
			return v
		}
		v |= uint64(c&0x7f) << (7 * n)
	}
	t.fail(what)
	return 0
}

// str rewrites a string reference, returning the global id.
func (t *transcoder) str(what string) uint32 {
	var i uint64
	if t.r < len(t.rec) && t.rec[t.r] < 0x80 { // most references take one byte
		i = uint64(t.rec[t.r])
		t.r++
	} else {
		var n int
		i, n = binary.Uvarint(t.rec[t.r:])
		if n <= 0 {
			t.fail(what)
			return 0
		}
		t.r += n
	}
	g, r, ok := t.strRef(i)
	if !ok {
		t.fail(what + " string reference out of range")
		return 0
	}
	if r < 0x80 {
		t.w.rec = append(t.w.rec, byte(r))
	} else {
		t.w.recUvarint(r)
	}
	return g
}

// strRef translates the source's string reference i: the string's global id and the page's reference to it.
func (t *transcoder) strRef(i uint64) (g uint32, r uint64, ok bool) {
	var e uint32
	if i < uint64(len(t.xs)) {
		e = t.xs[i]
	} else if i -= uint64(len(t.xs)); i < uint64(len(t.xl)) {
		e = t.xl[i]
	} else {
		return 0, 0, false
	}
	g, r = t.entry(e)
	return g, r, true
}

// entry is the global id of a Source's entry e and the page's reference to its string.
func (t *transcoder) entry(e uint32) (g uint32, r uint64) {
	if e&xDict == 0 {
		return e, t.w.ref(e)
	}
	g = t.dictIDs[e&^xDict]
	if t.dbit != 0 {
		return g, uint64(e &^ xDict) // in the page's dictionary: no need to look at the string's slot
	}
	return g, t.w.ref(g)
}

// count copies a count of things that take at least min bytes each, checking that the records can hold them.
func (t *transcoder) count(min int, what string) int {
	var v uint64
	if t.r < len(t.rec) && t.rec[t.r] < 0x80 {
		v = uint64(t.rec[t.r])
		t.r++
		t.w.rec = append(t.w.rec, byte(v))
	} else {
		v = t.uvarint(what)
	}
	// v > (len-r)/min, without the division.
	if left := uint64(len(t.rec) - t.r); v > left || v*uint64(min) > left {
		t.fail(what + " count exceeds the data")
		return 0
	}
	return int(v)
}

// attrs copies an attribute list; top-level span attributes are also reported in out.
//
// Nearly every attribute is a string or an integer whose key is one of the source's first 128 strings: those are
// copied by the loop here, which keeps only the records, its position and the page's records in locals (the
// compiler has too few registers for more, and keeping more in locals had them spilled and reloaded at every
// step); anything else is copied by attr, one attribute at a time.
func (t *transcoder) attrs(depth int, out *[]AttrRef) {
	n := t.count(2, "attribute")
	w := t.w
	rec, r, o := t.rec, t.r, w.rec
	for ; n > 0; n-- {
		if r+1 >= len(rec) || rec[r] >= 0x80 || rec[r+1] != byte(model.TypeString) && rec[r+1] != byte(model.TypeInt) {
			goto slow
		}
		{
			ke, ok := t.lookup(uint64(rec[r]))
			if !ok {
				goto slow
			}
			typ := rec[r+1]
			r += 2
			var k uint32
			if ke&t.dbit != 0 && ke&^xDict < 0x80 {
				o = append(o, byte(ke), typ)
				if out != nil { // the global ids are only for the visitor
					k = t.dictIDs[ke&^xDict]
				}
			} else {
				var ref uint64
				if ke&xDict == 0 { // not in the dictionary: the page's own
					k, ref = ke, w.ref(ke)
				} else {
					k, ref = t.entry(ke)
				}
				o = binary.AppendUvarint(o, ref)
				o = append(o, typ)
			}
			if typ == byte(model.TypeInt) {
				t.r = r
				w.setRec(o)
				v := t.num(true, "int value")
				if out != nil {
					*out = append(*out, AttrRef{Key: k, Int: true, Num: int64(v)})
				}
				if t.err != nil {
					break
				}
				continue
			}
			// The value: a string reference of one or two bytes here.
			var i uint64
			if r < len(rec) && rec[r] < 0x80 {
				i = uint64(rec[r])
				r++
			} else if r+1 < len(rec) && rec[r+1] < 0x80 {
				i = uint64(rec[r]&0x7f) | uint64(rec[r+1])<<7
				r += 2
			} else {
				t.r = r
				w.setRec(o)
				g := t.str("value")
				r, o = t.r, w.rec
				if out != nil {
					*out = append(*out, AttrRef{Key: k, Str: g})
				}
				if t.err != nil {
					break
				}
				continue
			}
			e, ok := t.lookup(i)
			if !ok {
				t.r = r
				w.setRec(o)
				t.fail("value string reference out of range")
				break
			}
			var g uint32
			var ref uint64
			if e&t.dbit != 0 {
				ref = uint64(e &^ xDict)
				if out != nil {
					g = t.dictIDs[ref]
				}
			} else if e&xDict == 0 { // not in the dictionary: the page's own
				g, ref = e, w.ref(e)
			} else {
				g, ref = t.entry(e)
			}
			if ref < 0x80 {
				o = append(o, byte(ref))
			} else if ref < 1<<14 {
				o = append(o, byte(ref)|0x80, byte(ref>>7))
			} else {
				o = binary.AppendUvarint(o, ref)
			}
			if out != nil {
				*out = append(*out, AttrRef{Key: k, Str: g})
			}
			continue
		}
	slow:
		t.r = r
		w.setRec(o)
		if out != nil {
			*out = t.attr(depth, *out, true)
		} else {
			t.attr(depth, nil, false)
		}
		if t.err != nil {
			break
		}
		r, o = t.r, w.rec
	}
	if t.err == nil { // else t.r is where fail put it, which stops the copy
		t.r = r
		w.setRec(o)
	}
}

// lookup is the Source's entry of string reference i.
func (t *transcoder) lookup(i uint64) (uint32, bool) {
	if i < uint64(len(t.xs)) {
		return t.xs[i], true
	}
	if i -= uint64(len(t.xs)); i < uint64(len(t.xl)) {
		return t.xl[i], true
	}
	return 0, false
}

// uvarint9 reads a varint of at most nine bytes from the start of b, which must hold at least eight (n is 0
// otherwise, or for a longer varint): its first eight bytes in one load, their seven-bit groups gathered without
// a loop. A varint read so has the value binary.Uvarint gives it. It pays for the nine bytes of a trace's
// absolute start; for the few bytes of most numbers a loop costs less.
func uvarint9(b []byte) (v uint64, n int) {
	if len(b) < 8 {
		return 0, 0
	}
	x := binary.LittleEndian.Uint64(b)
	if ends := ^x & 0x8080808080808080; ends != 0 {
		n = bits.TrailingZeros64(ends)/8 + 1
		if n < 8 {
			x &= 1<<(8*n) - 1
		}
		return gather7(x), n
	}
	if len(b) < 9 || b[8] >= 0x80 {
		return 0, 0
	}
	return gather7(x) | uint64(b[8])<<56, 9
}

// gather7 puts the low seven bits of each byte of x next to each other, the first byte's lowest.
func gather7(x uint64) uint64 {
	x &= 0x7f7f7f7f7f7f7f7f
	x = x&0x007f007f007f007f | x&0x7f007f007f007f00>>1
	x = x&0x00003fff00003fff | x&0x3fff00003fff0000>>2
	return x&0x000000000fffffff | x&0x0fffffff00000000>>4
}

// attr copies one attribute of a list, appending it to out when report is set.
func (t *transcoder) attr(depth int, out []AttrRef, report bool) []AttrRef {
	k := t.str("attribute key")
	if report {
		v, g := t.value(depth, true)
		out = append(out, t.w.attrRef(k, &v, g))
	} else {
		t.value(depth, false)
	}
	return out
}

// value copies one value; with want it also returns it (and a string's global id).
func (t *transcoder) value(depth int, want bool) (model.Value, uint32) {
	if depth > 32 {
		t.fail("values nested too deep")
		return model.Value{}, 0
	}
	tb := t.fixed(1, "value type")
	if tb == nil {
		return model.Value{}, 0
	}
	v := model.Value{Type: model.Type(tb[0])}
	switch v.Type {
	case model.TypeEmpty:
	case model.TypeString, model.TypeBytes:
		g := t.str("value")
		if want {
			v.Str = t.w.strs[g]
		}
		return v, g
	case model.TypeInt:
		v.Num = t.num(true, "int value")
	case model.TypeFloat:
		if b := t.fixed(8, "float value"); b != nil {
			v.Num = binary.LittleEndian.Uint64(b)
		}
	case model.TypeBool:
		if b := t.fixed(1, "bool value"); b != nil {
			v.Num = uint64(b[0] & 1)
		}
	case model.TypeArray:
		n := t.count(1, "array")
		if want && n > 0 {
			v.Array = make([]model.Value, n)
		}
		for i := 0; i < n && t.err == nil; i++ {
			e, _ := t.value(depth+1, want)
			if want {
				v.Array[i] = e
			}
		}
	case model.TypeMap:
		n := t.count(2, "attribute")
		if want && n > 0 {
			v.Map = make([]model.Attr, n)
		}
		for i := 0; i < n && t.err == nil; i++ {
			k := t.str("attribute key")
			e, _ := t.value(depth+1, want)
			if want {
				v.Map[i] = model.Attr{Key: t.w.strs[k], Value: e}
			}
		}
	default:
		t.fail(fmt.Sprintf("unknown value type %d", v.Type))
	}
	return v, 0
}

func (t *transcoder) eventRef() {
	m := t.fixed(1, "event reference")
	if m == nil {
		return
	}
	switch m[0] {
	case 0:
	case 1:
		t.fixed(16, "event reference trace id")
	default:
		t.fail("event reference marker")
	}
	t.uvarint("event reference unit")
	t.uvarint("event reference seq")
}

// AddRun copies the records of src from position from up to the record starting at recEnd (a run, or several
// runs of one trace, as Encoder.Runs and a block's trace table give them) into the page, calling visit (if not
// nil) for each span. The first record must name its trace. On error the page is left incomplete and must not
// be written.
func (w *PageWriter) AddRun(src *Source, from Pos, recEnd int, visit func(*SpanInfo)) error {
	return w.addRun(src, from, recEnd, visit, visit != nil)
}

// AddRunNoAttrs is AddRun for a visitor that reads no attributes: the SpanInfo it is given has none. Making a
// span's attributes for the visitor costs a global id for each (and the text of every value that is not a string
// or an integer), which a visitor of a span's identity, parent, resource and status only (compaction finding the
// dependency edges of a trace it joins) does not need.
func (w *PageWriter) AddRunNoAttrs(src *Source, from Pos, recEnd int, visit func(*SpanInfo)) error {
	return w.addRun(src, from, recEnd, visit, false)
}

// addRun is AddRun; the visitor's SpanInfo has its attributes with attrs.
func (w *PageWriter) addRun(src *Source, from Pos, recEnd int, visit func(*SpanInfo), attrs bool) error {
	b := src.b
	if from.Rec < 0 || recEnd > len(b.rec) || from.Rec > recEnd || from.Num < 0 || from.Num > len(b.nums) ||
		from.Row < 0 || from.Row > b.n {
		return fmt.Errorf("%w: run %+v..%d outside the batch", ErrCorrupt, from, recEnd)
	}
	t := &transcoder{w: w, rec: b.rec[from.Rec:recEnd], nums: b.nums[from.Num:], ids: b.ids[8*from.Row:],
		xs: src.shared, xl: src.local, dictIDs: src.dictIDs}
	if src.dictGen == w.dictGen {
		t.dbit = xDict
	}
	if len(t.rec) > 0 && len(t.nums) > 0 && len(t.ids) > 0 {
		// A run is rarely in the cache (a head's runs are copied in trace ID order, from every record in turn):
		// reading a byte of each of its streams here has the three fetched at once rather than one after another.
		w.touch += t.rec[0] + t.nums[0] + t.ids[0]
	}
	info := &w.info
	first := true
	for t.r < len(t.rec) && t.err == nil {
		h, n := binary.Uvarint(t.rec[t.r:])
		if n <= 0 || len(t.rec)-t.r < n+1 {
			t.fail("record header")
			break
		}
		ks := t.rec[t.r+n]
		t.r += n + 1
		info.Kind, info.Status = model.Kind(ks&0xf), model.StatusCode(ks>>4)
		if h&recSameTrace != 0 {
			if first {
				t.fail("run starts in the middle of a trace")
				break
			}
			oh := h // the header written: h is the source's
			if w.tracking {
				oh = w.parentHeader(t, h)
			} else {
				w.parentIdx = -1
			}
			w.recUvarint(oh)
			w.rec = append(w.rec, ks)
			info.Start = w.prevStart + int64(t.num(true, "start"))
		} else {
			// A run naming its trace: where the page's last record is of the same trace (another part of it, from
			// another request or another block), the run joins it, as if the trace had come whole.
			if len(t.rec)-t.r < 16 {
				t.fail("trace id")
				break
			}
			var id model.TraceID
			copy(id[:], t.rec[t.r:])
			t.r += 16
			uv, n := uvarint9(t.nums[t.ni:])
			if n == 0 {
				uv, n = binary.Uvarint(t.nums[t.ni:])
			}
			if n <= 0 {
				t.fail("start")
				break
			}
			t.ni += n
			s := int64(uv>>1) ^ -int64(uv&1)
			info.Start = s
			if w.inTrace && id == w.curTrace {
				w.joinRun()
				w.recUvarint(w.parentHeader(t, h|recSameTrace))
				w.rec = append(w.rec, ks)
				w.numsVarint(s - w.prevStart)
			} else {
				w.recUvarint(h)
				w.rec = append(w.rec, ks)
				w.recUint64(binary.LittleEndian.Uint64(id[:8]))
				w.recUint64(binary.LittleEndian.Uint64(id[8:]))
				w.numsVarint(s)
				w.curTrace, w.inTrace, w.traceRow, w.tracking = id, true, w.n, false
				w.parentIdx = -1
			}
		}
		first = false
		w.prevStart = info.Start
		if len(t.ids)-t.ii < 8 {
			t.fail("span ids run out")
			break
		}
		sidw := binary.LittleEndian.Uint64(t.ids[t.ii:])
		w.spids = append(w.spids, byte(sidw), byte(sidw>>8), byte(sidw>>16), byte(sidw>>24), byte(sidw>>32),
			byte(sidw>>40), byte(sidw>>48), byte(sidw>>56))
		t.ii += 8
		dur := t.num(false, "duration")
		if dur > math.MaxInt64 {
			t.fail("duration")
		}
		if t.err != nil {
			break // the parent below may be taken as 8 bytes that a failed read no longer has
		}
		info.Duration = int64(dur)
		binary.LittleEndian.PutUint64(info.SpanID[:], sidw)
		info.Parent, info.ParentRef, info.Flags = model.SpanID{}, -1, 0
		if h&recParent != 0 && w.parentIdx >= 0 {
			copy(info.Parent[:], t.rec[t.r:])
			t.r += 8 // parentHeader found the parent among the trace's spans: an index instead
			w.recUvarint(uint64(w.parentIdx))
		} else if h&recParent != 0 {
			if len(t.rec)-t.r < 8 {
				t.fail("parent id")
				break
			}
			pid := binary.LittleEndian.Uint64(t.rec[t.r:])
			binary.LittleEndian.PutUint64(info.Parent[:], pid)
			w.recUint64(pid)
			t.r += 8
		} else if h&recParentRef != 0 {
			k, n := binary.Uvarint(t.rec[t.r:])
			if n <= 0 {
				t.fail("parent reference")
				break
			}
			t.r += n
			if w.tracking {
				if k >= uint64(len(w.srcList)) {
					t.fail("parent reference out of range")
					break
				}
				k = uint64(w.srcList[k])
			}
			w.recUvarint(k)
			info.ParentRef = int(k)
		}
		if w.tracking {
			w.track(sidw)
		}
		info.Name = t.str("name")
		ri, n := binary.Uvarint(t.rec[t.r:])
		if n <= 0 || ri >= uint64(len(src.res)) {
			t.fail("resource reference out of range")
			break
		}
		t.r += n
		info.Resource = src.res[ri]
		w.recUvarint(w.resRef(info.Resource))
		if h&recStatusMsg != 0 {
			t.str("status message")
		}
		if h&recSpanResource != 0 {
			t.str("span resource")
		}
		if h&recSpanType != 0 {
			t.str("span type")
		}
		if h&recScope != 0 {
			t.str("scope")
		}
		if h&recScopeVersion != 0 {
			t.str("scope version")
		}
		info.Attrs = info.Attrs[:0]
		if attrs {
			t.attrs(0, &info.Attrs)
		} else {
			t.attrs(0, nil)
		}
		if h&recEvents != 0 {
			ne := t.count(4, "event")
			for i := 0; i < ne && t.err == nil; i++ {
				if _, n := binary.Varint(t.rec[t.r:]); n > 0 {
					t.w.rec = append(t.w.rec, t.rec[t.r:t.r+n]...)
					t.r += n
				} else {
					t.fail("event time")
				}
				t.str("event name")
				t.attrs(0, nil)
				t.uvarint("event unit")
				t.uvarint("event seq")
				t.eventRef()
			}
		}
		if h&recLinks != 0 {
			nl := t.count(26, "link")
			for i := 0; i < nl && t.err == nil; i++ {
				t.fixed(24, "link ids")
				t.str("link tracestate")
				t.attrs(0, nil)
			}
		}
		if h&recTraceState != 0 {
			t.str("tracestate")
		}
		if h&recFlags != 0 {
			info.Flags = model.Flags(t.uvarint("flags"))
		}
		if h&recCausality != 0 {
			for range 4 {
				t.uvarint("causality")
			}
			t.eventRef()
		}
		if t.err != nil {
			break
		}
		w.n++
		if visit != nil {
			visit(info)
		}
	}
	return t.err
}
