package gcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudgate-dev/cloudgate/providers"
)

// defaultEndpoint is Compute Engine's REST root.
const defaultEndpoint = "https://compute.googleapis.com"

// clients are the apiv1 REST clients of the collections the adapter
// writes, all over one retrying, counting HTTP client.
type clients struct {
	http     *http.Client
	endpoint string

	addresses   *compute.AddressesClient
	rules       *compute.ForwardingRulesClient
	httpProxies *compute.RegionTargetHttpProxiesClient
	tlsProxies  *compute.RegionTargetHttpsProxiesClient
	tcpProxies  *compute.RegionTargetTcpProxiesClient
	urlMaps     *compute.RegionUrlMapsClient
	backends    *compute.RegionBackendServicesClient
	checks      *compute.RegionHealthChecksClient
	certs       *compute.RegionSslCertificatesClient
	negs        *compute.NetworkEndpointGroupsClient
	subnets     *compute.SubnetworksClient
	regionOps   *compute.RegionOperationsClient
	zoneOps     *compute.ZoneOperationsClient
}

func newClients(ctx context.Context, httpClient *http.Client, endpoint string) (*clients, error) {
	if endpoint == "" {
		endpoint = defaultEndpoint
	}
	opts := []option.ClientOption{option.WithHTTPClient(httpClient), option.WithEndpoint(endpoint)}
	c := &clients{http: httpClient, endpoint: strings.TrimRight(endpoint, "/")}
	var errs []error
	mk := func(err error) { errs = append(errs, err) }
	var err error
	c.addresses, err = compute.NewAddressesRESTClient(ctx, opts...)
	mk(err)
	c.rules, err = compute.NewForwardingRulesRESTClient(ctx, opts...)
	mk(err)
	c.httpProxies, err = compute.NewRegionTargetHttpProxiesRESTClient(ctx, opts...)
	mk(err)
	c.tlsProxies, err = compute.NewRegionTargetHttpsProxiesRESTClient(ctx, opts...)
	mk(err)
	c.tcpProxies, err = compute.NewRegionTargetTcpProxiesRESTClient(ctx, opts...)
	mk(err)
	c.urlMaps, err = compute.NewRegionUrlMapsRESTClient(ctx, opts...)
	mk(err)
	c.backends, err = compute.NewRegionBackendServicesRESTClient(ctx, opts...)
	mk(err)
	c.checks, err = compute.NewRegionHealthChecksRESTClient(ctx, opts...)
	mk(err)
	c.certs, err = compute.NewRegionSslCertificatesRESTClient(ctx, opts...)
	mk(err)
	c.negs, err = compute.NewNetworkEndpointGroupsRESTClient(ctx, opts...)
	mk(err)
	c.subnets, err = compute.NewSubnetworksRESTClient(ctx, opts...)
	mk(err)
	c.regionOps, err = compute.NewRegionOperationsRESTClient(ctx, opts...)
	mk(err)
	c.zoneOps, err = compute.NewZoneOperationsRESTClient(ctx, opts...)
	mk(err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("compute clients: %w", err)
	}
	return c, nil
}

// each drains a list iterator.
func each[T any](it interface{ Next() (T, error) }) ([]T, error) {
	var out []T
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// listNetworkEndpoints lists a NEG's endpoints by hand: the v1.73 client's
// ListNetworkEndpoints sends the whole request message (project, zone,
// group) as the body, where the API takes only the
// NetworkEndpointGroupsListEndpointsRequest, and the API refuses unknown
// fields. Later client versions send the right body; this one cannot be
// upgraded here (see ../shared/notes/dependencies.md).
func (c *clients) listNetworkEndpoints(ctx context.Context, project, zone, neg string) ([]*computepb.NetworkEndpoint, error) {
	var out []*computepb.NetworkEndpoint
	token := ""
	for {
		u := fmt.Sprintf("%s/compute/v1/projects/%s/zones/%s/networkEndpointGroups/%s/listNetworkEndpoints",
			c.endpoint, url.PathEscape(project), url.PathEscape(zone), url.PathEscape(neg))
		q := url.Values{"maxResults": {"500"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u+"?"+q.Encode(), bytes.NewReader([]byte("{}")))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if err := googleapi.CheckResponse(&http.Response{StatusCode: resp.StatusCode, Body: io.NopCloser(bytes.NewReader(body)), Header: resp.Header}); err != nil {
			var gerr *googleapi.Error
			if errors.As(err, &gerr) && len(body) > 0 {
				gerr.Body = string(body)
			}
			return nil, err
		}
		var page computepb.NetworkEndpointGroupsListNetworkEndpoints
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("listNetworkEndpoints: %w", err)
		}
		for _, e := range page.GetItems() {
			if e.GetNetworkEndpoint() != nil {
				out = append(out, e.GetNetworkEndpoint())
			}
		}
		if token = page.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// operationTimeout bounds the wait for one long-running operation: URL-map
// and backend-service changes on regional load balancers take seconds to
// a few minutes to go DONE.
const operationTimeout = 10 * time.Minute

// await waits for op with the operations' wait method (which blocks up to
// two minutes on the server per call), within operationTimeout, and
// returns the operation's own error when it failed.
func (c *clients) await(ctx context.Context, op *compute.Operation) error {
	if op == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, operationTimeout)
	defer cancel()
	o := op.Proto()
	for o.GetStatus() != computepb.Operation_DONE {
		var err error
		switch {
		case o.GetZone() != "":
			o, err = c.zoneOps.Wait(ctx, &computepb.WaitZoneOperationRequest{Project: projectOf(o), Zone: lastSegment(o.GetZone()), Operation: o.GetName()})
		default:
			o, err = c.regionOps.Wait(ctx, &computepb.WaitRegionOperationRequest{Project: projectOf(o), Region: lastSegment(o.GetRegion()), Operation: o.GetName()})
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("operation %s not done after %s: %w", op.Name(), operationTimeout, ctx.Err())
			}
			return err
		}
	}
	if e := o.GetError(); e != nil && len(e.GetErrors()) > 0 {
		first := e.GetErrors()[0]
		code := int(o.GetHttpErrorStatusCode())
		if code == 0 {
			code = http.StatusBadRequest
		}
		return &googleapi.Error{Code: code, Message: first.GetMessage(), Errors: []googleapi.ErrorItem{{Reason: first.GetCode(), Message: first.GetMessage()}}}
	}
	return nil
}

// projectOf is the project an operation's self link names.
func projectOf(o *computepb.Operation) string {
	p := relative(o.GetSelfLink())
	if rest, ok := strings.CutPrefix(p, "projects/"); ok {
		if i := strings.IndexByte(rest, '/'); i > 0 {
			return rest[:i]
		}
	}
	return ""
}

// apiError is err's googleapi.Error, or nil.
func apiError(err error) *googleapi.Error {
	var g *googleapi.Error
	if errors.As(err, &g) {
		return g
	}
	var a *apierror.APIError
	if errors.As(err, &a) {
		if errors.As(a.Unwrap(), &g) {
			return g
		}
	}
	return nil
}

func hasCode(err error, code int) bool {
	g := apiError(err)
	return g != nil && g.Code == code
}

// reason is the API's first error reason ("resourceInUseByAnotherResource").
func reason(err error) string {
	g := apiError(err)
	if g == nil {
		return ""
	}
	for _, e := range g.Errors {
		if e.Reason != "" {
			return e.Reason
		}
	}
	return ""
}

// isReason compares an error's reason with want. An operation's errors
// spell reasons as codes (RESOURCE_IN_USE_BY_ANOTHER_RESOURCE), a
// request's as camel case (resourceInUseByAnotherResource).
func isReason(err error, want string) bool {
	return strings.EqualFold(strings.ReplaceAll(reason(err), "_", ""), want)
}

// classify turns an API error into what the reconciler acts on: a 400
// that no retry can fix is a *providers.InvalidError naming the model
// element (empty for none); a resource still in use, a conflict, a 403
// (IAM is fixed by an administrator, then the next retry works) and the
// rest are transient.
func classify(err error, call, element string) error {
	if err == nil {
		return nil
	}
	g := apiError(err)
	if g != nil && g.Code == http.StatusBadRequest && !isReason(err, "resourceInUseByAnotherResource") {
		inv := &providers.InvalidError{Message: fmt.Sprintf("%s: %s", call, g.Message), Cause: err}
		if element != "" {
			inv.Elements = []string{element}
		}
		return inv
	}
	return fmt.Errorf("%s: %w", call, err)
}
