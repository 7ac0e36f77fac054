package search

import (
	"strings"
	"testing"

	"github.com/weftrace/weft/model"
)

func TestParseCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{`service = "cart"`, `service = "cart"`},
		{`service == cart`, `service = "cart"`},
		{`name != "GET /x"`, `name != "GET /x"`},
		{`duration > 150ms`, `duration > 150ms`},
		{`duration >= 2s AND duration < 1m30s`, `duration >= 2s AND duration < 1m30s`},
		{`duration <= 0`, `duration <= 0s`},
		{`duration < 1.5s`, `duration < 1.5s`},
		{`duration < 10µs`, `duration < 10µs`},
		{`duration < 10us`, `duration < 10µs`},
		{`status = error`, `status = error`},
		{`status != "OK"`, `status != ok`},
		{`kind = SERVER`, `kind = server`},
		{`http.status_code >= 500`, `http.status_code >= 500`},
		{`http.status_code >= -5`, `http.status_code >= -5`},
		{`ratio > 0.5`, `ratio > 0.5`},
		{`ratio > 1.0`, `ratio > 1.0`},
		{`ratio > 1e21`, `ratio > 1e+21`},
		{`cache.hit = true`, `cache.hit = true`},
		{`cache.hit != FALSE`, `cache.hit != false`},
		{`http.method = GET`, `http.method = "GET"`},
		{`span.http.method = "GET"`, `span.http.method = "GET"`},
		{`resource.host.name =~ "^web-[0-9]+$"`, `resource.host.name =~ "^web-[0-9]+$"`},
		{`db.statement !~ "(?i)select"`, `db.statement !~ "(?i)select"`},
		{`name =~ "GET"`, `name =~ "GET"`},
		{`error`, `error`},
		{`exists(http.route)`, `http.route`},
		{`http.route exists`, `http.route`},
		{`.name = "x"`, `.name = "x"`},
		{`.span.kind = "x"`, `.span.kind = "x"`},
		{`."a key" = 1`, `."a key" = 1`},
		{`span."a key" = 1`, `span."a key" = 1`},
		{`resource."" = 1`, ``}, // error, checked below
		{`.and`, `.and`},
		{`event = retry`, `event = "retry"`},
		{`event =~ "^weft\\."`, `event =~ "^weft\\."`},
		{`.event`, `.event`},
		{`a AND b AND c`, `a AND b AND c`},
		{`a and b or c`, `(a AND b) OR c`},
		{`a || b && c`, `a OR (b AND c)`},
		{`(a OR b) AND c`, `(a OR b) AND c`},
		{`(a AND b) AND c`, `(a AND b) AND c`},
		{`NOT a AND b`, `NOT a AND b`},
		{`!(a OR b)`, `NOT (a OR b)`},
		{`not not a`, `NOT NOT a`},
		{`((a))`, `a`},
		{`größe > 3 AND 名前 = "値"`, `größe > 3 AND 名前 = "値"`},
		{`msg = "tab\there \"q\""`, `msg = "tab\there \"q\""`},
		{`x > 150ms`, `x > 150000000`},
		{`  `, ``},
	}
	for _, tt := range tests {
		e, err := Parse(tt.in)
		if tt.in == `resource."" = 1` {
			if err == nil {
				t.Errorf("Parse(%q) accepted an empty key", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		got := ""
		if e != nil {
			got = e.String()
		}
		if got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		if e != nil {
			back, err := Parse(got)
			if err != nil || !Equal(e, back) {
				t.Errorf("round trip of %q: %v, %v", got, back, err)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		column int
		substr string
	}{
		{`service =`, 10, "expected a value"},
		{`service = 5`, 11, "compares with a string"},
		{`duration > 100`, 12, "unit"},
		{`duration =~ "1"`, 10, "regular expression"},
		{`status = broken`, 10, "unset, ok or error"},
		{`status > ok`, 10, "only = and !="},
		{`kind = sideways`, 8, "kind is"},
		{`a = "open`, 5, "unterminated"},
		{`(a AND b`, 9, "expected ) to close the ( at column 1"},
		{`a AND`, 6, "expected a condition"},
		{`a b`, 3, "expected AND, OR"},
		{`a =~ "("`, 6, "bad regular expression"},
		{`a =~ b`, 6, "quoted regular expression"},
		{`a > 12abc`, 5, "not a number or a duration"},
		{`a > 1e999`, 5, "not a number"},
		{`a = true AND b < true`, 18, "only = and !="},
		{`a # b`, 3, "unexpected character"},
		{`service`, 1, "every span has service"},
		{`exists(name)`, 1, "every span has name"},
		{`exists name`, 1, "expected ( after exists"},
		{`event`, 1, "compare event with a name"},
		{`event = 3`, 9, "compares with a string"},
		{`and = 1`, 1, "expected a condition"},
		{`true = 1`, 1, "keyword"},
		{`a. = 1`, 1, "ends with a dot"},
		{`span. = 1`, 6, "expected an attribute key"},
		{`ü = "a" AND ) `, 13, "expected a condition"},
		{"a = \"\xff\"", 5, "invalid UTF-8"},
		{strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100), MaxDepth + 1, "nests deeper"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		pe, ok := err.(*ParseError)
		if !ok {
			t.Errorf("Parse(%q) = %v, want a *ParseError", tt.in, err)
			continue
		}
		if pe.Column != tt.column || !strings.Contains(pe.Msg, tt.substr) {
			t.Errorf("Parse(%q) = %v (column %d), want column %d and %q", tt.in, err, pe.Column, tt.column, tt.substr)
		}
	}
}

func span() *model.Span {
	res := &model.Resource{Service: "cart", Attrs: []model.Attr{
		{Key: "host.name", Value: model.String("web-3")},
		{Key: "region", Value: model.String("eu")},
	}}
	return &model.Span{
		Name: "GET /cart", Kind: model.KindServer, Duration: 250e6, StatusCode: model.StatusError, Resource: res,
		Attrs: []model.Attr{
			{Key: "http.method", Value: model.String("GET")},
			{Key: "http.status_code", Value: model.Int(503)},
			{Key: "ratio", Value: model.Float(0.25)},
			{Key: "cache.hit", Value: model.Bool(false)},
			{Key: "count", Value: model.String("12")},
			{Key: "region", Value: model.String("us")},
			{Key: "name", Value: model.String("attr-name")},
			{Key: "größe", Value: model.Int(7)},
		},
		Events: []model.Event{{Name: "retry"}, {Name: "weft.join"}},
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		q    string
		want bool
	}{
		{`service = "cart"`, true},
		{`service = cart AND name = "GET /cart"`, true},
		{`service != "cart"`, false},
		{`service < "d"`, true},
		{`service =~ "^ca"`, true},
		{`service !~ "^ca"`, false},
		{`name =~ "cart$"`, true},
		{`duration > 200ms`, true},
		{`duration > 250ms`, false},
		{`duration >= 250ms`, true},
		{`duration = 250ms`, true},
		{`duration < 1s AND duration > 1ms`, true},
		{`status = error`, true},
		{`status = ok`, false},
		{`status != unset`, true},
		{`kind = server`, true},
		{`kind = client`, false},
		{`kind =~ "serv"`, true},
		{`http.method = "GET"`, true},
		{`http.method = "get"`, false},
		{`http.method =~ "(?i)get"`, true},
		{`http.method != "POST"`, true},
		{`http.status_code = 503`, true},
		{`http.status_code = "503"`, true},
		{`http.status_code >= 500 AND http.status_code < 600`, true},
		{`http.status_code > 503.5`, false},
		{`http.status_code < 503.5`, true},
		{`http.status_code =~ "^5"`, true},
		{`ratio > 0.2`, true},
		{`ratio < 1`, true},
		{`ratio = "0.25"`, true},
		{`cache.hit = false`, true},
		{`cache.hit = true`, false},
		{`cache.hit != true`, true},
		{`count > 9`, true},       // a number in a string compares numerically
		{`count > "9"`, false},    // but as text with a string literal
		{`count = true`, false},   // not a boolean
		{`missing != "x"`, false}, // != needs the attribute
		{`NOT missing = "x"`, true},
		{`missing`, false},
		{`NOT missing`, true},
		{`http.method`, true},
		{`exists(span.http.method)`, true},
		{`resource.http.method`, false},
		{`resource.host.name =~ "^web-[0-9]+$"`, true},
		{`span.host.name`, false},
		{`host.name = "web-3"`, true},
		{`region = "eu"`, true}, // unscoped: span or resource
		{`region = "us"`, true},
		{`span.region = "eu"`, false},
		{`resource.region = "us"`, false},
		{`resource.service.name = "cart"`, true},
		{`service.name =~ "art"`, true},
		{`span.service.name`, false},
		{`.name = "attr-name"`, true},
		{`name = "attr-name"`, false},
		{`größe >= 7`, true},
		{`a OR http.method = "GET"`, true},
		{`a OR b`, false},
		{`(a OR http.method = GET) AND NOT status = ok`, true},
		{`NOT (http.method = GET AND status = error)`, false},
		{`event = "retry"`, true},
		{`event = "weft.join"`, true},
		{`event = "nope"`, false},
		{`event != "retry"`, true}, // another event is not named retry
		{`NOT event = "nope"`, true},
		{`event =~ "^weft\\."`, true},
		{`event !~ "e"`, false},
	}
	s := span()
	for _, tt := range tests {
		e, err := Parse(tt.q)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.q, err)
			continue
		}
		if got := e.Match(s); got != tt.want {
			t.Errorf("%q matched %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestMatchNilResource(t *testing.T) {
	s := &model.Span{Name: "x"}
	for _, q := range []string{`service = ""`, `NOT host.name`, `NOT resource.service.name`, `NOT event =~ ""`} {
		e, err := Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Match(s) {
			t.Errorf("%q did not match a span without a resource", q)
		}
	}
}

func TestQueryMatchSpan(t *testing.T) {
	e, _ := Parse(`http.method = GET`)
	s := span()
	s.Start = 1000
	tests := []struct {
		q    Query
		want bool
	}{
		{Query{}, true},
		{Query{Service: "cart", Operation: "GET /cart", Kind: model.KindServer, Expr: e}, true},
		{Query{Service: "other"}, false},
		{Query{MinDuration: 300e6}, false},
		{Query{MaxDuration: 200e6}, false},
		{Query{Start: 1001}, false},
		{Query{End: 999}, false},
		{Query{Start: 1000, End: 1000}, true},
	}
	for i, tt := range tests {
		if got := tt.q.MatchSpan(s); got != tt.want {
			t.Errorf("%d: MatchSpan = %v, want %v", i, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`service = "cart" AND duration > 150ms`,
		`(a OR b) AND NOT c`,
		`http.status_code >= 500 || status = error`,
		`resource.host.name =~ "^web" AND span."a b" != 1.5`,
		`."x y" exists`, `exists(.a)`, `x > -1e-7`, `duration < 1h2m3.5s`, `kind = client`,
		`a = "\u00e9\x41"`, `a = "\x80"`, `!a`, `名前 = 値`, `x = 9223372036854775807`, `x < -9223372036854775808`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		e, err := Parse(text)
		if err != nil || e == nil {
			return
		}
		canon := e.String()
		back, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", text, canon, err)
		}
		if !Equal(e, back) {
			t.Fatalf("Parse(%q) = %q, which parses to %q", text, canon, back.String())
		}
		e.Match(span())
		e.Match(&model.Span{})
	})
}
