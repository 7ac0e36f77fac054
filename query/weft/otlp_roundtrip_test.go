package weft_test

// The OTLP download must be something weft's own OTLP receiver takes back unchanged. This test (only) reaches
// into ingest/otlp to check it; the package itself does not import ingest.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/otlp"
	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/query/weft"
)

func TestOTLPRoundTrip(t *testing.T) {
	res := &model.Resource{Service: "café-ñ", Attrs: []model.Attr{{Key: "host.name", Value: model.String("web-2")}}}
	tid := model.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	other := model.TraceID{15: 7}
	in := []*model.Span{
		{TraceID: tid, SpanID: model.SpanID{1}, Name: "GET /cart", Kind: model.KindServer, Start: 1_795_348_800_000_000_000, Duration: 5_000_000,
			Resource: res, StatusCode: model.StatusError, StatusMessage: "no cart", Scope: "net/http", ScopeVersion: "1.0",
			Attrs: []model.Attr{
				{Key: "http.method", Value: model.String("GET")},
				{Key: "n", Value: model.Int(-5)},
				{Key: "f", Value: model.Float(0.25)},
				{Key: "b", Value: model.Bool(true)},
				{Key: "raw", Value: model.Bytes([]byte{0, 255})},
				{Key: "list", Value: model.Array(model.String("a"), model.Int(1))},
			},
			Events: []model.Event{
				{Time: 1_795_348_800_001_000_000, Name: "weft.join", Seq: 3, Cause: model.EventRef{Unit: 0x3333, Seq: 7}},
				{Time: 1_795_348_800_002_000_000, Name: "weft.receive", Seq: 4, Unit: 0x5555, Cause: model.EventRef{TraceID: other, Unit: 0x6, Seq: 1}},
				{Time: 1_795_348_800_003_000_000, Name: "plain", Attrs: []model.Attr{{Key: "k", Value: model.String("v")}}},
			},
			Links:     []model.Link{{TraceID: other, SpanID: model.SpanID{9}, Attrs: []model.Attr{{Key: "why", Value: model.String("retry")}}}},
			Causality: model.Causality{Unit: 0x2222, StartSeq: 1, EndUnit: 0x4444, EndSeq: 6, StartCause: model.EventRef{Unit: 0x1111, Seq: 2}}},
		{TraceID: tid, SpanID: model.SpanID{2}, ParentID: model.SpanID{1}, Name: "SELECT", Kind: model.KindClient,
			Start: 1_795_348_800_001_500_000, Duration: 1_000_000, Resource: res},
	}
	body, err := json.Marshal(weft.EncodeOTLP(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []*model.Span
	h := otlp.NewHTTPHandler(ingest.ConsumerFunc(func(_ context.Context, spans []*model.Span) error {
		got = append(got, spans...)
		return nil
	}), ingest.Options{})
	req := httptest.NewRequest("POST", "/v1/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("OTLP receiver answered %d: %s\nsent: %s", rec.Code, rec.Body, body)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Start < got[j].Start })
	if len(got) != len(in) {
		t.Fatalf("received %d spans, want %d", len(got), len(in))
	}
	for i, w := range in {
		g := got[i]
		if g.Service() != w.Service() || !reflect.DeepEqual(g.Resource.Attrs, w.Resource.Attrs) {
			t.Errorf("span %d resource = %+v, want %+v", i, g.Resource, w.Resource)
		}
		// Fields the receiver derives (SpanResource, SpanType) are not part of the round trip.
		g.SpanResource, g.SpanType, g.Resource = "", "", w.Resource
		if !reflect.DeepEqual(g, w) {
			gj, _ := json.MarshalIndent(g, "", " ")
			wj, _ := json.MarshalIndent(w, "", " ")
			t.Errorf("span %d came back as\n%s\nwant\n%s", i, gj, wj)
		}
	}
}
