package gcptest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// maxEndpointsPerCall is the API's limit on one attach or detach call.
const maxEndpointsPerCall = 500

func endpointKey(neg *computepb.NetworkEndpointGroup, e *computepb.NetworkEndpoint) string {
	port := e.GetPort()
	if e.Port == nil {
		port = neg.GetDefaultPort()
	}
	return fmt.Sprintf("%s|%s|%d", e.GetInstance(), e.GetIpAddress(), port)
}

func negVerbs() map[string]verb {
	return map[string]verb{
		"attachNetworkEndpoints": {
			body: func(string) proto.Message { return &computepb.NetworkEndpointGroupsAttachEndpointsRequest{} },
			run: func(d *Double, req *request, ref string, obj, body proto.Message) ([]byte, *apiError) {
				neg := obj.(*computepb.NetworkEndpointGroup)
				add := body.(*computepb.NetworkEndpointGroupsAttachEndpointsRequest).GetNetworkEndpoints()
				if aerr := checkEndpoints(neg, add); aerr != nil {
					return nil, aerr
				}
				have := map[string]bool{}
				for _, e := range d.endpoints[ref] {
					have[endpointKey(neg, e)] = true
				}
				for _, e := range add {
					k := endpointKey(neg, e)
					if have[k] {
						return nil, invalid("Invalid value for field 'networkEndpoints': endpoint %s:%d is already in network endpoint group '%s'", e.GetIpAddress(), e.GetPort(), neg.GetName())
					}
					have[k] = true
				}
				for _, e := range add {
					d.endpoints[ref] = append(d.endpoints[ref], proto.CloneOf(e))
				}
				return d.operationFor(req, ref, req.verb)
			},
		},
		"detachNetworkEndpoints": {
			body: func(string) proto.Message { return &computepb.NetworkEndpointGroupsDetachEndpointsRequest{} },
			run: func(d *Double, req *request, ref string, obj, body proto.Message) ([]byte, *apiError) {
				neg := obj.(*computepb.NetworkEndpointGroup)
				drop := body.(*computepb.NetworkEndpointGroupsDetachEndpointsRequest).GetNetworkEndpoints()
				if aerr := checkEndpoints(neg, drop); aerr != nil {
					return nil, aerr
				}
				gone := map[string]bool{}
				for _, e := range drop {
					gone[endpointKey(neg, e)] = true
				}
				var keep []*computepb.NetworkEndpoint
				for _, e := range d.endpoints[ref] {
					if gone[endpointKey(neg, e)] {
						delete(gone, endpointKey(neg, e))
						continue
					}
					keep = append(keep, e)
				}
				for _, e := range drop {
					if gone[endpointKey(neg, e)] {
						return nil, invalid("Invalid value for field 'networkEndpoints': endpoint %s:%d is not in network endpoint group '%s'", e.GetIpAddress(), e.GetPort(), neg.GetName())
					}
				}
				d.endpoints[ref] = keep
				return d.operationFor(req, ref, req.verb)
			},
		},
		"listNetworkEndpoints": {
			body: func(string) proto.Message { return &computepb.NetworkEndpointGroupsListEndpointsRequest{} },
			run: func(d *Double, req *request, ref string, _, _ proto.Message) ([]byte, *apiError) {
				eps := d.endpoints[ref]
				start, end, next, aerr := page(req.http, len(eps))
				if aerr != nil {
					return nil, aerr
				}
				items := make([]json.RawMessage, 0, end-start)
				for _, e := range eps[start:end] {
					b, err := protojson.Marshal(&computepb.NetworkEndpointWithHealthStatus{NetworkEndpoint: e})
					if err != nil {
						return nil, errorf(http.StatusInternalServerError, "backendError", "gcptest: marshal: %v", err)
					}
					items = append(items, b)
				}
				out := map[string]any{"kind": "compute#networkEndpointGroupsListNetworkEndpoints", "items": items}
				if next != "" {
					out["nextPageToken"] = next
				}
				b, _ := json.Marshal(out)
				return b, nil
			},
		},
	}
}

func checkEndpoints(neg *computepb.NetworkEndpointGroup, eps []*computepb.NetworkEndpoint) *apiError {
	if len(eps) == 0 || len(eps) > maxEndpointsPerCall {
		return invalid("Invalid value for field 'networkEndpoints': 1 to %d endpoints per call, not %d", maxEndpointsPerCall, len(eps))
	}
	for _, e := range eps {
		if _, err := netip.ParseAddr(e.GetIpAddress()); err != nil {
			return invalid("Invalid value for field 'networkEndpoints.ipAddress': '%s'", e.GetIpAddress())
		}
		port := e.GetPort()
		if e.Port == nil {
			port = neg.GetDefaultPort()
		}
		// The API reference: instance "is required for network endpoints
		// of type GCE_VM_IP and GCE_VM_IP_PORT". The double has no VMs to
		// check it against: only its presence is checked.
		if t := neg.GetNetworkEndpointType(); (t == "GCE_VM_IP_PORT" || t == "GCE_VM_IP") && e.GetInstance() == "" {
			return invalid("Invalid value for field 'networkEndpoints.instance': an endpoint of a %s network endpoint group names its VM instance", t)
		}
		if neg.GetNetworkEndpointType() == "GCE_VM_IP_PORT" && (port < 1 || port > 65535) {
			return invalid("Invalid value for field 'networkEndpoints.port': %d (and the group has no defaultPort)", port)
		}
	}
	return nil
}

func presentNEG(d *Double, ref string, obj proto.Message) {
	obj.(*computepb.NetworkEndpointGroup).Size = proto.Int32(int32(len(d.endpoints[ref])))
}
