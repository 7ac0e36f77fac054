package otlp

import (
	"errors"
	"strconv"
)

// PartialSuccess is what an OTLP server says when it accepted a request but refused some of its spans
// (ExportTraceServiceResponse.partial_success). The zero value means everything was accepted.
type PartialSuccess struct {
	RejectedSpans int64
	ErrorMessage  string
}

// Error describes the refusal, for an exporter to return.
func (p PartialSuccess) Error() string {
	return "otlp: server rejected " + strconv.FormatInt(p.RejectedSpans, 10) + " spans: " + p.ErrorMessage
}

var errTruncated = errors.New("otlp: response truncated or malformed")

// ParseResponse decodes an ExportTraceServiceResponse in protobuf. Unknown fields are skipped.
func ParseResponse(b []byte) (PartialSuccess, error) {
	var ps PartialSuccess
	err := fields(b, func(num int, wire int, v uint64, p []byte) error {
		if num != 1 || wire != wireBytes {
			return nil
		}
		return fields(p, func(num int, wire int, v uint64, p []byte) error {
			switch {
			case num == 1 && wire == wireVarint:
				ps.RejectedSpans = int64(v)
			case num == 2 && wire == wireBytes:
				ps.ErrorMessage = string(p)
			}
			return nil
		})
	})
	return ps, err
}

// fields walks the fields of a protobuf message: a varint or fixed value in v, a length-delimited one in p.
func fields(b []byte, f func(num, wire int, v uint64, p []byte) error) error {
	for len(b) > 0 {
		tag, n := readVarint(b)
		if n == 0 {
			return errTruncated
		}
		b = b[n:]
		num, wire := int(tag>>3), int(tag&7)
		var v uint64
		var p []byte
		switch wire {
		case wireVarint:
			if v, n = readVarint(b); n == 0 {
				return errTruncated
			}
			b = b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return errTruncated
			}
			b = b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return errTruncated
			}
			b = b[4:]
		case wireBytes:
			l, n := readVarint(b)
			if n == 0 || uint64(len(b)-n) < l {
				return errTruncated
			}
			p, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return errTruncated
		}
		if err := f(num, wire, v, p); err != nil {
			return err
		}
	}
	return nil
}

// readVarint returns the value and its length, or a zero length if b does not start with a varint.
func readVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}
