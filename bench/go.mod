module github.com/weftrace/weft/bench

go 1.26.0

require github.com/weftrace/weft/trace v0.0.0

replace github.com/weftrace/weft/trace => ../trace
