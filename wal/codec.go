package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"unsafe"

	"github.com/weftrace/weft/model"
)

// The span codec. One encoded batch is
//
//	uvarint nstrings, then each string as uvarint length + bytes
//	uvarint nresources, then each resource as uvarint service-ref, attrs
//	uvarint nspans
//	uvarint length + the records stream: per span its structure (flags, references, attribute keys and types)
//	uvarint length + the numbers stream: per span its start, duration and integer attribute values, as varints
//	the span IDs, 8 bytes each
//
// Splitting the numbers and the random span IDs from the structure lets zstd find the structure's repetitions.
//
// Strings are kept once per batch and referred to by index, resources likewise. A span record starts with its
// trace ID and absolute start time when its trace differs from the previous record's, and with only a flag and a
// start-time delta otherwise, so a batch whose spans are grouped by trace can be decoded from any trace's first
// record (the store's blocks do that). The write-ahead log and the store's blocks share this codec.

// Field presence bits in a record's header.
const (
	recSameTrace = 1 << iota
	recParent
	recStatusMsg
	recSpanResource
	recSpanType
	recScope
	recScopeVersion
	recEvents
	recLinks
	recTraceState
	recFlags
	recCausality
	recParentRef // the parent is an earlier span of the same trace run, referred to by its index in the run
)

// ErrCorrupt is returned (wrapped, with what was wrong) by the decoders for bytes that are not a valid batch.
var ErrCorrupt = errors.New("wal: corrupt span batch")

// Dict is a string table shared by many batches (the store's blocks keep one per block, for the values that
// recur across pages). References below its length name its strings; the batch's own table follows them.
type Dict struct {
	idx  map[string]uint32
	strs []string
}

// NewDict makes a shared dictionary of strs, in that order.
func NewDict(strs []string) *Dict {
	d := &Dict{idx: make(map[string]uint32, len(strs)), strs: strs}
	for i, s := range strs {
		d.idx[s] = uint32(i)
	}
	return d
}

// Strings are the dictionary's strings, in reference order.
func (d *Dict) Strings() []string {
	if d == nil {
		return nil
	}
	return d.strs
}

// Encoder builds one batch. The zero value is ready; Reset makes it reusable. The batch refers to the strings of
// the spans added until Reset (their bytes must not change meanwhile, as Go's strings never do).
type Encoder struct {
	// Shared, if set before the first Add, is consulted before the batch's own string table; the batch must then
	// be parsed with the same dictionary's strings.
	Shared *Dict

	strs  []string   // the batch's own string table
	table []strEntry // open addressing over strs by hash (see lookup); len is a power of two or zero
	// cache finds strings by the address of their bytes before the table: receivers hand over spans whose
	// repeated strings (keys, names, common values) share their bytes, so most lookups stop here. Its entries
	// are the batch's: touched lists those to clear at Reset.
	cache   [strCacheSize]strCacheEntry
	touched []uint16
	copies  []string          // strings looked up whose text the table holds at another address: kept for their cache entries
	keyHint [16]strCacheEntry // the cache entries of the last span's keys by position, for the batch as the cache's
	resIdx  map[*model.Resource]uint32
	// lastRes and lastResIdx skip the map for a run of spans of one resource (a request's spans come grouped).
	lastRes    *model.Resource
	lastResIdx uint32
	resKey     map[string]uint32
	res        []byte // encoded resources
	nres       int
	rec        []byte
	nums       []byte
	ids        []byte
	inRec      bool // encoding a record (integers go to nums), not the resource table
	nspans     int

	prevTrace model.TraceID
	prevStart int64
	// run lists the distinct span IDs of the current trace run; a parent in it is written as its index. Runs
	// are mostly short (a request's spans come grouped by service, a trace's few of them together), so they are
	// searched in order; runIdx indexes a run longer than runScan.
	run    []model.SpanID
	runIdx map[model.SpanID]uint32
	runs   []Run
	tmp    []byte
}

// Run is a stretch of consecutive records of one trace in a batch, starting with a record that names the trace:
// what Batch.Range decodes and PageWriter.AddRun copies.
type Run struct {
	TraceID model.TraceID
	From    Pos
	RecEnd  int
}

const (
	strCacheBits = 12
	strCacheSize = 1 << strCacheBits
	runScan      = 32 // the longest trace run searched in order
)

// strCacheEntry remembers, for the current batch, that the string whose bytes are at p, of length n-1, has
// reference idx. It holds no pointer, so that filling it costs no write barrier. The bytes at p stay alive and
// unchanged until Reset, which clears the batch's entries: the string looked up is the table's (or the shared
// dictionary's) very string, or else kept in the encoder's copies. So any string at p of that length has that
// text, and an entry is taken without comparing texts.
type strCacheEntry struct {
	p   uintptr
	n   uint32 // length + 1; 0: empty
	idx uint32
}

// strEntry is a slot of the string table: 1 + the index in strs (0: empty) and the high bits of the string's hash.
type strEntry struct {
	ref  uint32
	hash uint32
}

// Reset empties the encoder, keeping its buffers.
func (e *Encoder) Reset() {
	if len(e.touched) > strCacheSize/4 {
		clear(e.cache[:])
	} else {
		for _, i := range e.touched {
			e.cache[i] = strCacheEntry{}
		}
	}
	e.touched = e.touched[:0]
	e.keyHint = [len(e.keyHint)]strCacheEntry{}
	clear(e.copies)
	e.copies = e.copies[:0]
	clear(e.table)
	clear(e.resIdx)
	clear(e.resKey)
	e.lastRes = nil
	e.strs = e.strs[:0]
	e.res = e.res[:0]
	e.nres = 0
	e.rec = e.rec[:0]
	e.nums = e.nums[:0]
	e.ids = e.ids[:0]
	e.nspans = 0
	e.prevTrace = model.TraceID{}
	e.prevStart = 0
	e.run = e.run[:0]
	clear(e.runIdx)
	e.runs = e.runs[:0]
}

// Runs lists the trace runs of the batch so far, in order. The slice is the encoder's until Reset.
func (e *Encoder) Runs() []Run {
	if n := len(e.runs); n > 0 {
		e.runs[n-1].RecEnd = len(e.rec)
	}
	return e.runs
}

// Spans is the number of spans added since the last Reset.
func (e *Encoder) Spans() int { return e.nspans }

// Pos is where a span record starts in a batch's streams.
type Pos struct{ Rec, Num, Row int }

// Pos is the position the next span will have. Blocks note it at each trace's first span to decode that trace
// alone with Batch.Range.
func (e *Encoder) Pos() Pos { return Pos{len(e.rec), len(e.nums), e.nspans} }

// Size estimates the encoded size so far.
func (e *Encoder) Size() int {
	return len(e.rec) + len(e.nums) + len(e.ids) + len(e.res) + 16*len(e.strs)
}

// str is the reference of s, added to the table if new.
func (e *Encoder) str(s string) uint32 {
	if i, ok := e.cached(s); ok {
		return i
	}
	return e.strMiss(s)
}

// cached is the reference of s if the cache has it: what most lookups take, small enough to be inlined where
// they are most frequent.
func (e *Encoder) cached(s string) (uint32, bool) {
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	c := &e.cache[strCacheSlot(p, len(s))]
	return c.idx, c.p == p && int(c.n) == len(s)+1
}

// strCacheSlot is the cache slot of the string of n bytes at p.
func strCacheSlot(p uintptr, n int) uint64 {
	return (uint64(p) ^ uint64(n)<<48) * 0x9e3779b97f4a7c15 >> (64 - strCacheBits)
}

// strMiss is str for a string the cache does not have: found or added in the table, and then in the cache (in
// place of what the slot held).
func (e *Encoder) strMiss(s string) uint32 {
	i := e.lookup(s)
	if len(s) == 0 || uint64(len(s)) >= math.MaxUint32 {
		return i
	}
	k := strCacheSlot(uintptr(unsafe.Pointer(unsafe.StringData(s))), len(s))
	c := &e.cache[k]
	if c.n == 0 {
		e.touched = append(e.touched, uint16(k))
	}
	c.p, c.n, c.idx = uintptr(unsafe.Pointer(unsafe.StringData(s))), uint32(len(s))+1, i
	if unsafe.StringData(e.at(i)) != unsafe.StringData(s) {
		e.copies = append(e.copies, s)
	}
	return i
}

// at is the string of reference i ("" when there is none).
func (e *Encoder) at(i uint32) string {
	if e.Shared != nil {
		if i < uint32(len(e.Shared.strs)) {
			return e.Shared.strs[i]
		}
		i -= uint32(len(e.Shared.strs))
	}
	if i < uint32(len(e.strs)) {
		return e.strs[i]
	}
	return ""
}

var strSeed = maphash.MakeSeed()

// lookup finds s in the shared dictionary or the batch's table, adding it to the table if new. The table is open
// addressing over indexes into strs rather than a map[string]uint32: one hash per string, and no string pointers
// written into it (a batch adds a thousand or more strings that occur once, user ids, addresses).
func (e *Encoder) lookup(s string) uint32 {
	base := uint32(0)
	if e.Shared != nil {
		if i, ok := e.Shared.idx[s]; ok {
			return i
		}
		base = uint32(len(e.Shared.strs))
	}
	if 2*(len(e.strs)+1) > len(e.table) {
		e.grow()
	}
	h := maphash.String(strSeed, s)
	tag := uint32(h >> 32)
	mask := uint64(len(e.table) - 1)
	for k := h & mask; ; k = (k + 1) & mask {
		sl := &e.table[k]
		if sl.ref == 0 {
			sl.ref, sl.hash = uint32(len(e.strs))+1, tag
			e.strs = append(e.strs, s)
			return base + sl.ref - 1
		}
		if sl.hash == tag && e.strs[sl.ref-1] == s {
			return base + sl.ref - 1
		}
	}
}

// grow doubles the table (at least 1024 slots), placing the strings again by their hashes.
func (e *Encoder) grow() {
	n := max(1024, 2*len(e.table))
	old := e.table
	e.table = make([]strEntry, n)
	mask := uint64(n - 1)
	for _, sl := range old {
		if sl.ref == 0 {
			continue
		}
		h := maphash.String(strSeed, e.strs[sl.ref-1])
		k := h & mask
		for e.table[k].ref != 0 {
			k = (k + 1) & mask
		}
		e.table[k] = sl
	}
}

func (e *Encoder) resource(r *model.Resource) uint32 {
	if r == nil {
		r = &model.Resource{}
	}
	if r == e.lastRes {
		return e.lastResIdx
	}
	if i, ok := e.resIdx[r]; ok {
		e.lastRes, e.lastResIdx = r, i
		return i
	}
	if e.resIdx == nil {
		e.resIdx = make(map[*model.Resource]uint32)
		e.resKey = make(map[string]uint32)
	}
	// Equal resources from different requests share one entry: key them by their encoding.
	b := binary.AppendUvarint(e.tmp[:0], uint64(e.str(r.Service)))
	b = e.appendAttrs(b, r.Attrs, nil)
	e.tmp = b
	i, ok := e.resKey[string(b)]
	if !ok {
		i = uint32(e.nres)
		e.nres++
		e.resKey[string(b)] = i
		e.res = append(e.res, b...)
	}
	e.resIdx[r] = i
	e.lastRes, e.lastResIdx = r, i
	return i
}

// appendAttrs appends attrs. hint, for a span's attributes, holds the cache entries of the previous span's
// keys by position (or nil): spans of a kind have their attributes in one order.
func (e *Encoder) appendAttrs(b []byte, attrs []model.Attr, hint []strCacheEntry) []byte {
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	for i := range attrs {
		a := &attrs[i]
		// str and appendValue written out for the common cases: a key and a string or integer value.
		var k uint32
		p := uintptr(unsafe.Pointer(unsafe.StringData(a.Key)))
		if i < len(hint) && hint[i].p == p && int(hint[i].n) == len(a.Key)+1 {
			k = hint[i].idx
		} else {
			var ok bool
			if k, ok = e.cached(a.Key); !ok {
				k = e.strMiss(a.Key)
			}
			if i < len(hint) && len(a.Key) > 0 && uint64(len(a.Key)) < math.MaxUint32 {
				hint[i] = strCacheEntry{p: p, n: uint32(len(a.Key)) + 1, idx: k} // valid as the cache's entry is
			}
		}
		b = binary.AppendUvarint(b, uint64(k))
		switch a.Value.Type {
		case model.TypeString:
			v, ok := e.cached(a.Value.Str)
			if !ok {
				v = e.strMiss(a.Value.Str)
			}
			b = append(b, byte(model.TypeString))
			b = binary.AppendUvarint(b, uint64(v))
		case model.TypeInt:
			if !e.inRec {
				b = e.appendValue(b, &a.Value)
				break
			}
			b = append(b, byte(model.TypeInt))
			e.nums = binary.AppendVarint(e.nums, int64(a.Value.Num))
		default:
			b = e.appendValue(b, &a.Value)
		}
	}
	return b
}

func (e *Encoder) appendValue(b []byte, v *model.Value) []byte {
	b = append(b, byte(v.Type))
	switch v.Type {
	case model.TypeString, model.TypeBytes:
		b = binary.AppendUvarint(b, uint64(e.str(v.Str)))
	case model.TypeInt:
		if e.inRec {
			e.nums = binary.AppendVarint(e.nums, int64(v.Num))
		} else {
			b = binary.AppendVarint(b, int64(v.Num))
		}
	case model.TypeFloat:
		b = binary.LittleEndian.AppendUint64(b, v.Num)
	case model.TypeBool:
		b = append(b, byte(v.Num&1))
	case model.TypeArray:
		b = binary.AppendUvarint(b, uint64(len(v.Array)))
		for i := range v.Array {
			b = e.appendValue(b, &v.Array[i])
		}
	case model.TypeMap:
		b = e.appendAttrs(b, v.Map, nil)
	}
	return b
}

// inRun gives the index of id in the current trace run, if it is there.
func (e *Encoder) inRun(id model.SpanID) (uint32, bool) {
	if len(e.run) > runScan {
		i, ok := e.runIdx[id]
		return i, ok
	}
	for i, r := range e.run {
		if r == id {
			return uint32(i), true
		}
	}
	return 0, false
}

// addToRun adds id, not in the current trace run, at its end.
func (e *Encoder) addToRun(id model.SpanID) {
	e.run = append(e.run, id)
	if n := len(e.run); n > runScan {
		if e.runIdx == nil {
			e.runIdx = make(map[model.SpanID]uint32)
		}
		if n == runScan+1 {
			for i, r := range e.run[:runScan] {
				e.runIdx[r] = uint32(i)
			}
		}
		e.runIdx[id] = uint32(n - 1)
	}
}

func appendRef(b []byte, r model.EventRef) []byte {
	if r.TraceID.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = append(b, r.TraceID[:]...)
	}
	b = binary.AppendUvarint(b, r.Unit)
	return binary.AppendUvarint(b, uint64(r.Seq))
}

// Add appends one span.
func (e *Encoder) Add(s *model.Span) {
	var h uint64
	same := e.nspans > 0 && s.TraceID == e.prevTrace
	if same {
		h |= recSameTrace
	}
	if !same {
		if len(e.run) > runScan {
			clear(e.runIdx)
		}
		e.run = e.run[:0]
		if n := len(e.runs); n > 0 {
			e.runs[n-1].RecEnd = len(e.rec)
		}
		e.runs = append(e.runs, Run{TraceID: s.TraceID, From: e.Pos()})
	}
	parentRef, parentInRun := uint32(0), false
	if !s.ParentID.IsZero() {
		parentRef, parentInRun = e.inRun(s.ParentID)
		if parentInRun {
			h |= recParentRef
		} else {
			h |= recParent
		}
	}
	if _, dup := e.inRun(s.SpanID); !dup {
		e.addToRun(s.SpanID)
	}
	if s.StatusMessage != "" {
		h |= recStatusMsg
	}
	if s.SpanResource != "" {
		h |= recSpanResource
	}
	if s.SpanType != "" {
		h |= recSpanType
	}
	if s.Scope != "" {
		h |= recScope
	}
	if s.ScopeVersion != "" {
		h |= recScopeVersion
	}
	if len(s.Events) > 0 {
		h |= recEvents
	}
	if len(s.Links) > 0 {
		h |= recLinks
	}
	if s.TraceState != "" {
		h |= recTraceState
	}
	if s.Flags != 0 {
		h |= recFlags
	}
	if s.Causality != (model.Causality{}) {
		h |= recCausality
	}
	res := e.resource(s.Resource)
	e.inRec = true
	b := e.rec
	b = binary.AppendUvarint(b, h)
	b = append(b, byte(s.Kind)|byte(s.StatusCode)<<4)
	if same {
		e.nums = binary.AppendVarint(e.nums, s.Start-e.prevStart)
	} else {
		b = append(b, s.TraceID[:]...)
		e.nums = binary.AppendVarint(e.nums, s.Start)
	}
	e.ids = append(e.ids, s.SpanID[:]...)
	e.nums = binary.AppendUvarint(e.nums, uint64(s.Duration))
	if h&recParent != 0 {
		b = append(b, s.ParentID[:]...)
	} else if h&recParentRef != 0 {
		b = binary.AppendUvarint(b, uint64(parentRef))
	}
	b = binary.AppendUvarint(b, uint64(e.str(s.Name)))
	b = binary.AppendUvarint(b, uint64(res))
	if h&recStatusMsg != 0 {
		b = binary.AppendUvarint(b, uint64(e.str(s.StatusMessage)))
	}
	if h&recSpanResource != 0 {
		b = binary.AppendUvarint(b, uint64(e.str(s.SpanResource)))
	}
	if h&recSpanType != 0 {
		b = binary.AppendUvarint(b, uint64(e.str(s.SpanType)))
	}
	if h&recScope != 0 {
		b = binary.AppendUvarint(b, uint64(e.str(s.Scope)))
	}
	if h&recScopeVersion != 0 {
		b = binary.AppendUvarint(b, uint64(e.str(s.ScopeVersion)))
	}
	b = e.appendAttrs(b, s.Attrs, e.keyHint[:])
	if h&recEvents != 0 {
		b = binary.AppendUvarint(b, uint64(len(s.Events)))
		for i := range s.Events {
			ev := &s.Events[i]
			b = binary.AppendVarint(b, ev.Time-s.Start)
			b = binary.AppendUvarint(b, uint64(e.str(ev.Name)))
			b = e.appendAttrs(b, ev.Attrs, nil)
			b = binary.AppendUvarint(b, ev.Unit)
			b = binary.AppendUvarint(b, uint64(ev.Seq))
			b = appendRef(b, ev.Cause)
		}
	}
	if h&recLinks != 0 {
		b = binary.AppendUvarint(b, uint64(len(s.Links)))
		for i := range s.Links {
			l := &s.Links[i]
			b = append(b, l.TraceID[:]...)
			b = append(b, l.SpanID[:]...)
			b = binary.AppendUvarint(b, uint64(e.str(l.TraceState)))
			b = e.appendAttrs(b, l.Attrs, nil)
		}
	}
	if h&recTraceState != 0 {
		b = binary.AppendUvarint(b, uint64(e.str(s.TraceState)))
	}
	if h&recFlags != 0 {
		b = binary.AppendUvarint(b, uint64(s.Flags))
	}
	if h&recCausality != 0 {
		c := &s.Causality
		b = binary.AppendUvarint(b, c.Unit)
		b = binary.AppendUvarint(b, uint64(c.StartSeq))
		b = binary.AppendUvarint(b, c.EndUnit)
		b = binary.AppendUvarint(b, uint64(c.EndSeq))
		b = appendRef(b, c.StartCause)
	}
	e.rec = b
	e.inRec = false
	e.nspans++
	e.prevTrace = s.TraceID
	e.prevStart = s.Start
}

// AppendTo appends the whole batch to dst.
func (e *Encoder) AppendTo(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(e.strs)))
	for _, s := range e.strs {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(e.nres))
	dst = append(dst, e.res...)
	dst = binary.AppendUvarint(dst, uint64(e.nspans))
	dst = binary.AppendUvarint(dst, uint64(len(e.rec)))
	dst = append(dst, e.rec...)
	dst = binary.AppendUvarint(dst, uint64(len(e.nums)))
	dst = append(dst, e.nums...)
	return append(dst, e.ids...)
}

// AppendSpans encodes spans as one batch appended to dst.
func AppendSpans(dst []byte, spans []*model.Span) []byte {
	var e Encoder
	for _, s := range spans {
		e.Add(s)
	}
	return e.AppendTo(dst)
}

// Batch is a parsed batch: its string and resource tables, and its records still encoded.
type Batch struct {
	shared []string
	strs   []string
	res    []*model.Resource
	rec    []byte
	nums   []byte
	ids    []byte
	n      int
}

// Spans is the number of spans in the batch.
func (b *Batch) Spans() int { return b.n }

// decoder reads varints and references with bounds checks; the first error sticks.
type decoder struct {
	nums *decoder // where integer values come from; nil: this stream
	b    []byte
	err  error
	bt   *Batch
	slab []model.Attr // slab that attribute lists are cut from, to allocate once per many spans
	// slabMin is the size of a new slab (0: 512, for decoding a whole batch).
	slabMin int
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1(what string) byte {
	if len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) fixed(dst []byte, what string) {
	if len(d.b) < len(dst) {
		d.fail(what)
		return
	}
	copy(dst, d.b)
	d.b = d.b[len(dst):]
}

// count reads a length that must be possible given the bytes left (each element takes at least min bytes).
func (d *decoder) count(min int, what string) int {
	v := d.uvarint(what)
	if v > uint64(len(d.b)/min) {
		d.fail(what + " count exceeds the data")
		return 0
	}
	return int(v)
}

func (d *decoder) str(what string) string {
	i := d.uvarint(what)
	if i < uint64(len(d.bt.shared)) {
		return d.bt.shared[i]
	}
	i -= uint64(len(d.bt.shared))
	if i >= uint64(len(d.bt.strs)) {
		d.fail(what + " string reference out of range")
		return ""
	}
	return d.bt.strs[i]
}

func (d *decoder) attrs(depth int) []model.Attr {
	n := d.count(2, "attribute")
	if n == 0 {
		return nil
	}
	if n > len(d.slab) {
		m := d.slabMin
		if m == 0 {
			m = 512
		}
		d.slab = make([]model.Attr, max(n, m))
	}
	a := d.slab[:n:n]
	d.slab = d.slab[n:]
	for i := range a {
		a[i].Key = d.str("attribute key")
		a[i].Value = d.value(depth)
	}
	if d.err != nil {
		return nil
	}
	return a
}

func (d *decoder) value(depth int) model.Value {
	if depth > 32 {
		d.fail("values nested too deep")
		return model.Value{}
	}
	t := model.Type(d.byte1("value type"))
	v := model.Value{Type: t}
	switch t {
	case model.TypeEmpty:
	case model.TypeString, model.TypeBytes:
		v.Str = d.str("value")
	case model.TypeInt:
		if d.nums != nil {
			v.Num = uint64(d.nums.varint("int value"))
		} else {
			v.Num = uint64(d.varint("int value"))
		}
	case model.TypeFloat:
		var f [8]byte
		d.fixed(f[:], "float value")
		v.Num = binary.LittleEndian.Uint64(f[:])
	case model.TypeBool:
		v.Num = uint64(d.byte1("bool value") & 1)
	case model.TypeArray:
		n := d.count(1, "array")
		if n > 0 {
			v.Array = make([]model.Value, n)
			for i := range v.Array {
				v.Array[i] = d.value(depth + 1)
			}
		}
	case model.TypeMap:
		v.Map = d.attrs(depth + 1)
	default:
		d.fail(fmt.Sprintf("unknown value type %d", t))
	}
	return v
}

func (d *decoder) ref() model.EventRef {
	var r model.EventRef
	switch d.byte1("event reference") {
	case 0:
	case 1:
		d.fixed(r.TraceID[:], "event reference trace id")
	default:
		d.fail("event reference marker")
	}
	r.Unit = d.uvarint("event reference unit")
	r.Seq = uint32(d.uvarint("event reference seq"))
	return r
}

func (d *decoder) section(what string) []byte {
	l := d.uvarint(what + " length")
	if l > uint64(len(d.b)) {
		d.fail(what + " exceed the data")
		return nil
	}
	b := d.b[:l]
	d.b = d.b[l:]
	return b
}

// ParseBatch reads a batch's tables. The records are decoded by All or Range. b must not change afterwards.
// shared is the dictionary the batch was encoded with (nil for none).
func ParseBatch(b []byte, shared []string) (*Batch, error) {
	bt := &Batch{shared: shared}
	d := &decoder{b: b, bt: bt, slabMin: 16} // the resource table's attributes: a few
	ns := d.count(1, "string table")
	// The strings are copied once, into one allocation of exactly their size (the table's bytes interleave them
	// with their lengths, so a first pass measures and a second copies), and are slices of it.
	ends := make([]int, ns)
	from := d.b
	total := 0
	for i := 0; i < ns && d.err == nil; i++ {
		l := d.count(1, "string length")
		if d.err != nil {
			break
		}
		if l > len(d.b) {
			d.fail("string exceeds the data")
			break
		}
		total += l
		ends[i] = total
		d.b = d.b[l:]
	}
	if d.err != nil {
		return nil, d.err
	}
	bt.strs = make([]string, ns)
	if total > 0 {
		table := make([]byte, total)
		prev := 0
		for _, e := range ends {
			_, n := binary.Uvarint(from) // read without error in the first pass
			from = from[n:]
			copy(table[prev:e], from)
			from = from[e-prev:]
			prev = e
		}
		all := unsafe.String(&table[0], total) // table is never written again
		prev = 0
		for i, e := range ends {
			bt.strs[i] = all[prev:e]
			prev = e
		}
	}
	nr := d.count(2, "resource table")
	bt.res = make([]*model.Resource, nr)
	for i := 0; i < nr && d.err == nil; i++ {
		r := &model.Resource{Service: d.str("service")}
		r.Attrs = d.attrs(0)
		bt.res[i] = r
	}
	bt.n = d.count(10, "span")
	bt.rec = d.section("records")
	bt.nums = d.section("numbers")
	if d.err == nil && len(d.b) != 8*bt.n {
		d.fail(fmt.Sprintf("%d bytes of span IDs for %d spans", len(d.b), bt.n))
	}
	if d.err != nil {
		return nil, d.err
	}
	bt.ids = d.b
	return bt, nil
}

// All decodes every span of the batch.
func (b *Batch) All() ([]*model.Span, error) {
	spans, _, err := b.decode(Pos{}, len(b.rec), b.n)
	return spans, err
}

// Range decodes the spans from position from (Encoder.Pos at a trace's first span) up to the record that starts
// at recEnd (the next trace's Pos.Rec, or the end).
func (b *Batch) Range(from Pos, recEnd int) ([]*model.Span, error) {
	if from.Rec < 0 || recEnd > len(b.rec) || from.Rec > recEnd || from.Num < 0 || from.Num > len(b.nums) ||
		from.Row < 0 || from.Row > b.n {
		return nil, fmt.Errorf("%w: range %+v..%d outside the batch", ErrCorrupt, from, recEnd)
	}
	spans, _, err := b.decode(from, recEnd, -1)
	return spans, err
}

func (b *Batch) decode(from Pos, end, n int) ([]*model.Span, int, error) {
	dn := &decoder{b: b.nums[from.Num:], bt: b}
	d := &decoder{b: b.rec[from.Rec:end], bt: b, nums: dn}
	ids := b.ids[8*from.Row:]
	est := n
	if est < 0 {
		est = len(d.b) / 40
	}
	if n < 0 {
		// One trace: its attributes' slab is sized for about a dozen a span (512, 49 KB, for a trace of a few
		// spans made a head search allocate and clear far more than it decoded).
		d.slabMin = max(16, 12*est)
	}
	slab := make([]model.Span, 0, est)
	out := make([]*model.Span, 0, est)
	var prevTrace model.TraceID
	var prevStart int64
	var run []model.SpanID // distinct span IDs of the current trace run, in the encoder's order
	var inRun map[model.SpanID]bool
	if n < 0 { // one trace (Range): size for it, as a big trace would otherwise grow the map many times
		inRun = make(map[model.SpanID]bool, est)
		run = make([]model.SpanID, 0, est)
	} else {
		inRun = map[model.SpanID]bool{}
	}
	for len(d.b) > 0 && d.err == nil && (n < 0 || len(out) < n) {
		h := d.uvarint("record header")
		if len(slab) == cap(slab) {
			slab = make([]model.Span, 0, 64)
		}
		slab = slab[:len(slab)+1]
		s := &slab[len(slab)-1]
		ks := d.byte1("kind")
		s.Kind = model.Kind(ks & 0xf)
		s.StatusCode = model.StatusCode(ks >> 4)
		if h&recSameTrace != 0 {
			if len(out) == 0 {
				d.fail("first record continues a trace")
				break
			}
			s.TraceID = prevTrace
			s.Start = prevStart + dn.varint("start")
		} else {
			d.fixed(s.TraceID[:], "trace id")
			s.Start = dn.varint("start")
			run = run[:0]
			clear(inRun)
		}
		if len(ids) < 8 {
			d.fail("span ids run out")
			break
		}
		copy(s.SpanID[:], ids)
		ids = ids[8:]
		dur := dn.uvarint("duration")
		if dur > math.MaxInt64 {
			d.fail("duration")
		}
		s.Duration = int64(dur)
		if h&recParent != 0 {
			d.fixed(s.ParentID[:], "parent id")
		} else if h&recParentRef != 0 {
			k := d.uvarint("parent reference")
			if k >= uint64(len(run)) {
				d.fail("parent reference out of range")
				break
			}
			s.ParentID = run[k]
		}
		if !inRun[s.SpanID] {
			inRun[s.SpanID] = true
			run = append(run, s.SpanID)
		}
		s.Name = d.str("name")
		ri := d.uvarint("resource")
		if ri >= uint64(len(b.res)) {
			d.fail("resource reference out of range")
			break
		}
		s.Resource = b.res[ri]
		if h&recStatusMsg != 0 {
			s.StatusMessage = d.str("status message")
		}
		if h&recSpanResource != 0 {
			s.SpanResource = d.str("span resource")
		}
		if h&recSpanType != 0 {
			s.SpanType = d.str("span type")
		}
		if h&recScope != 0 {
			s.Scope = d.str("scope")
		}
		if h&recScopeVersion != 0 {
			s.ScopeVersion = d.str("scope version")
		}
		s.Attrs = d.attrs(0)
		if h&recEvents != 0 {
			ne := d.count(4, "event")
			if ne > 0 {
				s.Events = make([]model.Event, ne)
				for i := range s.Events {
					ev := &s.Events[i]
					ev.Time = s.Start + d.varint("event time")
					ev.Name = d.str("event name")
					ev.Attrs = d.attrs(0)
					ev.Unit = d.uvarint("event unit")
					ev.Seq = uint32(d.uvarint("event seq"))
					ev.Cause = d.ref()
				}
			}
		}
		if h&recLinks != 0 {
			nl := d.count(26, "link")
			if nl > 0 {
				s.Links = make([]model.Link, nl)
				for i := range s.Links {
					l := &s.Links[i]
					d.fixed(l.TraceID[:], "link trace id")
					d.fixed(l.SpanID[:], "link span id")
					l.TraceState = d.str("link tracestate")
					l.Attrs = d.attrs(0)
				}
			}
		}
		if h&recTraceState != 0 {
			s.TraceState = d.str("tracestate")
		}
		if h&recFlags != 0 {
			s.Flags = model.Flags(d.uvarint("flags"))
		}
		if h&recCausality != 0 {
			c := &s.Causality
			c.Unit = d.uvarint("unit")
			c.StartSeq = uint32(d.uvarint("start seq"))
			c.EndUnit = d.uvarint("end unit")
			c.EndSeq = uint32(d.uvarint("end seq"))
			c.StartCause = d.ref()
		}
		if d.err == nil && dn.err != nil {
			d.err = dn.err
		}
		if d.err != nil {
			break
		}
		out = append(out, s)
		prevTrace = s.TraceID
		prevStart = s.Start
	}
	if d.err != nil {
		return nil, 0, d.err
	}
	if n >= 0 && (len(out) != n || len(d.b) != 0 || len(dn.b) != 0 || len(ids) != 0) {
		return nil, 0, fmt.Errorf("%w: %d spans announced, %d decoded, %d bytes left", ErrCorrupt, n, len(out), len(d.b))
	}
	return out, len(out), nil
}

// DecodeSpans decodes a whole batch written by AppendSpans or Encoder.AppendTo.
func DecodeSpans(b []byte) ([]*model.Span, error) {
	bt, err := ParseBatch(b, nil)
	if err != nil {
		return nil, err
	}
	return bt.All()
}
