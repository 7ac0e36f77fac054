package trace

// haveTSC says that rdtsc reads the CPU's time-stamp counter.
const haveTSC = true

// rdtsc reads the CPU's time-stamp counter (clock_amd64.s).
func rdtsc() int64
