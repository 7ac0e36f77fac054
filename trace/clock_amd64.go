package trace

import "unsafe"

// haveTSC says that rdtsc reads the CPU's time-stamp counter.
const haveTSC = true

// rdtsc reads the CPU's time-stamp counter (clock_amd64.s).
func rdtsc() int64

// prefetchSpan asks the CPU to bring the first seven cache lines at p, a Span's fields other than its inline
// attributes, into its cache (clock_amd64.s).
//
//go:noescape
func prefetchSpan(p unsafe.Pointer)
