package zipkin

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/internal/receivertest"
)

// FuzzHandler sends any body to the Zipkin receiver as v2 JSON, v1 JSON or v2 protobuf (pick % 3), to a consumer
// that lets go of the spans or not (bit 2): the answer is 202 with whole spans handed over, or 400 or 413 with
// nothing handed over.
func FuzzHandler(f *testing.F) {
	f.Add(uint8(0), readGolden(f, "v2.json"))
	f.Add(uint8(1), readGolden(f, "v1.json"))
	f.Add(uint8(2), readGolden(f, "v2.pb"))
	f.Add(uint8(4), []byte(`[{"traceId":"1","id":"1","timestamp":1.5e3}]`))
	f.Fuzz(func(t *testing.T, pick uint8, body []byte) {
		c := &receivertest.Consumer{Release: pick&4 != 0}
		h := NewHandler(c, ingest.Options{MaxRequestBytes: 1 << 20})
		path, ct := SpansPathV2, "application/json"
		switch pick % 3 {
		case 1:
			path = SpansPathV1
		case 2:
			ct = "application/x-protobuf"
		}
		r := httptest.NewRequest("POST", path, bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		receivertest.Serve(t, h, c, r, 202)
	})
}
