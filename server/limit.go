package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// decodeLimiter bounds the memory that requests being decoded can take, across every receiver. Decoded spans
// can be many times larger than their wire form (a msgpack string of two bytes becomes a whole attribute), so
// each request reserves its body size times expansion before it is read; the pipeline's own bound only applies
// once decoding is done. A request that cannot get its reservation within wait is answered 429 / RESOURCE_EXHAUSTED.
type decodeLimiter struct {
	mu        sync.Mutex
	cond      *sync.Cond
	budget    int64
	used      int64
	maxBody   int64
	expansion int64
	wait      time.Duration
	onReject  func(receiver string)
}

func newDecodeLimiter(budget, maxBody int64) *decodeLimiter {
	l := &decodeLimiter{budget: budget, maxBody: maxBody, expansion: 8, wait: time.Second}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// weight is what a request of n body bytes (n < 0: unknown) reserves; never more than the whole budget, so a
// large request can still run alone.
func (l *decodeLimiter) weight(n int64) int64 {
	if n < 0 || n > l.maxBody {
		n = l.maxBody
	}
	w := n*l.expansion + 64<<10
	if w > l.budget {
		w = l.budget
	}
	return w
}

// acquire reserves w, waiting up to l.wait or until ctx ends.
func (l *decodeLimiter) acquire(ctx context.Context, w int64) bool {
	deadline := time.Now().Add(l.wait)
	timer := time.AfterFunc(l.wait, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
	defer timer.Stop()
	stop := context.AfterFunc(ctx, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.used+w > l.budget {
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return false
		}
		l.cond.Wait()
	}
	l.used += w
	return true
}

func (l *decodeLimiter) release(w int64) {
	l.mu.Lock()
	l.used -= w
	l.cond.Broadcast()
	l.mu.Unlock()
}

// http wraps a receiver's handler. Only requests with a body are counted (GET /info and the like pass).
func (l *decodeLimiter) http(receiver string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			next.ServeHTTP(w, r)
			return
		}
		wt := l.weight(r.ContentLength)
		if !l.acquire(r.Context(), wt) {
			if l.onReject != nil {
				l.onReject(receiver)
			}
			w.Header().Set("Retry-After", strconv.Itoa(1))
			http.Error(w, "overloaded: too much data being decoded; retry later", http.StatusTooManyRequests)
			return
		}
		defer l.release(wt)
		next.ServeHTTP(w, r)
	})
}

// grpc is the gRPC form. grpc-go has decoded the protobuf message before interceptors run (that part is bounded
// by the message size limit and the stream limit), so this bounds the conversion into the span model.
func (l *decodeLimiter) grpc() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		n := int64(-1)
		if m, ok := req.(proto.Message); ok {
			n = int64(proto.Size(m))
		}
		wt := l.weight(n)
		if !l.acquire(ctx, wt) {
			if l.onReject != nil {
				l.onReject("otlp-grpc")
			}
			return nil, status.Error(codes.ResourceExhausted, "overloaded: too much data being decoded; retry later")
		}
		defer l.release(wt)
		return handler(ctx, req)
	}
}
