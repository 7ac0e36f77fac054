package ingest

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/weftrace/weft/model"
)

// TestTakeDatadogFieldsKeepsTheRest: resource.name and span.type leave the attributes (the first of each only);
// every other attribute stays, in order, and a span without them keeps its attributes untouched.
func TestTakeDatadogFieldsKeepsTheRest(t *testing.T) {
	str := func(k, v string) model.Attr { return model.Attr{Key: k, Value: model.String(v)} }
	tests := []struct {
		name         string
		attrs, want  []model.Attr
		resource, ty string
	}{
		{"none", []model.Attr{str("a", "1"), str("b", "2")}, []model.Attr{str("a", "1"), str("b", "2")}, "", ""},
		{"middle and repeated",
			[]model.Attr{str("a", "1"), str("resource.name", "R"), str("b", "2"), str("span.type", "T"), str("resource.name", "R2"), str("c", "3")},
			[]model.Attr{str("a", "1"), str("b", "2"), str("resource.name", "R2"), str("c", "3")}, "R", "T"},
		{"empty value stays", []model.Attr{str("span.type", ""), str("resource.name", "R")}, []model.Attr{str("span.type", "")}, "R", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := model.Span{Attrs: tt.attrs}
			takeDatadogFields(&s)
			if s.SpanResource != tt.resource || s.SpanType != tt.ty || !reflect.DeepEqual(s.Attrs, tt.want) {
				t.Errorf("got %q %q %v, want %q %q %v", s.SpanResource, s.SpanType, s.Attrs, tt.resource, tt.ty, tt.want)
			}
		})
	}
}

// TestNormalizerMatchesNormalize: a Normalizer gives each span what Normalize gives, whatever it remembers from
// the spans before (same and different methods and paths, in an order that reuses its slots), and makes each joined
// resource once.
func TestNormalizerMatchesNormalize(t *testing.T) {
	span := func(method, route string, kind model.Kind) *model.Span {
		s := &model.Span{Kind: kind}
		if method != "" {
			s.Attrs = append(s.Attrs, model.Attr{Key: "http.request.method", Value: model.String(method)})
		}
		if route != "" {
			s.Attrs = append(s.Attrs, model.Attr{Key: "http.route", Value: model.String(route)})
		}
		return s
	}
	var n Normalizer
	var first *model.Span
	for i := 0; i < 200; i++ {
		method := []string{"GET", "POST", ""}[i%3]
		route := []string{"/a", "/b/{id}", "", "/a"}[i%4]
		kind := []model.Kind{model.KindServer, model.KindClient}[i%2]
		want, got := span(method, route, kind), span(method, route, kind)
		Normalize(want)
		n.Normalize(got)
		if got.SpanResource != want.SpanResource || got.SpanType != want.SpanType {
			t.Fatalf("span %d (%q %q): Normalizer gave %q %q, Normalize %q %q", i, method, route,
				got.SpanResource, got.SpanType, want.SpanResource, want.SpanType)
		}
	}
	for i := 0; i < 10; i++ {
		s := span("GET", "/a", model.KindServer)
		n.Normalize(s)
		if first == nil {
			first = s
		} else if unsafe.StringData(s.SpanResource) != unsafe.StringData(first.SpanResource) {
			t.Fatalf("span %d: %q made again", i, s.SpanResource)
		}
	}
}

// TestLowerIs: lowerIs is strings.ToLower and a comparison, for the names it is asked about.
func TestLowerIs(t *testing.T) {
	inputs := []string{"redis", "Redis", "REDIS", "rEdIs", "redi", "rediss", "redis ", "REDİS", "rediſ", "memcached",
		"MemCached", "memcache", "\u212Aedis", "", "postgresql", "Memcached\u212A", "redİs", "REDİSx", "xREDİS", "İ", "mEmcAchEd"}
	for _, s := range inputs {
		for _, lower := range []string{"redis", "memcached"} {
			if got, want := lowerIs(s, lower), strings.ToLower(s) == lower; got != want {
				t.Errorf("lowerIs(%q, %q) = %v, want %v", s, lower, got, want)
			}
		}
	}
	s := model.Span{Attrs: []model.Attr{{Key: "db.system", Value: model.String("Redis")}, {Key: "db.operation", Value: model.String("GET")}}}
	Normalize(&s)
	if s.SpanType != "cache" {
		t.Errorf("db.system Redis: type %q, want cache", s.SpanType)
	}
}
