package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/weftrace/weft/analyze"
	"github.com/weftrace/weft/model"
)

// TestAppendPath checks that the hand-written critical-path answer is the bytes encoding/json writes for
// pathJSON, on weft and foreign traces, an empty one, and names that JSON must escape.
func TestAppendPath(t *testing.T) {
	odd := newBuilder(7)
	r := odd.span(nil, "front<&>", "GET /a?b=\"c\"\\d", model.KindServer, 0, 1000)
	c := odd.span(r, "bäck\u2028", "tab\there\x01 é 日本", model.KindClient, 10, 900)
	odd.span(c, "db\xff", "\u00e9", model.KindServer, 20, 800)
	odd.span(c, "only<", "only>", model.KindInternal, 810, 850)

	// a root calling 3000 children in sequence, each with random grandchildren: a path through every child
	big := newBuilder(8)
	rng := rand.New(rand.NewPCG(1, 2))
	root := big.span(nil, "front", "GET /", model.KindServer, 0, 1_000_000)
	for i := int64(0); i < 3000; i++ {
		c := big.span(root, []string{"a", "b", "c"}[rng.IntN(3)], "op", model.KindInternal, 10+i*300, 10+i*300+250)
		for k := rng.IntN(3); k > 0; k-- {
			start := 10 + i*300 + rng.Int64N(200)
			big.span(c, "d", "get", model.KindClient, start, start+1+rng.Int64N(50))
		}
	}
	// sub-microsecond and huge durations exercise the float formats
	big.spans[1].Duration = 1
	big.spans[2].Duration = 1 << 62

	for _, tc := range []struct {
		name  string
		spans []*model.Span
	}{
		{"weft", pairBeer(1, 0).spans},
		{"weft skewed", pairBeer(2, 3000).spans},
		{"escapes", odd.spans},
		{"foreign, long path", big.spans},
		{"empty", nil},
	} {
		for _, choose := range []analyze.Choice{analyze.ChooseZero, analyze.ChooseMidpoint} {
			p := analyze.CriticalPath(tc.spans, choose)
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(pathJSON(p)); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := writePath(&buf, p); err != nil {
				t.Fatal(err)
			}
			if tc.name == "foreign, long path" && buf.Len() < 2<<16 {
				t.Errorf("%d bytes: too few to be written in several chunks", buf.Len())
			}
			if got := buf.Bytes(); !bytes.Equal(got, want.Bytes()) {
				i := 0
				for i < min(len(got), want.Len()) && got[i] == want.Bytes()[i] {
					i++
				}
				t.Errorf("%s/%s: differs from encoding/json at byte %d:\n got %.200q\nwant %.200q", tc.name, choose, i, got[i:], want.Bytes()[i:])
			}
		}
	}
}

// TestAppendMicros checks the shortcut for durations against the float formatting it replaces.
func TestAppendMicros(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	values := []int64{0, 1, -1, 999, 1000, 1001, 1500, -1500, 10, 100, 120, 1e15 - 1, -(1e15 - 1), 1e15, -1e15, 1<<63 - 1, -1 << 63, 123456789012345}
	for range 100000 {
		v := rng.Int64N(1 << uint(rng.IntN(62)+1))
		if rng.IntN(4) == 0 {
			v = -v
		}
		values = append(values, v)
	}
	for k, v := range values {
		want := appendFloat(nil, usDur(v))
		if got := appendMicros(nil, v); string(got) != string(want) {
			t.Fatalf("%d ns: %s, want %s", v, got, want)
		}
		if k%50 == 0 {
			if j, _ := json.Marshal(usDur(v)); string(j) != string(want) {
				t.Fatalf("%d ns: appendFloat %s, encoding/json %s", v, want, j)
			}
		}
	}
}
