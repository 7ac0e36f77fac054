package jaeger

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/internal/receivertest"
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

// FuzzHandler sends any body to the Jaeger receiver as binary or compact thrift (pick's bit 0), to a consumer that
// lets go of the spans or not (bit 1): the answer is 202 with whole spans handed over, exactly those added to the
// batch, or 400 or 413 with nothing handed over.
func FuzzHandler(f *testing.F) {
	f.Add(uint8(0), encode(f, goldenBatch(), false))
	f.Add(uint8(1), encode(f, goldenBatch(), true))
	f.Add(uint8(2), encode(f, goldenBatch(), false))
	f.Add(uint8(3), encode(f, goldenBatch(), true))
	for _, c := range badInputs(f) {
		f.Add(uint8(0), c.body)
	}
	f.Fuzz(func(t *testing.T, pick uint8, body []byte) {
		c := &receivertest.Consumer{Release: pick&2 != 0}
		h := NewHandler(c, ingest.Options{MaxRequestBytes: 1 << 20})
		ct := "application/vnd.apache.thrift.binary"
		if pick&1 != 0 {
			ct = "application/vnd.apache.thrift.compact"
		}
		r := httptest.NewRequest("POST", "/api/traces", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		receivertest.Serve(t, h, c, r, 202)
	})
}
