package embedded

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/weftrace/weft/model"
	"github.com/weftrace/weft/store/embedded/spangen"
	"github.com/weftrace/weft/wal"
)

// TestTermsInOrder writes blocks whose attribute keys are prefixes of one another, or sort differently with their
// NUL separator than alone, with values that are numbers in several spellings, and checks that each block's terms
// come in strictly ascending order (lookups search them in two steps: chunk, then term) and that every term
// written is found. writeTerms sorts most terms by a rank of their key (termGroups); a key holding a NUL makes it
// sort the texts as they are.
func TestTermsInOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{"prefixes", []string{"a", "a.b", "a b", "ab", "a-", "", "b", "http.status_code", "http.status"}},
		{"nul", []string{"a", "a\x00b", "a\x00", "ab", "a.b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := spangen.New(11, time.Now().UnixNano())
			spans := g.Spans(3000)
			values := []model.Value{model.String("1"), model.String("01"), model.String("1.0"), model.Int(1),
				model.Int(-7), model.String("-7"), model.String(""), model.String("x"), model.String("1e3"),
				model.Float(2.5), model.Bool(true), model.String("abcdefgh1"), model.String("abcdefgh0")}
			for i, s := range spans {
				k := tc.keys[i%len(tc.keys)]
				s.Attrs = append(s.Attrs, model.Attr{Key: k, Value: values[i%len(values)]},
					model.Attr{Key: k + "x", Value: values[(i/3)%len(values)]})
			}
			h := newHead()
			for i := 0; i < len(spans); i += 500 {
				batch := spans[i:min(i+500, len(spans))]
				h.write(batch, wal.Encode(batch))
			}
			dir := t.TempDir()
			paths := []string{filepath.Join(dir, "1.blk"), filepath.Join(dir, "2.blk")}
			bs, err := writeHeadBlocks(paths, h, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bs {
				defer b.release()
				var prev []byte
				var terms []string
				for i := range b.meta.Chunks {
					raw, err := b.chunk(i)
					if err != nil {
						t.Fatal(err)
					}
					err = scanChunk(raw, func(term []byte, _ encodedPostings) bool {
						if prev != nil && bytes.Compare(prev, term) >= 0 {
							t.Errorf("term %q after %q", term, prev)
						}
						prev = append(prev[:0], term...)
						terms = append(terms, string(term))
						return true
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				if len(terms) < 50 {
					t.Fatalf("%d terms: the test does not exercise the sort", len(terms))
				}
				c := newPageCache(1 << 20)
				for _, term := range terms {
					if _, ok, err := b.lookup(c, term); err != nil || !ok {
						t.Fatalf("term %q not found (%v)", term, err)
					}
				}
			}
		})
	}
}
