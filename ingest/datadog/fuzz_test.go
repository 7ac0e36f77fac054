package datadog

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/internal/receivertest"
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

// FuzzHandler sends any body to the trace endpoints, v0.4 or v0.5 msgpack or v0.3 JSON (pick % 3), to a consumer
// that lets go of the spans or not (bit 2): the answer is 200 with whole spans handed over, exactly those added
// to the batch, or 400 or 413 with nothing handed over.
func FuzzHandler(f *testing.F) {
	f.Add(uint8(0), encodeV04(f, goldenTraces()))
	f.Add(uint8(1), encodeV05(f, goldenTraces()))
	f.Add(uint8(2), encodeJSON(f, goldenTraces()))
	f.Add(uint8(4), ddTraceGoPayload(f))
	f.Add(uint8(5), encodeV05(f, metaJSONTraces()))
	f.Fuzz(func(t *testing.T, pick uint8, body []byte) {
		c := &receivertest.Consumer{Release: pick&4 != 0}
		h := NewHandler(c, ingest.Options{MaxRequestBytes: 1 << 20})
		path, ct := "/v0.4/traces", "application/msgpack"
		switch pick % 3 {
		case 1:
			path = "/v0.5/traces"
		case 2:
			path, ct = "/v0.3/traces", "application/json"
		}
		r := httptest.NewRequest("PUT", path, bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Datadog-Meta-Lang", "go")
		receivertest.Serve(t, h, c, r, 200)
	})
}
