package zipkin

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/weftrace/weft/model"
)

func tid(s string) model.TraceID {
	var t model.TraceID
	b, _ := hex.DecodeString(s)
	copy(t[16-len(b):], b)
	return t
}

func sid(s string) model.SpanID {
	var id model.SpanID
	hex.Decode(id[:], []byte(s))
	return id
}

func str(k, v string) model.Attr       { return model.Attr{Key: k, Value: model.String(v)} }
func num(k string, v int64) model.Attr { return model.Attr{Key: k, Value: model.Int(v)} }

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// diffSpans compares two span lists field by field and reports every difference.
func diffSpans(t *testing.T, got, want []*model.Span) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d spans, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := reflect.ValueOf(*got[i]), reflect.ValueOf(*want[i])
		for f := 0; f < w.NumField(); f++ {
			if !reflect.DeepEqual(g.Field(f).Interface(), w.Field(f).Interface()) {
				gv, wv := g.Field(f).Interface(), w.Field(f).Interface()
				if r, ok := gv.(*model.Resource); ok && r != nil {
					gv = *r
				}
				if r, ok := wv.(*model.Resource); ok && r != nil {
					wv = *r
				}
				t.Errorf("span %d (%s) %s:\n got  %+v\n want %+v", i, want[i].Name, w.Type().Field(f).Name, gv, wv)
			}
		}
	}
}

func wantV2() []*model.Span {
	matchmaker, taster := &model.Resource{Service: "matchmaker"}, &model.Resource{Service: "taster"}
	return []*model.Span{
		{
			TraceID: tid("5af7183fb1d4cf5f"), SpanID: sid("352bff9a74ca9ad2"), ParentID: sid("6b221d5bc9e6496c"),
			Name: "get /pairings/kölsch", Kind: model.KindClient, Start: 1556604172355737000, Duration: 1431000,
			StatusCode: model.StatusError, StatusMessage: "taster unavailable",
			Resource: matchmaker, SpanResource: "GET /pairings/kölsch", SpanType: "http",
			Attrs: []model.Attr{
				str("http.method", "GET"), str("http.path", "/pairings/kölsch"), str("http.status_code", "503"),
				str(AttrHostIPv4, "192.168.99.1"), num(AttrHostPort, 3306),
				str(AttrPeerService, "taster"), str(AttrPeerIPv4, "172.19.0.2"), num(AttrPeerPort, 9411),
			},
			Events: []model.Event{
				{Time: 1556604172355800000, Name: "wire send"},
				{Time: 1556604172357100000, Name: "wire receive ☕"},
			},
			Causality: model.Causality{Unit: 0xb2, StartSeq: 3, EndSeq: 5},
		},
		{
			TraceID: tid("5af7183fb1d4cf5f"), SpanID: sid("352bff9a74ca9ad2"), ParentID: sid("6b221d5bc9e6496c"),
			Name: "get /pairings/{beer}", Kind: model.KindServer, Start: 1556604172355900000, Duration: 1000000,
			Resource: taster, SpanResource: "GET /pairings/{beer}", SpanType: "web",
			Attrs: []model.Attr{
				str("http.method", "GET"), str("http.route", "/pairings/{beer}"),
				str(AttrHostIPv6, "2001:db8::1"), str(AttrPeerIPv4, "192.168.99.1"), num(AttrPeerPort, 54321),
				{Key: AttrDebug, Value: model.Bool(true)},
			},
			Flags: model.FlagShared,
		},
		{
			TraceID: tid("463ac35c9f6413ad48485a3953bb6124"), SpanID: sid("a2fb4a1d1a96d312"),
			Name: "ビール", Start: 1556604172000000000, Duration: 1000, Resource: matchmaker,
			Attrs: []model.Attr{str(AttrHostIPv4, "192.168.99.1"), num(AttrHostPort, 3306)},
		},
	}
}

func TestGoldenV2JSON(t *testing.T) {
	spans, err := Decode(readGolden(t, "v2.json"), JSONV2)
	if err != nil {
		t.Fatal(err)
	}
	diffSpans(t, spans, wantV2())
	if spans[0].Resource != spans[2].Resource {
		t.Error("spans of one service do not share one *model.Resource")
	}
}

func TestGoldenV1JSON(t *testing.T) {
	matchmaker, taster := &model.Resource{Service: "matchmaker"}, &model.Resource{Service: "taster"}
	tags := []model.Attr{str("http.path", "/pairings/kölsch"), str("retries", "2")}
	with := func(extra ...model.Attr) []model.Attr { return append(append([]model.Attr(nil), tags...), extra...) }
	want := []*model.Span{
		{
			TraceID: tid("5af7183fb1d4cf5f"), SpanID: sid("352bff9a74ca9ad2"), ParentID: sid("6b221d5bc9e6496c"),
			Name: "get", Kind: model.KindClient, Start: 1556604172355737000, Duration: 1431000,
			Resource: matchmaker, SpanResource: "/pairings/kölsch", SpanType: "http",
			Attrs: with(str(AttrHostIPv4, "192.168.99.1"), str(AttrPeerService, "taster"), str(AttrPeerIPv4, "172.19.0.2"), num(AttrPeerPort, 9411)),
		},
		{
			TraceID: tid("5af7183fb1d4cf5f"), SpanID: sid("352bff9a74ca9ad2"), ParentID: sid("6b221d5bc9e6496c"),
			Name: "get", Kind: model.KindServer, Start: 1556604172355900000, Duration: 1000000,
			Resource: taster, SpanResource: "/pairings/kölsch", SpanType: "web", Flags: model.FlagShared,
			Attrs:  with(str(AttrHostIPv4, "172.19.0.2"), num(AttrHostPort, 9411), str(AttrPeerService, "matchmaker"), str(AttrPeerIPv4, "192.168.99.1")),
			Events: []model.Event{{Time: 1556604172356000000, Name: "brewing ☕"}},
		},
		{
			TraceID: tid("5af7183fb1d4cf5f"), SpanID: sid("1111111111111111"), ParentID: sid("352bff9a74ca9ad2"),
			Name: "select donuts", Start: 1556604172356100000, Duration: 500000, Resource: taster,
			Attrs: []model.Attr{str("lc", "sql"), str(AttrPeerService, "postgres"), str(AttrPeerIPv4, "10.0.0.5"), num(AttrPeerPort, 5432)},
		},
	}
	spans, err := Decode(readGolden(t, "v1.json"), JSONV1)
	if err != nil {
		t.Fatal(err)
	}
	diffSpans(t, spans, want)
}

// protoV2 is the golden v2.json's first two spans written field by field from zipkin.proto's numbering, as
// Brave's and zipkin-go's proto3 encoders write them.
func protoV2() []byte {
	endpoint := func(svc string, ip []byte, port uint64) []byte {
		var b []byte
		if svc != "" {
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendString(b, svc)
		}
		if len(ip) == 4 {
			b = protowire.AppendTag(b, 2, protowire.BytesType)
		} else {
			b = protowire.AppendTag(b, 3, protowire.BytesType)
		}
		b = protowire.AppendBytes(b, ip)
		if port != 0 {
			b = protowire.AppendTag(b, 4, protowire.VarintType)
			b = protowire.AppendVarint(b, port)
		}
		return b
	}
	hexb := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	bytesField := func(b []byte, num protowire.Number, v []byte) []byte {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendBytes(b, v)
	}
	tag := func(k, v string) []byte {
		var e []byte
		e = bytesField(e, 1, []byte(k))
		return bytesField(e, 2, []byte(v))
	}
	ann := func(ts uint64, v string) []byte {
		e := protowire.AppendTag(nil, 1, protowire.Fixed64Type)
		e = protowire.AppendFixed64(e, ts)
		return bytesField(e, 2, []byte(v))
	}
	var s1 []byte
	s1 = bytesField(s1, 1, hexb("5af7183fb1d4cf5f"))
	s1 = bytesField(s1, 2, hexb("6b221d5bc9e6496c"))
	s1 = bytesField(s1, 3, hexb("352bff9a74ca9ad2"))
	s1 = protowire.AppendTag(s1, 4, protowire.VarintType)
	s1 = protowire.AppendVarint(s1, 1) // CLIENT
	s1 = bytesField(s1, 5, []byte("get /pairings/kölsch"))
	s1 = protowire.AppendTag(s1, 6, protowire.Fixed64Type)
	s1 = protowire.AppendFixed64(s1, 1556604172355737)
	s1 = protowire.AppendTag(s1, 7, protowire.VarintType)
	s1 = protowire.AppendVarint(s1, 1431)
	s1 = bytesField(s1, 8, endpoint("matchmaker", []byte{192, 168, 99, 1}, 3306))
	s1 = bytesField(s1, 9, endpoint("taster", []byte{172, 19, 0, 2}, 9411))
	s1 = bytesField(s1, 10, ann(1556604172355800, "wire send"))
	s1 = bytesField(s1, 10, ann(1556604172357100, "wire receive ☕"))
	for _, kv := range [][2]string{{"weft.unit", "00000000000000b2"}, {"http.method", "GET"}, {"http.path", "/pairings/kölsch"},
		{"http.status_code", "503"}, {"error", "taster unavailable"}, {"weft.seq.start", "3"}, {"weft.seq.end", "5"}} {
		s1 = bytesField(s1, 11, tag(kv[0], kv[1]))
	}
	s1 = bytesField(s1, 99, []byte("an unknown field, skipped"))

	var s2 []byte
	s2 = bytesField(s2, 1, hexb("5af7183fb1d4cf5f"))
	s2 = bytesField(s2, 2, hexb("6b221d5bc9e6496c"))
	s2 = bytesField(s2, 3, hexb("352bff9a74ca9ad2"))
	s2 = protowire.AppendTag(s2, 4, protowire.VarintType)
	s2 = protowire.AppendVarint(s2, 2) // SERVER
	s2 = bytesField(s2, 5, []byte("get /pairings/{beer}"))
	s2 = protowire.AppendTag(s2, 6, protowire.Fixed64Type)
	s2 = protowire.AppendFixed64(s2, 1556604172355900)
	s2 = protowire.AppendTag(s2, 7, protowire.VarintType)
	s2 = protowire.AppendVarint(s2, 1000)
	s2 = bytesField(s2, 8, endpoint("taster", hexb("20010db8000000000000000000000001"), 0))
	s2 = bytesField(s2, 9, endpoint("", []byte{192, 168, 99, 1}, 54321))
	s2 = bytesField(s2, 11, tag("http.route", "/pairings/{beer}"))
	s2 = bytesField(s2, 11, tag("http.method", "GET"))
	s2 = protowire.AppendTag(s2, 12, protowire.VarintType)
	s2 = protowire.AppendVarint(s2, 1)
	s2 = protowire.AppendTag(s2, 13, protowire.VarintType)
	s2 = protowire.AppendVarint(s2, 1)

	var list []byte
	list = bytesField(list, 1, s1)
	list = bytesField(list, 1, s2)
	return list
}

func TestGoldenProto3(t *testing.T) {
	old, _ := os.ReadFile(filepath.Join("testdata", "v2.pb"))
	if b := protoV2(); !bytes.Equal(b, old) {
		if os.Getenv("UPDATE_GOLDEN") != "" {
			os.WriteFile(filepath.Join("testdata", "v2.pb"), b, 0o644)
		} else {
			t.Fatal("testdata/v2.pb differs from protoV2(); run with UPDATE_GOLDEN=1 to rewrite it")
		}
	}
	spans, err := Decode(readGolden(t, "v2.pb"), Proto3)
	if err != nil {
		t.Fatal(err)
	}
	diffSpans(t, spans, wantV2()[:2])
}

// TestEncodeRoundTrip: model → Zipkin v2 JSON → model keeps what Zipkin can carry.
func TestEncodeRoundTrip(t *testing.T) {
	want := wantV2()
	js, err := EncodeJSON(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"traceId":"5af7183fb1d4cf5f"`, `"traceId":"463ac35c9f6413ad48485a3953bb6124"`, `"kind":"CLIENT"`,
		`"error":"taster unavailable"`, `"weft.unit":"00000000000000b2"`, `"shared":true`, `"debug":true`, `"remoteEndpoint":{"serviceName":"taster","ipv4":"172.19.0.2","port":9411}`} {
		if !strings.Contains(string(js), s) {
			t.Errorf("Zipkin JSON lacks %s:\n%s", s, js)
		}
	}
	got, err := Decode(js, JSONV2)
	if err != nil {
		t.Fatal(err)
	}
	diffSpans(t, got, want)
}

func TestBadInput(t *testing.T) {
	good := `{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2"}`
	tests := []struct {
		name   string
		format Format
		body   string
		want   string
	}{
		{"not json", JSONV2, `[{`, "not a JSON list of Zipkin v2 spans"},
		{"object not list", JSONV2, `{}`, "not a JSON list"},
		{"name is a number", JSONV2, `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":1}]`, "name"},
		{"bad hex trace id", JSONV2, `[` + good + `,{"traceId":"xyz","id":"352bff9a74ca9ad2"}]`, `span 1: traceId "xyz" is not 16 or 32 hex digits`},
		{"zero trace id", JSONV2, `[{"traceId":"0000000000000000","id":"352bff9a74ca9ad2"}]`, "traceId"},
		{"missing id", JSONV2, `[{"traceId":"5af7183fb1d4cf5f"}]`, `span 0: id "" is not 16 hex digits`},
		{"long id", JSONV2, `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2aa"}]`, "id"},
		{"bad kind", JSONV2, `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","kind":"BOSS"}]`, `kind "BOSS"`},
		{"negative timestamp", JSONV2, `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","timestamp":-5}]`, "timestamp -5 is negative"},
		{"bad ipv4", JSONV2, `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","localEndpoint":{"ipv4":"::1"}}]`, "localEndpoint.ipv4"},
		{"bad port", JSONV2, `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","remoteEndpoint":{"port":70000}}]`, "remoteEndpoint.port"},
		{"tag is an object", JSONV2, `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","tags":{"a":{}}}]`, `tags["a"] is not a string`},
		{"v1 binary annotation object", JSONV1, `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","binaryAnnotations":[{"key":"k","value":[]}]}]`, "binaryAnnotations[0]"},
		{"v1 bad parent", JSONV1, `[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","parentId":"q"}]`, "parentId"},
		{"proto truncated", Proto3, string(protoV2()[:40]), "span 0"},
		{"proto bad wire type", Proto3, string([]byte{0x0a, 0x02, 0x28, 0x01}), "field 5"},
		{"proto short id", Proto3, string([]byte{0x0a, 0x0e, 0x0a, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x1a, 0x02, 1, 2}), "id must be 8 bytes"},
		{"proto bad utf8", Proto3, string([]byte{0x0a, 0x04, 0x2a, 0x02, 0xff, 0xfe}), "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans, err := Decode([]byte(tt.body), tt.format)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if spans != nil {
				t.Error("spans returned with an error")
			}
		})
	}
}

func fuzzDecode(f *testing.F, format Format, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := Decode(b, format)
		if err != nil {
			return
		}
		for _, s := range spans {
			if s.TraceID.IsZero() || s.SpanID.IsZero() || s.Duration < 0 || s.Resource == nil {
				t.Fatalf("invalid span accepted: %+v", s)
			}
		}
		if _, err := EncodeJSON(spans); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeJSONV2(f *testing.F) {
	fuzzDecode(f, JSONV2, readGolden(f, "v2.json"), []byte(`[{"traceId":"1","id":"1","timestamp":1.5e3}]`))
}

func FuzzDecodeJSONV1(f *testing.F) {
	fuzzDecode(f, JSONV1, readGolden(f, "v1.json"))
}

func FuzzDecodeProto3(f *testing.F) {
	fuzzDecode(f, Proto3, readGolden(f, "v2.pb"))
}

var sink []*model.Span

// BenchmarkDecodeJSONV2 decodes a Zipkin v2 JSON batch of 500 spans with 10 tags each, as zipkin-go sends them.
func BenchmarkDecodeJSONV2(b *testing.B) {
	const n = 500
	spans := make([]*model.Span, n)
	res := &model.Resource{Service: "matchmaker"}
	for i := range spans {
		spans[i] = &model.Span{
			TraceID: model.TraceID{15: byte(i/20 + 1)}, SpanID: model.SpanID{1, byte(i), 3, 4, 5, 6, 7, 8},
			ParentID: model.SpanID{2, byte(i), 3, 4, 5, 6, 7, 8}, Name: "get /pairings/{beer}", Kind: model.KindServer,
			Start: 1700000000000000000 + int64(i)*1000, Duration: 1234000, Resource: res,
			Attrs: []model.Attr{
				str("http.method", "GET"), str("http.route", "/pairings/{beer}"), str("http.path", "/pairings/ipa-"+itoa(i%37)),
				str("http.status_code", "200"), str("server.address", "matchmaker.local"), str("server.port", "8080"),
				str("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"), str("network.protocol.version", "1.1"),
				str("client.address", "10.0."+itoa(i%7)+"."+itoa(i%200)), str("pairing.score", "0.87"),
			},
		}
	}
	body, err := EncodeJSON(spans)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for i := 0; i < b.N; i++ {
		out, err := Decode(body, JSONV2)
		if err != nil {
			b.Fatal(err)
		}
		sink = out
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "spans/s")
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano(); cpu > 0 {
		b.ReportMetric(float64(n*b.N)/(float64(cpu)/1e9), "spans/cpu-s")
	}
}

// TestDecodersCopy: the handler releases the body's buffer once decoded, so nothing decoded may alias it.
func TestDecodersCopy(t *testing.T) {
	for _, tt := range []struct {
		file   string
		format Format
		want   []*model.Span
	}{{"v2.json", JSONV2, wantV2()}, {"v2.pb", Proto3, wantV2()[:2]}} {
		body := readGolden(t, tt.file)
		spans, err := Decode(body, tt.format)
		if err != nil {
			t.Fatal(err)
		}
		for i := range body {
			body[i] = 0xff
		}
		diffSpans(t, spans, tt.want)
	}
}

// TestRepeatedTagLastWins: a key repeated in a proto3 map or in v1 binary annotations keeps its last value, as
// a map would.
func TestRepeatedTagLastWins(t *testing.T) {
	entry := func(k, v string) []byte {
		e := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte(k))
		return protowire.AppendBytes(protowire.AppendTag(e, 2, protowire.BytesType), []byte(v))
	}
	var span []byte
	span = protowire.AppendBytes(protowire.AppendTag(span, 1, protowire.BytesType), []byte{0, 0, 0, 0, 0, 0, 0, 1})
	span = protowire.AppendBytes(protowire.AppendTag(span, 3, protowire.BytesType), []byte{0, 0, 0, 0, 0, 0, 0, 2})
	for _, kv := range [][2]string{{"b", "1"}, {"a", "x"}, {"b", "2"}, {"a", "y"}, {"c", "z"}} {
		span = protowire.AppendBytes(protowire.AppendTag(span, 11, protowire.BytesType), entry(kv[0], kv[1]))
	}
	list := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), span)
	v1 := `[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"b","value":"1"},{"key":"a","value":"x"},{"key":"b","value":"2"},{"key":"a","value":"y"},{"key":"c","value":"z"}]}]`
	want := []model.Attr{str("a", "y"), str("b", "2"), str("c", "z")}
	for name, got := range map[string]func() ([]*model.Span, error){
		"proto3": func() ([]*model.Span, error) { return Decode(list, Proto3) },
		"v1":     func() ([]*model.Span, error) { return Decode([]byte(v1), JSONV1) },
	} {
		spans, err := got()
		if err != nil {
			t.Fatal(name, err)
		}
		if !reflect.DeepEqual(spans[0].Attrs, want) {
			t.Errorf("%s: tags %v, want %v", name, spans[0].Attrs, want)
		}
	}
}
