module github.com/weftrace/weft/trace

go 1.24
