package dataplane

import (
	"net/http"
	"strconv"
	"strings"
)

// Answers the load balancer gives by itself (no route, a fixed response,
// an invalid backend's share, no healthy target, a failed or timed-out
// exchange with the backend) are HTTP statuses. A gRPC client reads a
// status other than 200 through the gRPC spec's HTTP-to-status mapping
// (doc/http-grpc-status-mapping.md in grpc/grpc: 503 and 504 are
// UNAVAILABLE, 404 UNIMPLEMENTED, 500 UNKNOWN) and tells its caller only
// "unexpected HTTP status code". So a gRPC request (content-type
// application/grpc, with any suffix: +proto, -web) gets the same code as a
// gRPC response instead: HTTP 200, trailers-only (the status in the
// headers of a response without a body, which HTTP/2 sends as one HEADERS
// frame that ends the stream), grpc-status the mapped code and
// grpc-message what happened. The code is the one the HTTP status gives, so
// that which rule kind asked for which status (lb.Action's
// InvalidBackendStatus: 503, UNAVAILABLE, for a GRPCRoute's invalid
// backends; 500 for an HTTPRoute's) stays mapping's to decide. Redirects,
// 421 (the client must open another connection) and CORS preflights stay
// HTTP.

// isGRPC reports whether r is a gRPC call.
func isGRPC(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// gRPC status codes (google.golang.org/grpc/codes), those the mapping gives.
const (
	grpcUnknown          = 2
	grpcPermissionDenied = 7
	grpcUnimplemented    = 12
	grpcInternal         = 13
	grpcUnavailable      = 14
	grpcUnauthenticated  = 16
)

// grpcCode is the gRPC status a client reads from an HTTP status.
func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return grpcUnavailable
	}
	return grpcUnknown
}

// answer sends the load balancer's own answer: status with msg as text, or
// for a gRPC call its gRPC form. Response headers (the rule's modifiers,
// CORS) are already in w.
func answer(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if !isGRPC(r) {
		if msg == "" {
			w.WriteHeader(status)
			return
		}
		http.Error(w, msg, status)
		return
	}
	h := w.Header()
	h.Del("Content-Length")
	// The client's own content type (application/grpc+proto, or a gRPC-Web
	// one): clients refuse a response whose type is not gRPC.
	h.Set("Content-Type", r.Header.Get("Content-Type"))
	h.Set("Grpc-Status", strconv.Itoa(grpcCode(status)))
	if msg == "" {
		msg = http.StatusText(status)
	}
	h.Set("Grpc-Message", grpcMessage(msg))
	w.WriteHeader(http.StatusOK)
}

// grpcMessage percent-encodes what the gRPC spec's grpc-message allows only
// encoded: bytes outside printable ASCII, and '%'.
func grpcMessage(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)>>4, 16)+strconv.FormatUint(uint64(c)&0xf, 16)))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
