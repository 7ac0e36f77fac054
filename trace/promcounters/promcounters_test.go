package promcounters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
	"github.com/weftrace/weft/trace/sample"
)

type failingExporter struct{}

func (failingExporter) ExportSpans(context.Context, []*trace.SpanData) error {
	return errors.New("down")
}
func (failingExporter) Shutdown(context.Context) error { return nil }

func TestCollector(t *testing.T) {
	var rec trace.Recorder
	p := trace.NewProvider(trace.Config{Exporter: &rec})
	tr := p.Tracer("test")
	for range 3 {
		_, s := tr.Start(context.Background(), "kept")
		s.End()
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Two malformed traceparents and a malformed b3 header, on top of whatever the process saw before.
	before := propagation.ParseFailures()
	for _, h := range []http.Header{{"Traceparent": {"00-bad"}}, {"Traceparent": {"ff-bad"}}, {"B3": {"x-y-z"}}} {
		propagation.Composite{propagation.W3C{}, propagation.B3{}}.Extract(context.Background(), propagation.HeaderCarrier(h))
	}

	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, p); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP weft_trace_spans_started_total Spans started, recorded or not.
# TYPE weft_trace_spans_started_total counter
weft_trace_spans_started_total 3
# HELP weft_trace_spans_sampled_total Spans started in a sampled trace.
# TYPE weft_trace_spans_sampled_total counter
weft_trace_spans_sampled_total 3
# HELP weft_trace_spans_ended_total Recorded spans ended.
# TYPE weft_trace_spans_ended_total counter
weft_trace_spans_ended_total 3
# HELP weft_trace_spans_exported_total Spans the exporter accepted.
# TYPE weft_trace_spans_exported_total counter
weft_trace_spans_exported_total 3
# HELP weft_trace_export_errors_total Exports that failed.
# TYPE weft_trace_export_errors_total counter
weft_trace_export_errors_total 0
# HELP weft_trace_queue_depth Ended spans waiting for export.
# TYPE weft_trace_queue_depth gauge
weft_trace_queue_depth 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "weft_trace_spans_started_total", "weft_trace_spans_sampled_total",
		"weft_trace_spans_ended_total", "weft_trace_spans_exported_total", "weft_trace_export_errors_total", "weft_trace_queue_depth"); err != nil {
		t.Error(err)
	}
	c := NewCollector(p)
	if got := testutil.CollectAndCount(c, "weft_trace_propagation_parse_failures_total"); got != 6 {
		t.Errorf("%d parse-failure series, want one per header kind (6)", got)
	}
	tp := testutil.ToFloat64(labelled(c, "traceparent"))
	if tp != float64(before.Traceparent+2) {
		t.Errorf("traceparent failures %v, want %d", tp, before.Traceparent+2)
	}
	if b3 := testutil.ToFloat64(labelled(c, "b3")); b3 != float64(before.B3+1) {
		t.Errorf("b3 failures %v, want %d", b3, before.B3+1)
	}
	if n, err := testutil.GatherAndLint(reg); err != nil || len(n) > 0 {
		t.Errorf("lint: %v %v", n, err)
	}
}

// TestCountsDropsAndErrors: unsampled spans, export errors and dropped spans show up.
func TestCountsDropsAndErrors(t *testing.T) {
	p := trace.NewProvider(trace.Config{Exporter: failingExporter{}, Sampler: sample.Ratio(0)})
	_, s := p.Tracer("test").Start(context.Background(), "dropped by the sampler")
	s.End()
	q := trace.NewProvider(trace.Config{Exporter: failingExporter{}})
	_, s = q.Tracer("test").Start(context.Background(), "export fails")
	s.End()
	q.Flush(context.Background())

	if got := testutil.ToFloat64(only(NewCollector(p), "weft_trace_spans_sampled_total")); got != 0 {
		t.Errorf("sampled %v with a ratio of 0", got)
	}
	if got := testutil.ToFloat64(only(NewCollector(p), "weft_trace_spans_started_total")); got != 1 {
		t.Errorf("started %v", got)
	}
	if got := testutil.ToFloat64(only(NewCollector(q), "weft_trace_export_errors_total")); got != 1 {
		t.Errorf("export errors %v", got)
	}
	if got := testutil.ToFloat64(only(NewCollector(q), "weft_trace_spans_dropped_total")); got != 1 {
		t.Errorf("dropped %v", got)
	}
}

// filtered is a collector that passes on only the metrics matching keep.
type filtered struct {
	c    prometheus.Collector
	keep func(prometheus.Metric) bool
}

func (f filtered) Describe(ch chan<- *prometheus.Desc) { f.c.Describe(ch) }
func (f filtered) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric, 32)
	f.c.Collect(all)
	close(all)
	for m := range all {
		if f.keep(m) {
			ch <- m
		}
	}
}

func only(c prometheus.Collector, name string) prometheus.Collector {
	return filtered{c, func(m prometheus.Metric) bool { return strings.Contains(m.Desc().String(), `"`+name+`"`) }}
}

func labelled(c prometheus.Collector, header string) prometheus.Collector {
	return filtered{c, func(m prometheus.Metric) bool {
		var pb dto.Metric
		if !strings.Contains(m.Desc().String(), "parse_failures") || m.Write(&pb) != nil {
			return false
		}
		for _, l := range pb.GetLabel() {
			if l.GetName() == "header" && l.GetValue() == header {
				return true
			}
		}
		return false
	}}
}

func ExampleRegister() {
	p := trace.NewProvider(trace.Config{})
	if err := Register(prometheus.DefaultRegisterer, p); err != nil {
		panic(err)
	}
	// http.Handle("/metrics", promhttp.Handler()) serves them.
}

func ExampleNewCollector() {
	p := trace.NewProvider(trace.Config{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(p))
	n, _ := testutil.GatherAndCount(reg, "weft_trace_spans_started_total")
	fmt.Println(n)
	// Output: 1
}
