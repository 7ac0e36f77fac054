package trace

import (
	"context"
	"testing"
)

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []*SpanData) error { return nil }
func (discardExporter) Shutdown(context.Context) error                 { return nil }

// recorded makes a provider that records into a Recorder, and returns a function that flushes and returns the
// spans by name.
func recorded(t *testing.T, cfg Config) (*Provider, func() map[string]*SpanData) {
	t.Helper()
	rec := &Recorder{}
	cfg.Exporter = rec
	p := NewProvider(cfg)
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p, func() map[string]*SpanData {
		t.Helper()
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := map[string]*SpanData{}
		for _, d := range rec.Spans() {
			out[d.Name] = d
		}
		return out
	}
}

func eventNamed(d *SpanData, name string) []Event {
	var out []Event
	for _, e := range d.Events {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}
