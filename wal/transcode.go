package wal

import (
	"encoding/binary"
	"fmt"
	"math"
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
	// decoder numbers them in order of first appearance over the whole trace, the encoder over each run. ids
	// holds index<<32 | the run (runNo) that last listed the ID; srcList maps the current run's indexes.
	tracking bool
	spanIdx  map[model.SpanID]uint64
	nIdx     uint32
	runNo    uint32
	srcList  []uint32
	// parentIdx is set by parentHeader for the record being copied.
	parentIdx int64
}

// parentHeader is the header to write for a record of the page's current trace: while a joined trace is copied,
// a parent named by its ID (it was in another run of the source) that the trace already holds becomes a reference
// by index (parentIdx, -1 otherwise). t.rec must be at the record's parent field.
func (w *PageWriter) parentHeader(t *transcoder, h uint64) uint64 {
	w.parentIdx = -1
	if !w.tracking || h&recParent == 0 || len(t.rec)-t.r < 8 {
		return h
	}
	var pid model.SpanID
	copy(pid[:], t.rec[t.r:])
	v, ok := w.spanIdx[pid]
	if !ok {
		return h
	}
	w.parentIdx = int64(v >> 32)
	return h&^recParent | recParentRef
}

// joinRun starts the renumbering of a run that continues the page's last trace, building the span ID indexes of
// what the page holds of that trace when this is its second run.
func (w *PageWriter) joinRun() {
	w.runNo++
	w.srcList = w.srcList[:0]
	if w.tracking {
		return
	}
	w.tracking = true
	if w.spanIdx == nil || len(w.spanIdx) > 4096 {
		w.spanIdx = make(map[model.SpanID]uint64)
	} else {
		clear(w.spanIdx)
	}
	w.nIdx = 0
	for r := w.traceRow; r < w.n; r++ {
		var sid model.SpanID
		copy(sid[:], w.spids[8*r:])
		if _, ok := w.spanIdx[sid]; !ok {
			w.spanIdx[sid] = uint64(w.nIdx) << 32
			w.nIdx++
		}
	}
}

// track notes a span of a joined run: a span ID new to the run gets the run's next index, which is the trace's
// index of that ID (new to the trace or not).
func (w *PageWriter) track(sid model.SpanID) {
	v, ok := w.spanIdx[sid]
	if !ok {
		w.spanIdx[sid] = uint64(w.nIdx)<<32 | uint64(w.runNo)
		w.srcList = append(w.srcList, w.nIdx)
		w.nIdx++
		return
	}
	if uint32(v) != w.runNo {
		w.spanIdx[sid] = v&^0xffffffff | uint64(w.runNo)
		w.srcList = append(w.srcList, uint32(v>>32))
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
		slot: make([]strSlot, n), page: 1, ndict: w.ndict, dictGen: w.dictGen}
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
	for _, src := range w.srcs {
		w.noteDict(src)
	}
}

// noteDict puts the dictionary references of src's own strings beside their global ids.
func (w *PageWriter) noteDict(src *Source) {
	for i, e := range src.local {
		g := uint32(e)
		src.local[i] = uint64(g)
		if d := w.slot[g].dict; d >= 0 {
			src.local[i] |= uint64(d+1) << 32
		}
	}
	src.dictGen = w.dictGen
}

// Resource returns a global resource: the resource, the global id of its service, its attributes.
func (w *PageWriter) Resource(g uint32) (*model.Resource, uint32, []AttrRef) {
	r := &w.res[g]
	return r.r, r.service, r.attrs
}

// Source is a parsed batch prepared for AddRun: its strings and resources mapped to global ids.
type Source struct {
	b      *Batch
	shared []uint32
	// local maps the batch's own strings: the global id, and above it the string's reference in the dictionary
	// of generation dictGen, plus one (0: not in it).
	local   []uint64
	dictGen uint32
	res     []uint32
}

// Source prepares b for AddRun. shared, if not nil, maps b's shared dictionary to global ids (from InternAll,
// computed once for every page of a block); otherwise it is interned here. Each string of b's own table counts
// once towards Count.
func (w *PageWriter) Source(b *Batch, shared []uint32) *Source {
	if w.resKey == nil {
		panic("wal: Source on a fork")
	}
	if shared == nil && len(b.shared) > 0 {
		shared = w.InternAll(b.shared)
	}
	src := &Source{b: b, shared: shared, local: make([]uint64, len(b.strs)), res: make([]uint32, len(b.res))}
	for i, s := range b.strs {
		g := w.Intern(s)
		src.local[i] = uint64(g)
		w.count[g]++
	}
	for i, r := range b.res {
		src.res[i] = w.resource(r)
	}
	if w.dictGen != 0 {
		w.noteDict(src)
	} else {
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

// transcoder walks one run's records, numbers and span IDs, writing them to the page. It reads them at positions
// (r, ni, ii) rather than by reslicing, which would write a pointer (and, while the collector marks, take a write
// barrier) for every field read.
type transcoder struct {
	w         *PageWriter
	src       *Source
	rec       []byte
	nums      []byte
	ids       []byte
	r, ni, ii int
	err       error
	dict      bool // src's local table has the references of w's dictionary
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
	t.w.rec = append(t.w.rec, t.rec[t.r:t.r+n]...)
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
	var v uint64
	for n := 0; n < len(nb) && n < binary.MaxVarintLen64; n++ {
		c := nb[n]
		if c < 0x80 {
			if n == binary.MaxVarintLen64-1 && c > 1 {
				v = 0
			} else {
				v |= uint64(c) << (7 * n)
			}
			n++
			t.w.nums = append(t.w.nums, nb[:n]...)
			t.ni += n
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
	var g uint32
	var r uint64
	if i < uint64(len(t.src.shared)) {
		g = t.src.shared[i]
		r = t.w.ref(g)
	} else if i -= uint64(len(t.src.shared)); i < uint64(len(t.src.local)) {
		e := t.src.local[i]
		g = uint32(e)
		if d := e >> 32; d != 0 && t.dict {
			r = d - 1 // in the dictionary: no need to look at the string's slot
		} else {
			r = t.w.ref(g)
		}
	} else {
		t.fail(what + " string reference out of range")
		return 0
	}
	if r < 0x80 {
		t.w.rec = append(t.w.rec, byte(r))
	} else {
		t.w.rec = binary.AppendUvarint(t.w.rec, r)
	}
	return g
}

func (t *transcoder) count(min int, what string) int {
	v := t.uvarint(what)
	if v > uint64((len(t.rec)-t.r)/min) {
		t.fail(what + " count exceeds the data")
		return 0
	}
	return int(v)
}

// attrs copies an attribute list; top-level span attributes are also reported in out.
func (t *transcoder) attrs(depth int, out *[]AttrRef) {
	n := t.count(2, "attribute")
	for i := 0; i < n && t.err == nil; i++ {
		k := t.str("attribute key")
		// Strings and integers, most attributes, take a short way.
		if t.r < len(t.rec) && (t.rec[t.r] == byte(model.TypeString) || t.rec[t.r] == byte(model.TypeInt)) {
			typ := t.rec[t.r]
			t.r++
			t.w.rec = append(t.w.rec, typ)
			if typ == byte(model.TypeString) {
				g := t.str("value")
				if out != nil {
					*out = append(*out, AttrRef{Key: k, Str: g})
				}
			} else {
				v := t.num(true, "int value")
				if out != nil {
					*out = append(*out, AttrRef{Key: k, Int: true, Num: int64(v)})
				}
			}
			continue
		}
		if out != nil {
			v, g := t.value(depth, true)
			*out = append(*out, t.w.attrRef(k, &v, g))
		} else {
			t.value(depth, false)
		}
	}
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
	b := src.b
	if from.Rec < 0 || recEnd > len(b.rec) || from.Rec > recEnd || from.Num < 0 || from.Num > len(b.nums) ||
		from.Row < 0 || from.Row > b.n {
		return fmt.Errorf("%w: run %+v..%d outside the batch", ErrCorrupt, from, recEnd)
	}
	t := &transcoder{w: w, src: src, rec: b.rec[from.Rec:recEnd], nums: b.nums[from.Num:], ids: b.ids[8*from.Row:],
		dict: w.dictGen != 0 && src.dictGen == w.dictGen}
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
			w.rec = binary.AppendUvarint(w.rec, w.parentHeader(t, h))
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
			s, n := binary.Varint(t.nums[t.ni:])
			if n <= 0 {
				t.fail("start")
				break
			}
			t.ni += n
			info.Start = s
			if w.inTrace && id == w.curTrace {
				w.joinRun()
				w.rec = binary.AppendUvarint(w.rec, w.parentHeader(t, h|recSameTrace))
				w.rec = append(w.rec, ks)
				w.nums = binary.AppendVarint(w.nums, s-w.prevStart)
			} else {
				w.rec = binary.AppendUvarint(w.rec, h)
				w.rec = append(w.rec, ks)
				w.rec = append(w.rec, id[:]...)
				w.nums = binary.AppendVarint(w.nums, s)
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
		var sid model.SpanID
		copy(sid[:], t.ids[t.ii:])
		w.spids = append(w.spids, sid[:]...)
		t.ii += 8
		dur := t.num(false, "duration")
		if dur > math.MaxInt64 {
			t.fail("duration")
		}
		if t.err != nil {
			break // the parent below may be taken as 8 bytes that a failed read no longer has
		}
		info.Duration = int64(dur)
		info.SpanID, info.Parent, info.ParentRef, info.Flags = sid, model.SpanID{}, -1, 0
		if h&recParent != 0 && w.parentIdx >= 0 {
			copy(info.Parent[:], t.rec[t.r:])
			t.r += 8 // parentHeader found the parent among the trace's spans: an index instead
			w.rec = binary.AppendUvarint(w.rec, uint64(w.parentIdx))
		} else if h&recParent != 0 {
			if b := t.fixed(8, "parent id"); b != nil {
				copy(info.Parent[:], b)
			}
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
			w.rec = binary.AppendUvarint(w.rec, k)
			info.ParentRef = int(k)
		}
		if w.tracking {
			w.track(sid)
		}
		info.Name = t.str("name")
		ri, n := binary.Uvarint(t.rec[t.r:])
		if n <= 0 || ri >= uint64(len(src.res)) {
			t.fail("resource reference out of range")
			break
		}
		t.r += n
		info.Resource = src.res[ri]
		w.rec = binary.AppendUvarint(w.rec, w.resRef(info.Resource))
		for _, f := range [...]uint64{recStatusMsg, recSpanResource, recSpanType, recScope, recScopeVersion} {
			if h&f != 0 {
				t.str("string field")
			}
		}
		if visit != nil {
			info.Attrs = info.Attrs[:0]
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
