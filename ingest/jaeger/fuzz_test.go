package jaeger

import (
	"errors"
	"strings"
	"testing"

	"github.com/weftrace/weft/ingest"
)

func fuzzDecode(f *testing.F, compact bool) {
	f.Add(encode(f, goldenBatch(), compact))
	for _, c := range badInputs(f) {
		if strings.Contains(c.path, "compact") == compact {
			f.Add(c.body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		spans, err := decodeBatch(body, compact)
		if err != nil {
			var bad *ingest.BadInputError
			if !errors.As(err, &bad) {
				t.Fatalf("error %v (%T) is not a *ingest.BadInputError", err, err)
			}
			if spans != nil {
				t.Fatalf("%d spans returned with error %v", len(spans), err)
			}
			return
		}
		for i, s := range spans {
			if s.TraceID.IsZero() || s.SpanID.IsZero() || s.Resource == nil || s.Resource.Service == "" ||
				s.Duration < 0 || s.Start < 0 {
				t.Fatalf("span %d accepted but not whole: %+v", i, s)
			}
		}
	})
}

func FuzzDecodeBinary(f *testing.F)  { fuzzDecode(f, false) }
func FuzzDecodeCompact(f *testing.F) { fuzzDecode(f, true) }
