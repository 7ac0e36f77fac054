package sample

import (
	"fmt"
	"strings"

	"github.com/weftrace/weft/trace"
)

// Rule is one sampling rule, as AWS X-Ray has them: the traces whose first span in this process matches it are
// sampled Reservoir a second, and Rate (0 to 1) of the rest. Matching uses patterns where * matches any run of
// characters and ? any one character; an empty pattern matches everything.
type Rule struct {
	// Name identifies the rule in Description.
	Name string
	// Service, SpanName: patterns for the service and the span name.
	Service  string
	SpanName string
	// Attrs maps attribute keys to patterns (e.g. "http.route": "/pair*"); every one must match an attribute
	// given at the span's start. Values that are not strings are matched in their text form.
	Attrs map[string]string
	// Reservoir is how many matching traces a second are sampled before Rate applies.
	Reservoir float64
	// Rate is the fraction of matching traces sampled beyond the reservoir, decided by trace ID.
	Rate float64
}

type rule struct {
	Rule
	attrs     [][2]string
	reservoir *limiter
	threshold uint64
}

type rules struct {
	rules    []*rule
	fallback trace.Sampler
}

// Rules samples by the first rule that matches a span; spans that match none go to fallback (Never if nil). A
// trace kept by a rule carries the user-keep priority (2), one dropped by it user-reject (-1), so that Datadog
// agents downstream respect the decision.
func Rules(rs []Rule, fallback trace.Sampler) trace.Sampler {
	if fallback == nil {
		fallback = Never()
	}
	out := &rules{fallback: fallback}
	for _, r := range rs {
		c := &rule{Rule: r, reservoir: newLimiter(r.Reservoir), threshold: ratioThreshold(max(0, min(1, r.Rate)))}
		for k, v := range r.Attrs {
			c.attrs = append(c.attrs, [2]string{k, v})
		}
		out.rules = append(out.rules, c)
	}
	return out
}

func (s *rules) ShouldSample(p trace.SamplingParams) trace.SamplingResult {
	for _, r := range s.rules {
		if !r.matches(&p) {
			continue
		}
		if r.reservoir.allow() || inRatio(p.TraceID, r.threshold) {
			return keep(PriorityUserKeep)
		}
		return drop(PriorityUserReject)
	}
	return s.fallback.ShouldSample(p)
}

func (r *rule) matches(p *trace.SamplingParams) bool {
	if !match(r.Service, p.Service) || !match(r.SpanName, p.Name) {
		return false
	}
next:
	for _, kv := range r.attrs {
		for _, a := range p.Attrs {
			if a.Key != kv[0] {
				continue
			}
			if a.Value.Type() == trace.TypeString {
				if match(kv[1], a.Value.AsString()) {
					continue next
				}
				return false
			}
			var buf [64]byte
			if match(kv[1], string(a.Value.AppendText(buf[:0]))) {
				continue next
			}
			return false
		}
		return false
	}
	return true
}

func (s *rules) Description() string {
	var b strings.Builder
	b.WriteString("Rules{")
	for i, r := range s.rules {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s:%g/s+%g", r.Name, r.Reservoir, r.Rate)
	}
	b.WriteString(";fallback:" + s.fallback.Description() + "}")
	return b.String()
}

// match reports whether s matches pattern, where * matches any run of characters and ? one byte. An empty
// pattern matches everything.
func match(pattern, s string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	// Iterative wildcard matching with backtracking to the last star: linear in practice, never exponential.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
