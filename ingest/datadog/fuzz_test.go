package datadog

import (
	"errors"
	"testing"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/model"
)

// checkDecoded holds for whatever a decoder makes of any input: a *BadInputError and no spans, or spans that are
// whole (IDs set, a Resource, no negative duration).
func checkDecoded(t *testing.T, spans []*model.Span, err error) {
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
		if s.TraceID.IsZero() || s.SpanID.IsZero() || s.Resource == nil || s.Duration < 0 || s.Start < 0 {
			t.Fatalf("span %d accepted but not whole: %+v", i, s)
		}
	}
}

func seeds(f *testing.F, path string, extra ...[]byte) {
	for _, c := range badInputs(f) {
		if c.path == path && c.contentType != "application/json" {
			f.Add(c.body)
		}
	}
	for _, b := range extra {
		f.Add(b)
	}
}

func FuzzDecodeV04(f *testing.F) {
	seeds(f, "/v0.4/traces", encodeV04(f, goldenTraces()), ddTraceGoPayload(f))
	f.Fuzz(func(t *testing.T, body []byte) {
		spans, err := decodeV04(body, header{lang: "go"})
		checkDecoded(t, spans, err)
	})
}

func FuzzDecodeV05(f *testing.F) {
	seeds(f, "/v0.5/traces", encodeV05(f, goldenTraces()), encodeV05(f, metaJSONTraces()))
	f.Fuzz(func(t *testing.T, body []byte) {
		spans, err := decodeV05(body, header{})
		checkDecoded(t, spans, err)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add(encodeJSON(f, goldenTraces()))
	for _, c := range badInputs(f) {
		if c.contentType == "application/json" {
			f.Add(c.body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		spans, err := decodeJSON(body, header{})
		checkDecoded(t, spans, err)
	})
}
