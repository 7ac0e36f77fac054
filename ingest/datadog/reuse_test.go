package datadog

import (
	"fmt"
	"reflect"
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
// requests' spans (their memory serves the next) and keeps the others. Every request must decode as with a new
// builder, whatever memory it lands in; the spans kept must be, at the end, exactly as they were handed over,
// though later requests were decoded into reused memory; spans must really land in the memory of released ones;
// and what the builder keeps for reuse must be all zero.
func TestReuseKeepsHeldSpans(t *testing.T) {
	reqs := reuseRequests(t)
	b := builders.New().(*builder)
	var kept [][]*model.Span
	var keptText []string
	released := map[*model.Span]bool{}
	reused := 0
	for round := range 2 {
		for i, r := range reqs {
			want := receivertest.RequestText(fresh(t, r))
			spans, err := r.decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := receivertest.RequestText(spans); got != want {
				t.Fatalf("round %d request %d (%s) decoded into reused memory differs:\n got %.600s\nwant %.600s",
					round, i, r.path, got, want)
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
			b.reset(release)
			if release {
				checkFree(t, i, "span", &b.slab)
				checkFree(t, i, "attribute", &b.attrs)
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
	for _, r := range reuseRequests(t) {
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
			t.Fatalf("%s: span attributes changed by appends to others", r.path)
		}
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
	receivertest.CheckReuse(t, decoded, 3, func(c ingest.Consumer) func(int) error {
		srv := serve(t, c, ingest.Options{})
		return func(i int) error {
			r := reqs[i]
			resp, body := send(t, srv, "PUT", r.path, r.contentType, r.body,
				"Datadog-Meta-Lang", goldenHeader.lang, "Datadog-Meta-Lang-Version", goldenHeader.langVersion,
				"Datadog-Meta-Tracer-Version", goldenHeader.tracerVersion)
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s: status %d: %s", r.path, resp.StatusCode, body)
			}
			return nil
		}
	})
}
