package trace

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestEventIDText(t *testing.T) {
	tests := []struct {
		in   string
		want EventID
		err  bool
	}{
		{in: "3d3899d57e98f17f:12", want: EventID{Unit: 0x3d3899d57e98f17f, Seq: 12}},
		{in: "00000000000000aa:0", want: EventID{Unit: 0xaa}},
		{in: "ffffffffffffffff:4294967295", want: EventID{Unit: 1<<64 - 1, Seq: 1<<32 - 1}},
		{in: "3D3899D57E98F17F:1", want: EventID{Unit: 0x3d3899d57e98f17f, Seq: 1}},
		{in: "ffffffffffffffff:4294967296", err: true},
		{in: "0000000000000000:1", err: true},
		{in: "3d3899d57e98f17:12", err: true},
		{in: "3d3899d57e98f17f12", err: true},
		{in: "3d3899d57e98f17f:", err: true},
		{in: "3d3899d57e98f17f:1a", err: true},
		{in: "3d3899d57e98f17g:1", err: true},
		{in: "3d3899d57e98f17f:-1", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		got, err := ParseEventID(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseEventID(%q) = %v, %v; want %v, error %t", tt.in, got, err, tt.want, tt.err)
		}
	}
	e := EventID{Unit: 0xaa, Seq: 7}
	if s := e.String(); s != "00000000000000aa:7" {
		t.Errorf("String = %q", s)
	}
}

func TestEventRefText(t *testing.T) {
	own := TraceID{1}
	other := TraceID{0x4b, 0xf9}
	tests := []struct {
		ref  EventRef
		text string
	}{
		{EventRef{EventID: EventID{Unit: 0xaa, Seq: 7}}, "00000000000000aa:7"},
		{EventRef{TraceID: own, EventID: EventID{Unit: 0xaa, Seq: 7}}, "00000000000000aa:7"},
		{EventRef{TraceID: other, EventID: EventID{Unit: 0xaa, Seq: 7}}, "4bf90000000000000000000000000000:00000000000000aa:7"},
	}
	for _, tt := range tests {
		text := string(tt.ref.AppendText(nil, own))
		if text != tt.text {
			t.Errorf("AppendText(%v) = %q, want %q", tt.ref, text, tt.text)
		}
		back, err := ParseEventRef(text)
		want := tt.ref
		if want.TraceID == own {
			want.TraceID = TraceID{}
		}
		if err != nil || back != want {
			t.Errorf("ParseEventRef(%q) = %v, %v; want %v", text, back, err, want)
		}
	}
	for _, bad := range []string{"4bf9:00000000000000aa:7", "zz000000000000000000000000000000:00000000000000aa:7", "x"} {
		if _, err := ParseEventRef(bad); err == nil {
			t.Errorf("ParseEventRef(%q) accepted", bad)
		}
	}
}

func FuzzParseEventRef(f *testing.F) {
	for _, s := range []string{"3d3899d57e98f17f:12", "4bf90000000000000000000000000000:00000000000000aa:7", "", ":", "ffffffffffffffff:99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseEventRef(s)
		if err != nil {
			return
		}
		// Whatever parses formats back to something that parses to the same reference.
		again, err := ParseEventRef(string(r.AppendText(nil, TraceID{})))
		if err != nil || again != r {
			t.Fatalf("%q → %v → %v, %v", s, r, again, err)
		}
	})
}

func TestWeftAttrs(t *testing.T) {
	d := &SpanData{TraceID: TraceID{1}, Unit: 0xaa, StartSeq: 1, EndSeq: 9, EndUnit: 0xbb, Unitary: true,
		StartCause: EventRef{EventID: EventID{Unit: 0xcc, Seq: 3}}}
	got := d.AppendWeftAttrs(nil)
	want := []Attr{String(AttrUnit, "00000000000000aa"), Int64(AttrSeqStart, 1), Int64(AttrSeqEnd, 9),
		String(AttrUnitEnd, "00000000000000bb"), String(AttrCause, "00000000000000cc:3"), Bool(AttrUnitary, true)}
	if len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("attr %d = %v, want %v", i, got[i], want[i])
		}
	}
	if len((&SpanData{}).AppendWeftAttrs(nil)) != 0 {
		t.Error("a foreign span has weft attributes")
	}
	e := Event{Unit: 0xdd, Seq: 4, Cause: EventRef{EventID: EventID{Unit: 0xee, Seq: 2}}}
	ea := e.AppendWeftAttrs(nil, 0xaa, d.TraceID)
	if len(ea) != 3 || ea[0].Value.AsInt64() != 4 || ea[1].Value.AsString() != "00000000000000dd" ||
		ea[2].Value.AsString() != "00000000000000ee:2" {
		t.Errorf("event attrs %v", ea)
	}
	if ea := (&Event{Unit: 0xaa, Seq: 4}).AppendWeftAttrs(nil, 0xaa, d.TraceID); len(ea) != 1 {
		t.Errorf("event on the span's unit: %v", ea)
	}
}

// TestAppendUnit checks the word-at-a-time hex of unit IDs against fmt's, on every digit in every place and on
// random IDs.
func TestAppendUnit(t *testing.T) {
	var units []uint64
	for d := uint64(0); d < 16; d++ {
		for place := 0; place < 16; place++ {
			units = append(units, d<<(4*place))
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1000; i++ {
		units = append(units, r.Uint64())
	}
	units = append(units, 1<<64-1, 0x0123456789abcdef)
	for _, u := range units {
		if got, want := string(AppendUnit([]byte("x"), u)), fmt.Sprintf("x%016x", u); got != want {
			t.Fatalf("AppendUnit(%#x) = %q, want %q", u, got, want)
		}
	}
}
