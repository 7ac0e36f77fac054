package pipeline

import (
	"testing"

	"github.com/weftrace/weft/ingest/otlp"
	"github.com/weftrace/weft/loadgen"
	"github.com/weftrace/weft/wal"
)

// BenchmarkEncodeDecoded encodes for the log what the OTLP decoder makes of the load generator's request (1,000
// spans in traces of 5 to 50, 10 attributes a span), as Consume does: the strings shared as the decoder shares
// them, which the encoder's string table relies on.
func BenchmarkEncodeDecoded(b *testing.B) {
	body, _, err := loadgen.Batch(1, 1000)
	if err != nil {
		b.Fatal(err)
	}
	spans, _, _, err := otlp.DecodeProto(body)
	if err != nil {
		b.Fatal(err)
	}
	var size int
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		size = len(wal.Encode(spans).Payload())
	}
	// CPU time, not wall time: the machine these run on is shared.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*len(spans)), "cpu-ns/span")
	b.ReportMetric(float64(size)/float64(len(spans)), "B/span")
}
