package server

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// bearerOK reports whether an Authorization header value carries the token. An empty token means no check.
func bearerOK(header, token string) bool {
	if token == "" {
		return true
	}
	got, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// requireToken answers 401 to requests without the bearer token. Health checks stay open so that orchestrators
// can probe a protected server.
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || bearerOK(r.Header.Get("Authorization"), token) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="weft"`)
		http.Error(w, "missing or invalid bearer token", http.StatusUnauthorized)
	})
}

// grpcToken is the gRPC form of requireToken.
func grpcToken(token string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if token != "" {
			md, _ := metadata.FromIncomingContext(ctx)
			var h string
			if v := md.Get("authorization"); len(v) > 0 {
				h = v[0]
			}
			if !bearerOK(h, token) {
				return nil, status.Error(codes.Unauthenticated, "missing or invalid bearer token")
			}
		}
		return handler(ctx, req)
	}
}
