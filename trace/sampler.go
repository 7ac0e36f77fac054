package trace

// Decision is what a Sampler decides for a span.
type Decision uint8

const (
	// Drop records nothing: the span is not recorded and its trace is propagated as not sampled.
	Drop Decision = iota
	// RecordAndSample records the span and exports it; the trace is propagated as sampled.
	RecordAndSample
	// UnitaryCandidate records the span (and its local descendants) without sampling the trace: each such span
	// is exported on its own, marked unitary, only if the Sampler's KeepUnitary says so when it ends (it was
	// slow, or failed). Downstream services see the trace as not sampled.
	UnitaryCandidate
)

// String names the decision.
func (d Decision) String() string {
	switch d {
	case RecordAndSample:
		return "record_and_sample"
	case UnitaryCandidate:
		return "unitary_candidate"
	}
	return "drop"
}

// SamplingParams is what a Sampler sees of a span about to start.
type SamplingParams struct {
	TraceID TraceID
	// Parent is the parent's context: zero for a root span; Remote set when it came from another process.
	Parent  SpanContext
	Name    string
	Kind    Kind
	Service string
	// Attrs are the attributes given at start (e.g. http.route). The sampler must not keep the slice.
	Attrs []Attr
}

// SamplingResult is a Sampler's answer.
type SamplingResult struct {
	Decision Decision
	// Priority is the sampling priority that travels with the trace (Datadog's meaning: -1 user reject, 0 auto
	// reject, 1 auto keep, 2 user keep). PriorityUnset lets the library choose: the parent's, else 1 when
	// sampled and 0 when not.
	Priority int8
}

// Sampler decides whether a span is recorded. The library asks it once per trace per process: for a root span
// and for a span whose parent is remote. Local children inherit their parent's decision (so rules that look at
// a route belong on the server span that receives the request). Implementations must be safe for concurrent use
// and should not allocate; package trace/sample has the usual ones.
type Sampler interface {
	ShouldSample(p SamplingParams) SamplingResult
	// Description names the sampler and its settings, for logs.
	Description() string
}

// UnitarySampler is a Sampler that may answer UnitaryCandidate. KeepUnitary is called when a candidate span
// ends and says whether to keep it alone; d is complete except for export.
type UnitarySampler interface {
	Sampler
	KeepUnitary(d *SpanData) bool
}

// parentOrAlways is the default sampler: follow a remote parent's decision, sample every new trace.
type parentOrAlways struct{}

func (parentOrAlways) ShouldSample(p SamplingParams) SamplingResult {
	if (p.Parent.IsValid() || p.Parent.IsDecisionOnly()) && !p.Parent.IsSampled() {
		return SamplingResult{Decision: Drop, Priority: PriorityUnset}
	}
	return SamplingResult{Decision: RecordAndSample, Priority: PriorityUnset}
}

func (parentOrAlways) Description() string { return "ParentBased{root:AlwaysSample}" }
