package embedded

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/wal"
)

// A block is one immutable file holding whole traces (of what the head held when it was cut), sorted by trace ID:
//
//	"WEFTBLK1"
//	pages        each one wal codec batch of whole traces (about pageTarget bytes): raw in a head's block,
//	             in column form (wal.ColumnPage) in a compacted one (version 1: zstd frames)
//	term chunks  the attribute index: sorted terms, each with its posting list of trace ordinals; raw in a head's
//	             block (version 4), three streams compressed apart in a compacted one (version 1: zstd frames)
//	dictionary   the strings the pages share
//	trace table  per trace its ID, first and last span start, page and record range
//	edges        per trace its calls between services (deps.go)
//	meta         JSON: counts, time range, section offsets, the first term of each chunk, services, operations
//	uint64 meta length, "WEFTEND1"
//
// The trace table is held in memory while the block is open (about 44 bytes a trace), so finding a trace is a
// binary search and one page read; a search reads only the term chunks its terms fall in, and of a column page
// only the streams it needs (wal.PageOutline). docs/storage.md has the details.

const (
	blockMagic  = "WEFTBLK1"
	blockTail   = "WEFTEND1"
	blockSuffix = ".blk"
	pageTarget  = 128 << 10
	// blockVersion is the format written. Version 2 added raw (uncompressed) pages, which head cuts write since
	// compaction compresses every span again anyway; version 3 compresses pages in column form (wal.ColumnPage);
	// version 4 adds raw term chunks (meta raw_index), which head cuts write for the same reason. Blocks of
	// versions 1 (every section compressed) to 3 are still read.
	blockVersion = 4
	chunkTarget  = 32 << 10
)

// Term kinds: the first byte of every index term.
const (
	termService   = 'S' // S<service>
	termName      = 'N' // N<span name>
	termOperation = 'O' // O<service>\x00<name>, postings carry duration buckets
	termStatus    = 'T' // T<status>
	termKind      = 'K' // K<kind>
	termAttr      = 'A' // A<key>\x00<value as text>
	termNumber    = '#' // #<key>\x00<canonical number>, only where it differs from the A term's text
)

// traceTable is the trace table's columns beside the trace IDs, one entry per trace in trace ID order, as a
// block writer builds them and an open block holds them.
type traceTable struct {
	tMin, tMax []int64  // the first and last start of the trace's spans in the block
	tPage      []uint32 // the page holding the trace (a trace is never split across pages)
	tOff, tEnd []uint32 // where its records start and end in the page's record stream
	tNum       []uint32 // where its numbers start in the page's number stream
	tRow       []uint32 // the row (span) of the page its first span is
}

type blockMeta struct {
	Version  int  `json:"version"`
	RawPages bool `json:"raw_pages,omitempty"` // version 2: pages are not compressed (head cuts)
	// ColumnPages: version 3, compressed pages are wal.ColumnPage's form of the batch, compressed stream by stream.
	ColumnPages bool `json:"column_pages,omitempty"`
	// ColumnIndex: version 3, term chunks are three streams compressed each on its own (see blockWriter.chunk).
	ColumnIndex bool `json:"column_index,omitempty"`
	// RawIndex: version 4, term chunks are not compressed (head cuts: compaction reads them once, soon).
	RawIndex bool  `json:"raw_index,omitempty"`
	Spans    int   `json:"spans"`
	Traces   int   `json:"traces"`
	MinStart int64 `json:"min_start"`
	MaxStart int64 `json:"max_start"`
	MaxEnd   int64 `json:"max_end"`
	WAL      int   `json:"wal"` // write-ahead log segments below this are contained in blocks
	Level    int   `json:"level"`
	// Parts is the number of blocks a head was written as, at once, each with a range of its trace IDs (0 or 1:
	// one). Compaction counts such a block as that fraction of a head.
	Parts     int        `json:"parts,omitempty"`
	Pages     [][2]int64 `json:"pages"` // offset, length
	Chunks    []chunkRef `json:"chunks"`
	DictOff   int64      `json:"dict_off"`
	DictLen   int64      `json:"dict_len"`
	TraceOff  int64      `json:"trace_off"`
	TraceLen  int64      `json:"trace_len"`
	EdgesOff  int64      `json:"edges_off,omitempty"` // the dependency edges of each trace (deps.go); 0 in older blocks
	EdgesLen  int64      `json:"edges_len,omitempty"`
	Services  []string   `json:"services"`
	Ops       []opMeta   `json:"ops"`
	Keys      []string   `json:"keys"`
	DataBytes int64      `json:"data_bytes"`
}

type chunkRef struct {
	First string `json:"first"`
	Off   int64  `json:"off"`
	Len   int64  `json:"len"`
}

type opMeta struct {
	Service string     `json:"s"`
	Name    string     `json:"n"`
	Kind    model.Kind `json:"k"`
}

// zstd encoders: a head cut compresses only its index sections, at the fastest level (its pages stay raw);
// compaction compresses the index at the better level (8% smaller than the default). Compacted pages are
// compressed stream by stream by wal.ColumnPage (zstd's better level, where zstd is used, only for blocks that
// compaction will not merge again).
var (
	zencFast, _   = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	zencBetter, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
)
var zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))

// durBucket maps a duration to one byte on a log scale (about 9% apart: floor or ceil of log2(d)*8, at most 255),
// rounding down or up. It is what durBucketLog computes, from a table (math.Log2 twice a span was a tenth of
// indexing it).
func durBucket(d int64, up bool) uint8 {
	lo, hi := durBuckets(d)
	if up {
		return hi
	}
	return lo
}

// durBuckets is durBucket(d, false), durBucket(d, true).
func durBuckets(d int64) (uint8, uint8) {
	if d <= 1 {
		return 0, 0
	}
	if d >= durThresh[255] {
		return 255, 255
	}
	b := min(8*(bits.Len64(uint64(d))-1), 255)
	for b > 0 && durThresh[b] > d {
		b--
	}
	for b < 255 && durThresh[b+1] <= d {
		b++
	}
	if durExact[b] && d == durThresh[b] {
		return uint8(b), uint8(b)
	}
	return uint8(b), uint8(min(b+1, 255))
}

// durThresh[b] is the smallest duration whose bucket rounded down is b or more (b >= 1); durExact[b] says that
// log2(durThresh[b])*8 is exactly b, so that it rounds up to b too. Below 2^32 ns, where every threshold lies,
// consecutive durations differ in log2(d)*8 by far more than its rounding error, so only a threshold can land on
// an integer (TestDurBucketTable checks the table against durBucketLog).
var durThresh, durExact = durTable()

func durTable() (t [256]int64, exact [256]bool) {
	for b := 1; b < 256; b++ {
		lo, hi := int64(2), int64(1)<<40
		for lo < hi {
			m := lo + (hi-lo)/2
			if durBucketLog(m, false) >= uint8(b) {
				hi = m
			} else {
				lo = m + 1
			}
		}
		t[b] = lo
		exact[b] = math.Log2(float64(lo))*8 == float64(b)
	}
	return t, exact
}

// durBucketLog is the definition of durBucket.
func durBucketLog(d int64, up bool) uint8 {
	if d <= 1 {
		return 0
	}
	f := math.Log2(float64(d)) * 8
	if up {
		f = math.Ceil(f)
	} else {
		f = math.Floor(f)
	}
	if f > 255 {
		return 255
	}
	return uint8(f)
}

// posting is one term's list while a block is written.
type posting struct {
	kind byte   // the term kind
	a, b uint32 // global string ids: service, name, key, value (as the kind says)
	n    int64  // an integer attribute value, or a status or kind
	num  bool   // an attribute term of an integer value (n)
	// kinds are the span kinds seen with an operation term (bit per kind), for the block's list of operations.
	kinds uint16
	ords  []uint32
	dmin  []uint8 // operation terms: smallest and largest duration bucket of the trace's spans with that operation
	dmax  []uint8
}

// mark adds trace ordinal ord to a term's posting list once.
func (p *posting) mark(ord uint32) bool {
	if n := len(p.ords); n > 0 && p.ords[n-1] == ord {
		return false
	}
	p.ords = append(p.ords, ord)
	return true
}

type opKey struct {
	svc, name uint32
	kind      model.Kind
}

// termIndex collects a block's postings while its traces are copied, keyed by global string ids, so that no
// term text is built or hashed per span: texts are made once per term in writeTerms. Attribute values, the bulk
// of the index, are appended per key as (value, trace ordinal) pairs and sorted once per block, which costs far
// less than finding each value's posting list in a map for every span.
type termIndex struct {
	post []*posting
	// dense are the postings of services, names, kinds and statuses (slots 0, 1, 3, 4), by global string id or
	// value: small integers, so a slice finds them cheaper than a map.
	dense   [5][]*posting
	ops     map[uint64]*posting // operation terms by service<<32 | name
	lastOp  *posting            // the span before's operation posting, for runs of alike spans
	lastKey uint64
	keySlot []int32 // global string id of a key → index in keys, or -1
	keys    []*keyValues
	svcs    map[uint32]bool
	opKinds map[opKey]bool
}

// keyValues are the values of one attribute key seen in a block, with the trace ordinals they were seen in.
type keyValues struct {
	key   uint32
	strs  []uint64   // text's global id << 32 | ordinal: the chunk being filled
	full  [][]uint64 // filled chunks (appending in chunks copies nothing as the lists grow)
	nstrs int
	ints  []intOrd   // integer values: the chunk being filled
	intsF [][]intOrd // filled chunks
	nints int
	// seen and seenInt are the pairs noted last, by a hash of the value: a value seen again in the same trace
	// (most spans of a trace share their method, region, version...) is mostly found there and not noted
	// twice, which spares its sort and merge (a pair noted twice is merged by postings anyway). Empty entries
	// hold an ordinal no trace has.
	seen    [1 << seenBits]uint64
	seenInt [1 << seenBits]intOrd
}

// seenBits sizes keyValues.seen: 64 entries a key, which hold the distinct values of a key in most traces.
const seenBits = 6

const valueChunk = 8192

type intOrd struct {
	v   int64
	ord uint32
}

func newTermIndex() *termIndex {
	return &termIndex{svcs: map[uint32]bool{}, opKinds: map[opKey]bool{}, ops: map[uint64]*posting{}}
}

// intrinsic is the posting of a service, name, kind or status term (slot 0, 1, 3 or 4; k is the string id or
// value).
func (ix *termIndex) intrinsic(slot int, k uint32, kind byte, a uint32, n int64) *posting {
	d := ix.dense[slot]
	if int(k) >= len(d) {
		d = append(d, make([]*posting, int(k)+1-len(d)+len(d)/2)...)
		ix.dense[slot] = d
	}
	p := d[k]
	if p == nil {
		p = &posting{kind: kind, a: a, n: n}
		d[k] = p
		ix.post = append(ix.post, p)
	}
	return p
}

// operation is the posting of the operation term of service svc and name, through a one-entry cache.
func (ix *termIndex) operation(svc, name uint32) *posting {
	k := uint64(svc)<<32 | uint64(name)
	if ix.lastOp != nil && ix.lastKey == k {
		return ix.lastOp
	}
	p := ix.ops[k]
	if p == nil {
		p = &posting{kind: termOperation, a: svc, b: name}
		ix.ops[k] = p
		ix.post = append(ix.post, p)
	}
	ix.lastOp, ix.lastKey = p, k
	return p
}

// blockWriter streams traces, in ascending trace ID order, into a new block file. Spans arrive as runs of encoded
// batches (the log's records, or the pages of blocks being compacted) and are copied by a wal.PageWriter.
type blockWriter struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	off       int64
	over      bool // written over a spare file, whose earlier contents past off are cut off at the end
	better    bool // compaction: compressed pages, the index at the better level
	// finalPages compresses pages at the better level too: for a block that compaction will not merge again,
	// where the level gains 0.5 B/span.
	finalPages bool

	pw      *wal.PageWriter
	cw      *wal.ColumnWriter // compaction's column pages, made at the first
	pageBuf []byte
	zbuf    []byte
	err     error // a page that could not be put in column form (the page writer's bug; the block is abandoned)
	meta    blockMeta
	pageNo  uint32
	// pageFirst is the first trace (in traceIDs) of the page being built: a page's records name its traces in
	// this order, so column pages leave their IDs to the trace table.
	pageFirst int
	traceIDs  []model.TraceID
	traceTable
	ix    *termIndex
	dict  []string
	first bool

	chunk []byte // the term chunk being built
	// Version 3 compacted blocks (meta column_index): the chunk is built as three streams instead, compressed
	// each on its own (wal.AppendStreams): term heads (length, text, posting count), posting deltas, and
	// the duration buckets of operation terms.
	chunkOrds, chunkDurs []byte
	chunkFirst           string
	// merged, when set (compaction), writes the index instead of the spans' postings: see mergeTerms.
	merged func() error

	// the trace being added
	ord     uint32
	mn, mx  int64
	resSeen []uint32 // global resource id → ord+1 once its attributes are indexed for the trace

	// dependency edges (deps.go)
	spanRows     []edgeSpan // the trace being copied
	byID         map[model.SpanID]int32
	distinct     []model.SpanID
	edges        []traceEdge
	edgeStart    []uint32 // per trace, its first edge
	emptyService uint32   // global id of "", once known (MaxUint32 before)
	visitFn      func(*wal.SpanInfo)
	edgeVisitFn  func(*wal.SpanInfo) // bw.edgeVisit, made once
}

// newBlockWriter starts a block at path, written over a spare file of about want bytes when sp has one (sp may be
// nil). Its dictionary must be set (setDict) before the first trace.
func newBlockWriter(path string, better bool, sp *spares, want int64) (*blockWriter, error) {
	tmp := path + ".tmp"
	flag, over := os.O_CREATE|os.O_TRUNC|os.O_WRONLY, false
	if sp != nil && sp.take(tmp, want) {
		flag, over = os.O_WRONLY, true
	}
	f, err := os.OpenFile(tmp, flag, 0o644)
	if err != nil {
		return nil, err
	}
	bw := &blockWriter{path: path, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 1<<20), better: better,
		pw: wal.NewPageWriter(), ix: newTermIndex(), first: true, over: over}
	bw.visitFn, bw.edgeVisitFn = bw.visit, bw.edgeVisit
	bw.emptyService = math.MaxUint32
	bw.meta.Version = blockVersion
	bw.meta.RawPages = !better
	bw.meta.ColumnPages = better
	bw.meta.ColumnIndex = better
	bw.meta.RawIndex = !better
	bw.write([]byte(blockMagic))
	return bw, nil
}

// setDict fixes the block's shared dictionary (global string ids of bw.pw, most used first).
func (bw *blockWriter) setDict(gids []uint32) {
	bw.pw.SetDict(gids)
	bw.keepDict(gids)
}

// keepDict notes the strings of the dictionary bw.pw already has (set before it was forked), to be written.
func (bw *blockWriter) keepDict(gids []uint32) {
	bw.dict = make([]string, len(gids))
	for i, g := range gids {
		bw.dict[i] = bw.pw.String(g)
	}
}

// dictByCount picks a head's dictionary among the strings pw interned: those found in more than one of the log
// records the head was written with, most frequent first (so they get the shortest references). A string of one
// record only stays in the pages that use it: values that never repeat (request IDs, most user IDs of a busy
// service) cost nothing in the dictionary, which open blocks keep in memory.
func dictByCount(pw *wal.PageWriter) []uint32 {
	var out []uint32
	for g := range uint32(pw.Strings()) {
		if pw.Count(g) > 1 && len(pw.String(g)) < 256 {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b uint32) int {
		if ca, cb := pw.Count(a), pw.Count(b); ca != cb {
			return cb - ca
		}
		return strings.Compare(pw.String(a), pw.String(b))
	})
	return out
}

func (bw *blockWriter) write(b []byte) {
	n, _ := bw.w.Write(b) // errors stick in bufio.Writer and surface at Flush
	bw.off += int64(n)
}

// compress compresses an index section (term chunks, dictionary, trace table). A head written as several blocks
// compresses on as many goroutines: the fast encoder runs as many at once as there are processors.
func (bw *blockWriter) compress(src []byte) []byte {
	if bw.better {
		bw.zbuf = zencBetter.EncodeAll(src, bw.zbuf[:0])
	} else {
		bw.zbuf = zencFast.EncodeAll(src, bw.zbuf[:0])
	}
	return bw.zbuf
}

func (bw *blockWriter) flushPage() {
	if bw.pw.Spans() == 0 {
		return
	}
	bw.pageBuf = bw.pw.AppendPage(bw.pageBuf[:0])
	z := bw.pageBuf
	if !bw.meta.RawPages {
		var err error
		if bw.cw == nil {
			bw.cw = wal.NewColumnWriter(bw.finalPages)
		}
		if bw.zbuf, err = bw.cw.Page(bw.zbuf[:0], bw.pageBuf, bw.traceIDs[bw.pageFirst:]); err != nil && bw.err == nil {
			bw.err = fmt.Errorf("page %d in column form: %w", bw.pageNo, err)
		}
		z = bw.zbuf
	}
	bw.meta.Pages = append(bw.meta.Pages, [2]int64{bw.off, int64(len(z))})
	bw.write(z)
	bw.pageNo++
	bw.pageFirst = len(bw.traceIDs)
}

// canonicalNumber is the text a number is indexed and looked up under when a string holds it.
func canonicalNumber(v model.Value) (string, bool) {
	var f float64
	switch v.Type {
	case model.TypeInt:
		return strconv.FormatInt(v.Int(), 10), true
	case model.TypeFloat:
		f = v.Float()
	case model.TypeString:
		if !maybeNumber(v.Str) {
			return "", false
		}
		if i, err := strconv.ParseInt(v.Str, 10, 64); err == nil {
			return strconv.FormatInt(i, 10), true
		}
		var err error
		if f, err = strconv.ParseFloat(v.Str, 64); err != nil {
			return "", false
		}
	default:
		return "", false
	}
	if math.IsNaN(f) {
		return "", false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10), true
	}
	return strconv.FormatFloat(f, 'g', -1, 64), true
}

// maybeNumber is a cheap test that rules out most strings before strconv is tried (and allocates its error).
func maybeNumber(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	c := s[0]
	if '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' {
		return true
	}
	// inf, infinity, nan in any case
	return c == 'i' || c == 'I' || c == 'n' || c == 'N'
}

// indexAttr notes an attribute's value for the current trace. Values other than strings and integers are indexed
// under their text (model.Value.AsString); a string holding a number also gets a '#' term (see writeTerms).
func (bw *blockWriter) indexAttr(a *wal.AttrRef) {
	ix := bw.ix
	for int(a.Key) >= len(ix.keySlot) {
		ix.keySlot = append(ix.keySlot, -1)
	}
	i := ix.keySlot[a.Key]
	if i < 0 {
		i = int32(len(ix.keys))
		ix.keySlot[a.Key] = i
		kv := &keyValues{key: a.Key}
		for j := range kv.seen {
			kv.seen[j] = math.MaxUint64
			kv.seenInt[j].ord = math.MaxUint32
		}
		ix.keys = append(ix.keys, kv)
	}
	kv := ix.keys[i]
	if a.Int {
		io := intOrd{a.Num, bw.ord}
		h := uint64(a.Num) * 0x9e3779b97f4a7c15 >> (64 - seenBits)
		if kv.seenInt[h] == io {
			return
		}
		kv.seenInt[h] = io
		if n := len(kv.ints); n == cap(kv.ints) && n > 0 {
			kv.intsF = append(kv.intsF, kv.ints)
			kv.ints = make([]intOrd, 0, valueChunk)
		}
		kv.ints = append(kv.ints, io)
		kv.nints++
		return
	}
	e := uint64(a.Str)<<32 | uint64(bw.ord)
	h := a.Str * 0x9e3779b1 >> (32 - seenBits)
	if kv.seen[h] == e {
		return
	}
	kv.seen[h] = e
	if n := len(kv.strs); n == cap(kv.strs) && n > 0 {
		kv.full = append(kv.full, kv.strs)
		kv.strs = make([]uint64, 0, valueChunk)
	}
	kv.strs = append(kv.strs, e)
	kv.nstrs++
}

// postings turns the attribute values into posting lists, one per distinct key and value.
func (ix *termIndex) postings() {
	var buf []uint64
	var arena []uint32
	take := func(n int) []uint32 {
		if len(arena) < n {
			arena = make([]uint32, max(n, 1<<16))
		}
		out := arena[:0:n]
		arena = arena[n:]
		return out
	}
	var slab []posting // postings are cut from slabs: one allocation for many
	newPosting := func() *posting {
		if len(slab) == cap(slab) {
			slab = make([]posting, 0, 4096)
		}
		slab = slab[:len(slab)+1]
		return &slab[len(slab)-1]
	}
	for _, kv := range ix.keys {
		// Strings: sort by text id (ordinals are in ascending order already, and the sort is stable).
		if len(buf) < 2*kv.nstrs {
			buf = make([]uint64, 2*kv.nstrs)
		}
		all := buf[:0]
		for _, c := range kv.full {
			all = append(all, c...)
		}
		all = append(all, kv.strs...)
		sorted := radixSortHigh(all, buf[kv.nstrs:2*kv.nstrs])
		for i := 0; i < len(sorted); {
			g := uint32(sorted[i] >> 32)
			j := i
			for j < len(sorted) && uint32(sorted[j]>>32) == g {
				j++
			}
			p := newPosting()
			*p = posting{kind: termAttr, a: kv.key, b: g, ords: take(j - i)}
			for ; i < j; i++ {
				p.mark(uint32(sorted[i]))
			}
			ix.post = append(ix.post, p)
		}
		kv.strs, kv.full = nil, nil
		// Integers: the same, by value; through the radix sort when the values span less than 2^32.
		if kv.nints == 0 {
			continue
		}
		chunks := append(kv.intsF, kv.ints)
		kv.ints, kv.intsF = nil, nil
		lo, hi := chunks[0][0].v, chunks[0][0].v
		for _, c := range chunks {
			for _, e := range c {
				lo, hi = min(lo, e.v), max(hi, e.v)
			}
		}
		addInt := func(v int64, ords []uint32) {
			p := newPosting()
			*p = posting{kind: termAttr, a: kv.key, n: v, num: true, ords: ords}
			ix.post = append(ix.post, p)
		}
		if uint64(hi-lo) < 1<<32 && hi-lo >= 0 {
			if len(buf) < 2*kv.nints {
				buf = make([]uint64, 2*kv.nints)
			}
			packed := buf[:0]
			for _, c := range chunks {
				for _, e := range c {
					packed = append(packed, uint64(e.v-lo)<<32|uint64(e.ord))
				}
			}
			packed = radixSortHigh(packed, buf[kv.nints:2*kv.nints])
			for i := 0; i < len(packed); {
				g := packed[i] >> 32
				j := i
				for j < len(packed) && packed[j]>>32 == g {
					j++
				}
				p := posting{ords: take(j - i)}
				for ; i < j; i++ {
					p.mark(uint32(packed[i]))
				}
				addInt(lo+int64(g), p.ords)
			}
			continue
		}
		vals := make([]intOrd, 0, kv.nints)
		for _, c := range chunks {
			vals = append(vals, c...)
		}
		slices.SortStableFunc(vals, func(a, b intOrd) int { return cmp.Compare(a.v, b.v) })
		for i := 0; i < len(vals); {
			v := vals[i].v
			j := i
			for j < len(vals) && vals[j].v == v {
				j++
			}
			p := posting{ords: take(j - i)}
			for ; i < j; i++ {
				p.mark(vals[i].ord)
			}
			addInt(v, p.ords)
		}
	}
}

// radixSortHigh sorts a by its high 32 bits, stably, using buf (as long as a) as scratch; it returns the sorted
// slice, which is a or buf.
func radixSortHigh(a, buf []uint64) []uint64 {
	var most uint64
	for _, v := range a {
		most |= v
	}
	bitsUsed := 64 - bits.LeadingZeros64(most>>32)
	var count [256]int
	for shift := 32; shift < 32+bitsUsed; shift += 8 {
		clear(count[:])
		for _, v := range a {
			count[byte(v>>shift)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, v := range a {
			d := byte(v >> shift)
			buf[count[d]] = v
			count[d]++
		}
		a, buf = buf, a
	}
	return a
}

// visit indexes one span as the page writer copies it.
func (bw *blockWriter) visit(in *wal.SpanInfo) {
	ix := bw.ix
	bw.mn = min(bw.mn, in.Start)
	bw.mx = max(bw.mx, in.Start)
	end := in.Start + in.Duration
	if bw.first || in.Start < bw.meta.MinStart {
		bw.meta.MinStart = in.Start
	}
	if bw.first || in.Start > bw.meta.MaxStart {
		bw.meta.MaxStart = in.Start
	}
	if bw.first || end > bw.meta.MaxEnd {
		bw.meta.MaxEnd = end
	}
	bw.first = false
	_, svc, resAttrs := bw.pw.Resource(in.Resource)
	bw.noteSpan(in, svc)
	ord := bw.ord
	ix.intrinsic(0, svc, termService, svc, 0).mark(ord)
	ix.intrinsic(1, in.Name, termName, in.Name, 0).mark(ord)
	ix.intrinsic(3, uint32(in.Kind), termKind, 0, int64(in.Kind)).mark(ord)
	ix.intrinsic(4, uint32(in.Status), termStatus, 0, int64(in.Status)).mark(ord)
	p := ix.operation(svc, in.Name)
	lo, hi := durBuckets(in.Duration)
	if p.mark(ord) {
		p.dmin = append(p.dmin, lo)
		p.dmax = append(p.dmax, hi)
	} else {
		n := len(p.dmin) - 1
		p.dmin[n] = min(p.dmin[n], lo)
		p.dmax[n] = max(p.dmax[n], hi)
	}
	// The operation's posting notes the kinds seen with it, so the block's operations need no lookup per span.
	if k := uint16(1) << (in.Kind & 15); p.kinds&k == 0 {
		p.kinds |= k
		ix.opKinds[opKey{svc, in.Name, in.Kind}] = true
		ix.svcs[svc] = true
	}
	for i := range in.Attrs {
		bw.indexAttr(&in.Attrs[i])
	}
	for int(in.Resource) >= len(bw.resSeen) {
		bw.resSeen = append(bw.resSeen, 0)
	}
	if bw.resSeen[in.Resource] != ord+1 {
		bw.resSeen[in.Resource] = ord + 1
		for i := range resAttrs {
			bw.indexAttr(&resAttrs[i])
		}
	}
}

// srcRun is a run of records of one trace in a source batch (see wal.Run).
type srcRun struct {
	src    *wal.Source
	from   wal.Pos
	recEnd int
}

// addTrace copies one trace's runs into the block; traces must come in ascending ID order, each exactly once.
func (bw *blockWriter) addTrace(id model.TraceID, runs []srcRun) error {
	if len(runs) == 0 {
		return nil
	}
	if bw.pw.Size() >= pageTarget {
		bw.flushPage()
	}
	bw.ord = uint32(len(bw.traceIDs))
	bw.mn, bw.mx = math.MaxInt64, math.MinInt64
	pos := bw.pw.Pos()
	for _, r := range runs {
		if err := bw.pw.AddRun(r.src, r.from, r.recEnd, bw.visitFn); err != nil {
			return err
		}
	}
	bw.traceEdges()
	bw.endTrace(id, bw.mn, bw.mx, pos)
	return nil
}

// copyTrace copies one trace's runs into the block without indexing its spans (compaction, which merges its
// inputs' indexes instead); mn and mx are the earliest and latest start of its spans. When the trace comes whole
// from one input whose dependency edges can be copied (from), they are; otherwise they are found again from the
// spans.
func (bw *blockWriter) copyTrace(id model.TraceID, runs []srcRun, mn, mx int64, from edgeSource) error {
	if bw.pw.Size() >= pageTarget {
		bw.flushPage()
	}
	pos := bw.pw.Pos()
	for _, r := range runs {
		var err error
		if from.c == nil { // edgeVisit reads no attributes: the page writer need not make them
			err = bw.pw.AddRunNoAttrs(r.src, r.from, r.recEnd, bw.edgeVisitFn)
		} else {
			err = bw.pw.AddRun(r.src, r.from, r.recEnd, nil)
		}
		if err != nil {
			return err
		}
	}
	if from.c != nil {
		if err := from.c.copyEdges(bw, from.ord); err != nil {
			return err
		}
	} else {
		bw.traceEdges()
	}
	bw.endTrace(id, mn, mx, pos)
	return nil
}

// endTrace adds trace id, whose records the page writer took from pos on and whose spans start from mn to mx, to
// the trace table.
func (bw *blockWriter) endTrace(id model.TraceID, mn, mx int64, pos wal.Pos) {
	end := bw.pw.Pos()
	bw.meta.Spans += end.Row - pos.Row
	bw.traceIDs = append(bw.traceIDs, id)
	t := &bw.traceTable
	t.tMin, t.tMax = append(t.tMin, mn), append(t.tMax, mx)
	t.tPage = append(t.tPage, bw.pageNo)
	t.tOff, t.tEnd = append(t.tOff, uint32(pos.Rec)), append(t.tEnd, uint32(end.Rec))
	t.tNum = append(t.tNum, uint32(pos.Num))
	t.tRow = append(t.tRow, uint32(pos.Row))
}

// appendTermText appends the text of a posting's term to dst.
func (bw *blockWriter) appendTermText(dst []byte, p *posting) []byte {
	str := bw.pw.String
	dst = append(dst, p.kind)
	switch p.kind {
	case termService, termName:
		return append(dst, str(p.a)...)
	case termOperation:
		dst = append(dst, str(p.a)...)
		dst = append(dst, 0)
		return append(dst, str(p.b)...)
	case termStatus:
		return append(dst, model.StatusCode(p.n).String()...)
	case termKind:
		return append(dst, model.Kind(p.n).String()...)
	}
	dst = append(dst, str(p.a)...)
	dst = append(dst, 0)
	if p.num {
		return strconv.AppendInt(dst, p.n, 10)
	}
	return append(dst, str(p.b)...)
}

func (bw *blockWriter) writeTerms() {
	type entry struct {
		text string
		p    *posting
	}
	bw.ix.postings()
	groups, byGroup := bw.termGroups()
	// Every term's text is appended to one buffer, made one string and cut (one allocation, not one a term).
	var buf []byte
	type span struct {
		end    int
		prefix int // length of the text's group prefix
		group  uint64
		p      *posting
	}
	spans := make([]span, 0, len(bw.ix.post)+16)
	for _, p := range bw.ix.post {
		start := len(buf)
		buf = bw.appendTermText(buf, p)
		sp := span{len(buf), 1, uint64(p.kind), p}
		if p.kind == termAttr && byGroup {
			sp.group = groups[2*bw.ix.keySlot[p.a]]
			sp.prefix = len(bw.pw.String(p.a)) + 2
		} else if byGroup {
			sp.group = groups[len(groups)-256+int(p.kind)]
		}
		if sp.prefix > sp.end-start {
			sp.prefix = sp.end - start
		}
		spans = append(spans, sp)
		if p.kind == termAttr && !p.num {
			if v := bw.pw.String(p.b); maybeNumber(v) {
				if n, ok := canonicalNumber(model.String(v)); ok && n != v {
					start := len(buf)
					buf = append(buf, termNumber)
					buf = append(buf, bw.pw.String(p.a)...)
					buf = append(buf, 0)
					buf = append(buf, n...)
					sp := span{len(buf), len(buf) - start, 0, p}
					if byGroup {
						sp.group = groups[2*bw.ix.keySlot[p.a]+1]
						sp.prefix = len(bw.pw.String(p.a)) + 2
					}
					spans = append(spans, sp)
				}
			}
		}
	}
	all := string(buf)
	terms := make([]entry, len(spans))
	// The sort moves (key, index) pairs: without pointers, its swaps take no write barrier while the collector
	// marks.
	order := make([]termOrder, len(spans))
	prev := 0
	for i, sp := range spans {
		text := all[prev:sp.end]
		terms[i] = entry{text, sp.p}
		order[i].i = uint32(i)
		if byGroup {
			// The group's rank, then the first thirteen bytes after the group's prefix (zeros past the text's
			// end, which keeps a text before those it is a prefix of): values with a common start, as user-1234
			// or 10.0.1.23, are told apart without comparing their texts.
			var b [13]byte
			copy(b[:], text[sp.prefix:])
			order[i].key = sp.group<<40 | uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 |
				uint64(b[3])<<8 | uint64(b[4])
			order[i].key2 = binary.BigEndian.Uint64(b[5:])
		}
		prev = sp.end
	}
	slices.SortFunc(order, func(a, b termOrder) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		if a.key2 != b.key2 {
			return cmp.Compare(a.key2, b.key2)
		}
		return strings.Compare(terms[a.i].text, terms[b.i].text)
	})
	// Equal texts (an integer and a string spelling it the same way, statuses or kinds out of range, several
	// strings with one canonical number) share one term: the union of their postings.
	merged := make([]entry, 0, len(terms))
	for _, o := range order {
		e := terms[o.i]
		if n := len(merged); n > 0 && merged[n-1].text == e.text {
			merged[n-1].p = mergePostings(merged[n-1].p, e.p)
			continue
		}
		merged = append(merged, e)
	}
	for _, e := range merged {
		appendTerm(bw, e.text, e.p.ords, e.p.dmin, e.p.dmax)
	}
	bw.flushChunk()
}

// termOrder is a term's place in writeTerms's sort: a key that orders most terms (see termGroups) in two words,
// and the term's index, whose text decides between equal keys.
type termOrder struct {
	key, key2 uint64
	i         uint32
}

// termGroups ranks the prefixes that group a block's term texts, so that writeTerms sorts most terms by an
// integer rather than by their texts: an attribute key's A and # terms (the kind, the key and its NUL) and each
// other kind of term (its kind byte). The prefixes are a prefix-free set (no key holds a NUL), so texts ordered
// by their prefix's rank, then by what follows it, are in the order of their texts. groups[2*i] and
// groups[2*i+1] are the ranks of keys[i]'s A and # prefixes, groups[len-256+kind] that of the other kinds. ok
// is false when a key holds a NUL (or there are too many keys): the texts are then sorted as they are.
func (bw *blockWriter) termGroups() (groups []uint64, ok bool) {
	keys := bw.ix.keys
	if len(keys) >= 1<<22 {
		return nil, false
	}
	type prefix struct {
		text string
		slot int
	}
	ps := make([]prefix, 0, 2*len(keys)+256)
	for i, kv := range keys {
		k := bw.pw.String(kv.key)
		if strings.IndexByte(k, 0) >= 0 {
			return nil, false
		}
		ps = append(ps, prefix{string(termAttr) + k + "\x00", 2 * i}, prefix{string(termNumber) + k + "\x00", 2*i + 1})
	}
	for kind := range 256 {
		if kind != termAttr && kind != termNumber {
			ps = append(ps, prefix{string([]byte{byte(kind)}), 2*len(keys) + kind})
		}
	}
	slices.SortFunc(ps, func(a, b prefix) int { return strings.Compare(a.text, b.text) })
	groups = make([]uint64, 2*len(keys)+256)
	for r, p := range ps {
		groups[p.slot] = uint64(r)
	}
	return groups, true
}

// appendTerm adds a term and its posting list to the term chunk being built, in term order. k is a string or,
// from compaction's merge of terms, the bytes of an input's chunk: made a string only when it starts a chunk.
func appendTerm[T string | []byte](bw *blockWriter, k T, ords []uint32, dmin, dmax []uint8) {
	if len(bw.chunk) == 0 {
		bw.chunkFirst = string(k)
	}
	c := binary.AppendUvarint(bw.chunk, uint64(len(k)))
	c = append(c, k...)
	c = binary.AppendUvarint(c, uint64(len(ords)))
	o, d := c, c
	if bw.meta.ColumnIndex {
		bw.chunk = c
		o, d = bw.chunkOrds, bw.chunkDurs
	}
	prev := uint32(0)
	for _, ord := range ords {
		if delta := ord - prev; delta < 0x80 { // most deltas: one byte
			o = append(o, byte(delta))
		} else {
			o = binary.AppendUvarint(o, uint64(delta))
		}
		prev = ord
	}
	if bw.meta.ColumnIndex {
		bw.chunkOrds = o
	} else {
		d = o
	}
	if k[0] == termOperation {
		d = append(d, dmin...)
		d = append(d, dmax...)
	}
	if bw.meta.ColumnIndex {
		bw.chunkDurs = d
	} else {
		bw.chunk = d
	}
	if len(bw.chunk)+len(bw.chunkOrds)+len(bw.chunkDurs) >= chunkTarget {
		bw.flushChunk()
	}
}

func (bw *blockWriter) flushChunk() {
	if len(bw.chunk) == 0 {
		return
	}
	var z []byte
	switch {
	case bw.meta.ColumnIndex:
		bw.zbuf = wal.AppendStreams(bw.zbuf[:0], [][]byte{bw.chunk, bw.chunkOrds, bw.chunkDurs}, true)
		z = bw.zbuf
	case bw.meta.RawIndex:
		z = bw.chunk
	default:
		z = bw.compress(bw.chunk)
	}
	bw.meta.Chunks = append(bw.meta.Chunks, chunkRef{First: bw.chunkFirst, Off: bw.off, Len: int64(len(z))})
	bw.write(z)
	bw.chunk, bw.chunkOrds, bw.chunkDurs = bw.chunk[:0], bw.chunkOrds[:0], bw.chunkDurs[:0]
}

// mergePostings unions two posting lists of attribute terms (an int and a string with the same text).
func mergePostings(a, b *posting) *posting {
	if a == nil {
		return b
	}
	u := union(ordSet{ords: a.ords}, ordSet{ords: b.ords})
	return &posting{kind: a.kind, ords: u.ords}
}

func (bw *blockWriter) writeDict() {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(bw.dict)))
	for _, s := range bw.dict {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	z := bw.compress(b)
	bw.meta.DictOff, bw.meta.DictLen = bw.off, int64(len(z))
	bw.write(z)
}

func (bw *blockWriter) writeTraceTable() {
	n := len(bw.traceIDs)
	b := make([]byte, 0, n*40)
	b = binary.AppendUvarint(b, uint64(n))
	for _, id := range bw.traceIDs {
		b = append(b, id[:]...)
	}
	var z []byte
	if bw.meta.ColumnIndex {
		// Column form: the IDs, then each field in a stream of its own, pages as deltas (they only grow).
		var cols [7][]byte
		prevPage := uint32(0)
		for i := 0; i < n; i++ {
			cols[0] = binary.AppendVarint(cols[0], bw.tMin[i]-bw.meta.MinStart)
			cols[1] = binary.AppendUvarint(cols[1], uint64(bw.tMax[i]-bw.tMin[i]))
			cols[2] = binary.AppendUvarint(cols[2], uint64(bw.tPage[i]-prevPage))
			prevPage = bw.tPage[i]
			cols[3] = binary.AppendUvarint(cols[3], uint64(bw.tOff[i]))
			cols[4] = binary.AppendUvarint(cols[4], uint64(bw.tEnd[i]-bw.tOff[i]))
			cols[5] = binary.AppendUvarint(cols[5], uint64(bw.tNum[i]))
			cols[6] = binary.AppendUvarint(cols[6], uint64(bw.tRow[i]))
		}
		z = wal.AppendStreams(bw.zbuf[:0], append([][]byte{b}, cols[:]...), true)
	} else {
		for i := 0; i < n; i++ {
			b = binary.AppendVarint(b, bw.tMin[i]-bw.meta.MinStart)
			b = binary.AppendUvarint(b, uint64(bw.tMax[i]-bw.tMin[i]))
			b = binary.AppendUvarint(b, uint64(bw.tPage[i]))
			b = binary.AppendUvarint(b, uint64(bw.tOff[i]))
			b = binary.AppendUvarint(b, uint64(bw.tEnd[i]-bw.tOff[i]))
			b = binary.AppendUvarint(b, uint64(bw.tNum[i]))
			b = binary.AppendUvarint(b, uint64(bw.tRow[i]))
		}
		z = bw.compress(b)
	}
	bw.meta.TraceOff, bw.meta.TraceLen = bw.off, int64(len(z))
	bw.write(z)
}

// joinTraceTable puts a column-form trace table (see writeTraceTable) back in the row form parseTraceTable
// reads.
func joinTraceTable(st [][]byte) ([]byte, error) {
	out := append([]byte(nil), st[0]...)
	n, k := binary.Uvarint(st[0])
	if k <= 0 || n > uint64(len(st[0]))/16 {
		return nil, errBadBlock
	}
	cols := st[1:]
	page := uint64(0)
	for range n {
		for c := range cols {
			v, k := binary.Uvarint(cols[c])
			if k <= 0 {
				return nil, errBadBlock
			}
			if c == 2 {
				page += v
				out = binary.AppendUvarint(out, page)
			} else {
				out = append(out, cols[c][:k]...)
			}
			cols[c] = cols[c][k:]
		}
	}
	for _, c := range cols {
		if len(c) != 0 {
			return nil, errBadBlock
		}
	}
	return out, nil
}

// commit renames the file finishFile wrote into place and opens the block.
func (bw *blockWriter) commit() (*block, error) {
	err := os.Rename(bw.tmp, bw.path)
	if err == nil {
		err = syncDir(filepath.Dir(bw.path))
	}
	if err != nil {
		os.Remove(bw.tmp)
		return nil, fmt.Errorf("embedded: writing block %s: %w", bw.path, err)
	}
	return openBlock(bw.path)
}

// finishFile writes the index and footer and syncs the file, which stays at its temporary name (bw.tmp).
func (bw *blockWriter) finishFile(walSeg, level int) error {
	bw.flushPage()
	if bw.err != nil {
		bw.abort()
		return fmt.Errorf("embedded: writing block %s: %w", bw.path, bw.err)
	}
	bw.meta.Traces = len(bw.traceIDs)
	bw.meta.WAL = walSeg
	bw.meta.Level = level
	bw.meta.DataBytes = bw.off
	if bw.merged != nil {
		if err := bw.merged(); err != nil {
			bw.abort()
			return fmt.Errorf("embedded: writing block %s: %w", bw.path, err)
		}
		bw.flushChunk()
	} else {
		bw.writeTerms()
	}
	bw.writeDict()
	bw.writeTraceTable()
	for g := range bw.ix.svcs {
		if svc := bw.pw.String(g); svc != "" {
			bw.meta.Services = append(bw.meta.Services, svc)
		}
	}
	sort.Strings(bw.meta.Services)
	bw.writeEdges()
	for o := range bw.ix.opKinds {
		bw.meta.Ops = append(bw.meta.Ops, opMeta{bw.pw.String(o.svc), bw.pw.String(o.name), o.kind})
	}
	for _, kv := range bw.ix.keys {
		bw.meta.Keys = append(bw.meta.Keys, bw.pw.String(kv.key))
	}
	sort.Strings(bw.meta.Keys)
	mj, err := json.Marshal(&bw.meta)
	if err != nil {
		bw.abort()
		return err
	}
	bw.write(mj)
	var tail [16]byte
	binary.LittleEndian.PutUint64(tail[:8], uint64(len(mj)))
	copy(tail[8:], blockTail)
	bw.write(tail[:])
	err = bw.w.Flush()
	if err == nil && bw.over {
		err = bw.f.Truncate(bw.off) // what is left of the spare's earlier life
	}
	if err == nil {
		err = wal.SyncData(bw.f)
	}
	if e := bw.f.Close(); err == nil {
		err = e
	}
	if err != nil {
		os.Remove(bw.tmp)
		return fmt.Errorf("embedded: writing block %s: %w", bw.path, err)
	}
	return nil
}

func (bw *blockWriter) abort() {
	bw.f.Close()
	os.Remove(bw.tmp)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// block is an open block file.
type block struct {
	path string
	id   uint64 // unique within the process, for the page cache
	f    *os.File
	meta blockMeta
	size int64
	dict []string // the shared string dictionary of the block's pages

	ids []model.TraceID
	traceTable
	refs     atomic.Int64 // readers holding the block, plus one while it is part of the store
	dropOnce sync.Once
	spares   *spares // where the file went as a spare named spare, after drop; read once refs reach 0
	spare    string
}

var blockSeq atomic.Uint64

var errBadBlock = errors.New("embedded: not a valid block file")

func openBlock(path string) (*block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	b, err := loadBlock(f, path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %v", errBadBlock, path, err)
	}
	return b, nil
}

func loadBlock(f *os.File, path string) (*block, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < int64(len(blockMagic))+16 {
		return nil, errors.New("too short")
	}
	var tail [16]byte
	if _, err := f.ReadAt(tail[:], size-16); err != nil {
		return nil, err
	}
	if string(tail[8:]) != blockTail {
		return nil, errors.New("no footer")
	}
	ml := int64(binary.LittleEndian.Uint64(tail[:8]))
	if ml <= 0 || ml > size-16-int64(len(blockMagic)) {
		return nil, errors.New("bad meta length")
	}
	mj := make([]byte, ml)
	if _, err := f.ReadAt(mj, size-16-ml); err != nil {
		return nil, err
	}
	b := &block{path: path, f: f, size: size, id: blockSeq.Add(1)}
	if err := json.Unmarshal(mj, &b.meta); err != nil {
		return nil, err
	}
	if b.meta.Version < 1 || b.meta.Version > blockVersion {
		return nil, fmt.Errorf("block format version %d: this weft reads versions 1 to %d", b.meta.Version, blockVersion)
	}
	if b.meta.DictLen > 0 {
		raw, err := b.readSection(b.meta.DictOff, b.meta.DictLen)
		if err != nil {
			return nil, err
		}
		if b.dict, err = parseDict(raw); err != nil {
			return nil, err
		}
	}
	tt, err := b.readTraceTable()
	if err != nil {
		return nil, err
	}
	if err := b.parseTraceTable(tt); err != nil {
		return nil, err
	}
	b.refs.Store(1)
	return b, nil
}

func parseDict(raw []byte) ([]string, error) {
	n, k := binary.Uvarint(raw)
	if k <= 0 || n > uint64(len(raw)) {
		return nil, errors.New("bad dictionary")
	}
	raw = raw[k:]
	ends := make([]int, n)
	var all []byte
	for i := range ends {
		l, k := binary.Uvarint(raw)
		if k <= 0 || l > uint64(len(raw)-k) {
			return nil, errors.New("bad dictionary")
		}
		all = append(all, raw[k:k+int(l)]...)
		ends[i] = len(all)
		raw = raw[k+int(l):]
	}
	text := string(all)
	out := make([]string, n)
	prev := 0
	for i, e := range ends {
		out[i] = text[prev:e]
		prev = e
	}
	return out, nil
}

// pageBuf is the memory a page is read into, reused for the next by a reader that is done with each page before
// it reads another (compaction's cursors): a page costs ~40 KiB read and ~200 KiB rebuilt from columns.
type pageBuf struct{ raw, rows []byte }

// readPage reads page i, decompressing it unless the block keeps its pages raw, into buf's memory; the page is
// valid until buf is used again.
func (b *block) readPage(i int, buf *pageBuf) ([]byte, error) { return b.readPageInto(i, -1, buf) }

// readPagePrefix reads page i; of a column page, only the first rows spans if rows >= 0 (wal.RowPagePrefix).
func (b *block) readPagePrefix(i, rows int) ([]byte, error) { return b.readPageInto(i, rows, nil) }

// readPageInto is readPagePrefix into buf's memory, or new memory if buf is nil.
func (b *block) readPageInto(i, rows int, buf *pageBuf) ([]byte, error) {
	p := b.meta.Pages[i]
	if !b.meta.RawPages && !b.meta.ColumnPages {
		return b.readSection(p[0], p[1])
	}
	if p[0] < 0 || p[1] < 0 || p[0]+p[1] > b.size {
		return nil, errors.New("page outside the file")
	}
	var raw []byte
	if buf != nil {
		raw = slices.Grow(buf.raw[:0], int(p[1]))[:p[1]]
		buf.raw = raw
	} else {
		raw = make([]byte, p[1])
	}
	if _, err := b.f.ReadAt(raw, p[0]); err != nil {
		return nil, err
	}
	if b.meta.ColumnPages {
		// The page's traces, from the trace table: traces are in ID order, pages too.
		lo := sort.Search(len(b.tPage), func(j int) bool { return b.tPage[j] >= uint32(i) })
		hi := sort.Search(len(b.tPage), func(j int) bool { return b.tPage[j] > uint32(i) })
		var dst []byte
		if buf != nil {
			dst = buf.rows[:0]
		} else {
			dst = make([]byte, 0, 4*len(raw))
		}
		page, err := wal.RowPagePrefix(dst, raw, b.ids[lo:hi], rows)
		if buf != nil && cap(page) > cap(buf.rows) {
			buf.rows = page[:0]
		}
		return page, err
	}
	return raw, nil
}

// readTraceTable reads the trace table section in row form.
func (b *block) readTraceTable() ([]byte, error) {
	if !b.meta.ColumnIndex {
		return b.readSection(b.meta.TraceOff, b.meta.TraceLen)
	}
	off, n := b.meta.TraceOff, b.meta.TraceLen
	if off < 0 || n < 0 || off+n > b.size {
		return nil, errors.New("trace table outside the file")
	}
	z := make([]byte, n)
	if _, err := b.f.ReadAt(z, off); err != nil {
		return nil, err
	}
	st, err := wal.ReadStreams(z, 8, 1<<30)
	if err != nil {
		return nil, fmt.Errorf("trace table: %w", err)
	}
	return joinTraceTable(st)
}

func (b *block) readSection(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off+n > b.size {
		return nil, errors.New("section outside the file")
	}
	z := make([]byte, n)
	if _, err := b.f.ReadAt(z, off); err != nil {
		return nil, err
	}
	return zdec.DecodeAll(z, nil)
}

func (b *block) parseTraceTable(t []byte) error {
	n64, k := binary.Uvarint(t)
	if k <= 0 || n64 > uint64(len(t))/16 {
		return errors.New("bad trace table")
	}
	n := int(n64)
	t = t[k:]
	b.ids = make([]model.TraceID, n)
	for i := range b.ids {
		copy(b.ids[i][:], t[i*16:])
	}
	t = t[n*16:]
	b.tMin, b.tMax = make([]int64, n), make([]int64, n)
	b.tPage, b.tOff, b.tEnd = make([]uint32, n), make([]uint32, n), make([]uint32, n)
	b.tNum, b.tRow = make([]uint32, n), make([]uint32, n)
	rd := func() uint64 {
		v, k := binary.Uvarint(t)
		if k <= 0 {
			t = nil
			return 0
		}
		t = t[k:]
		return v
	}
	for i := 0; i < n; i++ {
		v, k := binary.Varint(t)
		if k <= 0 {
			return errors.New("bad trace table")
		}
		t = t[k:]
		b.tMin[i] = b.meta.MinStart + v
		b.tMax[i] = b.tMin[i] + int64(rd())
		b.tPage[i] = uint32(rd())
		b.tOff[i] = uint32(rd())
		b.tEnd[i] = b.tOff[i] + uint32(rd())
		b.tNum[i] = uint32(rd())
		b.tRow[i] = uint32(rd())
		if int(b.tPage[i]) >= len(b.meta.Pages) {
			return errors.New("trace table names a missing page")
		}
	}
	return nil
}

// find returns the ordinal of trace id, or -1.
func (b *block) find(id model.TraceID) int {
	i, ok := slices.BinarySearchFunc(b.ids, id, func(a, t model.TraceID) int { return bytes.Compare(a[:], t[:]) })
	if !ok {
		return -1
	}
	return i
}

// release drops a reader's hold; the file closes when the last one goes after the block left the store, and it
// becomes a free spare if it was kept as one.
func (b *block) release() {
	if b.refs.Add(-1) == 0 {
		b.f.Close()
		if b.spare != "" {
			b.spares.release(b.spare, b.size)
		}
	}
}

// drop takes the block out of service: its file is deleted, or kept in sp as a spare (sp may be nil), and freed
// once no reader holds it.
func (b *block) drop(sp *spares) {
	b.dropOnce.Do(func() {
		if sp != nil {
			b.spares, b.spare = sp, sp.retire(b.path, b.size)
		} else {
			os.Remove(b.path)
		}
		b.release()
	})
}

// pageCache keeps recently read pages parsed, bounded by their decompressed size.
type pageCache struct {
	mu    sync.Mutex
	max   int
	size  int
	items map[[2]uint64]*cachedPage
	clock uint64
}

// cachedPage is a parsed page (*wal.Batch) or a column page's outline (*wal.Outline).
type cachedPage struct {
	val  any
	size int
	used uint64
}

func newPageCache(max int) *pageCache {
	return &pageCache{max: max, items: map[[2]uint64]*cachedPage{}}
}

func (c *pageCache) get(key [2]uint64) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.items[key]
	if p == nil {
		return nil
	}
	c.clock++
	p.used = c.clock
	return p.val
}

func (c *pageCache) put(key [2]uint64, val any, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 || size > c.max/4 {
		return
	}
	c.clock++
	if old, ok := c.items[key]; ok { // a longer prefix of a column page (or the same page read twice at once)
		c.size -= old.size
	}
	c.items[key] = &cachedPage{val: val, size: size, used: c.clock}
	c.size += size
	for c.size > c.max {
		// Evict the least recently used of a small sample: cheap and close enough to LRU.
		var victim [2]uint64
		var oldest uint64 = math.MaxUint64
		n := 0
		for k, p := range c.items {
			if p.used < oldest {
				oldest, victim = p.used, k
			}
			if n++; n >= 8 {
				break
			}
		}
		c.size -= c.items[victim].size
		delete(c.items, victim)
	}
}

// page reads, decompresses and parses page i, through the cache.
func (b *block) page(c *pageCache, i uint32, rows int) (*wal.Batch, error) {
	key := [2]uint64{b.id, uint64(i)}
	if bt, ok := c.get(key).(*wal.Batch); ok {
		return bt, nil
	}
	// A column page read for a trace before its last is rebuilt up to that trace only (cached apart).
	pkey := [2]uint64{b.id, uint64(i) | 1<<63}
	if !b.meta.ColumnPages {
		rows = -1
	} else if bt, ok := c.get(pkey).(*wal.Batch); ok && rows >= 0 && bt.Spans() >= rows {
		return bt, nil
	}
	raw, err := b.readPagePrefix(int(i), rows)
	if err != nil {
		return nil, fmt.Errorf("embedded: block %s page %d: %w", b.path, i, err)
	}
	bt, err := wal.ParseBatch(raw, b.dict)
	if err != nil {
		return nil, fmt.Errorf("embedded: block %s page %d: %w", b.path, i, err)
	}
	if rows >= 0 {
		key = pkey
	}
	c.put(key, bt, len(raw)*2)
	return bt, nil
}

// outline reads the outline of column page i (wal.PageOutline), through the cache: what a search on services,
// names, kinds, durations and times needs, at a fraction of rebuilding the page.
func (b *block) outline(c *pageCache, i uint32) (*wal.Outline, error) {
	key := [2]uint64{b.id, uint64(i) | 1<<62}
	if o, ok := c.get(key).(*wal.Outline); ok {
		return o, nil
	}
	p := b.meta.Pages[i]
	if !b.meta.ColumnPages || p[0] < 0 || p[1] < 0 || p[0]+p[1] > b.size {
		return nil, fmt.Errorf("embedded: block %s page %d: no column page to outline", b.path, i)
	}
	raw := make([]byte, p[1])
	if _, err := b.f.ReadAt(raw, p[0]); err != nil {
		return nil, fmt.Errorf("embedded: block %s page %d: %w", b.path, i, err)
	}
	o, err := wal.PageOutline(raw, b.dict)
	if err != nil {
		return nil, fmt.Errorf("embedded: block %s page %d: %w", b.path, i, err)
	}
	c.put(key, o, o.Size())
	return o, nil
}

// traceRows is the rows of trace ord in its page: from its first to the next trace's first, or the page's end
// (pageRows).
func (b *block) traceRows(ord, pageRows int) (int, int) {
	if ord+1 < len(b.tPage) && b.tPage[ord+1] == b.tPage[ord] {
		return int(b.tRow[ord]), int(b.tRow[ord+1])
	}
	return int(b.tRow[ord]), pageRows
}

func (b *block) traceSpans(c *pageCache, tc *traceCache, ord int) ([]*model.Span, error) {
	key := [2]uint64{b.id, uint64(ord)}
	if spans := tc.get(key); spans != nil {
		return spans, nil
	}
	rows := -1 // the spans of the page up to this trace's end: the next trace's first row, if in this page
	if ord+1 < len(b.tPage) && b.tPage[ord+1] == b.tPage[ord] {
		rows = int(b.tRow[ord+1])
	}
	bt, err := b.page(c, b.tPage[ord], rows)
	if err != nil {
		return nil, err
	}
	spans, err := bt.Range(b.pos(ord), int(b.tEnd[ord]))
	if err == nil {
		tc.put(key, spans)
	}
	return spans, err
}

// largeTrace is the number of spans from which a trace's decoded spans are kept in the trace cache.
const largeTrace = 10_000

// traceCache keeps the decoded spans of the last few large traces read from blocks. Decoding a trace of 100,000
// spans costs ~0.2 s of CPU and ~130 MB of model spans, and the UI reads such a trace several times in a row
// (its waterfall, its critical path, a span's details); blocks never change, so an entry is valid as long as its
// block exists (block ids are not reused). Callers get the spans in a slice of their own (Store.trace copies),
// and spans are never modified (store.Reader's contract).
type traceCache struct {
	mu    sync.Mutex
	max   int // spans
	spans int
	items map[[2]uint64][]*model.Span
	order [][2]uint64 // oldest first
}

func newTraceCache(max int) *traceCache {
	return &traceCache{max: max, items: map[[2]uint64][]*model.Span{}}
}

func (tc *traceCache) get(key [2]uint64) []*model.Span {
	if tc == nil || tc.max <= 0 {
		return nil
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.items[key]
}

func (tc *traceCache) put(key [2]uint64, spans []*model.Span) {
	if tc == nil || len(spans) < largeTrace || len(spans) > tc.max {
		return
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if _, ok := tc.items[key]; ok {
		return
	}
	for tc.spans+len(spans) > tc.max && len(tc.order) > 0 {
		old := tc.order[0]
		tc.order = tc.order[1:]
		tc.spans -= len(tc.items[old])
		delete(tc.items, old)
	}
	tc.items[key] = spans
	tc.order = append(tc.order, key)
	tc.spans += len(spans)
}

func (b *block) pos(ord int) wal.Pos {
	return wal.Pos{Rec: int(b.tOff[ord]), Num: int(b.tNum[ord]), Row: int(b.tRow[ord])}
}

// chunk reads and decompresses term chunk i.
func (b *block) chunk(i int) ([]byte, error) {
	c := b.meta.Chunks[i]
	if !b.meta.ColumnIndex && !b.meta.RawIndex {
		return b.readSection(c.Off, c.Len)
	}
	if c.Off < 0 || c.Len < 0 || c.Off+c.Len > b.size {
		return nil, errors.New("term chunk outside the file")
	}
	z := make([]byte, c.Len)
	if _, err := b.f.ReadAt(z, c.Off); err != nil {
		return nil, err
	}
	if b.meta.RawIndex {
		return z, nil
	}
	st, err := wal.ReadStreams(z, 3, 1<<28)
	if err != nil {
		return nil, fmt.Errorf("term chunk %d: %w", i, err)
	}
	return joinChunk(st[0], st[1], st[2])
}

// termChunk is a decoded term chunk with a directory of its terms (in order), for binary search.
type termChunk struct {
	terms []chunkTerm
}

type chunkTerm struct {
	text []byte // the chunk's bytes
	pl   encodedPostings
}

func parseTermChunk(raw []byte) (*termChunk, error) {
	tc := &termChunk{}
	err := scanChunk(raw, func(t []byte, pl encodedPostings) bool {
		tc.terms = append(tc.terms, chunkTerm{t, pl})
		return true
	})
	return tc, err
}

// search is the index of the first term not before text.
func (tc *termChunk) search(text string) int {
	return sort.Search(len(tc.terms), func(j int) bool { return string(tc.terms[j].text) >= text })
}

// cachedChunk is chunk, with its directory, through the store's chunk cache: a search reads the same few chunks
// of a block again and again (its services' and operations' terms); decompressing one costs more than the rest
// of the lookup, and walking an operation term's posting list to reach the next term more again.
func (b *block) cachedChunk(c *pageCache, i int) (*termChunk, error) {
	key := [2]uint64{b.id, uint64(i)}
	if tc, ok := c.get(key).(*termChunk); ok {
		return tc, nil
	}
	raw, err := b.chunk(i)
	if err != nil {
		return nil, err
	}
	tc, err := parseTermChunk(raw)
	if err != nil {
		return nil, err
	}
	c.put(key, tc, len(raw)+48*len(tc.terms))
	return tc, nil
}

// joinChunk puts a term chunk's streams back in the row form that nextTerm reads: each term's head, then its
// posting deltas, then (operation terms) its duration buckets.
func joinChunk(heads, ords, durs []byte) ([]byte, error) {
	out := make([]byte, 0, len(heads)+len(ords)+len(durs))
	for len(heads) > 0 {
		l, k := binary.Uvarint(heads)
		if k <= 0 || l >= uint64(len(heads)-k) {
			return nil, errBadBlock
		}
		isOp := l > 0 && heads[k] == termOperation
		h := k + int(l)
		n, k2 := binary.Uvarint(heads[h:])
		if k2 <= 0 || n > uint64(len(ords)) {
			return nil, errBadBlock
		}
		out = append(out, heads[:h+k2]...)
		heads = heads[h+k2:]
		p := 0
		for range n {
			_, k := binary.Uvarint(ords[p:])
			if k <= 0 {
				return nil, errBadBlock
			}
			p += k
		}
		out = append(out, ords[:p]...)
		ords = ords[p:]
		if isOp {
			if uint64(len(durs)) < 2*n {
				return nil, errBadBlock
			}
			out = append(out, durs[:2*n]...)
			durs = durs[2*n:]
		}
	}
	if len(ords) != 0 || len(durs) != 0 {
		return nil, errBadBlock
	}
	return out, nil
}

// postingList is a decoded posting list.
type postingList struct {
	ords       []uint32
	dmin, dmax []uint8
}

// nextTerm parses the first term of a decoded chunk: its text, its posting list's count and delta-varint
// ordinals, its duration buckets (operation terms), and what follows.
func nextTerm(raw []byte) (term []byte, n uint64, deltas, durs, rest []byte, err error) {
	l, k := binary.Uvarint(raw)
	if k <= 0 || l > uint64(len(raw)-k) {
		return nil, 0, nil, nil, nil, errBadBlock
	}
	term = raw[k : k+int(l) : k+int(l)]
	raw = raw[k+int(l):]
	n, k = binary.Uvarint(raw)
	if k <= 0 || n > uint64(len(raw)) {
		return nil, 0, nil, nil, nil, errBadBlock
	}
	raw = raw[k:]
	start := raw
	// Skip the deltas to find the end of this posting list.
	for i := uint64(0); i < n; i++ {
		_, k := binary.Uvarint(raw)
		if k <= 0 {
			return nil, 0, nil, nil, nil, errBadBlock
		}
		raw = raw[k:]
	}
	deltas = start[:len(start)-len(raw)]
	if len(term) > 0 && term[0] == termOperation {
		if uint64(len(raw)) < 2*n {
			return nil, 0, nil, nil, nil, errBadBlock
		}
		durs = raw[:2*n]
		raw = raw[2*n:]
	}
	return term, n, deltas, durs, raw, nil
}

// decodeOrds appends the n ordinals of a posting list's deltas to dst.
func decodeOrds(dst []uint32, deltas []byte, n uint64) []uint32 {
	prev := uint32(0)
	for i := uint64(0); i < n; i++ {
		v, k := binary.Uvarint(deltas)
		deltas = deltas[k:]
		prev += uint32(v)
		dst = append(dst, prev)
	}
	return dst
}

// encodedPostings is a term's posting list as a chunk holds it.
type encodedPostings struct {
	n            uint64
	deltas, durs []byte
}

func (e encodedPostings) decode() postingList {
	pl := postingList{ords: decodeOrds(make([]uint32, 0, e.n), e.deltas, e.n)}
	if e.durs != nil {
		pl.dmin, pl.dmax = e.durs[:e.n], e.durs[e.n:]
	}
	return pl
}

// scanChunk walks the terms of a decoded chunk; f returns false to stop. The term's bytes are the chunk's.
func scanChunk(raw []byte, f func(term []byte, pl encodedPostings) bool) error {
	for len(raw) > 0 {
		term, n, deltas, durs, rest, err := nextTerm(raw)
		if err != nil {
			return err
		}
		raw = rest
		if !f(term, encodedPostings{n, deltas, durs}) {
			return nil
		}
	}
	return nil
}

// lookup returns the posting list of term, ok false when the block does not hold it.
func (b *block) lookup(c *pageCache, term string) (postingList, bool, error) {
	cs := b.meta.Chunks
	i := sort.Search(len(cs), func(i int) bool { return cs[i].First > term }) - 1
	if i < 0 {
		return postingList{}, false, nil
	}
	tc, err := b.cachedChunk(c, i)
	if err != nil {
		return postingList{}, false, err
	}
	if j := tc.search(term); j < len(tc.terms) && string(tc.terms[j].text) == term {
		return tc.terms[j].pl.decode(), true, nil
	}
	return postingList{}, false, nil
}

// termsWithPrefix calls f for every term starting with prefix, in order, until f returns false.
func (b *block) termsWithPrefix(c *pageCache, prefix string, f func(term string) bool) error {
	cs := b.meta.Chunks
	i := sort.Search(len(cs), func(i int) bool { return cs[i].First > prefix }) - 1
	if i < 0 {
		i = 0
	}
	for ; i < len(cs); i++ {
		if i > 0 && cs[i].First > prefix && !bytes.HasPrefix([]byte(cs[i].First), []byte(prefix)) {
			return nil
		}
		tc, err := b.cachedChunk(c, i)
		if err != nil {
			return err
		}
		for _, t := range tc.terms[tc.search(prefix):] {
			if len(t.text) < len(prefix) || string(t.text[:len(prefix)]) != prefix || !f(string(t.text)) {
				return nil
			}
		}
	}
	return nil
}
