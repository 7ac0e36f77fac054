package store

import (
	"sort"

	"github.com/weftrace/weft/model"
)

// Summarize computes the search summary of one trace from all its spans. The root is the earliest span without
// a parent, or the earliest span when no span lacks one.
func Summarize(id model.TraceID, spans []*model.Span) TraceSummary {
	sum := TraceSummary{TraceID: id, SpanCount: len(spans)}
	if len(spans) == 0 {
		return sum
	}
	var root, first *model.Span
	var end int64
	counts := map[string]int{}
	for i, sp := range spans {
		if i == 0 || sp.Start < first.Start {
			first = sp
		}
		if sp.ParentID.IsZero() && (root == nil || sp.Start < root.Start) {
			root = sp
		}
		if i == 0 || sp.End() > end {
			end = sp.End()
		}
		if sp.IsError() {
			sum.ErrorCount++
		}
		counts[sp.Service()]++
	}
	if root == nil {
		root = first
	}
	sum.RootService, sum.RootName = root.Service(), root.Name
	sum.Start, sum.Duration = first.Start, end-first.Start
	for svc, n := range counts {
		sum.Services = append(sum.Services, ServiceCount{Service: svc, Spans: n})
	}
	sort.Slice(sum.Services, func(i, j int) bool { return sum.Services[i].Service < sum.Services[j].Service })
	return sum
}
