package trace

import "unsafe"

// haveTSC says that rdtsc reads the CPU's time-stamp counter.
const haveTSC = true

// rdtsc reads the CPU's time-stamp counter (clock_amd64.s).
func rdtsc() int64

// prefetchSpan asks the CPU to bring the first four cache lines at p, the Span fields and the part of its data
// that every start and end writes (TestSpanLayout), into its cache (clock_amd64.s).
//
//go:noescape
func prefetchSpan(p unsafe.Pointer)
