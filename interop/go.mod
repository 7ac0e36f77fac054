module github.com/weftrace/weft/interop

go 1.26.0
