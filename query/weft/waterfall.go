package weft

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/weftrace/weft/model"
)

// WaterfallFormat is the value of Waterfall.Format and of the format query parameter that asks for it.
const WaterfallFormat = "waterfall"

// Waterfall is the answer of GET /api/weft/v1/traces/{id}?format=waterfall: only what a waterfall draws of each
// span (name, service, start, duration, parent, error), as parallel arrays in the regular answer's span order, so
// that a client can draw a 100,000-span trace before it has the rest. The rest of a span (attributes, events,
// links, causality, resource) is asked for afterwards, for one span with spanID or for all with format=columnar.
type Waterfall struct {
	Format     string         `json:"format"` // "waterfall"
	TraceID    string         `json:"traceID"`
	Start      string         `json:"start"` // earliest span start, Unix ns
	End        string         `json:"end"`   // latest span end, Unix ns
	Duration   int64          `json:"duration"`
	SpanCount  int            `json:"spanCount"`
	ErrorCount int            `json:"errorCount"`
	Services   []ServiceCount `json:"services"`
	Strings    []string       `json:"strings"`
	Spans      WaterfallSpans `json:"spans"`
	ErrorSpans []int          `json:"errorSpans"` // indexes of the spans whose status is error, ascending
}

// WaterfallSpans holds the spans' waterfall fields as parallel arrays. ID is every span ID's 16 hex digits, one
// after the other (span i's ID is ID[16*i:16*i+16]); Parent is the index of the parent span, or -1 for a root and
// for a span whose parent is not in the trace; Name and Service are indexes into Waterfall.Strings.
type WaterfallSpans struct {
	ID       string  `json:"id"`
	Parent   []int   `json:"parent"`
	Name     []int   `json:"name"`
	Service  []int   `json:"service"`
	Offset   []int64 `json:"offset"`   // ns after Waterfall.Start
	Duration []int64 `json:"duration"` // ns
}

// AppendWaterfall appends the waterfall answer for a trace's spans as JSON, straight from the model: it builds
// none of the regular answer, reads each span once in the order given (the order in which they sit in memory, as
// far as that goes), then sorts small keys and works from compact copies, which makes it several times faster to
// write than the columnar answer. Spans come out in the regular answer's order (by start,
// then span ID; spans equal in both keep their order in spans, as sortSpans keeps them).
func AppendWaterfall(b []byte, id model.TraceID, spans []*model.Span) []byte {
	n := len(spans)
	if b == nil {
		b = make([]byte, 0, 48*n+1024) // about what a span takes: its ID and five numbers
	}
	x, _ := scratchPool.Get().(*waterfallScratch)
	if x == nil {
		x = new(waterfallScratch)
	}
	defer x.release()
	// The fields the answer needs, copied from each span in the order given.
	rows := grow(&x.rows, n)
	keys := grow(&x.keys, n)
	for i, s := range spans {
		rows[i] = wfRow{s.Duration, binary.BigEndian.Uint64(s.ParentID[:]), s.Name, s.Resource, s.IsError()}
		keys[i] = wfKey{s.Start, binary.BigEndian.Uint64(s.SpanID[:]), int32(i)}
	}
	slices.SortFunc(keys, func(a, b wfKey) int {
		if a.start != b.start {
			return cmp.Compare(a.start, b.start)
		}
		if a.id != b.id {
			return cmp.Compare(a.id, b.id)
		}
		return cmp.Compare(a.at, b.at)
	})
	byID := x.index(n)
	for k := range keys {
		byID.put(keys[k].id, int32(k)) // the last of duplicate IDs, as the columnar answer resolves parents
	}

	// One pass in answer order gathers every column.
	var start, end int64
	errors := 0
	services := map[string]int{}
	parent := grow(&x.parent, n)
	name := grow(&x.name, n)
	service := grow(&x.service, n)
	dur := grow(&x.dur, n)
	var failed []int32
	// Names and services are numbered as they first appear; a span's service is its resource's, so a run of
	// spans from one resource looks the name up only once.
	st := &stringTable{list: []string{}, at: map[string]int{}}
	var lastRes *model.Resource
	var lastSvc int32 = -1
	for k := range keys {
		r := &rows[keys[k].at]
		st0 := keys[k].start
		if k == 0 || st0 < start {
			start = st0
		}
		if k == 0 || st0+r.dur > end {
			end = st0 + r.dur
		}
		if r.err {
			errors++
			failed = append(failed, int32(k))
		}
		parent[k] = -1
		if r.parent != 0 {
			if p := byID.get(r.parent); p >= 0 && int(p) != k {
				parent[k] = p
			}
		}
		name[k] = int32(st.index(r.name))
		if lastSvc < 0 || r.res != lastRes {
			svc := ""
			if r.res != nil {
				svc = r.res.Service
			}
			lastRes, lastSvc = r.res, int32(st.index(svc))
		}
		service[k] = lastSvc
		services[st.list[lastSvc]]++
		dur[k] = r.dur
	}

	b = append(b, `{"format":"waterfall","traceID":`...)
	b = appendString(b, id.String())
	b = append(b, `,"start":`...)
	b = appendString(b, nsText(start))
	b = append(b, `,"end":`...)
	b = appendString(b, nsText(end))
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, end-start, 10)
	b = append(b, `,"spanCount":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"errorCount":`...)
	b = strconv.AppendInt(b, int64(errors), 10)
	counts := make([]ServiceCount, 0, len(services))
	for svc, k := range services {
		counts = append(counts, ServiceCount{Service: svc, Spans: k})
	}
	sort.Slice(counts, func(i, j int) bool { return counts[i].Service < counts[j].Service })
	b = append(b, `,"services":`...)
	b = appendServices(b, counts)

	b = append(b, `,"spans":{"id":"`...)
	var hx [16]byte
	for _, k := range keys {
		var raw [8]byte
		binary.BigEndian.PutUint64(raw[:], k.id)
		hex.Encode(hx[:], raw[:])
		b = append(b, hx[:]...)
	}
	b = append(b, '"')
	b = appendInts(b, `,"parent":`, parent)
	b = appendInts(b, `,"name":`, name)
	b = appendInts(b, `,"service":`, service)
	b = append(b, `,"offset":[`...)
	for k := range keys {
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, keys[k].start-start, 10)
	}
	b = append(b, ']')
	b = appendInts(b, `,"duration":`, dur)
	b = append(b, '}')
	b = appendInts(b, `,"errorSpans":`, failed)
	b = append(b, `,"strings":`...)
	b = appendStrings(b, st.list)
	return append(b, '}')
}

// appendInts writes name (with its comma and colon) and the numbers as a JSON array; nil is [].
func appendInts[T int32 | int64](b []byte, name string, v []T) []byte {
	b = append(b, name...)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}

// wfRow is what the waterfall answer needs of a span, and wfKey what it sorts spans by.
type wfRow struct {
	dur    int64
	parent uint64 // the parent's span ID big-endian; 0 for none
	name   string
	res    *model.Resource
	err    bool
}

type wfKey struct {
	start int64
	id    uint64 // the span ID big-endian: compares as the ID's bytes do
	at    int32  // index in spans and rows: equal starts and IDs keep their order, as sortSpans keeps them
}

// waterfallScratch is AppendWaterfall's working memory, kept between answers in scratchPool (about 20 MB for
// 100,000 spans), so that a large trace's answer allocates little besides its bytes and sets the garbage collector
// off less often.
type waterfallScratch struct {
	rows                  []wfRow
	keys                  []wfKey
	parent, name, service []int32
	dur                   []int64
	ids                   spanIndex
}

var scratchPool sync.Pool

// release drops what the rows point to (names, resources) and returns x to the pool.
func (x *waterfallScratch) release() {
	clear(x.rows)
	scratchPool.Put(x)
}

// grow returns (*s)[:n], reallocated when too small.
func grow[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	return (*s)[:n]
}

// index returns x's span index, empty, for n spans.
func (x *waterfallScratch) index(n int) *spanIndex {
	size, shift := 2, uint(63)
	for size < 2*n {
		size, shift = size*2, shift-1
	}
	x.ids.ids = grow(&x.ids.ids, size)
	clear(x.ids.ids)
	x.ids.at = grow(&x.ids.at, size)
	x.ids.shift = shift
	return &x.ids
}

// spanIndex finds a span's index by its ID: open addressing over a table at most half full, several times faster
// than a map for the 100,000 insertions and lookups of a large trace (span IDs are random, so their low bits
// spread well once multiplied). IDs are never 0 here: a zero parent ID means no parent and is not looked up.
type spanIndex struct {
	ids   []uint64
	at    []int32
	shift uint
}

func (x *spanIndex) slot(id uint64) int {
	mask := len(x.ids) - 1
	i := int((id * 0x9e3779b97f4a7c15) >> x.shift)
	for x.ids[i] != id && x.ids[i] != 0 {
		i = (i + 1) & mask
	}
	return i
}

func (x *spanIndex) put(id uint64, at int32) {
	if id == 0 {
		return
	}
	i := x.slot(id)
	x.ids[i], x.at[i] = id, at
}

// get returns the index of the span with ID id, -1 when there is none.
func (x *spanIndex) get(id uint64) int32 {
	i := x.slot(id)
	if x.ids[i] == 0 {
		return -1
	}
	return x.at[i]
}
