package ingest

import (
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
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

// normalizeReference is Normalize as it was written first (a takeDatadogFields pass, then every attribute through a
// switch on its key), kept to check the one-pass Normalize against.
func normalizeReference(s *model.Span) {
	if s.Duration < 0 {
		s.Duration = 0
	}
	if s.Kind > model.KindConsumer {
		s.Kind = model.KindUnspecified
	}
	if s.SpanResource == "" || s.SpanType == "" {
		takeDatadogFields(s)
	}
	if s.SpanResource != "" && s.SpanType != "" {
		return
	}
	var c referenceConventions
	for i := range s.Attrs {
		c.see(&s.Attrs[i])
	}
	resource, typ := c.classify(s.Kind)
	if s.SpanResource == "" {
		s.SpanResource = resource
	}
	if s.SpanType == "" {
		s.SpanType = typ
	}
}

type referenceConventions struct {
	httpRoute, httpTarget, httpURL, httpMethod string
	dbStatement, dbOperation, dbSystem         string
	rpcService, rpcMethod                      string
	msgDestination                             string
	msgSystem                                  bool
}

func (c *referenceConventions) see(a *model.Attr) {
	if a.Value.Type != model.TypeString || a.Value.Str == "" {
		return
	}
	v := a.Value.Str
	switch a.Key {
	case "http.route", "url.template":
		c.httpRoute = v
	case "http.target", "url.path", "http.path":
		if c.httpTarget == "" || a.Key == "url.path" {
			c.httpTarget = v
		}
	case "url.full", "http.url":
		c.httpURL = v
	case "http.request.method", "http.method":
		if c.httpMethod == "" || a.Key == "http.request.method" {
			c.httpMethod = v
		}
	case "db.query.text", "db.statement":
		if c.dbStatement == "" || a.Key == "db.query.text" {
			c.dbStatement = v
		}
	case "db.operation.name", "db.operation":
		if c.dbOperation == "" || a.Key == "db.operation.name" {
			c.dbOperation = v
		}
	case "db.system", "db.system.name":
		c.dbSystem = v
	case "rpc.service":
		c.rpcService = v
	case "rpc.method":
		c.rpcMethod = v
	case "messaging.destination.name", "messaging.destination":
		if c.msgDestination == "" || a.Key == "messaging.destination.name" {
			c.msgDestination = v
		}
	case "messaging.system":
		c.msgSystem = true
	}
}

func (c *referenceConventions) classify(kind model.Kind) (resource, typ string) {
	switch {
	case c.dbStatement != "" || c.dbOperation != "" || c.dbSystem != "":
		resource = c.dbStatement
		if resource == "" {
			resource = c.dbOperation
		}
		if strings.ToLower(c.dbSystem) == "redis" || strings.ToLower(c.dbSystem) == "memcached" {
			return resource, "cache"
		}
		return resource, "db"
	case c.msgDestination != "" || c.msgSystem:
		return c.msgDestination, "queue"
	case c.rpcMethod != "" || c.rpcService != "":
		switch {
		case c.rpcService == "":
			return c.rpcMethod, "rpc"
		case c.rpcMethod == "":
			return c.rpcService, "rpc"
		}
		return c.rpcService + "/" + c.rpcMethod, "rpc"
	case c.httpMethod != "" || c.httpRoute != "" || c.httpTarget != "" || c.httpURL != "":
		path := c.httpRoute
		if path == "" {
			path = stripQuery(c.httpTarget)
		}
		if path == "" && c.httpURL != "" {
			if u, err := url.Parse(c.httpURL); err == nil {
				path = u.Path
			}
		}
		switch {
		case path == "":
			resource = c.httpMethod
		case c.httpMethod == "":
			resource = path
		default:
			resource = c.httpMethod + " " + path
		}
		if kind == model.KindServer {
			return resource, "web"
		}
		return resource, "http"
	}
	return "", ""
}

// normalizeKeys are the keys Normalize looks at, and keys it must not take for one of them: the same length and
// first and last bytes (what finds a key's slot), one byte changed, another case, a prefix.
var normalizeKeys = []string{
	"http.route", "url.template", "http.target", "url.path", "http.path", "url.full", "http.url",
	"http.request.method", "http.method", "db.query.text", "db.statement", "db.operation.name", "db.operation",
	"db.system", "db.system.name", "rpc.service", "rpc.method", "messaging.destination.name", "messaging.destination",
	"messaging.system", "resource.name", "span.type",
	"http.rXute", "url.templatE", "Http.target", "url.pat", "url.paths", "db.systex", "db.sxstem", "rpc.methoe",
	"resource.nam", "span.typf", "span.type ", "rpc.system", "http.response.status_code", "user.id", "", "h", "e",
	"messaging.destination.namf", "db.query.texT", "db.Statement", "http.methoD", "xttp.route",
}

// normalizeValues are attribute values for normalizeKeys, of every type Normalize must tell apart.
var normalizeValues = []model.Value{
	model.String("GET"), model.String("/users/{id}"), model.String("/pair?beer=ipa#x"), model.String("http://h:1/taste?x=1"),
	model.String("redis"), model.String("MEMCACHED"), model.String("REDİS"), model.String("\u212Aedis"), model.String("postgresql"),
	model.String("SELECT 1"), model.String(""), model.String("x"), model.Int(7), model.Bool(true), {Type: model.TypeBytes, Str: "GET"},
}

// TestNormalizeMatchesReference: on random spans made of the keys Normalize looks at, keys that look like them and
// values of every type, with or without the span's own resource and type, Normalize and a Normalizer leave each span
// as the first, plain implementation does: fields, attributes (the Datadog ones taken out) and all.
func TestNormalizeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var n Normalizer
	types := map[string]int{}
	for i := 0; i < 20000; i++ {
		s := model.Span{Kind: model.Kind(rng.IntN(7)), Duration: int64(rng.IntN(3)) - 1}
		switch rng.IntN(4) {
		case 0:
			s.SpanResource = "mine"
		case 1:
			s.SpanType = "custom"
		}
		for j := rng.IntN(8); j > 0; j-- {
			s.Attrs = append(s.Attrs, model.Attr{
				Key:   normalizeKeys[rng.IntN(len(normalizeKeys))],
				Value: normalizeValues[rng.IntN(len(normalizeValues))],
			})
		}
		want, got, joined := s, s, s
		want.Attrs, got.Attrs, joined.Attrs = slices.Clone(s.Attrs), slices.Clone(s.Attrs), slices.Clone(s.Attrs)
		normalizeReference(&want)
		Normalize(&got)
		n.Normalize(&joined)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(joined, want) {
			t.Fatalf("span %+v:\nNormalize  %+v\nNormalizer %+v\nwant       %+v", s, got, joined, want)
		}
		types[want.SpanType]++
	}
	for _, ty := range []string{"", "web", "http", "db", "cache", "rpc", "queue", "custom"} {
		if types[ty] < 100 {
			t.Errorf("only %d spans of type %q: the test does not reach every convention", types[ty], ty)
		}
	}
}

// TestConventionKeyFindsEachKey: every key of the table is found as itself, and none of the others.
func TestConventionKeyFindsEachKey(t *testing.T) {
	found := 0
	for _, e := range conventionKeys {
		if e.key == "" {
			continue
		}
		found++
		if got := conventionKey(e.key); got != e.kind {
			t.Errorf("conventionKey(%q) = %d, want %d", e.key, got, e.kind)
		}
		if got := conventionKey(strings.ToUpper(e.key)); got != keyNone {
			t.Errorf("conventionKey(%q) = %d, want none", strings.ToUpper(e.key), got)
		}
	}
	if found != 22 {
		t.Errorf("%d keys in the table, want 22", found)
	}
	for _, k := range normalizeKeys[22:] {
		if got := conventionKey(k); got != keyNone {
			t.Errorf("conventionKey(%q) = %d, want none", k, got)
		}
	}
}

// BenchmarkNormalize normalizes spans of the load generator's shape (ten attributes: an HTTP method and route and
// db.system, which makes them database spans) as the OTLP receiver does, one Normalizer for a request. The receiver
// normalizes a span just after decoding it, so the spans here are few enough to stay in the processor's cache.
func BenchmarkNormalize(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) model.Value { return model.String(s[rng.IntN(len(s))]) }
	spans := make([]model.Span, 64)
	for i := range spans {
		spans[i] = model.Span{Kind: model.Kind(1 + rng.IntN(3)), Attrs: []model.Attr{
			{Key: "http.request.method", Value: pick("GET", "POST", "PUT", "DELETE")},
			{Key: "http.route", Value: pick("GET /api/products/{id}", "POST /api/cart", "SELECT products")},
			{Key: "http.response.status_code", Value: model.Int(200)},
			{Key: "user.id", Value: pick("user-17", "user-4242")},
			{Key: "cloud.region", Value: pick("eu-west-1", "us-east-1")},
			{Key: "service.version", Value: pick("1.4.2", "1.5.0")},
			{Key: "net.peer.port", Value: model.Int(4242)},
			{Key: "net.peer.name", Value: pick("10.0.1.7", "10.0.3.200")},
			{Key: "db.system", Value: pick("postgresql", "redis", "none")},
			{Key: "app.items", Value: model.Int(3)},
		}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var n Normalizer
		for j := range spans {
			s := &spans[j]
			s.SpanResource, s.SpanType = "", ""
			n.Normalize(s)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}
