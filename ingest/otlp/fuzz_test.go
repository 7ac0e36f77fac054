package otlp

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/weftrace/weft/ingest"
	"github.com/weftrace/weft/ingest/internal/receivertest"
)

// gzipped is b compressed with gzip.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// FuzzHTTPHandler sends any body to the OTLP/HTTP receiver, as protobuf or JSON (pick's bit 0), gzipped or not
// (bit 2), to a consumer that lets go of the spans or not (bit 1): the answer is 200 with whole spans handed
// over, exactly those added to the batch, or 400 or 413 with nothing handed over.
func FuzzHTTPHandler(f *testing.F) {
	for pick := range uint8(8) {
		name := "request.pb"
		if pick&1 == 1 {
			name = "request.json"
		}
		f.Add(pick, readGolden(f, name))
	}
	f.Add(uint8(0), realisticRequest(3))
	f.Add(uint8(1), []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"01"}]}]}]}`))
	f.Fuzz(func(t *testing.T, pick uint8, body []byte) {
		c := &receivertest.Consumer{Release: pick&2 != 0}
		h := NewHTTPHandler(c, ingest.Options{MaxRequestBytes: 1 << 20})
		sent := body
		if pick&4 != 0 {
			sent = gzipped(body)
		}
		r := httptest.NewRequest("POST", TracesPath, bytes.NewReader(sent))
		r.Header.Set("Content-Type", contentProtobuf)
		if pick&1 == 1 {
			r.Header.Set("Content-Type", contentJSON)
		}
		if pick&4 != 0 {
			r.Header.Set("Content-Encoding", "gzip")
		}
		receivertest.Serve(t, h, c, r, 200)
	})
}
