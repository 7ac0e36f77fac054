package memstore

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store"
)

func tid(b byte) model.TraceID { return model.TraceID{15: b} }
func sid(b byte) model.SpanID  { return model.SpanID{7: b} }

var (
	frontend = &model.Resource{Service: "frontend", Attrs: []model.Attr{{Key: "host.name", Value: model.String("h1")}}}
	cart     = &model.Resource{Service: "cart", Attrs: []model.Attr{{Key: "host.name", Value: model.String("h2")}}}
	db       = &model.Resource{Service: "db"}
)

// fill writes three traces:
//
//	1 at t=1000: frontend GET /cart (server) -> cart getCart (server, error) -> db SELECT (client)
//	2 at t=2000: frontend GET /home (server), http.method=POST
//	3 at t=3000: cart getCart with its root missing
func fill(t *testing.T) *Store {
	t.Helper()
	s := New()
	spans := []*model.Span{
		{TraceID: tid(1), SpanID: sid(1), Name: "GET /cart", Kind: model.KindServer, Start: 1000, Duration: 500, Resource: frontend,
			Attrs: []model.Attr{{Key: "http.method", Value: model.String("GET")}}},
		{TraceID: tid(1), SpanID: sid(2), ParentID: sid(1), Name: "getCart", Kind: model.KindServer, Start: 1100, Duration: 300,
			Resource: cart, StatusCode: model.StatusError},
		{TraceID: tid(1), SpanID: sid(3), ParentID: sid(2), Name: "SELECT", Kind: model.KindClient, Start: 1200, Duration: 450, Resource: db,
			Attrs: []model.Attr{{Key: "db.rows", Value: model.Int(3)}}},
		{TraceID: tid(2), SpanID: sid(1), Name: "GET /home", Kind: model.KindServer, Start: 2000, Duration: 100, Resource: frontend,
			Attrs: []model.Attr{{Key: "http.method", Value: model.String("POST")}}},
		{TraceID: tid(3), SpanID: sid(5), ParentID: sid(4), Name: "getCart", Kind: model.KindServer, Start: 3000, Duration: 10, Resource: cart},
	}
	// Write in two calls, out of order, as the write-ahead log may.
	if err := s.Write(context.Background(), spans[3:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), spans[:3]); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTrace(t *testing.T) {
	s := fill(t)
	ctx := context.Background()
	spans, err := s.Trace(ctx, tid(1))
	if err != nil || len(spans) != 3 {
		t.Fatalf("Trace(1) = %d spans, %v", len(spans), err)
	}
	if _, err := s.Trace(ctx, tid(9)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Trace(9) error = %v, want ErrNotFound", err)
	}
	m, err := s.Traces(ctx, []model.TraceID{tid(1), tid(2), tid(9)})
	if err != nil || len(m) != 2 || len(m[tid(1)]) != 3 || len(m[tid(2)]) != 1 {
		t.Fatalf("Traces = %v, %v", m, err)
	}
}

func ids(sums []store.TraceSummary) []byte {
	var out []byte
	for _, s := range sums {
		out = append(out, s.TraceID[15])
	}
	return out
}

func TestFindTraces(t *testing.T) {
	s := fill(t)
	parse := func(q string) search.Expr {
		e, err := search.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name string
		q    search.Query
		want []byte
	}{
		{"all newest first", search.Query{}, []byte{3, 2, 1}},
		{"limit", search.Query{Limit: 2}, []byte{3, 2}},
		{"service", search.Query{Service: "cart"}, []byte{3, 1}},
		{"operation", search.Query{Service: "frontend", Operation: "GET /home"}, []byte{2}},
		{"kind", search.Query{Kind: model.KindClient}, []byte{1}},
		{"min duration", search.Query{MinDuration: 400}, []byte{1}},
		{"max duration", search.Query{MaxDuration: 50}, []byte{3}},
		{"time range", search.Query{Start: 1500, End: 2500}, []byte{2}},
		{"expr", search.Query{Expr: parse(`http.method = GET`)}, []byte{1}},
		{"status", search.Query{Expr: parse(`status = error`)}, []byte{1}},
		// One span must satisfy everything: no single span of trace 1 is both in db and an error.
		{"one span", search.Query{Service: "db", Expr: parse(`status = error`)}, nil},
		{"one span expr", search.Query{Expr: parse(`service = db AND status = error`)}, nil},
		{"or", search.Query{Expr: parse(`service = db OR name = "GET /home"`)}, []byte{2, 1}},
		{"resource", search.Query{Expr: parse(`resource.host.name = h2`)}, []byte{3, 1}},
		{"nothing", search.Query{Service: "nope"}, nil},
	}
	for _, tt := range tests {
		got, err := s.FindTraces(context.Background(), tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), tt.want) {
			t.Errorf("%s: got traces %v, want %v", tt.name, ids(got), tt.want)
		}
	}
}

func TestSummary(t *testing.T) {
	s := fill(t)
	got, _ := s.FindTraces(context.Background(), search.Query{Service: "db"})
	want := store.TraceSummary{TraceID: tid(1), RootService: "frontend", RootName: "GET /cart", Start: 1000, Duration: 650,
		SpanCount: 3, ErrorCount: 1, Services: []store.ServiceCount{{Service: "cart", Spans: 1}, {Service: "db", Spans: 1}, {Service: "frontend", Spans: 1}}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("summary = %+v, want %+v", got, want)
	}
	// Root missing: the earliest span stands in.
	got, _ = s.FindTraces(context.Background(), search.Query{Start: 2500})
	if len(got) != 1 || got[0].RootService != "cart" || got[0].RootName != "getCart" || got[0].Duration != 10 {
		t.Fatalf("summary without root = %+v", got)
	}
}

func TestFindTracesDefaultLimit(t *testing.T) {
	s := New()
	var spans []*model.Span
	for i := 1; i <= 30; i++ {
		spans = append(spans, &model.Span{TraceID: tid(byte(i)), SpanID: sid(1), Start: int64(i), Resource: db})
	}
	s.Write(context.Background(), spans)
	got, _ := s.FindTraces(context.Background(), search.Query{})
	if len(got) != DefaultLimit || got[0].TraceID != tid(30) {
		t.Fatalf("got %d traces, first %v", len(got), got[0].TraceID)
	}
}

func TestCatalog(t *testing.T) {
	s := fill(t)
	ctx := context.Background()
	svcs, _ := s.Services(ctx)
	if want := []string{"cart", "db", "frontend"}; !reflect.DeepEqual(svcs, want) {
		t.Errorf("Services = %v, want %v", svcs, want)
	}
	ops, _ := s.Operations(ctx, "frontend", model.KindUnspecified)
	if want := []store.Operation{{Name: "GET /cart", Kind: model.KindServer}, {Name: "GET /home", Kind: model.KindServer}}; !reflect.DeepEqual(ops, want) {
		t.Errorf("Operations(frontend) = %v, want %v", ops, want)
	}
	ops, _ = s.Operations(ctx, "db", model.KindServer)
	if len(ops) != 0 {
		t.Errorf("Operations(db, server) = %v, want none", ops)
	}
	ops, _ = s.Operations(ctx, "", model.KindClient)
	if want := []store.Operation{{Name: "SELECT", Kind: model.KindClient}}; !reflect.DeepEqual(ops, want) {
		t.Errorf("Operations(all, client) = %v, want %v", ops, want)
	}
	keys, _ := s.AttributeKeys(ctx)
	if want := []string{"db.rows", "host.name", "http.method"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("AttributeKeys = %v, want %v", keys, want)
	}
	vals, _ := s.AttributeValues(ctx, "http.method", "", 0)
	if want := []string{"GET", "POST"}; !reflect.DeepEqual(vals, want) {
		t.Errorf("AttributeValues = %v, want %v", vals, want)
	}
	vals, _ = s.AttributeValues(ctx, "http.method", "P", 10)
	if want := []string{"POST"}; !reflect.DeepEqual(vals, want) {
		t.Errorf("AttributeValues(prefix P) = %v, want %v", vals, want)
	}
	vals, _ = s.AttributeValues(ctx, "http.method", "", 1)
	if want := []string{"GET"}; !reflect.DeepEqual(vals, want) {
		t.Errorf("AttributeValues(limit 1) = %v, want %v", vals, want)
	}
	vals, _ = s.AttributeValues(ctx, "db.rows", "", 0)
	if want := []string{"3"}; !reflect.DeepEqual(vals, want) {
		t.Errorf("AttributeValues(db.rows) = %v, want %v", vals, want)
	}
}

func TestDependencies(t *testing.T) {
	s := fill(t)
	// A Zipkin shared span: the client side in frontend and the server side in cart share ID 7; cart's child 8
	// in db hangs under the shared ID.
	s.Write(context.Background(), []*model.Span{
		{TraceID: tid(4), SpanID: sid(6), Name: "root", Start: 5000, Resource: frontend},
		{TraceID: tid(4), SpanID: sid(7), ParentID: sid(6), Name: "call", Kind: model.KindClient, Start: 5001, Resource: frontend},
		{TraceID: tid(4), SpanID: sid(7), ParentID: sid(6), Name: "call", Kind: model.KindServer, Start: 5002, Resource: cart, Flags: model.FlagShared},
		{TraceID: tid(4), SpanID: sid(8), ParentID: sid(7), Name: "q", Start: 5003, Resource: db, StatusCode: model.StatusError},
	})
	got, _ := s.Dependencies(context.Background(), 0, 0)
	want := []store.Dependency{
		{Parent: "cart", Child: "db", CallCount: 2, ErrorCount: 1},
		{Parent: "frontend", Child: "cart", CallCount: 2, ErrorCount: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Dependencies = %+v, want %+v", got, want)
	}
	got, _ = s.Dependencies(context.Background(), 4000, 6000)
	want = []store.Dependency{
		{Parent: "cart", Child: "db", CallCount: 1, ErrorCount: 1},
		{Parent: "frontend", Child: "cart", CallCount: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Dependencies in [4000,6000] = %+v, want %+v", got, want)
	}
}

func TestConcurrent(t *testing.T) {
	s := fill(t)
	done := make(chan bool)
	go func() {
		for i := 0; i < 100; i++ {
			s.Write(context.Background(), []*model.Span{{TraceID: tid(byte(100 + i%50)), SpanID: sid(1), Resource: db}})
		}
		done <- true
	}()
	for i := 0; i < 100; i++ {
		s.FindTraces(context.Background(), search.Query{Service: "db"})
		s.Dependencies(context.Background(), 0, 0)
	}
	<-done
}
