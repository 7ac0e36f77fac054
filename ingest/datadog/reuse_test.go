package datadog

import (
	"fmt"
	"testing"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/internal/receivertest"
	"github.com/weftrace/weft/model"
)

// reuseRequest is a request to decode, by path and body.
type reuseRequest struct {
	path, contentType string
	body              []byte
}

// decode decodes r into b's memory, as the handler does for a tracer that sends goldenHeader.
func (r reuseRequest) decode(b *builder) ([]*model.Span, error) {
	b.hdr = goldenHeader
	if r.path == "/v0.5/traces" {
		return b.decodeV05(r.body)
	}
	return decodeV03(b, r.contentType, r.body)
}

// sparseTraces are n spans with little of anything: no parent, error, kind or 128-bit trace ID, and at most one
// meta entry or metric. Decoded into memory that held richer spans, they show whatever was not zeroed.
func sparseTraces(n int, seed uint64) [][]ddSpan {
	var tr []ddSpan
	for i := range n {
		s := ddSpan{Service: "sparse", Name: "s", TraceID: seed<<32 + uint64(i) + 1, SpanID: seed<<40 + uint64(i) + 1,
			Start: int64(1000 + i), Duration: 5}
		switch i % 3 {
		case 1:
			s.Meta = map[string]string{"t": fmt.Sprint("x", i)}
		case 2:
			s.Metrics = map[string]float64{"n": float64(i)}
		}
		tr = append(tr, s)
	}
	return [][]ddSpan{tr}
}

// richTraces are benchTraces' spans with some of them carrying many meta entries (more than an attribute block
// holds, so that their attributes move out of it), errors and spans without a service.
func richTraces(seed int) [][]ddSpan {
	traces := benchTraces()[:20]
	for i := range traces {
		for j := range traces[i] {
			s := &traces[i][j]
			s.TraceID += uint64(seed) << 32
			s.SpanID += uint64(seed) << 32
			if s.ParentID != 0 {
				s.ParentID += uint64(seed) << 32
			}
			s.Meta["seed"] = fmt.Sprint(seed, "-", i, "-", j)
			if j == 3 {
				s.Error = 1
				s.Meta["error.msg"] = fmt.Sprint("boom ", i)
			}
			if j == 7 {
				s.Service = ""
			}
			if i%7 == 6 && j == 4 {
				for k := range 400 {
					s.Meta[fmt.Sprintf("k%03d", k)] = fmt.Sprint(seed*k + i)
				}
			}
		}
	}
	return traces
}

// reuseRequests are requests of every format in an order that puts sparse spans where rich ones were, and the
// other way round.
func reuseRequests(t testing.TB) []reuseRequest {
	v04 := func(tr [][]ddSpan) reuseRequest {
		return reuseRequest{"/v0.4/traces", "application/msgpack", encodeV04(t, tr)}
	}
	v05 := func(tr [][]ddSpan) reuseRequest {
		return reuseRequest{"/v0.5/traces", "application/msgpack", encodeV05(t, tr)}
	}
	return []reuseRequest{
		v04(richTraces(1)), v04(sparseTraces(3, 2)),
		{"/v0.4/traces", "application/msgpack", ddTraceGoPayload(t)},
		v05(richTraces(3)), v05(sparseTraces(300, 4)),
		{"/v0.3/traces", "application/json", encodeJSON(t, richTraces(5))},
		v05(metaJSONTraces()), v04(sparseTraces(200, 6)), v04(richTraces(7)), v05(sparseTraces(50, 8)),
	}
}

// fresh decodes r with a builder of its own, whose memory nothing else uses.
func fresh(t testing.TB, r reuseRequest) []*model.Span {
	t.Helper()
	b := builders.New().(*builder)
	spans, err := r.decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b.reset(false)
	return spans
}

// TestReuseKeepsHeldSpans decodes requests one after the other with one builder, whose consumer lets go of some
// requests' spans and keeps the others (receivertest.CheckKeepsHeldSpans).
func TestReuseKeepsHeldSpans(t *testing.T) {
	reqs := reuseRequests(t)
	b := builders.New().(*builder)
	receivertest.CheckKeepsHeldSpans(t, len(reqs),
		func(i int) []*model.Span { return fresh(t, reqs[i]) },
		func(i int) []*model.Span {
			spans, err := reqs[i].decode(b)
			if err != nil {
				t.Fatal(err)
			}
			return spans
		},
		b.reset,
		receivertest.Free[model.Span]("span", &b.slab), receivertest.Free[model.Attr]("attribute", &b.attrs))
}

// TestDecodedAttrsAreSeparate: the spans of a request share attribute blocks, so growing one span's attributes
// must never write into another's.
func TestDecodedAttrsAreSeparate(t *testing.T) {
	for _, r := range reuseRequests(t) {
		receivertest.CheckAttrsSeparate(t, r.path, fresh(t, r))
	}
}

// TestHandlerReusesOnlyReleasedSpans sends requests of every format, concurrently, to a consumer that releases the
// spans (each request must decode as with a new builder, whatever memory it reuses) and to consumers that keep
// them, a plain Consumer and a BatchConsumer whose batch does not release: the spans they kept must be unchanged at
// the end, though the handlers share their pooled builders, and the blocks in them, with the releasing consumer's.
func TestHandlerReusesOnlyReleasedSpans(t *testing.T) {
	reqs := reuseRequests(t)
	var decoded [][]*model.Span
	for _, r := range reqs {
		decoded = append(decoded, fresh(t, r))
	}
	receivertest.CheckReuse(t, decoded, 3, func(c ingest.Consumer) []func(int) error {
		srv := serve(t, c, ingest.Options{})
		return []func(int) error{func(i int) error {
			r := reqs[i]
			resp, body := send(t, srv, "PUT", r.path, r.contentType, r.body,
				"Datadog-Meta-Lang", goldenHeader.lang, "Datadog-Meta-Lang-Version", goldenHeader.langVersion,
				"Datadog-Meta-Tracer-Version", goldenHeader.tracerVersion)
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s: status %d: %s", r.path, resp.StatusCode, body)
			}
			return nil
		}}
	})
}
