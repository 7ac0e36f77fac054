package embedded

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/weftrace/weft/search"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/wal"
)

// filterSearches are searches whose needs (needsOf) reach each kind of condition: what a record must hold, what
// it need not (literals that a number, a bool or an array's text also equals), alternatives and negations.
func filterSearches(t *testing.T) []search.Query {
	return []search.Query{
		{},
		{Service: "checkout"},
		{Service: "nobody"},
		{Service: "cart", Operation: "POST /api/cart"},
		{Operation: "no such operation"},
		{Expr: mustParse(t, `user.id = "user-12"`)},
		{Expr: mustParse(t, `user.id = "nobody"`)},
		{Expr: mustParse(t, `app.items = "3"`)},    // the int 3's text
		{Expr: mustParse(t, `cache.hit = "true"`)}, // the bool's text
		{Expr: mustParse(t, `tags = "[\"a\",3]"`)}, // the array's text
		{Expr: mustParse(t, `raw`)},
		{Expr: mustParse(t, `no.such.key`)},
		{Expr: mustParse(t, `no.such.key =~ "x"`)},
		{Expr: mustParse(t, `no.such.key != "x"`)},
		{Expr: mustParse(t, `service.name = "email"`)},
		{Expr: mustParse(t, `resource.host.name = "host-cart"`)},
		{Expr: mustParse(t, `span.service.name = "email"`)},
		{Expr: mustParse(t, `event = "weft.fork"`)},
		{Expr: mustParse(t, `service = "payment" AND name = "grpc.Charge"`)},
		{Expr: mustParse(t, `user.id = "user-3" OR user.id = "user-4" OR service = "nobody"`)},
		{Expr: mustParse(t, `user.id = "user-3" OR duration > 100ms`)},
		{Expr: mustParse(t, `NOT user.id = "user-3"`)},
		{Expr: mustParse(t, `(user.id = "user-5" AND app.items > 3) OR (http.route =~ "cart" AND raw)`)},
	}
}

// TestNeedsAdmitEveryMatch checks, for records of many sizes, that a record holding a span that matches a search
// is always admitted by the search's needs, and that needs pass records over: every one, for a search for what no
// span holds; some, for one user among 200.
func TestNeedsAdmitEveryMatch(t *testing.T) {
	g := spangen.New(31, time.Now().UnixNano())
	g.Extras = true
	g.Users = 200
	_, all := someTraces(g, 4000)
	recs := batches(rand.New(rand.NewPCG(31, 4)), all, 60)
	// What the needs of some searches must pass over, by the search's expression, service and operation.
	passOver := map[string]string{
		"nobody": "all", "no such operation": "all", `user.id = "nobody"`: "all", "no.such.key": "all",
		`no.such.key =~ "x"`: "all", `no.such.key != "x"`: "all", `user.id = "user-12"`: "some",
	}
	checked := 0
	for _, q := range filterSearches(t) {
		if q.Expr == nil {
			q.Expr = &search.And{} // matches every span, and reads as ""
		}
		nd := needsOf(&q)
		passed := 0
		for _, spans := range recs {
			enc := wal.AppendSpans(nil, spans)
			admit := nd.admit(enc)
			if admit {
				passed++
			}
			if !admit && slices.ContainsFunc(spans, q.MatchSpan) {
				t.Fatalf("search %+v (needs %q): a record holding a matching span is passed over", q, nd)
			}
		}
		switch want := passOver[q.Expr.String()+q.Service+q.Operation]; {
		case want == "all" && passed != 0:
			t.Errorf("search %+v (needs %q): %d of %d records admitted, want none", q, nd, passed, len(recs))
		case want == "some" && passed == len(recs):
			t.Errorf("search %+v (needs %q): every record admitted, want some passed over", q, nd)
		}
		if passOver[q.Expr.String()+q.Service+q.Operation] != "" {
			checked++
		}
	}
	if checked != len(passOver) {
		t.Fatalf("%d searches checked for records passed over, want %d", checked, len(passOver))
	}
}

// TestNeedsAdmitMalformed: a record whose string table cannot be read is admitted, for decoding to report.
func TestNeedsAdmitMalformed(t *testing.T) {
	nd := needs{{"x"}}
	for _, b := range [][]byte{nil, {0x80}, {5, 1, 'a'}, {2, 200, 1}} {
		if !nd.admit(b) {
			t.Errorf("admit(%v) = false, want true", b)
		}
	}
}
