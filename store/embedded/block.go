package embedded

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/wal"
)

// A block is one immutable file holding whole traces (of what the head held when it was cut), sorted by trace ID:
//
//	"WEFTBLK1"
//	pages        zstd frames, each one wal codec batch of whole traces (about pageTarget bytes before compression)
//	term chunks  zstd frames of the attribute index: sorted terms, each with its posting list of trace ordinals
//	trace table  one zstd frame: per trace its ID, first and last span start, page and record range
//	meta         JSON: counts, time range, section offsets, the first term of each chunk, services, operations
//	uint64 meta length, "WEFTEND1"
//
// The trace table is held in memory while the block is open (about 44 bytes a trace), so finding a trace is a
// binary search and one page read; a search reads only the term chunks its terms fall in.

const (
	blockMagic  = "WEFTBLK1"
	blockTail   = "WEFTEND1"
	blockSuffix = ".blk"
	pageTarget  = 128 << 10
	chunkTarget = 32 << 10
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

type blockMeta struct {
	Version   int        `json:"version"`
	Spans     int        `json:"spans"`
	Traces    int        `json:"traces"`
	MinStart  int64      `json:"min_start"`
	MaxStart  int64      `json:"max_start"`
	MaxEnd    int64      `json:"max_end"`
	WAL       int        `json:"wal"` // write-ahead log segments below this are contained in blocks
	Level     int        `json:"level"`
	Pages     [][2]int64 `json:"pages"` // offset, length
	Chunks    []chunkRef `json:"chunks"`
	DictOff   int64      `json:"dict_off"`
	DictLen   int64      `json:"dict_len"`
	TraceOff  int64      `json:"trace_off"`
	TraceLen  int64      `json:"trace_len"`
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

var zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
var zencBetter, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
var zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))

// durBucket maps a duration to one byte on a log scale (about 9% apart), rounding down or up.
func durBucket(d int64, up bool) uint8 {
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
	ords []uint32
	dmin []uint8 // operation terms: smallest and largest duration bucket of the trace's spans with that operation
	dmax []uint8
}

// blockWriter streams traces, in ascending trace ID order, into a new block file.
type blockWriter struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	off       int64
	better    bool

	enc      wal.Encoder
	pageBuf  []byte
	zbuf     []byte
	meta     blockMeta
	pageNo   uint32
	traceIDs []model.TraceID
	tMin     []int64
	tMax     []int64
	tPage    []uint32
	tOff     []uint32
	tEnd     []uint32
	tNum     []uint32
	tRow     []uint32
	terms    map[string]*posting
	attrs    map[string]*attrPostings
	dict     []string
	services map[string]bool
	ops      map[opMeta]bool
	keys     map[string]bool
	termBuf  []byte
	first    bool
}

// attrPostings are the postings of one attribute key, by value: texts, and ints kept as numbers until the end
// so that indexing does not format every one.
type attrPostings struct {
	byText map[string]*posting
	byInt  map[int64]*posting
}

// newBlockWriter starts a block at path; dict is the block's shared string dictionary (see sharedStrings).
func newBlockWriter(path string, better bool, dict []string) (*blockWriter, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	bw := &blockWriter{path: path, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 1<<20), better: better,
		terms: map[string]*posting{}, attrs: map[string]*attrPostings{}, services: map[string]bool{},
		ops: map[opMeta]bool{}, keys: map[string]bool{}, first: true, dict: dict}
	bw.enc.Shared = wal.NewDict(dict)
	bw.meta.Version = 1
	bw.write([]byte(blockMagic))
	return bw, nil
}

func (bw *blockWriter) write(b []byte) {
	n, _ := bw.w.Write(b) // errors stick in bufio.Writer and surface at Flush
	bw.off += int64(n)
}

func (bw *blockWriter) compress(src []byte) []byte {
	if bw.better {
		bw.zbuf = zencBetter.EncodeAll(src, bw.zbuf[:0])
	} else {
		bw.zbuf = zenc.EncodeAll(src, bw.zbuf[:0])
	}
	return bw.zbuf
}

func (bw *blockWriter) flushPage() {
	if bw.enc.Spans() == 0 {
		return
	}
	bw.pageBuf = bw.enc.AppendTo(bw.pageBuf[:0])
	z := bw.compress(bw.pageBuf)
	bw.meta.Pages = append(bw.meta.Pages, [2]int64{bw.off, int64(len(z))})
	bw.write(z)
	bw.enc.Reset()
	bw.pageNo++
}

func (bw *blockWriter) term(kind byte, parts ...string) *posting {
	b := append(bw.termBuf[:0], kind)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	bw.termBuf = b
	p := bw.terms[string(b)]
	if p == nil {
		p = &posting{}
		bw.terms[string(b)] = p
	}
	return p
}

// mark adds trace ordinal ord to a term's posting list once.
func (p *posting) mark(ord uint32) bool {
	if n := len(p.ords); n > 0 && p.ords[n-1] == ord {
		return false
	}
	p.ords = append(p.ords, ord)
	return true
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

func (bw *blockWriter) indexAttrs(ord uint32, attrs []model.Attr) {
	for i := range attrs {
		a := &attrs[i]
		ap := bw.attrs[a.Key]
		if ap == nil {
			ap = &attrPostings{byText: map[string]*posting{}, byInt: map[int64]*posting{}}
			bw.attrs[a.Key] = ap
			bw.keys[a.Key] = true
		}
		var p *posting
		switch a.Value.Type {
		case model.TypeInt:
			p = ap.byInt[a.Value.Int()]
			if p == nil {
				p = &posting{}
				ap.byInt[a.Value.Int()] = p
			}
		case model.TypeString:
			p = ap.byText[a.Value.Str]
			if p == nil {
				p = &posting{}
				ap.byText[a.Value.Str] = p
			}
		default:
			text := a.Value.AsString()
			p = ap.byText[text]
			if p == nil {
				p = &posting{}
				ap.byText[text] = p
			}
		}
		if !p.mark(ord) {
			continue
		}
		if a.Value.Type == model.TypeString || a.Value.Type == model.TypeFloat {
			if n, ok := canonicalNumber(a.Value); ok && n != a.Value.AsString() {
				bw.term(termNumber, a.Key, n).mark(ord)
			}
		}
	}
}

// spanStrings calls f with every string of a span that the codec puts in a string table.
func spanStrings(s *model.Span, f func(string)) {
	f(s.Name)
	f(s.StatusMessage)
	f(s.SpanResource)
	f(s.SpanType)
	f(s.Scope)
	f(s.ScopeVersion)
	f(s.TraceState)
	if s.Resource != nil {
		f(s.Resource.Service)
		attrStrings(s.Resource.Attrs, f)
	}
	attrStrings(s.Attrs, f)
	for i := range s.Events {
		f(s.Events[i].Name)
		attrStrings(s.Events[i].Attrs, f)
	}
	for i := range s.Links {
		f(s.Links[i].TraceState)
		attrStrings(s.Links[i].Attrs, f)
	}
}

func attrStrings(attrs []model.Attr, f func(string)) {
	for i := range attrs {
		f(attrs[i].Key)
		valueStrings(&attrs[i].Value, f)
	}
}

func valueStrings(v *model.Value, f func(string)) {
	switch v.Type {
	case model.TypeString, model.TypeBytes:
		f(v.Str)
	case model.TypeArray:
		for i := range v.Array {
			valueStrings(&v.Array[i], f)
		}
	case model.TypeMap:
		attrStrings(v.Map, f)
	}
}

// sharedStrings picks a block's dictionary: the strings found in more than one of its traces, most frequent first
// (so they get the shortest references). Strings of one trace stay in that trace's page.
func sharedStrings(traces func(yield func(spans []*model.Span) bool)) []string {
	type seen struct{ last, n uint32 }
	counts := map[string]*seen{}
	ord := uint32(0)
	for spans := range traces {
		ord++
		for _, s := range spans {
			spanStrings(s, func(str string) {
				c := counts[str]
				if c == nil {
					counts[str] = &seen{last: ord, n: 1}
				} else if c.last != ord {
					c.last = ord
					c.n++
				}
			})
		}
	}
	var out []string
	for str, c := range counts {
		if c.n > 1 && len(str) < 256 {
			out = append(out, str)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ci, cj := counts[out[i]].n, counts[out[j]].n
		if ci != cj {
			return ci > cj
		}
		return out[i] < out[j]
	})
	return out
}

// addTrace appends one trace's spans; traces must come in ascending ID order, each exactly once.
func (bw *blockWriter) addTrace(spans []*model.Span) {
	if len(spans) == 0 {
		return
	}
	if bw.enc.Size() >= pageTarget {
		bw.flushPage()
	}
	ord := uint32(len(bw.traceIDs))
	id := spans[0].TraceID
	pos := bw.enc.Pos()
	mn, mx := int64(math.MaxInt64), int64(math.MinInt64)
	seenRes := map[*model.Resource]bool{}
	for _, s := range spans {
		bw.enc.Add(s)
		mn = min(mn, s.Start)
		mx = max(mx, s.Start)
		if bw.first || s.Start < bw.meta.MinStart {
			bw.meta.MinStart = s.Start
		}
		if bw.first || s.Start > bw.meta.MaxStart {
			bw.meta.MaxStart = s.Start
		}
		if bw.first || s.End() > bw.meta.MaxEnd {
			bw.meta.MaxEnd = s.End()
		}
		bw.first = false
		svc := s.Service()
		if svc != "" {
			bw.services[svc] = true
		}
		bw.ops[opMeta{svc, s.Name, s.Kind}] = true
		bw.term(termService, svc).mark(ord)
		bw.term(termName, s.Name).mark(ord)
		bw.term(termStatus, s.StatusCode.String()).mark(ord)
		bw.term(termKind, s.Kind.String()).mark(ord)
		p := bw.term(termOperation, svc, s.Name)
		lo, hi := durBucket(s.Duration, false), durBucket(s.Duration, true)
		if p.mark(ord) {
			p.dmin = append(p.dmin, lo)
			p.dmax = append(p.dmax, hi)
		} else {
			n := len(p.dmin) - 1
			p.dmin[n] = min(p.dmin[n], lo)
			p.dmax[n] = max(p.dmax[n], hi)
		}
		bw.indexAttrs(ord, s.Attrs)
		if s.Resource != nil && !seenRes[s.Resource] {
			seenRes[s.Resource] = true
			bw.indexAttrs(ord, s.Resource.Attrs)
		}
	}
	bw.meta.Spans += len(spans)
	bw.traceIDs = append(bw.traceIDs, id)
	bw.tMin = append(bw.tMin, mn)
	bw.tMax = append(bw.tMax, mx)
	bw.tPage = append(bw.tPage, bw.pageNo)
	bw.tOff = append(bw.tOff, uint32(pos.Rec))
	bw.tEnd = append(bw.tEnd, uint32(bw.enc.Pos().Rec))
	bw.tNum = append(bw.tNum, uint32(pos.Num))
	bw.tRow = append(bw.tRow, uint32(pos.Row))
}

func (bw *blockWriter) writeTerms() {
	for key, ap := range bw.attrs {
		for text, p := range ap.byText {
			bw.terms[string(termAttr)+key+"\x00"+text] = mergePostings(bw.terms[string(termAttr)+key+"\x00"+text], p)
		}
		for n, p := range ap.byInt {
			t := string(termAttr) + key + "\x00" + strconv.FormatInt(n, 10)
			bw.terms[t] = mergePostings(bw.terms[t], p)
		}
	}
	keys := make([]string, 0, len(bw.terms))
	for k := range bw.terms {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var chunk []byte
	first := ""
	flush := func() {
		if len(chunk) == 0 {
			return
		}
		z := bw.compress(chunk)
		bw.meta.Chunks = append(bw.meta.Chunks, chunkRef{First: first, Off: bw.off, Len: int64(len(z))})
		bw.write(z)
		chunk = chunk[:0]
	}
	for _, k := range keys {
		if len(chunk) == 0 {
			first = k
		}
		p := bw.terms[k]
		chunk = binary.AppendUvarint(chunk, uint64(len(k)))
		chunk = append(chunk, k...)
		chunk = binary.AppendUvarint(chunk, uint64(len(p.ords)))
		prev := uint32(0)
		for _, o := range p.ords {
			chunk = binary.AppendUvarint(chunk, uint64(o-prev))
			prev = o
		}
		if k[0] == termOperation {
			chunk = append(chunk, p.dmin...)
			chunk = append(chunk, p.dmax...)
		}
		if len(chunk) >= chunkTarget {
			flush()
		}
	}
	flush()
}

// mergePostings unions two posting lists of attribute terms (an int and a string with the same text).
func mergePostings(a, b *posting) *posting {
	if a == nil {
		return b
	}
	u := union(ordSet{ords: a.ords}, ordSet{ords: b.ords})
	return &posting{ords: u.ords}
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
	for i := 0; i < n; i++ {
		b = binary.AppendVarint(b, bw.tMin[i]-bw.meta.MinStart)
		b = binary.AppendUvarint(b, uint64(bw.tMax[i]-bw.tMin[i]))
		b = binary.AppendUvarint(b, uint64(bw.tPage[i]))
		b = binary.AppendUvarint(b, uint64(bw.tOff[i]))
		b = binary.AppendUvarint(b, uint64(bw.tEnd[i]-bw.tOff[i]))
		b = binary.AppendUvarint(b, uint64(bw.tNum[i]))
		b = binary.AppendUvarint(b, uint64(bw.tRow[i]))
	}
	z := bw.compress(b)
	bw.meta.TraceOff, bw.meta.TraceLen = bw.off, int64(len(z))
	bw.write(z)
}

// finish writes the index and footer, syncs and renames the file into place, and opens the block.
func (bw *blockWriter) finish(walSeg, level int) (*block, error) {
	bw.flushPage()
	bw.meta.Traces = len(bw.traceIDs)
	bw.meta.WAL = walSeg
	bw.meta.Level = level
	bw.meta.DataBytes = bw.off
	bw.writeTerms()
	bw.writeDict()
	bw.writeTraceTable()
	for s := range bw.services {
		bw.meta.Services = append(bw.meta.Services, s)
	}
	sort.Strings(bw.meta.Services)
	for o := range bw.ops {
		bw.meta.Ops = append(bw.meta.Ops, o)
	}
	for k := range bw.keys {
		bw.meta.Keys = append(bw.meta.Keys, k)
	}
	sort.Strings(bw.meta.Keys)
	mj, err := json.Marshal(&bw.meta)
	if err != nil {
		bw.abort()
		return nil, err
	}
	bw.write(mj)
	var tail [16]byte
	binary.LittleEndian.PutUint64(tail[:8], uint64(len(mj)))
	copy(tail[8:], blockTail)
	bw.write(tail[:])
	err = bw.w.Flush()
	if err == nil {
		err = bw.f.Sync()
	}
	if e := bw.f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(bw.tmp, bw.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(bw.path))
	}
	if err != nil {
		os.Remove(bw.tmp)
		return nil, fmt.Errorf("embedded: writing block %s: %w", bw.path, err)
	}
	return openBlock(bw.path)
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

	ids      []model.TraceID
	tMin     []int64
	tMax     []int64
	tPage    []uint32
	tOff     []uint32
	tEnd     []uint32
	tNum     []uint32
	tRow     []uint32
	refs     atomic.Int64 // readers holding the block, plus one while it is part of the store
	dropOnce sync.Once
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
	if b.meta.DictLen > 0 {
		raw, err := b.readSection(b.meta.DictOff, b.meta.DictLen)
		if err != nil {
			return nil, err
		}
		if b.dict, err = parseDict(raw); err != nil {
			return nil, err
		}
	}
	tt, err := b.readSection(b.meta.TraceOff, b.meta.TraceLen)
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

// release drops a reader's hold; the file closes when the last one goes after the block left the store.
func (b *block) release() {
	if b.refs.Add(-1) == 0 {
		b.f.Close()
	}
}

// drop takes the block out of service and deletes its file once no reader holds it.
func (b *block) drop() {
	b.dropOnce.Do(func() {
		os.Remove(b.path)
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

type cachedPage struct {
	batch *wal.Batch
	size  int
	used  uint64
}

func newPageCache(max int) *pageCache {
	return &pageCache{max: max, items: map[[2]uint64]*cachedPage{}}
}

func (c *pageCache) get(key [2]uint64) *wal.Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.items[key]
	if p == nil {
		return nil
	}
	c.clock++
	p.used = c.clock
	return p.batch
}

func (c *pageCache) put(key [2]uint64, bt *wal.Batch, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 || size > c.max/4 {
		return
	}
	c.clock++
	if _, ok := c.items[key]; ok {
		return
	}
	c.items[key] = &cachedPage{batch: bt, size: size, used: c.clock}
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
func (b *block) page(c *pageCache, i uint32) (*wal.Batch, error) {
	key := [2]uint64{b.id, uint64(i)}
	if bt := c.get(key); bt != nil {
		return bt, nil
	}
	p := b.meta.Pages[i]
	raw, err := b.readSection(p[0], p[1])
	if err != nil {
		return nil, fmt.Errorf("embedded: block %s page %d: %w", b.path, i, err)
	}
	bt, err := wal.ParseBatch(raw, b.dict)
	if err != nil {
		return nil, fmt.Errorf("embedded: block %s page %d: %w", b.path, i, err)
	}
	c.put(key, bt, len(raw)*2)
	return bt, nil
}

// traceSpans decodes the spans of trace ordinal ord.
func (b *block) traceSpans(c *pageCache, ord int) ([]*model.Span, error) {
	bt, err := b.page(c, b.tPage[ord])
	if err != nil {
		return nil, err
	}
	return bt.Range(b.pos(ord), int(b.tEnd[ord]))
}

func (b *block) pos(ord int) wal.Pos {
	return wal.Pos{Rec: int(b.tOff[ord]), Num: int(b.tNum[ord]), Row: int(b.tRow[ord])}
}

// chunk reads and decompresses term chunk i.
func (b *block) chunk(i int) ([]byte, error) {
	c := b.meta.Chunks[i]
	return b.readSection(c.Off, c.Len)
}

// postingList is a decoded posting list.
type postingList struct {
	ords       []uint32
	dmin, dmax []uint8
}

// scanChunk walks the terms of a decoded chunk; f returns false to stop.
func scanChunk(raw []byte, f func(term string, pl func() (postingList, error)) bool) error {
	for len(raw) > 0 {
		l, k := binary.Uvarint(raw)
		if k <= 0 || l > uint64(len(raw)-k) {
			return errBadBlock
		}
		term := string(raw[k : k+int(l)])
		raw = raw[k+int(l):]
		n, k := binary.Uvarint(raw)
		if k <= 0 || n > uint64(len(raw)) {
			return errBadBlock
		}
		raw = raw[k:]
		start := raw
		// Skip the deltas to find the end of this posting list.
		for i := uint64(0); i < n; i++ {
			_, k := binary.Uvarint(raw)
			if k <= 0 {
				return errBadBlock
			}
			raw = raw[k:]
		}
		deltas := start[:len(start)-len(raw)]
		var durs []byte
		if len(term) > 0 && term[0] == termOperation {
			if uint64(len(raw)) < 2*n {
				return errBadBlock
			}
			durs = raw[:2*n]
			raw = raw[2*n:]
		}
		decode := func() (postingList, error) {
			pl := postingList{ords: make([]uint32, n)}
			prev := uint32(0)
			d := deltas
			for i := range pl.ords {
				v, k := binary.Uvarint(d)
				d = d[k:]
				prev += uint32(v)
				pl.ords[i] = prev
			}
			if durs != nil {
				pl.dmin, pl.dmax = durs[:n], durs[n:]
			}
			return pl, nil
		}
		if !f(term, decode) {
			return nil
		}
	}
	return nil
}

// lookup returns the posting list of term, ok false when the block does not hold it.
func (b *block) lookup(term string) (postingList, bool, error) {
	cs := b.meta.Chunks
	i := sort.Search(len(cs), func(i int) bool { return cs[i].First > term }) - 1
	if i < 0 {
		return postingList{}, false, nil
	}
	raw, err := b.chunk(i)
	if err != nil {
		return postingList{}, false, err
	}
	var out postingList
	found := false
	var derr error
	err = scanChunk(raw, func(t string, pl func() (postingList, error)) bool {
		if t == term {
			out, derr = pl()
			found = true
			return false
		}
		return t < term
	})
	if err == nil {
		err = derr
	}
	return out, found, err
}

// termsWithPrefix calls f for every term starting with prefix, in order, until f returns false.
func (b *block) termsWithPrefix(prefix string, f func(term string) bool) error {
	cs := b.meta.Chunks
	i := sort.Search(len(cs), func(i int) bool { return cs[i].First > prefix }) - 1
	if i < 0 {
		i = 0
	}
	for ; i < len(cs); i++ {
		if i > 0 && cs[i].First > prefix && !bytes.HasPrefix([]byte(cs[i].First), []byte(prefix)) {
			return nil
		}
		raw, err := b.chunk(i)
		if err != nil {
			return err
		}
		stop := false
		err = scanChunk(raw, func(t string, _ func() (postingList, error)) bool {
			if t < prefix {
				return true
			}
			if len(t) < len(prefix) || t[:len(prefix)] != prefix {
				stop = true
				return false
			}
			if !f(t) {
				stop = true
				return false
			}
			return true
		})
		if err != nil || stop {
			return err
		}
	}
	return nil
}
