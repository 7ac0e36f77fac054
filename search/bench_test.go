package search

import "testing"

const benchQuery = `service = "cart" AND (http.status_code >= 500 OR status = error) AND NOT resource.host.name =~ "^canary-" AND duration > 150ms`

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchQuery); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	e, err := Parse(benchQuery)
	if err != nil {
		b.Fatal(err)
	}
	s := span()
	b.ReportAllocs()
	for b.Loop() {
		e.Match(s)
	}
}
