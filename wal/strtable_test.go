package wal

import (
	"slices"
	"testing"

	"github.com/weftrace/weft/model"
)

// FuzzEachString reads string tables from any bytes without panicking, and from an encoded batch reads exactly
// the strings ParseBatch finds.
func FuzzEachString(f *testing.F) {
	r := &model.Resource{Service: "cart", Attrs: []model.Attr{{Key: "host.name", Value: model.String("h1")}}}
	f.Add(AppendSpans(nil, []*model.Span{{TraceID: model.TraceID{1}, SpanID: model.SpanID{2}, Name: "GET /",
		Resource: r, Attrs: []model.Attr{{Key: "user.id", Value: model.String("u-1")}}}}))
	f.Add([]byte{})
	f.Add([]byte{3, 1, 'a', 0, 2})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []string
		ok := EachString(b, func(s []byte) bool { got = append(got, string(s)); return true })
		bt, err := ParseBatch(b, nil)
		if err != nil {
			return
		}
		if !ok || !slices.Equal(got, bt.strs) {
			t.Fatalf("EachString = %q (%v), ParseBatch's table %q", got, ok, bt.strs)
		}
	})
}

// TestEachStringStops: f returning false ends the walk, which still reports the table well formed.
func TestEachStringStops(t *testing.T) {
	b := []byte{3, 1, 'a', 1, 'b', 1, 'c'}
	var got []string
	if !EachString(b, func(s []byte) bool { got = append(got, string(s)); return len(got) < 2 }) {
		t.Fatal("EachString reported a well-formed table malformed")
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("got %q, want a and b", got)
	}
	if EachString([]byte{3, 1, 'a', 5, 'b'}, func([]byte) bool { return true }) {
		t.Fatal("EachString reported a table cut short well formed")
	}
}
