package analyze

// GenTrace lets the external tests (package analyze_test) build the simulated traces of gen_test.go.
var GenTrace = genTrace

// CPULoop is loop (bench_test.go) for the external benchmarks.
var CPULoop = loop

// StoredTrace is storedTrace (storeinput_test.go) for the external benchmarks.
var StoredTrace = storedTrace
