package memstore

import (
	"context"
	"strconv"
	"testing"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
)

// BenchmarkFindTraces searches 10,000 traces of 10 spans by one attribute value: memstore scans everything, so
// this is the figure the indexed stores must beat, not a target.
func BenchmarkFindTraces(b *testing.B) {
	s := New()
	res := []*model.Resource{{Service: "a"}, {Service: "b"}, {Service: "c"}}
	var spans []*model.Span
	for t := 0; t < 10000; t++ {
		id := model.TraceID{0: 1, 12: byte(t >> 24), 13: byte(t >> 16), 14: byte(t >> 8), 15: byte(t)}
		for i := 0; i < 10; i++ {
			spans = append(spans, &model.Span{TraceID: id, SpanID: sid(byte(i + 1)), Name: "op" + strconv.Itoa(i), Start: int64(t*1000 + i),
				Duration: int64(i * 1000), Resource: res[i%3],
				Attrs: []model.Attr{{Key: "user.id", Value: model.String("u" + strconv.Itoa((t*10+i)%5000))}}})
		}
	}
	s.Write(context.Background(), spans)
	e, _ := search.Parse(`user.id = "u42"`)
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.FindTraces(context.Background(), search.Query{Expr: e})
		if err != nil || len(got) == 0 {
			b.Fatal(len(got), err)
		}
	}
}
