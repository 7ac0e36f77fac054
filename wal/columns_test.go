package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
)

// TestColumnPageRoundTrip turns batches into column pages and back: the bytes must come back exactly, for plain
// spans and for spans with events, links, causality, arrays and odd values; the column page must be smaller
// than the batch once compressed is the store's concern, but it must not lose or add a byte here.
func TestColumnPageRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extras bool
		n      int
	}{{"plain", false, 2000}, {"extras", true, 2000}, {"one span", true, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			g := spangen.New(11, time.Now().UnixNano())
			g.Extras = tc.extras
			spans := g.Spans(tc.n)
			page := AppendSpans(nil, spans)
			col, err := ColumnPage(nil, page, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(col, page) {
				t.Fatal("column page equals the batch")
			}
			back, err := RowPage([]byte("x"), col, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back[1:], page) || back[0] != 'x' {
				t.Fatalf("round trip changed the batch: %d bytes in, %d out", len(page), len(back)-1)
			}
			got, err := DecodeSpans(back[1:])
			if err != nil || len(got) != len(spans) {
				t.Fatalf("decoding the round trip: %d spans, %v", len(got), err)
			}
			// Given the page's traces, the column page leaves their IDs out and needs them back.
			var traces []model.TraceID
			for i, s := range spans {
				if i == 0 || s.TraceID != spans[i-1].TraceID {
					traces = append(traces, s.TraceID)
				}
			}
			short, err := ColumnPage(nil, page, false, traces)
			if err != nil {
				t.Fatal(err)
			}
			if len(short) > len(col)-16*len(traces)+8 {
				t.Errorf("with the traces given: %d bytes, without: %d, for %d traces", len(short), len(col), len(traces))
			}
			if back, err := RowPage(nil, short, traces); err != nil || !bytes.Equal(back, page) {
				t.Fatalf("round trip with implied trace IDs: %v", err)
			}
			if _, err := RowPage(nil, short, nil); !errors.Is(err, ErrCorrupt) {
				t.Errorf("implied trace IDs not given: %v, want ErrCorrupt", err)
			}
			// A prefix of the page: its first spans, as the whole page decodes them.
			for _, rows := range []int{0, 1, len(spans) / 2, len(spans), len(spans) + 5} {
				pre, err := RowPagePrefix(nil, short, traces, rows)
				if err != nil {
					t.Fatalf("prefix of %d rows: %v", rows, err)
				}
				got, err := DecodeSpans(pre)
				if want := min(rows, len(spans)); err != nil || len(got) != want {
					t.Fatalf("prefix of %d rows: %d spans, %v", rows, len(got), err)
				}
				full, _ := DecodeSpans(page)
				for i := range got {
					if got[i].SpanID != full[i].SpanID || got[i].Name != full[i].Name || got[i].Start != full[i].Start {
						t.Fatalf("prefix of %d rows: span %d differs", rows, i)
					}
				}
			}
			// A list that is not the records' keeps the IDs in the page.
			if full, err := ColumnPage(nil, page, false, traces[1:]); err != nil || len(full) != len(col) {
				t.Errorf("wrong trace list: %d bytes (%v), want %d", len(full), err, len(col))
			}
		})
	}
}

// TestColumnPageRejectsDamage: truncated or altered column pages fail with ErrCorrupt (or decode to a batch
// that still has to pass ParseBatch), and never panic.
func TestColumnPageRejectsDamage(t *testing.T) {
	g := spangen.New(12, time.Now().UnixNano())
	g.Extras = true
	page := AppendSpans(nil, g.Spans(300))
	col, err := ColumnPage(nil, page, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 1, 5, len(col) / 3, len(col) / 2, len(col) - 9, len(col) - 1} {
		if _, err := RowPage(nil, col[:cut], nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut at %d of %d: %v, want ErrCorrupt", cut, len(col), err)
		}
	}
	if _, err := ColumnPage(nil, page[:len(page)-3], false, nil); err == nil {
		t.Error("ColumnPage accepted a truncated batch")
	}
}

// TestColumnPageOfDamagedBatch: ColumnPage on a batch with a byte changed or cut off either fails or gives a
// column page that RowPage turns back into that batch byte for byte; it never panics. Its walk over the records
// is written apart from RowPage's, so this checks that the two read every record alike, odd ones included.
func TestColumnPageOfDamagedBatch(t *testing.T) {
	g := spangen.New(14, time.Now().UnixNano())
	g.Extras = true
	page := AppendSpans(nil, g.Spans(40))
	rnd := rand.New(rand.NewPCG(14, uint64(time.Now().UnixNano())))
	accepted := 0
	for i := range 3000 {
		bad := slices.Clone(page)
		if i%10 == 0 {
			bad = bad[:rnd.IntN(len(bad))]
		} else {
			for range 1 + rnd.IntN(3) {
				bad[rnd.IntN(len(bad))] = byte(rnd.Uint32())
			}
		}
		col, err := ColumnPage(nil, bad, false, nil)
		if err != nil {
			continue
		}
		accepted++
		if back, err := RowPage(nil, col, nil); err != nil || !bytes.Equal(back, bad) {
			t.Fatalf("damage %d: accepted, but the round trip gave %d bytes for %d (%v)", i, len(back), len(bad), err)
		}
	}
	if accepted == 0 {
		t.Error("no damaged batch was accepted: the round trip was not checked")
	}
	t.Logf("%d of 3000 damaged batches accepted and read back", accepted)
}

// FuzzRowPage: whatever RowPage accepts parses as a batch or is rejected by ParseBatch; nothing panics.
func FuzzRowPage(f *testing.F) {
	addColumnPageSeeds(f, 13)
	f.Fuzz(func(t *testing.T, col []byte) {
		page, err := RowPage(nil, col, nil)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		again, err := ColumnPage(nil, page, false, nil)
		if err != nil {
			return // a batch whose tables do not parse: the store's reader fails on it with ParseBatch
		}
		if back, err := RowPage(nil, again, nil); err != nil || !bytes.Equal(back, page) {
			t.Fatalf("second round trip: %v", err)
		}
	})
}

// TestStreamsRoundTrip: streams of every shape come back as they were, whichever method each is stored in, and
// damaged input fails with ErrCorrupt.
func TestStreamsRoundTrip(t *testing.T) {
	rnd := make([]byte, 5000)
	x := uint64(88172645463325252)
	for i := range rnd {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		rnd[i] = byte(x)
	}
	var varints, small []byte
	for i := range 3000 {
		varints = binary.AppendUvarint(varints, uint64(rnd[i])<<uint(rnd[i+1]%20))
		small = append(small, rnd[i]%13)
	}
	streams := [][]byte{nil, {}, {7}, bytes.Repeat([]byte{3}, 1000), rnd, varints, small, []byte("hello, hello, hello, hello, hello, hello, hello, hello, hello, hello")}
	for _, better := range []bool{false, true} {
		enc := AppendStreams([]byte("x"), streams, better)
		got, err := ReadStreams(enc[1:], len(streams), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for i := range streams {
			if !bytes.Equal(got[i], streams[i]) {
				t.Fatalf("better=%v: stream %d changed: %d bytes in, %d out", better, i, len(streams[i]), len(got[i]))
			}
		}
		if len(enc) > len(rnd)+len(varints)+len(small) {
			t.Errorf("better=%v: %d bytes encoded, more than the incompressible streams alone", better, len(enc))
		}
		if _, err := ReadStreams(enc[1:], len(streams)+1, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("wrong stream count: %v", err)
		}
		if _, err := ReadStreams(enc[1:], len(streams), 100); !errors.Is(err, ErrCorrupt) {
			t.Errorf("over the budget: %v", err)
		}
		for _, cut := range []int{1, len(enc) / 2, len(enc) - 2} {
			if _, err := ReadStreams(enc[1:cut], len(streams), 1<<20); !errors.Is(err, ErrCorrupt) {
				t.Errorf("cut at %d: %v", cut, err)
			}
		}
	}
}

// checkOutline fails unless o is the outline of spans.
func checkOutline(t *testing.T, o *Outline, spans []*model.Span) {
	t.Helper()
	if len(o.Spans) != len(spans) {
		t.Fatalf("outline of %d spans, want %d", len(o.Spans), len(spans))
	}
	for i, s := range spans {
		g := o.Spans[i]
		want := SpanOutline{Start: s.Start, Duration: s.Duration, Kind: s.Kind, Status: s.StatusCode,
			Root: s.ParentID.IsZero(), Name: g.Name, Service: g.Service}
		if g != want || o.String(g.Name) != s.Name || o.String(g.Service) != s.Service() {
			t.Fatalf("span %d: outline %+v (name %q, service %q), want %+v (%q, %q)", i, g, o.String(g.Name),
				o.String(g.Service), want, s.Name, s.Service())
		}
	}
}

// TestPageOutline: a column page's outline holds every span's start, duration, kind, status, rootness, name and
// service as decoding the whole page gives them, with and without a shared dictionary and implied trace IDs.
func TestPageOutline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extras bool
		shared bool
		n      int
	}{{"plain", false, false, 2000}, {"extras", true, false, 2000}, {"shared dictionary", true, true, 1500},
		{"one span", true, false, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			g := spangen.New(21, time.Now().UnixNano())
			g.Extras = tc.extras
			spans := g.Spans(tc.n)
			var e Encoder
			var shared []string
			if tc.shared {
				shared = []string{"cart", "render", "frontend", "user-7"}
				e.Shared = NewDict(shared)
			}
			var traces []model.TraceID
			for i, s := range spans {
				e.Add(s)
				if i == 0 || s.TraceID != spans[i-1].TraceID {
					traces = append(traces, s.TraceID)
				}
			}
			col, err := ColumnPage(nil, e.AppendTo(nil), false, traces)
			if err != nil {
				t.Fatal(err)
			}
			o, err := PageOutline(col, shared)
			if err != nil {
				t.Fatal(err)
			}
			checkOutline(t, o, spans)
			if o.Size() <= 0 {
				t.Errorf("size %d", o.Size())
			}
		})
	}
}

// TestPageOutlineRejectsDamage: truncated column pages fail with ErrCorrupt and never panic.
func TestPageOutlineRejectsDamage(t *testing.T) {
	g := spangen.New(22, time.Now().UnixNano())
	g.Extras = true
	col, err := ColumnPage(nil, AppendSpans(nil, g.Spans(300)), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 1, 5, len(col) / 3, len(col) / 2} {
		if _, err := PageOutline(col[:cut], nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut at %d of %d: %v, want ErrCorrupt", cut, len(col), err)
		}
	}
	if _, err := PageOutline(AppendSpans(nil, g.Spans(10)), nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a row-form batch: %v, want ErrCorrupt", err)
	}
}

// FuzzPageOutline: PageOutline fails with ErrCorrupt or gives an outline that agrees with the page's spans
// wherever the whole page decodes too; nothing panics.
func FuzzPageOutline(f *testing.F) {
	addColumnPageSeeds(f, 23)
	f.Fuzz(func(t *testing.T, col []byte) {
		o, err := PageOutline(col, nil)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		for _, s := range o.Spans {
			o.String(s.Name)
			o.String(s.Service)
		}
		page, err := RowPage(nil, col, nil)
		if err != nil {
			return
		}
		spans, err := DecodeSpans(page)
		if err != nil {
			return
		}
		checkOutline(t, o, spans)
	})
}

// TestColumnWriter: a writer's pages, written one after the other with zstd tried only where it won before,
// come back exactly, and are about as small as ColumnPage's.
func TestColumnWriter(t *testing.T) {
	g := spangen.New(24, time.Now().UnixNano())
	g.Extras = true
	w := NewColumnWriter(false)
	var sizeW, sizeC int
	for p := range 3 * zstdProbe {
		page := AppendSpans(nil, g.Spans(300+p*37))
		col, err := w.Page([]byte("x"), page, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := RowPage(nil, col[1:], nil)
		if err != nil || !bytes.Equal(back, page) || col[0] != 'x' {
			t.Fatalf("page %d: round trip changed the batch (%v)", p, err)
		}
		one, err := ColumnPage(nil, page, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		sizeW += len(col) - 1
		sizeC += len(one)
	}
	if sizeW > sizeC+sizeC/100 {
		t.Errorf("writer's pages %d bytes, ColumnPage's %d", sizeW, sizeC)
	}
}

// addColumnPageSeeds adds column pages of 1, 7 and 60 generated spans (with events, links and causality) and an
// empty input to a fuzz target's corpus.
func addColumnPageSeeds(f *testing.F, seed uint64) {
	g := spangen.New(seed, 1e18)
	g.Extras = true
	for _, n := range []int{1, 7, 60} {
		col, err := ColumnPage(nil, AppendSpans(nil, g.Spans(n)), false, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(col)
	}
	f.Add([]byte{})
}

// BenchmarkColumnWriter puts the pages of a block of 100,000 spans (128 KiB each, written from records as a head
// is) in column form as compaction writes them (NewColumnWriter, the default zstd level).
func BenchmarkColumnWriter(b *testing.B) {
	g := spangen.New(9, 1e18)
	w := NewPageWriter()
	w.SetDict(nil)
	var pages [][]byte
	spans := 0
	for range 100 {
		rec := Encode(g.Spans(1000))
		bt, err := ParseBatch(rec.Payload(), nil)
		if err != nil {
			b.Fatal(err)
		}
		src := w.Source(bt, nil)
		for _, r := range rec.Runs {
			if w.Size() > 128<<10 {
				spans += w.Spans()
				pages = append(pages, w.AppendPage(nil))
			}
			if err := w.AddRun(src, r.From, r.RecEnd, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	var dst []byte
	cpu0 := cpuTime()
	for b.Loop() {
		cw := NewColumnWriter(false)
		for _, p := range pages {
			var err error
			if dst, err = cw.Page(dst[:0], p, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(spans*b.N), "cpu-ns/span")
}
