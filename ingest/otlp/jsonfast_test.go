package otlp

import (
	"bytes"
	"math/rand/v2"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// sameAsGeneralJSON checks that UnmarshalJSON gives what the general path gives: an equal request, or the same
// error. It reports whether the fast reader took the body itself.
func sameAsGeneralJSON(t *testing.T, body []byte) (fast bool) {
	t.Helper()
	fast = unmarshalJSONFast(body, &coltracepb.ExportTraceServiceRequest{})
	got, want := &coltracepb.ExportTraceServiceRequest{}, &coltracepb.ExportTraceServiceRequest{}
	gotErr, wantErr := UnmarshalJSON(body, got), unmarshalJSONGeneral(body, want)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("body %q:\nerror %v\nwant  %v", body, gotErr, wantErr)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("body %q:\ngot  %v\nwant %v", body, got, want)
	}
	return fast
}

// otlpJSONShapes are bodies around the fast reader's limits.
var otlpJSONShapes = []string{
	`{}`, `{"resourceSpans":[]}`, `{"resourceSpans":null}`, `[]`, ``, `{"resourceSpans":[{}]} x`,
	`{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[{}]}]}]}`,
	`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"s"}}],"droppedAttributesCount":1},` +
		`"schemaUrl":"u","scopeSpans":[{"scope":{"name":"n","version":"v","attributes":[{"key":"k"}],"droppedAttributesCount":"2"},` +
		`"schemaUrl":"w","spans":[{"traceId":"0102030405060708090A0b0c0d0e0f10","spanId":"0102030405060708","parentSpanId":"",` +
		`"traceState":"a=b","flags":257,"name":"op","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000000000001,` +
		`"attributes":[{"key":"i","value":{"intValue":"-5"}},{"key":"j","value":{"intValue":7}},{"key":"d","value":{"doubleValue":-1.5e-3}},` +
		`{"key":"b","value":{"boolValue":true}},{"key":"e","value":{}}],"droppedAttributesCount":3,"droppedEventsCount":4,"droppedLinksCount":5,` +
		`"events":[{"timeUnixNano":"5","name":"ev","attributes":[{"key":"x","value":{"stringValue":"y"}}],"droppedAttributesCount":1}],` +
		`"links":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060709","traceState":"c=d","flags":1,` +
		`"attributes":[],"droppedAttributesCount":2}],"status":{"code":"STATUS_CODE_ERROR","message":"bad \"quote\"\n"}}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_CLIENT","status":{"code":1}}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"NOT_A_KIND"}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc"}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":1e3}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"007"}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"flags":4294967296}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"stringValue":"a","intValue":1}}]}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"doubleValue":"NaN"}}]}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"doubleValue":1e400}}]}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"arrayValue":{"values":[{"intValue":1}]}}}]}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":null}]}]}]}]}`,
	`{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708"}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a","name":"b"}]}]}]}`,
	`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"\u00e9"}]}]}]}`,
	`{"resourceSpans":[{"instrumentationLibrarySpans":[{"spans":[{"name":"old"}]}]}]}`,
}

func TestUnmarshalJSONMatchesGeneral(t *testing.T) {
	seeds := [][]byte{readGolden(t, "request.json"), encodedJSON(t, 3)}
	for _, s := range otlpJSONShapes {
		seeds = append(seeds, []byte(s))
	}
	for _, b := range seeds {
		sameAsGeneralJSON(t, b)
	}
	if !sameAsGeneralJSON(t, encodedJSON(t, 50)) {
		t.Error("the fast reader left weft's own OTLP JSON (MarshalJSON) to the general path")
	}
	if !sameAsGeneralJSON(t, []byte(otlpJSONShapes[7])) {
		t.Error("the fast reader left a request of every field in OTLP's own spelling to the general path")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const chars = `"{}[],:\ 0123456789.eE+-tfnulabcdefABCDEF`
	fast := 0
	for i := 0; i < 3000; i++ {
		b := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for m := 1 + rng.IntN(3); m > 0 && len(b) > 0; m-- {
			at := rng.IntN(len(b))
			switch rng.IntN(5) {
			case 0:
				b[at] = chars[rng.IntN(len(chars))]
			case 1:
				b[at] = byte(rng.UintN(256))
			case 2:
				b = append(b[:at], append([]byte{chars[rng.IntN(len(chars))]}, b[at:]...)...)
			case 3:
				b = append(b[:at], b[at+1:]...)
			case 4:
				b = b[:at]
			}
		}
		if sameAsGeneralJSON(t, b) {
			fast++
		}
	}
	t.Logf("%d of 3000 corrupted bodies taken by the fast reader", fast)
}

// encodedJSON is a realistic request of n spans as MarshalJSON writes it.
func encodedJSON(t testing.TB, n int) []byte {
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalProto(realisticRequest(n), req); err != nil {
		t.Fatal(err)
	}
	js, err := MarshalJSON(Encode(fromProto(req.GetResourceSpans()).spans))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func FuzzUnmarshalJSONMatchesGeneral(f *testing.F) {
	f.Add(readGolden(f, "request.json"))
	f.Add(encodedJSON(f, 2))
	for _, s := range otlpJSONShapes {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsGeneralJSON(t, b) })
}
