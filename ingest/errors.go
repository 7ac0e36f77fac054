package ingest

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// HTTPStatus is the HTTP status code a receiver answers for err: 400 for a *BadInputError, 429 for an
// *OverloadError, 413 for a *TooLargeError, 200 for nil and 500 for anything else.
func HTTPStatus(err error) int {
	var bad *BadInputError
	var over *OverloadError
	var large *TooLargeError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &bad):
		return http.StatusBadRequest
	case errors.As(err, &over):
		return http.StatusTooManyRequests
	case errors.As(err, &large):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// RetryAfter is the retry hint of an *OverloadError in err, at least one second; 0 when err is not an overload.
func RetryAfter(err error) time.Duration {
	var over *OverloadError
	if !errors.As(err, &over) {
		return 0
	}
	if over.RetryAfter < time.Second {
		return time.Second
	}
	return over.RetryAfter
}

// SetRetryAfter sets the Retry-After header (whole seconds, rounded up) when err is an overload.
func SetRetryAfter(w http.ResponseWriter, err error) {
	if d := RetryAfter(err); d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
}

// Message is the text a client is shown for err: the error's own words for bad input, overload and size, and
// a generic text for internal errors, whose details stay in the server's log.
func Message(err error) string {
	if HTTPStatus(err) == http.StatusInternalServerError {
		return "internal error storing spans"
	}
	return err.Error()
}

// WriteError answers an HTTP request that failed with err: the status of HTTPStatus, Retry-After on overload,
// and Message(err) as a plain-text body.
func WriteError(w http.ResponseWriter, err error) {
	SetRetryAfter(w, err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(HTTPStatus(err))
	_, _ = w.Write([]byte(Message(err) + "\n"))
}

// GRPCCode is the gRPC code for err: InvalidArgument for bad input, ResourceExhausted for overload and for a
// request over the size limit, OK for nil, Internal otherwise.
func GRPCCode(err error) codes.Code {
	switch HTTPStatus(err) {
	case http.StatusOK:
		return codes.OK
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusTooManyRequests, http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	}
	return codes.Internal
}

// GRPCError turns err into the gRPC status error a receiver returns: the code of GRPCCode, Message(err), and for
// overload a google.rpc.RetryInfo detail carrying the retry hint (which OTLP exporters honour). nil stays nil.
func GRPCError(err error) error {
	if err == nil {
		return nil
	}
	st := status.New(GRPCCode(err), Message(err))
	if d := RetryAfter(err); d > 0 {
		if withInfo, e := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); e == nil {
			st = withInfo
		}
	}
	return st.Err()
}
