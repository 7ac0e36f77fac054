package trace

import "sync/atomic"

// counterShard holds one share of the process counters. Spans pick a shard by span ID, so that goroutines on
// different CPUs rarely write the same cache line.
type counterShard struct {
	started, sampled, ended, unitary, dropped atomic.Uint64
	_                                         [24]byte // to 64 bytes
}

func (p *Provider) shard(b byte) *counterShard { return &p.shards[uint32(b)&p.mask] }

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
	for i := range p.shards {
		sh := &p.shards[i]
		c.SpansStarted += sh.started.Load()
		c.SpansSampled += sh.sampled.Load()
		c.SpansEnded += sh.ended.Load()
		c.SpansUnitary += sh.unitary.Load()
		c.SpansDropped += sh.dropped.Load()
	}
	if b := p.batcher; b != nil {
		c.SpansDropped += b.failed.Load()
		c.SpansExported = b.exported.Load()
		c.ExportErrors = b.errors.Load()
		c.QueueDepth = b.depth()
	}
	return c
}
