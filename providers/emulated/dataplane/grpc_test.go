package dataplane

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// gRPC through the data plane with grpc-go's own client and server: what a
// gRPC caller reads from each answer the load balancer gives by itself.

// grpcBackend serves the gRPC health service over h2c on a loopback port.
func grpcBackend(t *testing.T) lb.Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return lb.Target{IP: "127.0.0.1", Port: int32(ln.Addr().(*net.TCPAddr).Port)}
}

// grpcCall makes one Health/Check call to addr and returns its status.
func grpcCall(t *testing.T, conn *grpc.ClientConn) *status.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return status.Convert(err)
}

func TestGRPCClientsReadTheLoadBalancersAnswers(t *testing.T) {
	backend := grpcBackend(t)
	const method = "/grpc.health.v1.Health/Check"
	rule := func(host string, a lb.Action) lb.VirtualHost {
		return lb.VirtualHost{Hostname: host, Rules: []lb.Rule{{Name: host,
			Match: lb.Match{Path: &lb.PathMatch{Type: lb.MatchExact, Value: method}}, Action: a}}}
	}
	addr, port := freeAddr(t)
	c, err := Compile(Spec{
		TargetGroups: []lb.TargetGroup{
			{Name: "up", Protocol: lb.ProtocolH2C, Targets: []lb.Target{backend}},
			{Name: "empty", Protocol: lb.ProtocolH2C},
		},
		Listeners: []lb.Listener{{Name: "http", Port: port, Protocol: lb.ProtocolHTTP, VirtualHosts: []lb.VirtualHost{
			rule("ok.test", lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "up", Weight: 1}}}),
			// What mapping makes of a GRPCRoute rule whose backends are
			// all invalid, and of one whose share is.
			rule("none-valid.test", lb.Action{FixedResponse: &lb.FixedResponse{StatusCode: 503}}),
			rule("half-valid.test", lb.Action{InvalidBackendStatus: 503,
				Forward: []lb.WeightedBackend{{TargetGroup: "up", Weight: 1}, {Weight: 1}}}),
			// An HTTPRoute's invalid share: 500, which gRPC reads as UNKNOWN.
			rule("http-invalid.test", lb.Action{Forward: []lb.WeightedBackend{{Weight: 1}}}),
			rule("no-targets.test", lb.Action{Forward: []lb.WeightedBackend{{TargetGroup: "empty", Weight: 1}}}),
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Address: addr})
	t.Cleanup(func() { _ = srv.Close() })
	if st := srv.Apply(c); !st[0].Bound {
		t.Fatalf("listener not bound: %s", st[0].Error)
	}
	target := net.JoinHostPort(addr.String(), strconv.Itoa(int(port)))
	dial := func(host string) *grpc.ClientConn {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(host))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}

	for _, tc := range []struct {
		host    string
		code    codes.Code
		message string
	}{
		{"ok.test", codes.OK, ""},
		{"none-valid.test", codes.Unavailable, "the route rule has no valid backend"},
		{"http-invalid.test", codes.Unknown, "invalid backend reference"},
		{"no-targets.test", codes.Unavailable, "no healthy targets"},
		{"unrouted.test", codes.Unimplemented, "no route matches the request"},
	} {
		st := grpcCall(t, dial(tc.host))
		if st.Code() != tc.code || st.Message() != tc.message {
			t.Errorf("%s: %v %q, want %v %q", tc.host, st.Code(), st.Message(), tc.code, tc.message)
		}
	}

	// Half the calls to the rule with one invalid backend of two: each is
	// OK or UNAVAILABLE (both are seen: 200 calls miss one side with
	// probability 2^-199).
	conn := dial("half-valid.test")
	seen := map[codes.Code]int{}
	for range 200 {
		st := grpcCall(t, conn)
		seen[st.Code()]++
		if st.Code() == codes.Unavailable && st.Message() != "invalid backend reference" {
			t.Errorf("UNAVAILABLE with message %q", st.Message())
		}
	}
	if len(seen) != 2 || seen[codes.OK] == 0 || seen[codes.Unavailable] == 0 {
		t.Errorf("codes of 200 calls to a half-invalid rule: %v, want OK and UNAVAILABLE only", seen)
	}

	// The gRPC answer is trailers-only: HTTP 200, the status in the one
	// HEADERS frame, no body. Requests that are not gRPC keep the HTTP status.
	tr := NewH2CTransport() // HTTP/2 with prior knowledge, as gRPC clients speak it
	t.Cleanup(tr.CloseIdleConnections)
	for _, ct := range []string{"application/grpc", "application/grpc-web+proto", "text/plain"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+target+method, strings.NewReader(""))
		req.Host = "none-valid.test"
		req.Header.Set("Content-Type", ct)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		grpcReq := strings.HasPrefix(ct, "application/grpc")
		switch {
		case grpcReq && (resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != "14" || resp.Header.Get("Content-Type") != ct || len(body) > 0 || len(resp.Trailer) > 0):
			t.Errorf("%s: %d %v body %q trailers %v, want a trailers-only 200 with grpc-status 14", ct, resp.StatusCode, resp.Header, body, resp.Trailer)
		case !grpcReq && (resp.StatusCode != 503 || resp.Header.Get("Grpc-Status") != ""):
			t.Errorf("%s: %d %v, want the plain 503", ct, resp.StatusCode, resp.Header)
		}
	}
}

func TestGRPCMessageEncoding(t *testing.T) {
	if got, want := grpcMessage("100% sure: é\n"), "100%25 sure: %C3%A9%0A"; got != want {
		t.Errorf("grpcMessage = %q, want %q", got, want)
	}
}
