package jaeger

import (
	"fmt"
	"reflect"
	"testing"

	jaegerthrift "github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/internal/receivertest"
	"github.com/weftrace/weft/model"
)

// reuseRequest is a request to decode: a body in the compact protocol or the binary one.
type reuseRequest struct {
	compact bool
	body    []byte
}

func (r reuseRequest) contentType() string {
	if r.compact {
		return "application/vnd.apache.thrift.compact"
	}
	return "application/x-thrift"
}

// sparseBatch has n spans with little of anything: no parent, reference, log, kind or status, and at most one tag.
// Decoded into memory that held richer spans, it shows whatever was not zeroed.
func sparseBatch(n int, seed int64) *jaegerthrift.Batch {
	b := &jaegerthrift.Batch{Process: &jaegerthrift.Process{ServiceName: "sparse"}}
	for i := range int64(n) {
		s := &jaegerthrift.Span{TraceIdLow: seed<<32 + i + 1, SpanId: seed<<40 + i + 1, OperationName: "s", Flags: 1,
			StartTime: t0us + i, Duration: 5}
		switch i % 3 {
		case 1:
			s.Tags = []*jaegerthrift.Tag{strTag("t", fmt.Sprint("x", i))}
		case 2:
			s.Tags = []*jaegerthrift.Tag{longTag("n", i)}
		}
		b.Spans = append(b.Spans, s)
	}
	return b
}

// richBatch is part of benchBatch with logs, references, errors, status, scope and trace state on some spans, and
// more tags than an attribute block holds on others, so that their attributes move out of it.
func richBatch(seed int64) *jaegerthrift.Batch {
	b := benchBatch()
	b.Spans = b.Spans[:250]
	b.Process.Tags = append(b.Process.Tags, strTag("seed", fmt.Sprint(seed)))
	for i, s := range b.Spans {
		s.TraceIdLow += seed << 32
		s.SpanId += seed << 32
		if s.ParentSpanId != 0 {
			s.ParentSpanId += seed << 32
		}
		s.Tags = append(s.Tags, strTag("seed", fmt.Sprint(seed, "-", i)))
		switch i % 10 {
		case 3:
			s.Tags = append(s.Tags, boolTag("error", true), strTag("otel.scope.name", "scope"),
				strTag("w3c.tracestate", "a=b"))
			s.Logs = []*jaegerthrift.Log{{Timestamp: t0us + int64(i), Fields: []*jaegerthrift.Tag{
				strTag("event", "error"), strTag("message", fmt.Sprint("boom ", i)), longTag("attempt", int64(i)),
			}}}
		case 5:
			s.References = []*jaegerthrift.SpanRef{
				{RefType: jaegerthrift.SpanRefType_CHILD_OF, TraceIdLow: s.TraceIdLow, TraceIdHigh: s.TraceIdHigh, SpanId: 0x77},
				{RefType: jaegerthrift.SpanRefType_FOLLOWS_FROM, TraceIdLow: 0x99, SpanId: 0x4444},
			}
			s.ParentSpanId = 0
		case 7:
			s.Flags = 3
			if i%70 == 7 {
				for k := range 400 {
					s.Tags = append(s.Tags, longTag(fmt.Sprintf("k%03d", k), seed*int64(k)+int64(i)))
				}
			}
		}
	}
	return b
}

// reuseRequests are requests of both protocols in an order that puts sparse spans where rich ones were, and the
// other way round.
func reuseRequests(t testing.TB) []reuseRequest {
	req := func(b *jaegerthrift.Batch, compact bool) reuseRequest {
		return reuseRequest{compact, encode(t, b, compact)}
	}
	return []reuseRequest{
		req(richBatch(1), false), req(sparseBatch(3, 2), true), req(goldenBatch(), false),
		req(richBatch(3), true), req(sparseBatch(300, 4), false), req(goldenBatch(), true),
		req(sparseBatch(200, 6), true), req(richBatch(7), false), req(sparseBatch(50, 8), false),
	}
}

// fresh decodes r with a decoder of its own, whose memory nothing else uses.
func fresh(t testing.TB, r reuseRequest) []*model.Span {
	t.Helper()
	d := decoders.New().(*decoder)
	spans := decodeInto(t, d, r)
	d.reset(false)
	return spans
}

// decodeInto decodes r into d's memory, as the handler does.
func decodeInto(t testing.TB, d *decoder, r reuseRequest) []*model.Span {
	t.Helper()
	d.start(r.body, r.compact, nil)
	spans, err := d.decode()
	if err != nil {
		t.Fatal(err)
	}
	return spans
}

// TestReuseKeepsHeldSpans decodes requests one after the other with one decoder, whose consumer lets go of some
// requests' spans (their memory serves the next) and keeps the others. Every request must decode as with a new
// decoder, whatever memory it lands in; the spans kept must be, at the end, exactly as they were handed over,
// though later requests were decoded into reused memory; spans must really land in the memory of released ones;
// and what the decoder keeps for reuse must be all zero.
func TestReuseKeepsHeldSpans(t *testing.T) {
	reqs := reuseRequests(t)
	d := decoders.New().(*decoder)
	var kept [][]*model.Span
	var keptText []string
	released := map[*model.Span]bool{}
	reused := 0
	for round := range 2 {
		for i, r := range reqs {
			want := receivertest.RequestText(fresh(t, r))
			spans := decodeInto(t, d, r)
			if got := receivertest.RequestText(spans); got != want {
				t.Fatalf("round %d request %d decoded into reused memory differs:\n got %.600s\nwant %.600s",
					round, i, got, want)
			}
			for _, s := range spans {
				if released[s] {
					reused++
				}
			}
			release := (i+round)%3 != 0
			if release {
				for _, s := range spans {
					released[s] = true
				}
			} else {
				kept = append(kept, spans)
				keptText = append(keptText, want)
			}
			d.reset(release)
			if release {
				checkFree(t, i, "span", &d.slab)
				checkFree(t, i, "attribute", &d.attrs)
			}
		}
	}
	if reused == 0 {
		t.Error("no span was decoded into the memory of a released one: the test tests nothing")
	}
	for i := range kept {
		if got := receivertest.RequestText(kept[i]); got != keptText[i] {
			t.Fatalf("kept request %d changed after later requests were decoded:\n got %.600s\nwant %.600s", i, got, keptText[i])
		}
	}
}

// checkFree fails unless l, after request i, keeps free blocks and they are all zero.
func checkFree[T any](t *testing.T, i int, kind string, l interface {
	Free(func(*T) bool) (int, bool)
}) {
	t.Helper()
	n, zero := l.Free(func(x *T) bool { return reflect.ValueOf(x).Elem().IsZero() })
	if n == 0 {
		t.Fatalf("after request %d, no free %s blocks kept", i, kind)
	}
	if !zero {
		t.Fatalf("after request %d, a free %s block is not empty and zero", i, kind)
	}
}

// TestDecodedAttrsAreSeparate: the spans of a request share attribute blocks, so growing one span's attributes
// (as ExtractCausality and Normalize may) must never write into another's.
func TestDecodedAttrsAreSeparate(t *testing.T) {
	for i, r := range reuseRequests(t) {
		spans := fresh(t, r)
		want := receivertest.RequestText(spans)
		for _, s := range spans {
			if len(s.Attrs) != cap(s.Attrs) {
				t.Fatalf("span attributes with len %d cap %d: an append would write into the block", len(s.Attrs), cap(s.Attrs))
			}
		}
		for _, s := range spans {
			s.Attrs = append(s.Attrs, model.Attr{Key: "added", Value: model.Int(1)})
		}
		for _, s := range spans {
			s.Attrs = s.Attrs[:len(s.Attrs)-1]
		}
		if got := receivertest.RequestText(spans); got != want {
			t.Fatalf("request %d: span attributes changed by appends to others", i)
		}
	}
}

// TestHandlerReusesOnlyReleasedSpans sends requests of both protocols, concurrently, to a consumer that releases
// the spans (each request must decode as with a new decoder, whatever memory it reuses) and to consumers that keep
// them, a plain Consumer and a BatchConsumer whose batch does not release: the spans they kept must be unchanged at
// the end, though the handlers share their pooled decoders, and the blocks in them, with the releasing consumer's.
func TestHandlerReusesOnlyReleasedSpans(t *testing.T) {
	reqs := reuseRequests(t)
	var decoded [][]*model.Span
	for _, r := range reqs {
		decoded = append(decoded, fresh(t, r))
	}
	receivertest.CheckReuse(t, decoded, 3, func(c ingest.Consumer) func(int) error {
		srv := serve(t, c, ingest.Options{})
		return func(i int) error {
			resp, body := post(t, srv, "POST", "/api/traces", reqs[i].contentType(), reqs[i].body)
			if resp.StatusCode != 202 {
				return fmt.Errorf("status %d: %s", resp.StatusCode, body)
			}
			return nil
		}
	})
}
