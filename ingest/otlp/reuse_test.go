package otlp

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/internal/receivertest"
	"github.com/weftrace/weft/model"
)

// encodeRequest is spans as an ExportTraceServiceRequest in protobuf.
func encodeRequest(t testing.TB, spans []*model.Span) []byte {
	t.Helper()
	b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: Encode(spans).ResourceSpans})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sparseRequest has n spans with little of anything: no parent, status, events, links, trace state or causality,
// and at most one attribute, an int or a string in turn. Decoded into memory that held richer spans, it shows
// whatever was not zeroed.
func sparseRequest(t testing.TB, n int, seed byte) []byte {
	res := &model.Resource{Service: "sparse"}
	var spans []*model.Span
	for i := range n {
		s := &model.Span{TraceID: model.TraceID{seed, 1, byte(i)}, SpanID: model.SpanID{seed, 2, byte(i)}, Name: "s",
			Start: int64(1000 + i), Duration: 5, Resource: res}
		switch i % 3 {
		case 1:
			s.Attrs = []model.Attr{{Key: "n", Value: model.Int(int64(i))}}
		case 2:
			s.Attrs = []model.Attr{{Key: "t", Value: model.String("x")}}
		}
		spans = append(spans, s)
	}
	return encodeRequest(t, spans)
}

// richRequest has n spans with everything: many attributes of every type (more than an attribute block has left
// for some spans, so that their attributes move out of it), events with attributes and causal fields, links,
// a parent, a status, trace state, dropped counts and causality.
func richRequest(t testing.TB, n int, seed byte) []byte {
	res := &model.Resource{Service: "rich", Attrs: []model.Attr{{Key: "host.name", Value: model.String("h")}}}
	var spans []*model.Span
	for i := range n {
		s := &model.Span{TraceID: model.TraceID{seed, 3, byte(i)}, SpanID: model.SpanID{seed, 4, byte(i)},
			ParentID: model.SpanID{seed, 5, byte(i)}, Name: fmt.Sprintf("rich-%d", i%4), Kind: model.KindClient,
			Start: int64(2000 + i), Duration: 7, StatusCode: model.StatusError, StatusMessage: "bad",
			TraceState: "a=b", Resource: res,
			Causality: model.Causality{Unit: 0xb2, StartSeq: 1, EndSeq: 9, EndUnit: 0xb3, StartCause: model.EventRef{Unit: 0xa1, Seq: 7}},
			Events: []model.Event{
				{Time: 2100, Name: "weft.fork", Seq: 2},
				{Time: 2200, Name: "weft.join", Seq: 8, Cause: model.EventRef{Unit: 0xc3, Seq: 4},
					Attrs: []model.Attr{{Key: "e", Value: model.String("v")}}},
			},
			Links: []model.Link{{TraceID: model.TraceID{9}, SpanID: model.SpanID{9}, TraceState: "l=1",
				Attrs: []model.Attr{{Key: "link.kind", Value: model.String("retry-of")}}}},
		}
		na := 12
		if i%5 == 4 {
			na = 60 // past the 24 slots a span may start a block with
		}
		for j := range na {
			var v model.Value
			switch j % 6 {
			case 0:
				v = model.String(fmt.Sprintf("v%d-%d", i, j))
			case 1:
				v = model.Int(int64(i*j + 1))
			case 2:
				v = model.Float(float64(j) + 0.5)
			case 3:
				v = model.Bool(true)
			case 4:
				v = model.Array(model.String("a"), model.Int(int64(j)))
			case 5:
				v = model.Value{Type: model.TypeMap, Map: []model.Attr{{Key: "k", Value: model.Int(int64(j))}}}
			}
			s.Attrs = append(s.Attrs, model.Attr{Key: fmt.Sprintf("k%d", j), Value: v})
		}
		s.Attrs = append(s.Attrs, model.Attr{Key: AttrDroppedAttributes, Value: model.Int(3)},
			model.Attr{Key: AttrDroppedEvents, Value: model.Int(1)})
		spans = append(spans, s)
	}
	return encodeRequest(t, spans)
}

// TestAttributesPastABlockMatchOfficial: spans whose attributes outgrow what is left of an attribute block, and the
// spans after them, decode as the official decoder has them.
func TestAttributesPastABlockMatchOfficial(t *testing.T) {
	sameAsOfficial(t, richRequest(t, 300, 1))
}

// reuseBodies are requests in an order that puts sparse spans where rich ones were, and the other way round.
func reuseBodies(t testing.TB) [][]byte {
	return [][]byte{
		readGolden(t, "request.pb"), sparseRequest(t, 3, 1),
		richRequest(t, 120, 2), sparseRequest(t, 200, 3),
		richRequest(t, 60, 4), realisticRequest(100), sparseRequest(t, 150, 5), richRequest(t, 40, 6),
	}
}

// TestReusedMemoryStartsClean decodes requests one after the other with one decoder that takes back the memory of
// each request's spans: each request decodes exactly as with a new decoder (no attribute, event, link, parent,
// status or causality of a span before), its spans do lie in memory of earlier requests, and what the decoder keeps
// for reuse is all zero.
func TestReusedMemoryStartsClean(t *testing.T) {
	w := &wireDecoder{intern: make(map[string]string)}
	seen := map[*model.Span]bool{}
	reused := 0
	for i, body := range reuseBodies(t) {
		want, err := decodeWire(body, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.decode(body)
		if err != nil {
			t.Fatal(err)
		}
		if got.rejected != 0 || len(got.spans) == 0 {
			t.Fatalf("request %d: %d spans, %d refused", i, len(got.spans), got.rejected)
		}
		diffSpans(t, got.spans, want.spans)
		for _, s := range got.spans {
			if seen[s] {
				reused++
			}
		}
		clear(seen)
		for _, s := range got.spans {
			seen[s] = true
		}
		w.reset(true)
		checkFree(t, i, "span", &w.spans)
		checkFree(t, i, "attribute", &w.attrs)
		checkFree(t, i, "event", &w.events)
		checkFree(t, i, "link", &w.links)
	}
	if reused == 0 {
		t.Error("no span was decoded into the memory of a span before: the test tests nothing")
	}
}

// checkFree fails unless l, after request i, keeps free blocks and they are all zero.
func checkFree[T any](t *testing.T, i int, kind string, l *blockList[T]) {
	t.Helper()
	if len(l.free) == 0 {
		t.Fatalf("after request %d, no free %s blocks kept", i, kind)
	}
	for _, b := range l.free {
		if len(b) != 0 {
			t.Fatalf("after request %d, a free %s block has length %d", i, kind, len(b))
		}
		for j, x := range b[:cap(b)] {
			if !reflect.ValueOf(x).IsZero() {
				t.Fatalf("after request %d, free %s block holds at %d: %+v", i, kind, j, x)
			}
		}
	}
}

// TestNotReleasedIsNeverReused: without reuse (the consumer keeps its spans), the next requests never write into
// the spans handed over, even with a decoder that holds free blocks from requests before.
func TestNotReleasedIsNeverReused(t *testing.T) {
	bodies := reuseBodies(t)
	w := &wireDecoder{intern: make(map[string]string)}
	if _, err := w.decode(bodies[2]); err != nil {
		t.Fatal(err)
	}
	w.reset(true) // free blocks to take from
	var kept [][]*model.Span
	var want []string
	for _, body := range bodies {
		d, err := w.decode(body)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, d.spans)
		want = append(want, receivertest.RequestText(d.spans))
		w.reset(false)
	}
	for i := range kept {
		if got := receivertest.RequestText(kept[i]); got != want[i] {
			t.Fatalf("request %d's spans changed after it was handed over:\n got %.300s\n want %.300s", i, got, want[i])
		}
	}
}

// TestReceiversReuseOnlyReleasedSpans sends requests of every shape, concurrently, over OTLP/HTTP and gRPC, to a
// consumer that releases the spans and to consumers that keep them (receivertest.CheckReuse): the spans kept must
// be unchanged at the end, though the receivers shared their decoders, and the blocks in them, with the releasing
// consumer's.
func TestReceiversReuseOnlyReleasedSpans(t *testing.T) {
	bodies := reuseBodies(t)
	var fresh [][]*model.Span
	for _, body := range bodies {
		d, err := decodeWire(body, nil)
		if err != nil {
			t.Fatal(err)
		}
		fresh = append(fresh, d.spans)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	receivertest.CheckReuse(t, fresh, 3, func(c ingest.Consumer) []func(int) error {
		srv := httptest.NewServer(NewHTTPHandler(c, ingest.Options{}))
		t.Cleanup(srv.Close)
		conn := startGRPCConn(t, c)
		return []func(int) error{
			func(i int) error {
				resp := post(t, srv.URL+TracesPath, "application/x-protobuf", "", bodies[i])
				if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
					return fmt.Errorf("http: status %d: %s", resp.StatusCode, b)
				}
				return nil
			},
			func(i int) error {
				return conn.Invoke(ctx, exportMethod, bodies[i], &coltracepb.ExportTraceServiceResponse{}, grpc.ForceCodec(rawCodec{}))
			},
		}
	})
}
