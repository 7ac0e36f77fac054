package zipkin

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// decodeJSONV2Slow is decodeJSONV2 with encoding/json alone: the reference decodeJSONV2Fast is held to.
func decodeJSONV2Slow(body []byte) ([]zspan, error) {
	var in []jsonSpanV2
	if err := decodeList(body, &in, "Zipkin v2 spans"); err != nil {
		return nil, err
	}
	return convertV2(in)
}

// sameAsSlow checks that decodeJSONV2 gives what encoding/json gives: the same spans, or an error when it errs.
// It reports whether the fast reader took the body itself.
func sameAsSlow(t *testing.T, body []byte) (fast bool) {
	t.Helper()
	_, fast = decodeJSONV2Fast(body)
	got, gotErr := decodeJSONV2(body)
	want, wantErr := decodeJSONV2Slow(body)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("body %q:\nerror %v\nwant  %v", body, gotErr, wantErr)
	}
	for _, zs := range [][]zspan{got, want} { // an empty and a nil list of annotations are the same span
		for i := range zs {
			if len(zs[i].annotations) == 0 {
				zs[i].annotations = nil
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %q:\ngot  %+v\nwant %+v", body, got, want)
	}
	return fast
}

// jsonV2Shapes are bodies around the fast reader's limits: what it takes and what it leaves to encoding/json.
var jsonV2Shapes = []string{
	`[]`, ` [ ] `, `null`, ``, `[`, `[]]`, `[] x`, `{}`, `[{}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","name":"a","timestamp":1,"duration":2}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","tags":{"a":"1","b":2,"c":true,"d":false,"a":"3"}}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","tags":{"a":"1","a":null}}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","tags":{"a":{}}}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","tags":{"q\"x":"say \"hi\"\n\t\\ \/"}}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","tags":{"u":"\u00e9\ud83d\ude00 \ud800"}}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","name":"a","Name":"b"}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","name":"a","name":"b"}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","timestamp":"12"}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","timestamp":-0.5e+3}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","timestamp":01}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","timestamp":1.}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","duration":null,"debug":null}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","debug":"true"}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","kind":"LOCAL"}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","localEndpoint":{"serviceName":"s","ipv4":"10.0.0.1","port":80},` +
		`"remoteEndpoint":{"ipv6":"::1","port":"80"},"annotations":[{"timestamp":5,"value":"v"},{"value":"w","timestamp":6}]}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","annotations":[{"timestamp":5,"value":"v","endpoint":{}}]}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","annotations":[]},{"traceId":"0000000000000003","id":"0000000000000004"}]`,
	`[{"traceId":"0000000000000001","id":"0000000000000002","name":"bad \xff utf8"}]`,
	"[{\"traceId\":\"0000000000000001\",\"id\":\"0000000000000002\",\"name\":\"ctl \x01\"}]",
	`[{"traceId":"0000000000000001","id":"0000000000000002","extra":[1,2,{"x":null}]}]`,
	`[{"traceId":"000000000000000g","id":"0000000000000002"}]`,
}

func TestDecodeJSONV2MatchesEncodingJSON(t *testing.T) {
	seeds := [][]byte{readGolden(t, "v2.json")}
	for _, s := range jsonV2Shapes {
		seeds = append(seeds, []byte(s))
	}
	for _, b := range seeds {
		sameAsSlow(t, b)
	}
	if !sameAsSlow(t, readGolden(t, "v2.json")) {
		t.Error("the fast reader left testdata/v2.json, a body as Zipkin clients write it, to encoding/json")
	}
	// Fixed-seed corruptions, each decoded both ways.
	rng := rand.New(rand.NewPCG(3, 4))
	fast := 0
	for i := 0; i < 4000; i++ {
		b := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for m := 1 + rng.IntN(3); m > 0 && len(b) > 0; m-- {
			at := rng.IntN(len(b))
			switch rng.IntN(5) {
			case 0:
				b[at] = jsonBytes[rng.IntN(len(jsonBytes))]
			case 1:
				b[at] = byte(rng.UintN(256))
			case 2:
				b = append(b[:at], append([]byte{jsonBytes[rng.IntN(len(jsonBytes))]}, b[at:]...)...)
			case 3:
				b = append(b[:at], b[at+1:]...)
			case 4:
				b = b[:at]
			}
		}
		if sameAsSlow(t, b) {
			fast++
		}
	}
	t.Logf("%d of 4000 corrupted bodies taken by the fast reader", fast)
}

// jsonBytes are what the corruptions above write: JSON's own characters, more often than random bytes.
const jsonBytes = `"{}[],:\ 0123456789.eE+-tfnul`

func FuzzDecodeJSONV2MatchesEncodingJSON(f *testing.F) {
	f.Add(readGolden(f, "v2.json"))
	for _, s := range jsonV2Shapes {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsSlow(t, b) })
}
