package weft

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/memstore"
)

// checkWaterfall decodes a waterfall answer and compares every field with the regular answer for the same spans.
func checkWaterfall(t *testing.T, body []byte, tr *Trace) {
	t.Helper()
	var w Waterfall
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("decoding waterfall answer: %v\n%s", err, body)
	}
	if w.Format != WaterfallFormat || w.TraceID != tr.TraceID || w.Start != tr.Start || w.End != tr.End ||
		w.Duration != tr.Duration || w.SpanCount != len(tr.Spans) || w.ErrorCount != tr.ErrorCount ||
		fmt.Sprint(w.Services) != fmt.Sprint(tr.Services) {
		t.Errorf("header %+v, want that of %+v", w, *tr)
	}
	n := len(tr.Spans)
	s := w.Spans
	if len(s.ID) != 16*n || len(s.Parent) != n || len(s.Name) != n || len(s.Service) != n || len(s.Offset) != n || len(s.Duration) != n {
		t.Fatalf("columns of lengths id %d, parent %d, name %d, service %d, offset %d, duration %d for %d spans",
			len(s.ID), len(s.Parent), len(s.Name), len(s.Service), len(s.Offset), len(s.Duration), n)
	}
	str := func(i int) string {
		if i < 0 || i >= len(w.Strings) {
			t.Fatalf("string index %d of %d", i, len(w.Strings))
		}
		return w.Strings[i]
	}
	parents := tr.ToColumnar().Spans.Parent
	var errors []int
	for i, sp := range tr.Spans {
		got := fmt.Sprint(s.ID[16*i:16*i+16], s.Parent[i], str(s.Name[i]), str(s.Service[i]), s.Offset[i], s.Duration[i])
		want := fmt.Sprint(sp.SpanID, parents[i], sp.Name, sp.Service, sp.Offset, sp.Duration)
		if got != want {
			t.Errorf("span %d: %s, want %s", i, got, want)
		}
		if sp.Status.Code == "error" {
			errors = append(errors, i)
		}
	}
	if fmt.Sprint(w.ErrorSpans) != fmt.Sprint(errors) {
		t.Errorf("errors %v, want %v", w.ErrorSpans, errors)
	}
}

func TestWaterfall(t *testing.T) {
	odd := fixtureSpans()
	odd[0].Name = "tab\t\"quote\" \\ <html> & \u2028 \x00 é 名 🧵"
	odd[1].ParentID = sid(77)     // a parent missing from the trace
	odd[4].SpanID = odd[3].SpanID // a duplicate span ID
	odd[4].ParentID = odd[4].SpanID
	odd[2].Resource = nil // no service
	odd[2].Start = math.MinInt64 / 4
	for name, spans := range map[string][]*model.Span{
		"traceA": fixtureSpans()[:3], "traceB": fixtureSpans()[3:], "odd": odd, "big": bigTrace(500),
	} {
		t.Run(name, func(t *testing.T) {
			id := spans[0].TraceID
			tr := EncodeTrace(id, spans)
			checkWaterfall(t, AppendWaterfall(nil, id, spans), &tr)
			rev := slices.Clone(spans)
			slices.Reverse(rev)
			rtr := EncodeTrace(id, rev) // spans equal in start and ID keep the order given, in both answers
			checkWaterfall(t, AppendWaterfall(nil, id, rev), &rtr)
		})
	}
}

func TestWaterfallIsSmaller(t *testing.T) {
	spans := bigTrace(2000)
	tr := EncodeTrace(spans[0].TraceID, spans)
	col, wf := len(tr.AppendColumnar(nil)), len(AppendWaterfall(nil, spans[0].TraceID, spans))
	if wf*2 > col {
		t.Errorf("waterfall answer %d bytes, columnar %d: want at most half", wf, col)
	}
}

func TestWaterfallEndpointAndSpanDetails(t *testing.T) {
	h := newHandler(t)
	path := Prefix + "traces/" + traceA.String()
	rec, body := get(t, h, path+"?format=waterfall")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, body)
	}
	tr := EncodeTrace(traceA, fixtureSpans()[:3])
	checkWaterfall(t, body[:len(body)-1], &tr)

	// One span's details, in the regular and the columnar form; several spans; bad and absent IDs.
	for _, c := range []struct {
		query  string
		status int
		want   []string
		not    []string
	}{
		{"?spanID=a000000000000002", 200, []string{`"spanCount":1`, `"spanID":"a000000000000002"`, `"message":"no cart"`, `"service":"café-ñ"`, `"start":"` + fmt.Sprint(base+1_000_000) + `"`}, []string{`"spanID":"a000000000000001"`}},
		{"?format=columnar&spanID=a000000000000002", 200, []string{`"format":"columnar"`, `"id":["a000000000000002"]`}, nil},
		{"?spanID=a000000000000001,a000000000000003", 200, []string{`"spanCount":2`, `"spanID":"a000000000000001"`, `"spanID":"a000000000000003"`}, nil},
		{"?spanID=a000000000000001&spanID=a000000000000003", 200, []string{`"spanCount":2`}, nil},
		{"?format=waterfall&spanID=a000000000000003", 200, []string{`"spanCount":1`, `"id":"a000000000000003"`}, nil},
		{"?spanID=a000000000000009", 404, []string{`{"error":"trace 4bf92f3577b34da6a3ce929d0e0e4736 has no span a000000000000009"}`}, nil},
		{"?spanID=nothex", 400, []string{`{"error":"span ID \"nothex\" is not 1 to 16 hex digits"}`}, nil},
		{"?spanID=", 400, []string{`span ID \"\"`}, nil},
		{"?format=xml", 400, []string{`format \"xml\" is not json, columnar or waterfall`}, nil},
	} {
		rec, body := get(t, h, path+c.query)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.query, rec.Code, c.status, body)
		}
		for _, w := range c.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s: body lacks %s\nbody: %s", c.query, w, body)
			}
		}
		for _, w := range c.not {
			if strings.Contains(string(body), w) {
				t.Errorf("%s: body has %s\nbody: %s", c.query, w, body)
			}
		}
	}
}

// TestRecentRead: after a waterfall answer, the trace's other answers come from the same read for recentFor, so
// that their span indexes match the waterfall's while spans still arrive; a new waterfall answer reads again.
func TestRecentRead(t *testing.T) {
	st := memstore.New()
	ctx := context.Background()
	if err := st.Write(ctx, fixtureSpans()[:2]); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, base)
	h := NewHandler(st, Options{Now: func() time.Time { return now }})
	path := Prefix + "traces/" + traceA.String()
	count := func(query string) string {
		t.Helper()
		rec, body := get(t, h, path+query)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", query, rec.Code, body)
		}
		var c struct{ SpanCount int }
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(c.SpanCount)
	}
	steps := []struct {
		write   bool
		advance time.Duration
		query   string
		want    string
	}{
		{false, 0, "", "2"},
		{true, 0, "", "3"}, // nothing kept yet: every answer reads
		{false, 0, "?format=waterfall", "3"},
		{true, 0, "?format=columnar", "3"}, // a span arrived: the waterfall's read still answers
		{false, recentFor - time.Second, "", "3"},
		{false, 0, "/otlp", ""},
		{false, time.Second, "?format=columnar", "4"}, // kept no longer
		{true, 0, "?format=waterfall", "5"},           // a waterfall answer always reads
	}
	extra := 0
	for i, s := range steps {
		if s.write {
			extra++
			sp := *fixtureSpans()[2]
			sp.SpanID = sid(byte(100 + extra))
			if err := st.Write(ctx, []*model.Span{&sp}); err != nil {
				t.Fatal(err)
			}
		}
		now = now.Add(s.advance)
		if s.query == "/otlp" {
			rec, body := get(t, h, path+s.query)
			if n := strings.Count(string(body), `"startTimeUnixNano"`); rec.Code != 200 || n != 3 {
				t.Errorf("step %d: otlp answer %d with %d spans, want the kept 3", i, rec.Code, n)
			}
			continue
		}
		if got := count(s.query); got != s.want {
			t.Errorf("step %d (%s): %s spans, want %s", i, s.query, got, s.want)
		}
	}
}

func TestRecentTracesBounds(t *testing.T) {
	var c recentTraces
	now := time.Unix(0, base)
	spans := func(n int) []*model.Span { return make([]*model.Span, n) }
	id := func(b byte) model.TraceID { return model.TraceID{15: b} }
	c.put(id(1), spans(recentMaxSpans/2), now)
	c.put(id(2), spans(recentMaxSpans/2), now)
	c.put(id(3), spans(10), now)               // drops trace 1, the oldest
	c.put(id(4), spans(recentMaxSpans+1), now) // too large to keep
	for b, want := range map[byte]bool{1: false, 2: true, 3: true, 4: false} {
		if _, ok := c.get(id(b), now); ok != want {
			t.Errorf("trace %d kept: %v, want %v", b, ok, want)
		}
	}
	if c.spans != recentMaxSpans/2+10 {
		t.Errorf("%d spans counted, want %d", c.spans, recentMaxSpans/2+10)
	}
	c.put(id(3), spans(5), now.Add(recentFor)) // trace 2 expired: dropped; trace 3 replaced
	if _, ok := c.get(id(2), now.Add(recentFor)); ok || c.spans != 5 || len(c.list) != 1 {
		t.Errorf("after expiry: %d traces, %d spans; want 1, 5", len(c.list), c.spans)
	}
}
