package jaeger

import (
	"reflect"
	"testing"
	"time"

	"github.com/weftrace/weft/search"
)

func TestParseTags(t *testing.T) {
	tests := []struct {
		tag, tags []string
		want      []Tag
		bad       bool
	}{
		{tags: []string{`{"http.method":"GET","error":true,"code":200}`}, want: []Tag{{"code", "200"}, {"error", "true"}, {"http.method", "GET"}}},
		{tags: []string{`http.method=GET error name="a b\"c" größe=groß`}, want: []Tag{{"error", "true"}, {"größe", "groß"}, {"http.method", "GET"}, {"name", `a b"c`}}},
		{tags: []string{`a=`}, want: []Tag{{"a", ""}}},
		{tags: []string{`a=1 a=2`}, want: []Tag{{"a", "2"}}},
		{tag: []string{"db.statement:SELECT a:b", "x:"}, want: []Tag{{"db.statement", "SELECT a:b"}, {"x", ""}}},
		{tags: []string{"  "}, want: []Tag{}},
		{tags: []string{`{"a":`}, bad: true},
		{tags: []string{`{"a":{"b":1}}`}, bad: true},
		{tags: []string{`{"":"x"}`}, bad: true},
		{tags: []string{`a="open`}, bad: true},
		{tags: []string{`=x`}, bad: true},
		{tags: []string{`a"b=c`}, bad: true},
		{tag: []string{"nocolon"}, bad: true},
		{tag: []string{":v"}, bad: true},
	}
	for _, tt := range tests {
		got, err := ParseTags(tt.tag, tt.tags)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseTags(%q, %q) = %v, want an error", tt.tag, tt.tags, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseTags(%q, %q) = %v, %v; want %v", tt.tag, tt.tags, got, err, tt.want)
		}
	}
}

func TestTagsExpr(t *testing.T) {
	tests := []struct {
		tags []Tag
		want string
	}{
		{nil, ""},
		{[]Tag{{"http.method", "GET"}}, `http.method = "GET"`},
		{[]Tag{{"error", "true"}, {"span.kind", "Server"}}, `(error = "true" OR status = error) AND (.span.kind = "Server" OR kind = server)`},
		{[]Tag{{"otel.status_code", "OK"}}, `otel.status_code = "OK" OR status = ok`},
		{[]Tag{{"error", "false"}}, `error = "false"`},
		{[]Tag{{"event", "weft.join"}}, `.event = "weft.join" OR event = "weft.join"`},
		{[]Tag{{"name", "x"}, {"a b", "1"}}, `.name = "x" AND ."a b" = "1"`},
	}
	for _, tt := range tests {
		e := TagsExpr(tt.tags)
		got := ""
		if e != nil {
			got = e.String()
		}
		if got != tt.want {
			t.Errorf("TagsExpr(%v) = %s, want %s", tt.tags, got, tt.want)
		}
	}
}

func TestParseLookback(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"1h", time.Hour, false}, {"2d", 48 * time.Hour, false}, {"90m", 90 * time.Minute, false}, {"1.5s", 1500 * time.Millisecond, false},
		{"2w", 0, true}, {"-1h", 0, true}, {"d", 0, true}, {"-2d", 0, true}, {"", 0, true}, {"99999999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLookback(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseLookback(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func FuzzParseTags(f *testing.F) {
	for _, s := range []string{`{"a":"b","c":1,"d":true}`, `a=b c="d e" f`, `x="\u00e9"`, `{"":1}`, `a="`, ` = `} {
		f.Add("k:v", s)
	}
	f.Fuzz(func(t *testing.T, tag, tags string) {
		got, err := ParseTags([]string{tag}, []string{tags})
		if err != nil {
			return
		}
		e := TagsExpr(got)
		if e == nil {
			return
		}
		back, err := search.Parse(e.String())
		if err != nil || !search.Equal(e, back) {
			t.Fatalf("TagsExpr(%v) = %q does not parse back: %v", got, e.String(), err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"1.2s", "100ms", "2d", "custom", "-1s", "1e9h", "9223372036854775807ns", "1µs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseLookback(s); err == nil && d < 0 {
			t.Fatalf("ParseLookback(%q) = %v, negative", s, d)
		}
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
	})
}
