package aws

import (
	"fmt"
	"strings"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
)

// ALB target group protocol versions. The model's H2C groups (HTTP/2
// without TLS, prior knowledge) are HTTP groups of version HTTP2, or GRPC
// for the groups GRPCRoutes use ("/grpc" names): ALB then keeps gRPC's
// trailers and status codes, and health-checks with gRPC codes.
const (
	versionHTTP1 = "HTTP1"
	versionHTTP2 = "HTTP2"
	versionGRPC  = "GRPC"
)

// grpcHealthPath and grpcHealthCodes are ALB's defaults for a GRPC group:
// the path of a method no server has, answered with 12 (UNIMPLEMENTED) by
// any live gRPC server.
const (
	grpcHealthPath  = "/AWS.ALB/healthcheck"
	grpcHealthCodes = "12"
)

// h2cGroup converts an H2C group: an HTTP group (with the HTTP one's
// health check) of version HTTP2 or GRPC, named for H2C, so that a change
// of version is a new group (a Recreate: ELBv2 cannot change it).
func h2cGroup(m *lb.LoadBalancer, tg lb.TargetGroup) (*targetGroup, error) {
	plain := tg
	plain.Protocol = lb.ProtocolHTTP
	g, err := convertGroup(m, plain)
	if err != nil {
		return nil, err
	}
	g.Name = tgName(m.Owner, tg)
	g.ProtocolVersion = versionHTTP2
	// A session's group of a GRPCRoute is "<group>/grpc/session-<hash>".
	if strings.HasSuffix(tg.Name, "/grpc") || strings.Contains(tg.Name, "/grpc/session-") {
		g.ProtocolVersion = versionGRPC
		if hc := tg.HealthCheck; hc != nil && len(hc.SuccessCodes) > 0 {
			return nil, fmt.Errorf("aws: a gRPC target group's health check matches gRPC status codes, not HTTP success codes")
		}
		if tg.HealthCheck == nil || tg.HealthCheck.Path == "" {
			g.Health.Path = grpcHealthPath
		}
		g.Health.Matcher, g.Health.GRPCCodes = "", grpcHealthCodes
	}
	return g, nil
}

// http2OnHTTP says why rule r, on a plain HTTP listener, cannot forward
// where it does: ALB sends HTTP/2 and gRPC to targets only from HTTPS
// listeners. Empty when it can.
func http2OnHTTP(r *rule, groups []*targetGroup) string {
	for _, f := range r.Action.Forward {
		for _, g := range groups {
			if g.Name == f.TargetGroup && (g.ProtocolVersion == versionHTTP2 || g.ProtocolVersion == versionGRPC) {
				return fmt.Sprintf("aws: an ALB forwards to %s target groups (%s) only from HTTPS listeners", g.ProtocolVersion, g.Logical)
			}
		}
	}
	return ""
}
