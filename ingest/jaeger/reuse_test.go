package jaeger

import (
	"fmt"
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
// requests' spans and keeps the others (receivertest.CheckKeepsHeldSpans).
func TestReuseKeepsHeldSpans(t *testing.T) {
	reqs := reuseRequests(t)
	d := decoders.New().(*decoder)
	receivertest.CheckKeepsHeldSpans(t, len(reqs),
		func(i int) []*model.Span { return fresh(t, reqs[i]) },
		func(i int) []*model.Span { return decodeInto(t, d, reqs[i]) },
		d.reset,
		receivertest.Free[model.Span]("span", &d.slab), receivertest.Free[model.Attr]("attribute", &d.attrs))
}

// TestDecodedAttrsAreSeparate: the spans of a request share attribute blocks, so growing one span's attributes
// must never write into another's.
func TestDecodedAttrsAreSeparate(t *testing.T) {
	for _, r := range reuseRequests(t) {
		receivertest.CheckAttrsSeparate(t, r.contentType(), fresh(t, r))
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
	receivertest.CheckReuse(t, decoded, 3, func(c ingest.Consumer) []func(int) error {
		srv := serve(t, c, ingest.Options{})
		return []func(int) error{func(i int) error {
			resp, body := post(t, srv, "POST", "/api/traces", reqs[i].contentType(), reqs[i].body)
			if resp.StatusCode != 202 {
				return fmt.Errorf("status %d: %s", resp.StatusCode, body)
			}
			return nil
		}}
	})
}
