package trace

import (
	"encoding/binary"
	"errors"
	"slices"
	"strconv"

	"github.com/weftrace/weft/trace/internal/hexword"
)

// The names of the attributes and events that carry a span's place in the event DAG on the wire (OTLP span and
// event attributes). docs/causality.md describes the format; receivers move these into the server's model.
const (
	AttrUnit      = "weft.unit"         // string, 16 hex digits: the unit a span started on, or an event's unit
	AttrSeqStart  = "weft.seq.start"    // int: the span's start event
	AttrSeqEnd    = "weft.seq.end"      // int: the span's end event
	AttrUnitEnd   = "weft.unit.end"     // string, 16 hex digits: the unit the span ended on, if not weft.unit
	AttrCause     = "weft.cause"        // string: "<unit>:<seq>" or "<traceid>:<unit>:<seq>"
	AttrSeq       = "weft.seq"          // int: an event's number on its unit
	AttrUnitary   = "weft.unitary"      // bool: the span was kept by unitary sampling
	TraceStateKey = "weft"              // the W3C tracestate key under which the sending event travels
	EventFork     = "weft.fork"         // a goroutine was started as a new unit
	EventJoin     = "weft.join"         // a unit waited for another unit's last event
	EventSend     = "weft.send"         // the context was sent to another process
	EventReceive  = "weft.receive"      // a message was received; its cause is the sending event
	EventLockWait = "weft.lock.wait"    // a unit began waiting for a lock
	EventLockAcq  = "weft.lock.acquire" // a unit acquired a lock; its cause is the release it waited for
)

const hexDigits = "0123456789abcdef"

// AppendUnit appends a unit ID as 16 lowercase hex digits.
func AppendUnit(b []byte, unit uint64) []byte {
	n := len(b)
	b = slices.Grow(b, 16)[:n+16]
	v := b[n : n+16 : n+16] // written in place: one capacity check, not sixteen
	binary.LittleEndian.PutUint64(v[0:8], hexword.Of(uint32(unit>>32)))
	binary.LittleEndian.PutUint64(v[8:16], hexword.Of(uint32(unit)))
	return b
}

// UnitString is a unit ID as 16 lowercase hex digits.
func UnitString(unit uint64) string { return string(AppendUnit(make([]byte, 0, 16), unit)) }

// AppendText appends the event ID as "<unit16hex>:<seq decimal>", its form in tracestate and weft.cause.
func (e EventID) AppendText(b []byte) []byte {
	b = AppendUnit(b, e.Unit)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(e.Seq), 10)
}

// String is the "<unit16hex>:<seq>" form.
func (e EventID) String() string { return string(e.AppendText(make([]byte, 0, 28))) }

// AppendText appends the reference as weft.cause carries it: "<unit16hex>:<seq>", or
// "<traceid32hex>:<unit16hex>:<seq>" when it names an event of another trace than own.
func (r EventRef) AppendText(b []byte, own TraceID) []byte {
	if r.TraceID.IsValid() && r.TraceID != own {
		for _, c := range r.TraceID {
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		}
		b = append(b, ':')
	}
	return r.EventID.AppendText(b)
}

// ErrBadEventID is returned by ParseEventID and ParseEventRef for text not of the form documented in
// docs/causality.md.
var ErrBadEventID = errors.New("trace: event id is not <unit 16 hex>:<seq decimal>")

// ParseEventID reads "<unit16hex>:<seq decimal>" (the weft entry of tracestate). The unit must be exactly 16 hex
// digits and not zero; seq a decimal number below 2^32.
func ParseEventID(s string) (EventID, error) {
	if len(s) < 18 || s[16] != ':' {
		return EventID{}, ErrBadEventID
	}
	var unit uint64
	for i := 0; i < 16; i++ {
		v, ok := hexValue(s[i])
		if !ok {
			return EventID{}, ErrBadEventID
		}
		unit = unit<<4 | uint64(v)
	}
	digits := s[17:]
	if len(digits) > 10 {
		return EventID{}, ErrBadEventID
	}
	var seq uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return EventID{}, ErrBadEventID
		}
		seq = seq*10 + uint64(c-'0')
	}
	if unit == 0 || seq > 1<<32-1 {
		return EventID{}, ErrBadEventID
	}
	return EventID{Unit: unit, Seq: uint32(seq)}, nil
}

// ParseEventRef reads a weft.cause value: "<unit16hex>:<seq>" or "<traceid32hex>:<unit16hex>:<seq>".
func ParseEventRef(s string) (EventRef, error) {
	var r EventRef
	if len(s) > 33 && s[32] == ':' && len(s) > 33+16 && s[33+16] == ':' {
		for i := 0; i < 16; i++ {
			hi, ok1 := hexValue(s[2*i])
			lo, ok2 := hexValue(s[2*i+1])
			if !ok1 || !ok2 {
				return EventRef{}, ErrBadEventID
			}
			r.TraceID[i] = hi<<4 | lo
		}
		s = s[33:]
	}
	id, err := ParseEventID(s)
	if err != nil {
		return EventRef{}, err
	}
	r.EventID = id
	return r, nil
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// AppendWeftAttrs appends to dst the attributes that carry the span's causality on the wire (weft.unit,
// weft.seq.start, weft.seq.end, weft.unit.end, weft.cause, weft.unitary), for exporters that write attributes
// rather than bytes. It allocates the hex strings; encoders on a hot path can write AppendUnit and
// EventRef.AppendText into their output directly instead.
func (d *SpanData) AppendWeftAttrs(dst []Attr) []Attr {
	if d.Unit == 0 {
		return dst
	}
	dst = append(dst, String(AttrUnit, UnitString(d.Unit)), Int64(AttrSeqStart, int64(d.StartSeq)),
		Int64(AttrSeqEnd, int64(d.EndSeq)))
	if d.EndUnit != 0 && d.EndUnit != d.Unit {
		dst = append(dst, String(AttrUnitEnd, UnitString(d.EndUnit)))
	}
	if d.StartCause.IsValid() {
		dst = append(dst, String(AttrCause, string(d.StartCause.AppendText(nil, d.TraceID))))
	}
	if d.Unitary {
		dst = append(dst, Bool(AttrUnitary, true))
	}
	return dst
}

// AppendWeftAttrs appends to dst the attributes that carry the event's place in the DAG (weft.seq, and weft.unit
// and weft.cause when set); spanUnit and trace are those of the span holding the event.
func (e *Event) AppendWeftAttrs(dst []Attr, spanUnit uint64, trace TraceID) []Attr {
	if e.Seq == 0 {
		return dst
	}
	dst = append(dst, Int64(AttrSeq, int64(e.Seq)))
	if e.Unit != 0 && e.Unit != spanUnit {
		dst = append(dst, String(AttrUnit, UnitString(e.Unit)))
	}
	if e.Cause.IsValid() {
		dst = append(dst, String(AttrCause, string(e.Cause.AppendText(nil, trace))))
	}
	return dst
}
