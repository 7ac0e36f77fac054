package ingest

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// TooLargeError says that a request body, as sent or once decompressed, was over the limit. Receivers answer
// HTTP 413.
type TooLargeError struct {
	Limit        int64
	Decompressed bool // the limit was passed while decompressing
}

func (e *TooLargeError) Error() string {
	if e.Decompressed {
		return fmt.Sprintf("request body is over the limit of %d bytes once decompressed", e.Limit)
	}
	return fmt.Sprintf("request body is over the limit of %d bytes", e.Limit)
}

// ErrTooLarge is matched by errors.Is for every *TooLargeError.
var ErrTooLarge = errors.New("request body too large")

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var gzipPool sync.Pool // *gzip.Reader

// ReadBody reads a request body whole, undoing a Content-Encoding of gzip, deflate (zlib or raw) or identity.
// The body is limited to o.Limit() bytes as sent and again once decompressed; past either it returns a
// *TooLargeError. A body that does not decompress gives a *BadInputError (Protocol "http") saying why, and an
// unknown encoding too. The work buffers and gzip readers are pooled; the returned slice is the caller's own.
func ReadBody(w http.ResponseWriter, r *http.Request, o Options) ([]byte, error) {
	body, release, err := ReadBodyPooled(w, r, o)
	if err != nil {
		return nil, err
	}
	defer release()
	return append(make([]byte, 0, len(body)), body...), nil
}

// ReadBodyPooled is ReadBody without the final copy: the body lives in a pooled buffer, which release hands back.
// A decoder that copies what it keeps (every receiver's does) uses it to save a copy and an allocation of the
// whole body per request; nothing may reference the body after release.
func ReadBodyPooled(w http.ResponseWriter, r *http.Request, o Options) (body []byte, release func(), err error) {
	limit := o.Limit()
	if r.ContentLength > limit {
		return nil, nil, &TooLargeError{Limit: limit}
	}
	raw := bufPool.Get().(*bytes.Buffer)
	raw.Reset()
	keepRaw := false
	defer func() {
		if !keepRaw {
			putBuf(raw)
		}
	}()
	if r.ContentLength > 0 {
		raw.Grow(int(r.ContentLength) + 1)
	}
	// MaxBytesReader, unlike a plain limit, also tells the server to close the connection of an oversized request
	// rather than read the rest of it.
	if _, err := raw.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, nil, &TooLargeError{Limit: limit}
		}
		return nil, nil, &BadInputError{Protocol: "http", Msg: "reading request body: " + err.Error()}
	}

	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	var dec io.Reader
	switch enc {
	case "", "identity":
		keepRaw = true
		return raw.Bytes(), func() { putBuf(raw) }, nil
	case "gzip", "x-gzip":
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(raw.Bytes()))
		} else {
			err = zr.Reset(bytes.NewReader(raw.Bytes()))
		}
		if err != nil {
			return nil, nil, &BadInputError{Protocol: "http", Msg: "body is not valid gzip: " + err.Error()}
		}
		defer gzipPool.Put(zr)
		dec = zr
	case "deflate":
		// HTTP's "deflate" is zlib-wrapped, but some clients send raw deflate; the zlib header tells them apart.
		b := raw.Bytes()
		if len(b) >= 2 && b[0]&0x0f == 8 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0 {
			zr, err := zlib.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, nil, &BadInputError{Protocol: "http", Msg: "body is not valid deflate: " + err.Error()}
			}
			defer zr.Close()
			dec = zr
		} else {
			fr := flate.NewReader(bytes.NewReader(b))
			defer fr.Close()
			dec = fr
		}
	default:
		return nil, nil, &BadInputError{Protocol: "http", Msg: fmt.Sprintf("unsupported Content-Encoding %q (gzip, deflate or identity)", enc)}
	}

	out := bufPool.Get().(*bytes.Buffer)
	out.Reset()
	if _, err := out.ReadFrom(io.LimitReader(dec, limit+1)); err != nil {
		putBuf(out)
		return nil, nil, &BadInputError{Protocol: "http", Msg: fmt.Sprintf("body is not valid %s: %v", enc, err)}
	}
	if int64(out.Len()) > limit {
		putBuf(out)
		return nil, nil, &TooLargeError{Limit: limit, Decompressed: true}
	}
	return out.Bytes(), func() { putBuf(out) }, nil
}

// putBuf returns a buffer to the pool unless it grew past what is worth keeping.
func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 4<<20 {
		bufPool.Put(b)
	}
}

// Admit asks o.Admit whether a request would be taken, before its body is read. When it would not, the body is
// drained unread (so that the client's connection can carry its next request) and the refusal is returned, for
// the receiver to answer 429 with Retry-After as for any overload. The body of a client that asked for
// 100-continue is not drained: it has not been sent.
func Admit(w http.ResponseWriter, r *http.Request, o Options) error {
	if o.Admit == nil {
		return nil
	}
	err := o.Admit(r.Context())
	if err == nil {
		return nil
	}
	if !strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// Draining costs a copy from the socket, a small fraction of decoding; a body past the limit closes the
		// connection instead.
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, o.Limit()))
	}
	return err
}

// Admission asks o.Admit, if set, whether a request would be taken now; nil when it would, or when Admit is
// unset. It is Admit for a gRPC request, whose message grpc-go has already read, and so it does not wait for room
// as Admit may for an unread HTTP body: a message held would hold its memory.
func (o Options) Admission() error {
	if o.Admit == nil {
		return nil
	}
	return o.Admit(noWait)
}

// noWait is a context already done: an Admit given it answers at once.
var noWait = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()
