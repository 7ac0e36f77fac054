// Package promcounters exports the weft library's process counters to Prometheus: the spans a Provider
// started, sampled, ended, kept by unitary sampling, dropped and exported, its export errors and queue depth
// (trace.ProcessCounters), and the headers trace/propagation ignored as malformed. It is its own module so that
// the library itself never depends on the Prometheus client. The counters are kept apart from spans: reading
// them costs the program nothing until Prometheus scrapes.
package promcounters

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/propagation"
)

const namespace = "weft_trace"

// Collector is a prometheus.Collector over a Provider's counters and the process's propagation parse failures.
type Collector struct {
	p *trace.Provider

	started, sampled, ended, unitary, dropped, exported, exportErrors, queueDepth *prometheus.Desc
	parseFailures                                                                 *prometheus.Desc
}

// NewCollector returns a Collector for p. Register one per process; for several providers, register each
// through prometheus.WrapRegistererWith with a label that tells them apart.
func NewCollector(p *trace.Provider) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &Collector{
		p:             p,
		started:       d("spans_started_total", "Spans started, recorded or not."),
		sampled:       d("spans_sampled_total", "Spans started in a sampled trace."),
		ended:         d("spans_ended_total", "Recorded spans ended."),
		unitary:       d("spans_unitary_total", "Spans kept by unitary sampling although their trace was not sampled."),
		dropped:       d("spans_dropped_total", "Ended spans lost: the export buffer was full, the provider was shut down, or their export failed."),
		exported:      d("spans_exported_total", "Spans the exporter accepted."),
		exportErrors:  d("export_errors_total", "Exports that failed."),
		queueDepth:    d("queue_depth", "Ended spans waiting for export."),
		parseFailures: d("propagation_parse_failures_total", "Incoming trace headers ignored because they were malformed, by header.", "header"),
	}
}

// Register registers a Collector for p with reg.
func Register(reg prometheus.Registerer, p *trace.Provider) error {
	return reg.Register(NewCollector(p))
}

// Describe sends the metrics' descriptions.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.started, c.sampled, c.ended, c.unitary, c.dropped, c.exported, c.exportErrors, c.queueDepth, c.parseFailures} {
		ch <- d
	}
}

// Collect reads the counters once and sends them.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	n := c.p.Counters()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.started, n.SpansStarted)
	counter(c.sampled, n.SpansSampled)
	counter(c.ended, n.SpansEnded)
	counter(c.unitary, n.SpansUnitary)
	counter(c.dropped, n.SpansDropped)
	counter(c.exported, n.SpansExported)
	counter(c.exportErrors, n.ExportErrors)
	ch <- prometheus.MustNewConstMetric(c.queueDepth, prometheus.GaugeValue, float64(n.QueueDepth))
	f := propagation.ParseFailures()
	counter(c.parseFailures, f.Traceparent, "traceparent")
	counter(c.parseFailures, f.Tracestate, "tracestate")
	counter(c.parseFailures, f.Baggage, "baggage")
	counter(c.parseFailures, f.B3, "b3")
	counter(c.parseFailures, f.Datadog, "datadog")
	counter(c.parseFailures, f.Jaeger, "jaeger")
}
