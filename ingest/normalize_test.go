package ingest

import (
	"reflect"
	"testing"

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
