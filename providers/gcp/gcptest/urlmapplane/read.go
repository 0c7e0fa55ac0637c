package urlmapplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The plane reads the region's state through the Compute Engine REST API,
// the paths and JSON bodies the apiv1 REST clients use, with plain HTTP
// calls: what it serves is what any API client would read, never the
// double's memory. (The v1.73 client's listNetworkEndpoints sends a body
// the API refuses; see providers/gcp/api.go. Plain calls avoid that.)

// reader lists one region's load-balancing resources.
type reader struct {
	endpoint string
	project  string
	region   string
	http     *http.Client
}

// maxBody bounds one API answer.
const maxBody = 64 << 20

func (rd *reader) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var rdr io.Reader
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rd.endpoint+"/compute/v1/"+path, rdr)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rd.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &apiError{method: method, path: path, code: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	return b, nil
}

type apiError struct {
	method, path string
	code         int
	body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("urlmapplane: %s %s: %d %s", e.method, e.path, e.code, e.body)
}

var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// list reads every page of a collection: "regions/R/urlMaps".
func list[T proto.Message](ctx context.Context, rd *reader, coll string, mk func() T) ([]T, error) {
	var out []T
	token := ""
	for {
		q := url.Values{"maxResults": {"500"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		b, err := rd.do(ctx, http.MethodGet, "projects/"+rd.project+"/"+coll+"?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Items         []json.RawMessage `json:"items"`
			NextPageToken string            `json:"nextPageToken"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("urlmapplane: list %s: %w", coll, err)
		}
		for _, raw := range page.Items {
			v := mk()
			if err := unmarshal.Unmarshal(raw, v); err != nil {
				return nil, fmt.Errorf("urlmapplane: list %s: %w", coll, err)
			}
			out = append(out, v)
		}
		if token = page.NextPageToken; token == "" {
			return out, nil
		}
	}
}

// endpointsOf reads a zonal NEG and its endpoints, as "ip:port" with the
// group's defaultPort for endpoints without one.
func (rd *reader) endpointsOf(ctx context.Context, negRef string) ([]string, error) {
	path := strings.TrimPrefix(negRef, "projects/"+rd.project+"/")
	b, err := rd.do(ctx, http.MethodGet, "projects/"+rd.project+"/"+path, nil)
	if err != nil {
		return nil, err
	}
	neg := &computepb.NetworkEndpointGroup{}
	if err := unmarshal.Unmarshal(b, neg); err != nil {
		return nil, fmt.Errorf("urlmapplane: %s: %w", negRef, err)
	}
	switch t := neg.GetNetworkEndpointType(); t {
	case "GCE_VM_IP_PORT", "NON_GCP_PRIVATE_IP_PORT", "":
	default:
		return nil, fmt.Errorf("urlmapplane: %s: endpoints of type %s are not served", negRef, t)
	}
	var out []string
	token := ""
	for {
		q := url.Values{"maxResults": {"500"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		b, err := rd.do(ctx, http.MethodPost, "projects/"+rd.project+"/"+path+"/listNetworkEndpoints?"+q.Encode(), []byte("{}"))
		if err != nil {
			return nil, err
		}
		var page computepb.NetworkEndpointGroupsListNetworkEndpoints
		if err := unmarshal.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("urlmapplane: %s endpoints: %w", negRef, err)
		}
		for _, e := range page.GetItems() {
			ep := e.GetNetworkEndpoint()
			port := ep.GetPort()
			if ep.Port == nil {
				port = neg.GetDefaultPort()
			}
			ip, err := netip.ParseAddr(ep.GetIpAddress())
			if err != nil || port < 1 || port > 65535 {
				continue
			}
			out = append(out, netip.AddrPortFrom(ip, uint16(port)).String())
		}
		if token = page.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// ref turns a link (a URL, "projects/P/...", "regions/R/...") into
// "projects/P/regions/R/coll/name".
func (rd *reader) ref(link string) string {
	if i := strings.Index(link, "/projects/"); i >= 0 && strings.Contains(link[:i], "://") {
		link = link[i+1:]
	}
	link = strings.TrimPrefix(link, "compute/v1/")
	if !strings.HasPrefix(link, "projects/") {
		link = "projects/" + rd.project + "/" + link
	}
	return link
}

// table is one consistent view of the region, compiled for serving.
type table struct {
	frontends map[string]*frontend // by "ip:port"
	services  map[string]*service  // by ref
}

// frontend is what one forwarding rule's port serves.
type frontend struct {
	key  string // "ip:port"
	rule string // the forwarding rule's name
	kind string // kindHTTP, kindHTTPS or kindTCP
	// HTTP and HTTPS: the proxy's URL map; HTTPS: its certificates, in
	// the proxy's order.
	urlMap *urlMap
	certs  []tls.Certificate
	// TCP: the proxy's backend service and its proxy header.
	service     string
	proxyHeader string
}

const (
	kindHTTP  = "http"
	kindHTTPS = "https"
	kindTCP   = "tcp"
)

// service is a backend service and its endpoints.
type service struct {
	ref       string
	protocol  string
	timeout   time.Duration
	endpoints []string
}

// defaultServiceTimeout is a backend service's timeoutSec when unset: 30
// seconds (the backendServices reference).
const defaultServiceTimeout = 30 * time.Second

// maxPortsPerRule bounds the ports one forwarding rule's portRange opens.
const maxPortsPerRule = 64

// read builds a table from the API. problems are the parts it could not
// serve (a regex that does not compile, a certificate without its key):
// the rest is served.
func (rd *reader) read(ctx context.Context, keys *Keyring) (*table, []error, error) {
	region := "regions/" + rd.region + "/"
	rules, err := list(ctx, rd, region+"forwardingRules", func() *computepb.ForwardingRule { return &computepb.ForwardingRule{} })
	if err != nil {
		return nil, nil, err
	}
	httpProxies, err := list(ctx, rd, region+"targetHttpProxies", func() *computepb.TargetHttpProxy { return &computepb.TargetHttpProxy{} })
	if err != nil {
		return nil, nil, err
	}
	httpsProxies, err := list(ctx, rd, region+"targetHttpsProxies", func() *computepb.TargetHttpsProxy { return &computepb.TargetHttpsProxy{} })
	if err != nil {
		return nil, nil, err
	}
	tcpProxies, err := list(ctx, rd, region+"targetTcpProxies", func() *computepb.TargetTcpProxy { return &computepb.TargetTcpProxy{} })
	if err != nil {
		return nil, nil, err
	}
	urlMaps, err := list(ctx, rd, region+"urlMaps", func() *computepb.UrlMap { return &computepb.UrlMap{} })
	if err != nil {
		return nil, nil, err
	}
	backends, err := list(ctx, rd, region+"backendServices", func() *computepb.BackendService { return &computepb.BackendService{} })
	if err != nil {
		return nil, nil, err
	}
	certs, err := list(ctx, rd, region+"sslCertificates", func() *computepb.SslCertificate { return &computepb.SslCertificate{} })
	if err != nil {
		return nil, nil, err
	}

	var problems []error
	t := &table{frontends: map[string]*frontend{}, services: map[string]*service{}}
	for _, bs := range backends {
		s := &service{ref: rd.ref(bs.GetSelfLink()), protocol: bs.GetProtocol(), timeout: defaultServiceTimeout}
		if bs.TimeoutSec != nil {
			s.timeout = time.Duration(bs.GetTimeoutSec()) * time.Second
		}
		for _, be := range bs.GetBackends() {
			if be.CapacityScaler != nil && be.GetCapacityScaler() == 0 {
				continue // drained: "a setting of 0 means the group is completely drained"
			}
			eps, err := rd.endpointsOf(ctx, rd.ref(be.GetGroup()))
			var aerr *apiError
			if errors.As(err, &aerr) && aerr.code == http.StatusNotFound {
				continue // deleted between the two reads
			}
			if err != nil {
				return nil, nil, err
			}
			s.endpoints = append(s.endpoints, eps...)
		}
		t.services[s.ref] = s
	}
	compiled := map[string]*urlMap{}
	for _, um := range urlMaps {
		c, errs := compileURLMap(um, rd.ref)
		compiled[rd.ref(um.GetSelfLink())] = c
		problems = append(problems, errs...)
	}
	byRef := func(link string) string { return rd.ref(link) }
	hp := map[string]*computepb.TargetHttpProxy{}
	for _, p := range httpProxies {
		hp[byRef(p.GetSelfLink())] = p
	}
	sp := map[string]*computepb.TargetHttpsProxy{}
	for _, p := range httpsProxies {
		sp[byRef(p.GetSelfLink())] = p
	}
	tp := map[string]*computepb.TargetTcpProxy{}
	for _, p := range tcpProxies {
		tp[byRef(p.GetSelfLink())] = p
	}
	certOf := map[string]*computepb.SslCertificate{}
	for _, c := range certs {
		certOf[byRef(c.GetSelfLink())] = c
	}
	for _, fr := range rules {
		if fr.GetTarget() == "" || (fr.IPProtocol != nil && fr.GetIPProtocol() != "TCP") {
			continue
		}
		ip, err := netip.ParseAddr(fr.GetIPAddress())
		if err != nil {
			problems = append(problems, fmt.Errorf("forwarding rule %s: IP address %q is not an IP", fr.GetName(), fr.GetIPAddress()))
			continue
		}
		lo, hi, ok := portRange(fr.GetPortRange())
		if !ok {
			problems = append(problems, fmt.Errorf("forwarding rule %s: port range %q not served (at most %d ports)", fr.GetName(), fr.GetPortRange(), maxPortsPerRule))
			continue
		}
		base := frontend{rule: fr.GetName()}
		target := byRef(fr.GetTarget())
		switch {
		case hp[target] != nil:
			base.kind = kindHTTP
			base.urlMap = compiled[byRef(hp[target].GetUrlMap())]
		case sp[target] != nil:
			base.kind = kindHTTPS
			base.urlMap = compiled[byRef(sp[target].GetUrlMap())]
			if base.urlMap.httpsRedirects() {
				// httpsRedirect: "Setting this true for TargetHttpsProxy
				// is not permitted" (regionUrlMaps reference).
				problems = append(problems, fmt.Errorf("target HTTPS proxy %s: URL map %s has a redirect with httpsRedirect, which the API does not permit on a target HTTPS proxy", sp[target].GetName(), base.urlMap.name))
			}
			for _, link := range sp[target].GetSslCertificates() {
				c, ok := certOf[byRef(link)]
				if !ok {
					problems = append(problems, fmt.Errorf("target HTTPS proxy %s: certificate %s not found", sp[target].GetName(), link))
					continue
				}
				pair, err := keys.pair(c.GetCertificate())
				if err != nil {
					problems = append(problems, fmt.Errorf("target HTTPS proxy %s: certificate %s: %w", sp[target].GetName(), c.GetName(), err))
					continue
				}
				base.certs = append(base.certs, pair)
			}
		case tp[target] != nil:
			base.kind = kindTCP
			base.service = byRef(tp[target].GetService())
			base.proxyHeader = tp[target].GetProxyHeader()
		default:
			problems = append(problems, fmt.Errorf("forwarding rule %s: target %s not found or not served", fr.GetName(), fr.GetTarget()))
			continue
		}
		if base.kind != kindTCP && base.urlMap == nil {
			problems = append(problems, fmt.Errorf("forwarding rule %s: its proxy's URL map not found", fr.GetName()))
			continue
		}
		for port := lo; port <= hi; port++ {
			f := base
			f.key = netip.AddrPortFrom(ip, uint16(port)).String()
			t.frontends[f.key] = &f
		}
	}
	return t, problems, nil
}

// portRange parses "80", "80-80" or "8080-8081".
func portRange(pr string) (lo, hi int, ok bool) {
	a, b, found := strings.Cut(pr, "-")
	if !found {
		b = a
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	return lo, hi, err1 == nil && err2 == nil && lo >= 1 && lo <= hi && hi <= 65535 && hi-lo < maxPortsPerRule
}
