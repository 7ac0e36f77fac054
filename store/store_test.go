package store

import (
	"reflect"
	"testing"
)

func TestDependencyCounts(t *testing.T) {
	m := DependencyCounts{}
	m.Add("web", "db", 2, 1)
	m.Add("api", "web", 1, 0)
	m.Add("web", "cache", 3, 0)
	m.Add("web", "db", 1, 1)
	want := []Dependency{
		{Parent: "api", Child: "web", CallCount: 1},
		{Parent: "web", Child: "cache", CallCount: 3},
		{Parent: "web", Child: "db", CallCount: 3, ErrorCount: 2},
	}
	if got := m.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("List() = %+v, want %+v", got, want)
	}
	if got := (DependencyCounts{}).List(); len(got) != 0 {
		t.Errorf("empty List() = %+v", got)
	}
}
