package wal

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/weftrace/weft/model"
)

// Column pages: a reversible rearrangement of an encoded batch for the store's compacted pages.
//
// A batch keeps each span's fields together (its record), and its numbers together in span order, so a span's
// random fields (user IDs, peer addresses, durations, ports) sit between its repetitive ones and zstd finds short
// matches only. ColumnPage walks the records and numbers once and puts every field into a stream of its own:
// headers, kinds, trace IDs, absolute starts, start deltas, durations, parents, names, resources, and per
// top-level attribute position its key, type and value (integer values included), with whatever is rarer
// (events, links, nested values, causality) in one last stream. A stream then holds values of one distribution,
// and each is compressed on its own (colcodec.go). RowPage puts the bytes back exactly, so positions into the
// batch (Pos) stay valid and the page decodes as before.
//
// A column page is
//
//	uvarint nspans
//	uvarint nstreams (colStreams; a reader accepts more, for later versions, up to maxColumnStreams)
//	the batch's tables (strings, resources, span count) as one stream
//	the nstreams field streams
//	the span IDs as one raw stream

// Streams of a column page.
const (
	colHeader = iota
	colKind
	colTrace
	colStartAbs
	colStartDelta
	colDuration
	colParentID
	colParentRef
	colName
	colResource
	colStatusMsg
	colSpanResource
	colSpanType
	colScope
	colScopeVersion
	colAttrCount
	colAttrs                      // key, type and value streams of the first colAttrSlots top-level attributes
	colAttrSlots                  = 24
	colRest                       = colAttrs + 3*colAttrSlots // everything else
	colStreams                    = colRest + 1
	maxColumnStreams              = 1024 // what RowPage accepts as a stream count (later versions may add streams)
	colMaxDepth                   = 32
	colFixedTrace, colFixedSpanID = 16, 8
)

// colWalker walks a column page's streams back into a batch's records and numbers (RowPage), token by token and
// byte for byte; colSplitter is the other direction, and the two are written alike. A failed read sets err and
// empties every column, so that every later read fails at once too.
type colWalker struct {
	cols      [colStreams][]byte // what is left of each column
	rec, nums []byte             // the batch's streams being written
	err       error
}

func (w *colWalker) fail(col int) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: column page: stream %d ends inside a value", ErrCorrupt, col)
		w.cols = [colStreams][]byte{}
	}
}

// rv moves a varint of column col to the records and returns it.
func (w *colWalker) rv(col int) uint64 {
	if b := w.cols[col]; len(b) > 0 && b[0] < 0x80 { // most tokens: a one-byte varint
		w.rec = append(w.rec, b[0])
		w.cols[col] = b[1:]
		return uint64(b[0])
	}
	return w.rvLong(col)
}

func (w *colWalker) rvLong(col int) uint64 {
	b := w.cols[col]
	k := tokLen(b, 0)
	if k < 0 {
		w.fail(col)
		return 0
	}
	v, _ := binary.Uvarint(b[:k]) // 0 for a varint that overflows: it is copied all the same
	w.rec = append(w.rec, b[:k]...)
	w.cols[col] = b[k:]
	return v
}

// nv moves a varint of column col to the numbers.
func (w *colWalker) nv(col int) {
	if b := w.cols[col]; len(b) > 0 && b[0] < 0x80 {
		w.nums = append(w.nums, b[0])
		w.cols[col] = b[1:]
		return
	}
	w.nvLong(col)
}

func (w *colWalker) nvLong(col int) {
	b := w.cols[col]
	k := tokLen(b, 0)
	if k < 0 {
		w.fail(col)
		return
	}
	w.nums = append(w.nums, b[:k]...)
	w.cols[col] = b[k:]
}

// fixed moves size bytes of column col to the records.
func (w *colWalker) fixed(col, size int) {
	b := w.cols[col]
	if len(b) < size {
		w.fail(col)
		return
	}
	w.rec = append(w.rec, b[:size]...)
	w.cols[col] = b[size:]
}

// b1 moves one byte of column col to the records and returns it.
func (w *colWalker) b1(col int) byte {
	if b := w.cols[col]; len(b) > 0 {
		w.rec = append(w.rec, b[0])
		w.cols[col] = b[1:]
		return b[0]
	}
	w.fail(col)
	return 0
}

// tokLen is the length of the token at the start of b: a varint (size 0) or size bytes; -1 if b ends first.
func tokLen(b []byte, size int) int {
	if size > 0 {
		if size > len(b) {
			return -1
		}
		return size
	}
	for n := 0; n < len(b) && n < binary.MaxVarintLen64; n++ {
		if b[n] < 0x80 {
			return n + 1
		}
	}
	return -1
}

func (w *colWalker) attrs(top bool, depth int) {
	cnt := colRest
	if top {
		cnt = colAttrCount
	}
	n := w.rv(cnt)
	i := uint64(0)
	if top {
		// Nearly every attribute is a one-byte key and a one-byte string reference or integer: moved here, its
		// three tokens without a call each; anything else by rv and value.
		cols := &w.cols
		for ; i < n && i < colAttrSlots; i++ {
			c := colAttrs + 3*int(i)
			k, t, v := cols[c], cols[c+1], cols[c+2]
			if len(k) > 0 && k[0] < 0x80 && len(t) > 0 && len(v) > 0 && v[0] < 0x80 {
				switch t[0] {
				case byte(model.TypeString):
					w.rec = append(w.rec, k[0], t[0], v[0])
					cols[c], cols[c+1], cols[c+2] = k[1:], t[1:], v[1:]
					continue
				case byte(model.TypeInt):
					w.rec = append(w.rec, k[0], t[0])
					w.nums = append(w.nums, v[0])
					cols[c], cols[c+1], cols[c+2] = k[1:], t[1:], v[1:]
					continue
				}
			}
			w.rv(c)
			w.value(c+1, c+2, depth)
			if w.err != nil {
				return
			}
		}
	}
	for ; i < n && w.err == nil; i++ {
		w.rv(colRest)
		w.value(colRest, colRest, depth)
	}
}

func (w *colWalker) value(typeCol, valCol, depth int) {
	w.valueOf(w.b1(typeCol), valCol, depth)
}

// valueOf moves a value of type t, whose type byte has been moved.
func (w *colWalker) valueOf(t byte, valCol, depth int) {
	if depth > colMaxDepth {
		if w.err == nil {
			w.err = fmt.Errorf("%w: column page: values nested too deep", ErrCorrupt)
		}
		return
	}
	switch {
	case w.err != nil:
	case t == byte(model.TypeEmpty):
	case t == byte(model.TypeString) || t == byte(model.TypeBytes):
		w.rv(valCol)
	case t == byte(model.TypeInt):
		w.nv(valCol)
	case t == byte(model.TypeFloat):
		w.fixed(valCol, 8)
	case t == byte(model.TypeBool):
		w.fixed(valCol, 1)
	case t == byte(model.TypeArray):
		n := w.rv(colRest)
		for i := uint64(0); i < n && w.err == nil; i++ {
			w.value(colRest, colRest, depth+1)
		}
	case t == byte(model.TypeMap):
		w.attrs(false, depth+1)
	default:
		w.err = fmt.Errorf("%w: column page: unknown value type %d", ErrCorrupt, t)
	}
}

func (w *colWalker) ref() {
	if m := w.b1(colRest); m == 1 {
		w.fixed(colRest, colFixedTrace)
	} else if m != 0 && w.err == nil {
		w.err = fmt.Errorf("%w: column page: event reference marker", ErrCorrupt)
	}
	w.rv(colRest)
	w.rv(colRest)
}

// span moves one span's record and numbers back from the columns.
func (w *colWalker) span() {
	h := w.rv(colHeader)
	w.b1(colKind)
	if h&recSameTrace != 0 {
		w.nv(colStartDelta)
	} else {
		w.fixed(colTrace, colFixedTrace)
		w.nv(colStartAbs)
	}
	w.nv(colDuration)
	if h&recParent != 0 {
		w.fixed(colParentID, colFixedSpanID)
	} else if h&recParentRef != 0 {
		w.rv(colParentRef)
	}
	w.rv(colName)
	w.rv(colResource)
	if h&(recStatusMsg|recSpanResource|recSpanType|recScope|recScopeVersion) != 0 {
		if h&recStatusMsg != 0 {
			w.rv(colStatusMsg)
		}
		if h&recSpanResource != 0 {
			w.rv(colSpanResource)
		}
		if h&recSpanType != 0 {
			w.rv(colSpanType)
		}
		if h&recScope != 0 {
			w.rv(colScope)
		}
		if h&recScopeVersion != 0 {
			w.rv(colScopeVersion)
		}
	}
	w.attrs(true, 0)
	if h&(recEvents|recLinks|recTraceState|recFlags|recCausality) == 0 {
		return
	}
	if h&recEvents != 0 {
		n := w.rv(colRest)
		for i := uint64(0); i < n && w.err == nil; i++ {
			w.rv(colRest) // time
			w.rv(colRest) // name
			w.attrs(false, 0)
			w.rv(colRest) // unit
			w.rv(colRest) // seq
			w.ref()
		}
	}
	if h&recLinks != 0 {
		n := w.rv(colRest)
		for i := uint64(0); i < n && w.err == nil; i++ {
			w.fixed(colRest, colFixedTrace)
			w.fixed(colRest, colFixedSpanID)
			w.rv(colRest)
			w.attrs(false, 0)
		}
	}
	if h&recTraceState != 0 {
		w.rv(colRest)
	}
	if h&recFlags != 0 {
		w.rv(colRest)
	}
	if h&recCausality != 0 {
		for range 4 {
			w.rv(colRest)
		}
		w.ref()
	}
}

// colSplitter puts a batch's records and numbers into the column streams (ColumnWriter.Page), token by token; it
// is colWalker's other direction. Positions are indexes into rec and nums; a failed read sets err and moves r and
// n past the ends, so that every later read fails at once too. (One walker for both directions, as before, tested
// the direction, the error and the token's size at every token, which cost about as much as the copying.)
type colSplitter struct {
	rec, nums []byte
	r, n      int
	cols      *[colStreams][]byte
	err       error
}

// fail notes a read past the end of a stream, or a malformed one.
func (s *colSplitter) fail(col int) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: column page: stream %d ends inside a value", ErrCorrupt, col)
	}
	s.r, s.n = len(s.rec), len(s.nums)
}

// rv moves a varint of the records to column col and returns it.
func (s *colSplitter) rv(col int) uint64 {
	if r := s.r; r < len(s.rec) && s.rec[r] < 0x80 {
		s.cols[col] = append(s.cols[col], s.rec[r])
		s.r = r + 1
		return uint64(s.rec[r])
	}
	return s.rvLong(col)
}

func (s *colSplitter) rvLong(col int) uint64 {
	k := tokLen(s.rec[s.r:], 0)
	if k < 0 {
		s.fail(col)
		return 0
	}
	v, _ := binary.Uvarint(s.rec[s.r : s.r+k]) // 0 for a varint that overflows, as colWalker.uv reads it
	s.cols[col] = append(s.cols[col], s.rec[s.r:s.r+k]...)
	s.r += k
	return v
}

// nv moves a varint of the numbers to column col.
func (s *colSplitter) nv(col int) {
	if n := s.n; n < len(s.nums) && s.nums[n] < 0x80 {
		s.cols[col] = append(s.cols[col], s.nums[n])
		s.n = n + 1
		return
	}
	s.nvLong(col)
}

func (s *colSplitter) nvLong(col int) {
	k := tokLen(s.nums[s.n:], 0)
	if k < 0 {
		s.fail(col)
		return
	}
	s.cols[col] = append(s.cols[col], s.nums[s.n:s.n+k]...)
	s.n += k
}

// fixed moves size bytes of the records to column col.
func (s *colSplitter) fixed(col, size int) {
	if len(s.rec)-s.r < size {
		s.fail(col)
		return
	}
	s.cols[col] = append(s.cols[col], s.rec[s.r:s.r+size]...)
	s.r += size
}

// b1 moves one byte of the records to column col and returns it.
func (s *colSplitter) b1(col int) byte {
	if r := s.r; r < len(s.rec) {
		c := s.rec[r]
		s.cols[col] = append(s.cols[col], c)
		s.r = r + 1
		return c
	}
	s.fail(col)
	return 0
}

func (s *colSplitter) attrs(top bool, depth int) {
	cnt := colRest
	if top {
		cnt = colAttrCount
	}
	n := s.rv(cnt)
	i := uint64(0)
	if top {
		// Nearly every attribute is a one-byte key and a one-byte string reference or integer: moved here, its
		// three tokens without a call each; anything else by rv and value.
		cols, rec, nums := s.cols, s.rec, s.nums
		r, m := s.r, s.n
		for ; i < n && i < colAttrSlots; i++ {
			c := colAttrs + 3*int(i)
			if r+2 < len(rec) && rec[r] < 0x80 {
				switch t := rec[r+1]; {
				case t == byte(model.TypeString) && rec[r+2] < 0x80:
					cols[c] = append(cols[c], rec[r])
					cols[c+1] = append(cols[c+1], t)
					cols[c+2] = append(cols[c+2], rec[r+2])
					r += 3
					continue
				case t == byte(model.TypeInt) && m < len(nums) && nums[m] < 0x80:
					cols[c] = append(cols[c], rec[r])
					cols[c+1] = append(cols[c+1], t)
					cols[c+2] = append(cols[c+2], nums[m])
					r, m = r+2, m+1
					continue
				}
			}
			s.r, s.n = r, m
			s.rv(c)
			s.value(c+1, c+2, depth)
			if s.err != nil {
				return
			}
			r, m = s.r, s.n
		}
		s.r, s.n = r, m
	}
	for ; i < n && s.err == nil; i++ {
		s.rv(colRest)
		s.value(colRest, colRest, depth)
	}
}

func (s *colSplitter) value(typeCol, valCol, depth int) {
	s.valueOf(s.b1(typeCol), valCol, depth)
}

// valueOf moves a value of type t, whose type byte has been moved.
func (s *colSplitter) valueOf(t byte, valCol, depth int) {
	if depth > colMaxDepth {
		if s.err == nil {
			s.err = fmt.Errorf("%w: column page: values nested too deep", ErrCorrupt)
		}
		return
	}
	switch {
	case s.err != nil:
	case t == byte(model.TypeEmpty):
	case t == byte(model.TypeString) || t == byte(model.TypeBytes):
		s.rv(valCol)
	case t == byte(model.TypeInt):
		s.nv(valCol)
	case t == byte(model.TypeFloat):
		s.fixed(valCol, 8)
	case t == byte(model.TypeBool):
		s.fixed(valCol, 1)
	case t == byte(model.TypeArray):
		n := s.rv(colRest)
		for i := uint64(0); i < n && s.err == nil; i++ {
			s.value(colRest, colRest, depth+1)
		}
	case t == byte(model.TypeMap):
		s.attrs(false, depth+1)
	default:
		s.err = fmt.Errorf("%w: column page: unknown value type %d", ErrCorrupt, t)
	}
}

func (s *colSplitter) ref() {
	if m := s.b1(colRest); m == 1 {
		s.fixed(colRest, colFixedTrace)
	} else if m != 0 && s.err == nil {
		s.err = fmt.Errorf("%w: column page: event reference marker", ErrCorrupt)
	}
	s.rv(colRest)
	s.rv(colRest)
}

// span moves one span's record and numbers into the columns, as colWalker.span moves them back.
func (s *colSplitter) span() {
	h := s.rv(colHeader)
	s.b1(colKind)
	if h&recSameTrace != 0 {
		s.nv(colStartDelta)
	} else {
		s.fixed(colTrace, colFixedTrace)
		s.nv(colStartAbs)
	}
	s.nv(colDuration)
	if h&recParent != 0 {
		s.fixed(colParentID, colFixedSpanID)
	} else if h&recParentRef != 0 {
		s.rv(colParentRef)
	}
	s.rv(colName)
	s.rv(colResource)
	if h&(recStatusMsg|recSpanResource|recSpanType|recScope|recScopeVersion) != 0 {
		if h&recStatusMsg != 0 {
			s.rv(colStatusMsg)
		}
		if h&recSpanResource != 0 {
			s.rv(colSpanResource)
		}
		if h&recSpanType != 0 {
			s.rv(colSpanType)
		}
		if h&recScope != 0 {
			s.rv(colScope)
		}
		if h&recScopeVersion != 0 {
			s.rv(colScopeVersion)
		}
	}
	s.attrs(true, 0)
	if h&(recEvents|recLinks|recTraceState|recFlags|recCausality) == 0 {
		return
	}
	if h&recEvents != 0 {
		n := s.rv(colRest)
		for i := uint64(0); i < n && s.err == nil; i++ {
			s.rv(colRest) // time
			s.rv(colRest) // name
			s.attrs(false, 0)
			s.rv(colRest) // unit
			s.rv(colRest) // seq
			s.ref()
		}
	}
	if h&recLinks != 0 {
		n := s.rv(colRest)
		for i := uint64(0); i < n && s.err == nil; i++ {
			s.fixed(colRest, colFixedTrace)
			s.fixed(colRest, colFixedSpanID)
			s.rv(colRest)
			s.attrs(false, 0)
		}
	}
	if h&recTraceState != 0 {
		s.rv(colRest)
	}
	if h&recFlags != 0 {
		s.rv(colRest)
	}
	if h&recCausality != 0 {
		for range 4 {
			s.rv(colRest)
		}
		s.ref()
	}
}

// ColumnPage appends to dst the column form of the encoded batch page (see above), every stream compressed on
// its own (see colcodec.go); better uses zstd's better level where zstd is the smallest. traces, if not nil, are
// the page's traces in order as the reader will know them: when the records name exactly those, one after the
// other, their IDs are not stored, and RowPage must be given the same list. It fails on a batch that does not
// parse.
func ColumnPage(dst, page []byte, better bool, traces []model.TraceID) ([]byte, error) {
	w := &ColumnWriter{}
	w.c.zenc = zstdDefault
	if better {
		w.c.zenc = zstdBetter
	}
	return w.Page(dst, page, traces)
}

// ColumnWriter writes the column pages of one block, one after the other, as ColumnPage does, reusing its
// buffers; it tries zstd on a stream only where it won on the page before, and on every stream every few
// pages (the pages of a block hold alike data), which makes it several times cheaper for a page a few tenths of
// a percent larger.
type ColumnWriter struct {
	c    streamCoder
	cols [colStreams][]byte
}

// NewColumnWriter returns a writer for the pages of one block; better as for ColumnPage.
func NewColumnWriter(better bool) *ColumnWriter {
	w := &ColumnWriter{}
	w.c.zenc = zstdDefault
	if better {
		w.c.zenc = zstdBetter
	}
	w.c.adaptive = true
	return w
}

// Page appends to dst the column form of page, as ColumnPage does.
func (cw *ColumnWriter) Page(dst, page []byte, traces []model.TraceID) ([]byte, error) {
	d := &decoder{b: page}
	skipTables(d)
	n := d.count(10, "span")
	tables := page[:len(page)-len(d.b)]
	rec := d.section("records")
	nums := d.section("numbers")
	if d.err == nil && len(d.b) != 8*n {
		d.fail(fmt.Sprintf("%d bytes of span IDs for %d spans", len(d.b), n))
	}
	if d.err != nil {
		return dst, d.err
	}
	ids := d.b
	for i := range cw.cols {
		cw.cols[i] = cw.cols[i][:0]
	}
	w := &colSplitter{rec: rec, nums: nums, cols: &cw.cols}
	for i := 0; i < n && w.err == nil; i++ {
		w.span()
	}
	if w.err == nil && (w.r != len(rec) || w.n != len(nums)) {
		w.err = fmt.Errorf("%w: column page: %d record and %d number bytes after the last span", ErrCorrupt,
			len(rec)-w.r, len(nums)-w.n)
	}
	if w.err != nil {
		return dst, w.err
	}
	c := &cw.c
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = binary.AppendUvarint(dst, colStreams)
	dst = c.appendStream(dst, tables, 0)
	implied := traces != nil && len(cw.cols[colTrace]) == 16*len(traces)
	for i := 0; implied && i < len(traces); i++ {
		implied = [16]byte(cw.cols[colTrace][16*i:]) == [16]byte(traces[i])
	}
	for i, s := range cw.cols {
		if i == colTrace && implied {
			dst = append(dst, colImplied)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			continue
		}
		dst = c.appendStream(dst, s, i+1)
	}
	c.page++
	dst = append(dst, colRaw)
	dst = binary.AppendUvarint(dst, uint64(len(ids)))
	return append(dst, ids...), nil
}

// RowPage appends to dst the encoded batch that ColumnPage turned into col, byte for byte as it was. traces are
// the page's traces as given to ColumnPage (nil if none were).
func RowPage(dst, col []byte, traces []model.TraceID) ([]byte, error) {
	return rowPage(dst, col, traces, -1)
}

// RowPagePrefix is RowPage for the first rows spans only: a batch of those spans, whose positions (Pos) are the
// whole page's, for reading a trace near the start of a page without rebuilding the rest. rows beyond the page's
// spans read the whole page.
func RowPagePrefix(dst, col []byte, traces []model.TraceID, rows int) ([]byte, error) {
	return rowPage(dst, col, traces, rows)
}

// openColumnPage reads a column page's span and stream counts and its tables stream, checking the counts against
// the page's size; budget is what is left of the page's decompression allowance for its other streams.
func openColumnPage(col []byte) (d *decoder, n, ns, budget uint64, tables []byte, err error) {
	d = &decoder{b: col}
	n = d.uvarint("column page span count")
	ns = d.uvarint("column page stream count")
	if d.err == nil && (ns < colStreams || ns > maxColumnStreams) {
		d.fail(fmt.Sprintf("column page: %d streams", ns))
	}
	if d.err == nil && n > uint64(len(col)) {
		d.fail("column page: span count exceeds the data")
	}
	budget = uint64(maxStreamLen)
	if d.err == nil {
		tables = readStream(d, true, &budget, nil)
	}
	return d, n, ns, budget, tables, d.err
}

func rowPage(dst, col []byte, traces []model.TraceID, rows int) ([]byte, error) {
	d, n, ns, budget, tables, err := openColumnPage(col)
	if err != nil {
		return dst, err
	}
	var implied []byte
	if traces != nil {
		implied = make([]byte, 0, 16*len(traces))
		for _, t := range traces {
			implied = append(implied, t[:]...)
		}
	}
	w := &colWalker{}
	for i := range ns {
		imp := []byte(nil)
		if i == colTrace {
			imp = implied
		}
		if c := readStream(d, true, &budget, imp); i < colStreams {
			w.cols[i] = c
		} else if len(c) != 0 && d.err == nil {
			d.fail(fmt.Sprintf("column page: stream %d is not known", i))
		}
	}
	ids := readStream(d, true, &budget, nil)
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("column page: %d bytes after the span IDs", len(d.b)))
	}
	if d.err != nil {
		return dst, d.err
	}
	if uint64(len(ids)) != 8*n {
		return dst, fmt.Errorf("%w: column page: %d bytes of span IDs for %d spans", ErrCorrupt, len(ids), n)
	}
	total := 0
	for _, c := range w.cols {
		total += len(c)
	}
	if rows >= 0 && uint64(rows) < n {
		// The tables end with the span count: say rows instead.
		k := len(binary.AppendUvarint(nil, n))
		if v, kk := binary.Uvarint(tables[max(0, len(tables)-k):]); kk != k || v != n {
			return dst, fmt.Errorf("%w: column page: tables do not end with the span count", ErrCorrupt)
		}
		tables = binary.AppendUvarint(append([]byte(nil), tables[:len(tables)-k]...), uint64(rows))
		n, ids = uint64(rows), ids[:8*rows]
	} else {
		rows = -1
	}
	// The records, which the streams hold at most total bytes of, are written in place in dst after room for
	// their length, moved back if the length takes less; the numbers go to a buffer of the pool.
	start := len(dst)
	room := len(binary.AppendUvarint(nil, uint64(total)))
	dst = slices.Grow(dst, len(tables)+room+total+binary.MaxVarintLen64+len(ids))
	dst = append(dst, tables...)
	at := len(dst)
	w.rec = dst[at+room : at+room]
	nb := numsPool.Get().(*[]byte)
	defer numsPool.Put(nb)
	w.nums = (*nb)[:0]
	for i := uint64(0); i < n && w.err == nil; i++ {
		w.span()
	}
	*nb = w.nums[:0]
	if w.err != nil {
		return dst[:start], w.err
	}
	for i, c := range w.cols {
		if len(c) != 0 && rows < 0 {
			return dst[:start], fmt.Errorf("%w: column page: %d bytes left in stream %d", ErrCorrupt, len(c), i)
		}
	}
	nrec := len(w.rec) // w.rec never outgrows the room made for it: it is still dst's memory
	dst = binary.AppendUvarint(dst[:at], uint64(nrec))
	if k := len(dst) - at; k < room {
		copy(dst[at+k:at+k+nrec], dst[at+room:at+room+nrec])
	}
	dst = dst[:len(dst)+nrec]
	dst = binary.AppendUvarint(dst, uint64(len(w.nums)))
	dst = append(dst, w.nums...)
	return append(dst, ids...), nil
}

// numsPool holds the buffers rowPage writes a page's numbers into.
var numsPool = sync.Pool{New: func() any { return new([]byte) }}

// skipTables moves d past a batch's string and resource tables without resolving any reference (a page refers
// to its block's dictionary, which the column form does not need).
func skipTables(d *decoder) {
	ns := d.count(1, "string table")
	for i := 0; i < ns && d.err == nil; i++ {
		l := d.count(1, "string length")
		if d.err == nil && l > len(d.b) {
			d.fail("string exceeds the data")
		}
		if d.err == nil {
			d.b = d.b[l:]
		}
	}
	nr := d.count(2, "resource table")
	for i := 0; i < nr && d.err == nil; i++ {
		d.uvarint("service")
		skipAttrs(d, 0)
	}
}

func skipAttrs(d *decoder, depth int) {
	n := d.count(2, "attribute")
	for i := 0; i < n && d.err == nil; i++ {
		d.uvarint("attribute key")
		skipValue(d, depth)
	}
}

func skipValue(d *decoder, depth int) {
	if depth > colMaxDepth {
		d.fail("values nested too deep")
		return
	}
	var f [8]byte
	switch t := model.Type(d.byte1("value type")); {
	case d.err != nil:
	case t == model.TypeEmpty:
	case t == model.TypeString || t == model.TypeBytes:
		d.uvarint("value")
	case t == model.TypeInt:
		d.varint("int value")
	case t == model.TypeFloat:
		d.fixed(f[:], "float value")
	case t == model.TypeBool:
		d.byte1("bool value")
	case t == model.TypeArray:
		n := d.count(1, "array")
		for i := 0; i < n && d.err == nil; i++ {
			skipValue(d, depth+1)
		}
	case t == model.TypeMap:
		skipAttrs(d, depth+1)
	default:
		d.fail(fmt.Sprintf("unknown value type %d", t))
	}
}

// SpanOutline is what a search needs of a span to test its service, name, kind, duration and start and to
// summarize its trace: no attributes, IDs, parents' IDs or events. Name and Service are string references of the
// page (Outline.String).
type SpanOutline struct {
	Start, Duration int64
	Name, Service   uint32
	Kind            model.Kind
	Status          model.StatusCode
	Root            bool // the span has no parent
}

// Outline is the outline of every span of a column page, in page order (rows, as Pos.Row counts them).
type Outline struct {
	Spans  []SpanOutline
	shared []string
	strs   []string
}

// String resolves a string reference of the outline's spans.
func (o *Outline) String(ref uint32) string {
	if int(ref) < len(o.shared) {
		return o.shared[ref]
	}
	return o.strs[int(ref)-len(o.shared)]
}

// Size estimates the outline's memory, for caches.
func (o *Outline) Size() int {
	n := 40*len(o.Spans) + 16*len(o.strs)
	for _, s := range o.strs {
		n += len(s)
	}
	return n
}

// Streams a page outline decodes; the others are skipped without being decompressed.
var outlineStreams = [colStreams]bool{colHeader: true, colKind: true, colStartAbs: true, colStartDelta: true,
	colDuration: true, colName: true, colResource: true}

// PageOutline reads the outline of a column page (ColumnPage's form; shared is the dictionary its batch was
// encoded with): only the streams of headers, kinds, starts, durations, names and resources are decompressed,
// a fraction of the page's bytes, and no span is built. A search whose conditions are all on those fields answers
// from it without rebuilding the page.
func PageOutline(col []byte, shared []string) (*Outline, error) {
	d, n, ns, budget, tables, err := openColumnPage(col)
	if err != nil {
		return nil, err
	}
	var cols [colStreams][]byte
	for i := range int(ns) {
		if i < colStreams && outlineStreams[i] {
			cols[i] = readStream(d, true, &budget, nil)
		} else {
			skipStream(d, true)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	o := &Outline{shared: shared}
	services, err := o.parseTables(tables, n)
	if err != nil {
		return nil, err
	}
	nstr := uint64(len(o.shared) + len(o.strs))
	o.Spans = make([]SpanOutline, n)
	var rd [colStreams]decoder
	for i := range rd {
		rd[i].b = cols[i]
	}
	var prev int64
	for i := range o.Spans {
		s := &o.Spans[i]
		h := rd[colHeader].uvarint("header")
		ks := rd[colKind].byte1("kind")
		s.Kind, s.Status = model.Kind(ks&0xf), model.StatusCode(ks>>4)
		if h&recSameTrace == 0 {
			s.Start = rd[colStartAbs].varint("start")
		} else if i > 0 {
			s.Start = prev + rd[colStartDelta].varint("start delta")
		} else {
			return nil, fmt.Errorf("%w: column page: first record continues a trace", ErrCorrupt)
		}
		dur := rd[colDuration].uvarint("duration")
		s.Duration = int64(dur)
		s.Root = h&(recParent|recParentRef) == 0
		name := rd[colName].uvarint("name")
		res := rd[colResource].uvarint("resource")
		for _, j := range [...]int{colHeader, colKind, colStartAbs, colStartDelta, colDuration, colName, colResource} {
			if rd[j].err != nil {
				return nil, fmt.Errorf("%w (column page stream %d)", rd[j].err, j)
			}
		}
		if dur > math.MaxInt64 || name >= nstr || res >= uint64(len(services)) {
			return nil, fmt.Errorf("%w: column page: span %d: duration, name or resource out of range", ErrCorrupt, i)
		}
		s.Name, s.Service = uint32(name), services[res]
		prev = s.Start
	}
	return o, nil
}

// parseTables reads a column page's tables stream (the batch's string and resource tables and its span count,
// which must be n): the page's own strings, and each resource's service as a string reference.
func (o *Outline) parseTables(tables []byte, n uint64) ([]uint32, error) {
	d := &decoder{b: tables}
	ns := d.count(1, "string table")
	ends := make([]int, 0, ns)
	text := make([]byte, 0, len(tables))
	for i := 0; i < ns && d.err == nil; i++ {
		l := d.count(1, "string length")
		if d.err == nil {
			text = append(text, d.b[:l]...)
			d.b = d.b[l:]
			ends = append(ends, len(text))
		}
	}
	nstr := uint64(len(o.shared) + ns)
	nr := d.count(2, "resource table")
	services := make([]uint32, 0, nr)
	for i := 0; i < nr && d.err == nil; i++ {
		svc := d.uvarint("service")
		if svc >= nstr {
			d.fail("service string reference out of range")
		}
		skipAttrs(d, 0)
		services = append(services, uint32(svc))
	}
	if spans := d.uvarint("span count"); d.err == nil && (spans != n || len(d.b) != 0) {
		d.fail("column page: tables do not end with the span count")
	}
	if d.err != nil {
		return nil, d.err
	}
	all := string(text)
	o.strs = make([]string, len(ends))
	prev := 0
	for i, e := range ends {
		o.strs[i] = all[prev:e]
		prev = e
	}
	return services, nil
}

// skipStream moves d past one stream (see readStream) without decoding it.
func skipStream(d *decoder, top bool) {
	m := d.byte1("stream method")
	n := d.uvarint("stream length")
	if d.err != nil {
		return
	}
	switch m {
	case colRaw:
		if n > uint64(len(d.b)) {
			d.fail("stream exceeds the data")
			return
		}
		d.b = d.b[n:]
	case colRLE:
		d.byte1("stream byte")
	case colHuff, colZstd:
		d.section("compressed stream")
	case colPlanes:
		np := int(d.byte1("plane count"))
		if !top || np > maxPlanes || np < 1 {
			d.fail("planes")
			return
		}
		for range np {
			skipStream(d, false)
		}
	case colImplied:
	default:
		d.fail(fmt.Sprintf("unknown stream method %d", m))
	}
}
