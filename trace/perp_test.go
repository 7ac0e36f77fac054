package trace

import "testing"

// TestRingLife walks one ring through export, reuse and a lap: a span is taken for reuse only once exported, in
// the order pushed, and a push that laps an exported span nobody took hands that span back.
func TestRingLife(t *testing.T) {
	var r ring
	r.init(4)
	spans := make([]*Span, 8)
	for i := range spans {
		spans[i] = new(Span)
	}
	push := func(s *Span) *Span {
		t.Helper()
		ok, old := r.push(s)
		if !ok {
			t.Fatalf("push of span %p refused with len %d", s, r.len())
		}
		return old
	}
	for _, s := range spans[:3] {
		if old := push(s); old != nil {
			t.Fatalf("push into an empty slot returned %p", old)
		}
	}
	if s := r.take(); s != nil {
		t.Fatalf("took %p before any export", s)
	}
	got := r.exportable(10)
	if len(got) != 3 || got[0] != &spans[0].data || got[2] != &spans[2].data {
		t.Fatalf("exportable = %v, want the three spans pushed", got)
	}
	r.exported(2)
	if s := r.take(); s != spans[0] {
		t.Fatalf("take = %p, want the first span exported %p", s, spans[0])
	}
	if s := r.take(); s != spans[1] {
		t.Fatalf("take = %p, want %p", s, spans[1])
	}
	if s := r.take(); s != nil {
		t.Fatalf("took %p, which is not exported yet", s)
	}
	// Fill the ring: one span waits for export (spans[2]), so four pushes are refused after three.
	for _, s := range spans[3:6] {
		if old := push(s); old != nil {
			t.Fatalf("push over a taken span returned %p", old)
		}
	}
	if ok, _ := r.push(spans[6]); ok {
		t.Fatal("push into a full ring accepted")
	}
	// The exportable run stops where the slots wrap.
	if got := r.exportable(10); len(got) != 2 || got[0] != &spans[2].data || got[1] != &spans[3].data {
		t.Fatalf("exportable = %v, want spans 2 and 3", got)
	}
	r.exported(2)
	if got := r.exportable(10); len(got) != 2 || got[0] != &spans[4].data {
		t.Fatalf("exportable after the wrap = %v, want spans 4 and 5", got)
	}
	r.exported(2)
	// spans 2..5 are exported and none taken: the next push laps span 2's slot and hands span 2 back.
	if old := push(spans[6]); old != spans[2] {
		t.Fatalf("lapping push returned %p, want span 2 %p", old, spans[2])
	}
	if s := r.take(); s != spans[3] {
		t.Fatalf("take after the lap = %p, want span 3 %p", s, spans[3])
	}
	if n := r.len(); n != 1 {
		t.Fatalf("len = %d, want 1", n)
	}
}
