package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weftrace/weft/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func fixture() []*trace.SpanData {
	res := &trace.Resource{Service: "matchmaker"}
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	return []*trace.SpanData{
		{
			TraceID: tid, SpanID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, Name: "GET /pairings/{beer}",
			Kind: trace.KindServer, Start: 1_700_000_000_000_000_000, End: 1_700_000_000_250_000_000, Resource: res,
			Scope: "weft/http", StatusCode: trace.StatusError, StatusMessage: "no pairing", SpanResource: "GET /pairings/{beer}",
			SpanType: "web", Flags: trace.FlagSampled,
			Attrs: []trace.Attr{trace.String("http.route", "/pairings/{beer}"), trace.Int64("http.response.status_code", 500),
				trace.Float64("nan", math.NaN()), trace.Bools("b", []bool{true})},
			Events: []trace.Event{
				{Time: 1_700_000_000_100_000_000, Name: trace.EventFork, Unit: 0xa596dd19732a1e13, Seq: 2},
				{Time: 1_700_000_000_200_000_000, Name: trace.EventJoin, Unit: 0xa596dd19732a1e13, Seq: 5,
					Cause: trace.EventRef{EventID: trace.EventID{Unit: 0x3d3899d57e98f17f, Seq: 2}}},
			},
			Links: []trace.Link{{SpanContext: trace.SpanContext{TraceID: tid, SpanID: trace.SpanID{9, 9, 9, 9, 9, 9, 9, 9}}}},
			Unit:  0xa596dd19732a1e13, StartSeq: 1, EndSeq: 6, EndUnit: 0x3d3899d57e98f17f,
			StartCause: trace.EventRef{EventID: trace.EventID{Unit: 0x9c1f0e22aa03b7d4, Seq: 5}},
		},
		{TraceID: tid, SpanID: trace.SpanID{1, 1, 1, 1, 1, 1, 1, 1}, ParentID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
			Name: "score", Start: 1_700_000_000_010_000_000, End: 1_700_000_000_010_500_000, Resource: res},
	}
}

func TestGoldenLines(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf)
	if err := e.ExportSpans(context.Background(), fixture()); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 2 spans", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %s", l)
		}
	}
	path := filepath.Join("testdata", "spans.jsonl")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("output changed:\n%s", buf.Bytes())
	}
}

func ExampleNew() {
	p := trace.NewProvider(trace.Config{Resource: &trace.Resource{Service: "matchmaker"}, Exporter: New(nil)})
	defer p.Shutdown(context.Background())
	_, span := p.Tracer("example").Start(context.Background(), "pair")
	span.End()
}

func ExampleFromSpanData() {
	s := FromSpanData(fixture()[1])
	fmt.Println(s.Name, s.Kind, s.Duration, s.ParentID)
	// Output: score unspecified 500µs 00f067aa0ba902b7
}
