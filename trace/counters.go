package trace

// ProcessCounters is a snapshot of a Provider's counters, kept apart from spans (trace/promcounters exports
// them to Prometheus). Every counter only grows, except QueueDepth.
type ProcessCounters struct {
	SpansStarted  uint64 // Start calls, recorded or not
	SpansSampled  uint64 // spans started in a sampled trace
	SpansEnded    uint64 // recorded spans ended (sampled and unitary candidates)
	SpansUnitary  uint64 // spans kept by unitary sampling
	SpansDropped  uint64 // ended spans lost: the buffer was full, the provider shut down, or their export failed
	SpansExported uint64 // spans the exporter accepted
	ExportErrors  uint64 // ExportSpans calls that failed
	QueueDepth    uint64 // spans waiting for export now
}

// Counters returns a snapshot of the provider's counters.
func (p *Provider) Counters() ProcessCounters {
	var c ProcessCounters
	add := func(pp *perP) {
		rec, cand := pp.recorded.Load(), pp.candidates.Load()
		c.SpansStarted += rec + pp.unrecorded.Load()
		c.SpansSampled += rec - cand
		c.SpansEnded += pp.ended.Load() + pp.queue.loadTail() // the ring's tail: the spans it ever took
		c.SpansUnitary += pp.unitary.Load()
		c.SpansDropped += pp.dropped.Load()
	}
	for i := range p.ps {
		add(&p.ps[i])
	}
	p.sharedMu.Lock()
	add(&p.shared)
	p.sharedMu.Unlock()
	if b := p.batcher; b != nil {
		c.SpansDropped += b.failed.Load()
		c.SpansExported = b.exported.Load()
		c.ExportErrors = b.errors.Load()
		c.QueueDepth = b.depth()
	}
	return c
}
