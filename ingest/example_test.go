package ingest_test

import (
	"fmt"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// A span from the weft library arrives with its causal fields as attributes; ExtractCausality moves them into
// the model and leaves the ordinary attributes alone.
func ExampleExtractCausality() {
	s := &model.Span{
		Attrs: []model.Attr{
			{Key: "http.route", Value: model.String("/pairings/{beer}")},
			{Key: "weft.unit", Value: model.String("00000000000000b2")},
			{Key: "weft.seq.start", Value: model.Int(1)},
			{Key: "weft.seq.end", Value: model.Int(9)},
			{Key: "weft.cause", Value: model.String("00000000000000a1:7")},
		},
		Events: []model.Event{{Name: "weft.join", Attrs: []model.Attr{
			{Key: "weft.seq", Value: model.Int(8)},
			{Key: "weft.cause", Value: model.String("00000000000000c3:4")},
		}}},
	}
	ingest.ExtractCausality(s)
	fmt.Printf("unit %x, events %d..%d, started after %x:%d\n", s.Causality.Unit, s.Causality.StartSeq, s.Causality.EndSeq,
		s.Causality.StartCause.Unit, s.Causality.StartCause.Seq)
	fmt.Printf("join is event %d, after %x:%d\n", s.Events[0].Seq, s.Events[0].Cause.Unit, s.Events[0].Cause.Seq)
	fmt.Println("attributes left:", len(s.Attrs), s.Attrs[0].Key)
	// Output:
	// unit b2, events 1..9, started after a1:7
	// join is event 8, after c3:4
	// attributes left: 1 http.route
}

// Normalize gives spans from any client the resource and type Datadog users know.
func ExampleNormalize() {
	s := &model.Span{Kind: model.KindServer, Attrs: []model.Attr{
		{Key: "http.request.method", Value: model.String("GET")},
		{Key: "http.route", Value: model.String("/pairings/{beer}")},
	}}
	ingest.Normalize(s)
	fmt.Println(s.SpanResource, s.SpanType)
	// Output: GET /pairings/{beer} web
}
