// Package spangen makes synthetic traces with realistic names and cardinalities for the store's tests and
// benchmarks: traces of 5 to 50 spans across a dozen services, 10 attributes a span (low, medium and high
// cardinality, strings and numbers), about 2% errors, and now and then events, links and weft causality. It
// mirrors the load generator's shapes so that bytes-per-span and query figures mean the same thing.
package spangen

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/weftrace/weft/model"
)

// Names and values drawn from, exported so tests can query for them.
var (
	Services = []string{"frontend", "checkout", "cart", "payment", "shipping", "catalog", "recommendation",
		"currency", "email", "ad", "auth", "inventory"}
	Operations = []string{"GET /api/products/{id}", "POST /api/cart", "GET /api/cart", "POST /api/checkout",
		"SELECT products", "redis GET", "grpc.Charge", "grpc.GetQuote", "kafka.publish orders", "render",
		"GET /api/recommendations", "validate", "POST /api/login"}
	Methods  = []string{"GET", "POST", "PUT", "DELETE"}
	Statuses = []int64{200, 200, 200, 200, 201, 204, 400, 404, 500, 503}
	Regions  = []string{"eu-west-1", "us-east-1", "us-west-2", "ap-south-1"}
	Versions = []string{"1.4.2", "1.4.3", "1.5.0"}
	DBs      = []string{"postgresql", "redis", "none"}
)

// Generator makes traces from a seeded random source. Not safe for concurrent use.
type Generator struct {
	rng       *rand.Rand
	resources []*model.Resource
	// Now is the end of the time window traces start in; Spread is the window's length (nanoseconds).
	Now, Spread int64
	// Extras adds events, links, causality, arrays and odd values to some spans (for codec and oracle tests).
	Extras bool
	// Users is the cardinality of user.id (default 10000).
	Users int
}

// New returns a generator seeded with seed, with traces starting in the hour before now.
func New(seed uint64, now int64) *Generator {
	g := &Generator{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), Now: now, Spread: 3600e9, Users: 10000}
	for _, s := range Services {
		g.resources = append(g.resources, &model.Resource{Service: s, Attrs: []model.Attr{
			{Key: "host.name", Value: model.String("host-" + s)},
			{Key: "telemetry.sdk.language", Value: model.String("go")},
		}})
	}
	return g
}

func (g *Generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// TraceID returns a fresh random trace ID.
func (g *Generator) TraceID() model.TraceID {
	var t model.TraceID
	binary.LittleEndian.PutUint64(t[:8], g.rng.Uint64())
	binary.LittleEndian.PutUint64(t[8:], g.rng.Uint64()|1)
	return t
}

// Trace makes one trace of 5 to 50 spans.
func (g *Generator) Trace() []*model.Span {
	tid := g.TraceID()
	n := 5 + g.rng.IntN(46)
	start := g.Now - g.rng.Int64N(g.Spread)
	spans := make([]*model.Span, n)
	for i := range spans {
		var sid model.SpanID
		binary.LittleEndian.PutUint64(sid[:], g.rng.Uint64()|1)
		s := &model.Span{TraceID: tid, SpanID: sid}
		res := g.resources[g.rng.IntN(len(g.resources))]
		if i == 0 {
			res = g.resources[0]
		} else {
			s.ParentID = spans[g.rng.IntN(i)].SpanID
		}
		s.Resource = res
		s.Name = g.pick(Operations)
		s.Kind = model.Kind(1 + g.rng.IntN(3))
		s.Start = start + int64(i)*1000 + g.rng.Int64N(1000)
		s.Duration = 50_000 + g.rng.Int64N(200_000_000)
		if i == 0 {
			s.Duration += 200_000_000
		}
		s.Scope = "weft/instrument"
		s.Attrs = []model.Attr{
			{Key: "http.request.method", Value: model.String(g.pick(Methods))},
			{Key: "http.route", Value: model.String(g.pick(Operations))},
			{Key: "http.response.status_code", Value: model.Int(Statuses[g.rng.IntN(len(Statuses))])},
			{Key: "user.id", Value: model.String(fmt.Sprintf("user-%d", g.rng.IntN(g.Users)))},
			{Key: "cloud.region", Value: model.String(g.pick(Regions))},
			{Key: "service.version", Value: model.String(g.pick(Versions))},
			{Key: "net.peer.port", Value: model.Int(int64(1024 + g.rng.IntN(60000)))},
			{Key: "net.peer.name", Value: model.String(fmt.Sprintf("10.0.%d.%d", g.rng.IntN(4), g.rng.IntN(256)))},
			{Key: "db.system", Value: model.String(g.pick(DBs))},
			{Key: "app.items", Value: model.Int(int64(g.rng.IntN(20)))},
		}
		if g.rng.IntN(50) == 0 {
			s.StatusCode = model.StatusError
			s.StatusMessage = "upstream unavailable"
		} else if g.rng.IntN(3) == 0 {
			s.StatusCode = model.StatusOK
		}
		if g.Extras {
			g.extras(s)
		}
		spans[i] = s
	}
	return spans
}

func (g *Generator) extras(s *model.Span) {
	switch g.rng.IntN(8) {
	case 0:
		s.Events = []model.Event{{Time: s.Start + 10, Name: "weft.fork", Unit: g.rng.Uint64(), Seq: 3,
			Cause: model.EventRef{Unit: 7, Seq: 2},
			Attrs: []model.Attr{{Key: "exception.message", Value: model.String("boom")}}}}
	case 1:
		s.Links = []model.Link{{TraceID: g.TraceID(), SpanID: model.SpanID{1, 2, 3}, TraceState: "k=v",
			Attrs: []model.Attr{{Key: "link.kind", Value: model.String("follows")}}}}
	case 2:
		s.Causality = model.Causality{Unit: g.rng.Uint64() | 1, StartSeq: 1, EndSeq: 9, EndUnit: 4,
			StartCause: model.EventRef{TraceID: g.TraceID(), Unit: 5, Seq: 6}}
		s.TraceState = "weft=00000000000000aa:4"
	case 3:
		s.Attrs = append(s.Attrs,
			model.Attr{Key: "cache.hit", Value: model.Bool(g.rng.IntN(2) == 0)},
			model.Attr{Key: "load", Value: model.Float(g.rng.Float64())},
			model.Attr{Key: "tags", Value: model.Array(model.String("a"), model.Int(3))},
			model.Attr{Key: "raw", Value: model.Bytes([]byte{0, 1, 2})})
		s.SpanResource = "GET /api/cart"
		s.SpanType = "web"
		s.Flags = model.FlagUnitary
		s.ScopeVersion = "1.0"
	}
}

// Spans makes whole traces until at least n spans.
func (g *Generator) Spans(n int) []*model.Span {
	out := make([]*model.Span, 0, n+50)
	for len(out) < n {
		out = append(out, g.Trace()...)
	}
	return out
}
