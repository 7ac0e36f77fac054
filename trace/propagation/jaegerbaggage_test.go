package propagation

import (
	"context"
	"net/http"
	"reflect"
	"testing"
)

type jaegerBaggageGolden struct {
	Extract []struct {
		Name     string      `json:"name"`
		Headers  [][2]string `json:"headers"`
		Baggage  [][2]string `json:"baggage"`
		Failures uint64      `json:"failures"`
	} `json:"extract"`
	Inject []struct {
		Name    string            `json:"name"`
		Baggage [][2]string       `json:"baggage"`
		Headers map[string]string `json:"headers"`
	} `json:"inject"`
}

func baggagePairs(b Baggage) [][2]string {
	out := [][2]string{}
	for _, m := range b.Members() {
		out = append(out, [2]string{m.Key, m.Value})
	}
	return out
}

// TestJaegerBaggageGolden runs testdata/jaeger_baggage.json through W3CBaggage and JaegerBaggage, as config sets
// them up for OTEL_PROPAGATORS=baggage,jaeger, and through JaegerBaggage alone on a MapCarrier.
func TestJaegerBaggageGolden(t *testing.T) {
	var g jaegerBaggageGolden
	readGolden(t, "jaeger_baggage.json", &g)
	if len(g.Extract) == 0 || len(g.Inject) == 0 {
		t.Fatal("no cases")
	}
	p := Composite{W3C{}, W3CBaggage{}, Jaeger{}, JaegerBaggage{}}
	for _, c := range g.Extract {
		t.Run("extract/"+c.Name, func(t *testing.T) {
			before := ParseFailures().Total()
			b := BaggageFromContext(p.Extract(context.Background(), HeaderCarrier(headerOf(c.Headers))))
			if got := baggagePairs(b); !reflect.DeepEqual(got, c.Baggage) {
				t.Errorf("baggage %q, want %q", got, c.Baggage)
			}
			if got := ParseFailures().Total() - before; got != c.Failures {
				t.Errorf("counted %d malformed headers, want %d", got, c.Failures)
			}
			// The same through a MapCarrier with lowercase keys, without W3C baggage.
			m := MapCarrier{}
			for _, kv := range c.Headers {
				m[kv[0]] = kv[1]
			}
			want := [][2]string{}
			for _, kv := range c.Baggage {
				if _, ok := m["uberctx-"+kv[0]]; ok || hasFold(m, "uberctx-"+kv[0]) {
					want = append(want, kv)
				}
			}
			if got := baggagePairs(BaggageFromContext(JaegerBaggage{}.Extract(context.Background(), m))); !reflect.DeepEqual(got, want) {
				t.Errorf("from a MapCarrier: %q, want %q", got, want)
			}
		})
	}
	for _, c := range g.Inject {
		t.Run("inject/"+c.Name, func(t *testing.T) {
			var b Baggage
			for _, kv := range c.Baggage {
				var err error
				if b, err = b.Set(kv[0], kv[1]); err != nil {
					t.Fatal(err)
				}
			}
			h := http.Header{}
			JaegerBaggage{}.Inject(ContextWithBaggage(context.Background(), b), HeaderCarrier(h))
			if len(h) != len(c.Headers) {
				t.Errorf("wrote %v, want %v", h, c.Headers)
			}
			for k, want := range c.Headers {
				if got := h[k]; len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func hasFold(m MapCarrier, key string) bool {
	for k := range m {
		if len(k) == len(key) && http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(key) {
			return true
		}
	}
	return false
}

func FuzzJaegerBaggage(f *testing.F) {
	f.Add("uberctx-user", "alice", "uberctx-query", "a%3Db+c%2Cd")
	f.Add("UBERCTX-A", "%zz", "uberctx-", "x")
	f.Add("uberctx-a b", "1", "uberctx-a", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		ctx := JaegerBaggage{}.Extract(context.Background(), MapCarrier{k1: v1, k2: v2})
		b := BaggageFromContext(ctx)
		out := MapCarrier{}
		JaegerBaggage{}.Inject(ctx, out)
		again := BaggageFromContext(JaegerBaggage{}.Extract(context.Background(), out))
		if !reflect.DeepEqual(baggagePairs(again), baggagePairs(b)) {
			t.Fatalf("round trip: %q became %q via %v", baggagePairs(b), baggagePairs(again), out)
		}
		// What was extracted is valid W3C baggage too.
		if b.Len() > 0 {
			if _, err := ParseBaggage(b.String()); err != nil {
				t.Fatalf("baggage %q is not valid W3C baggage: %v", b.String(), err)
			}
		}
	})
}
