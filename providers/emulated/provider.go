package emulated

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/cloudgate-dev/cloudgate/mapping/lb"
	"github.com/cloudgate-dev/cloudgate/providers"
	"github.com/cloudgate-dev/cloudgate/providers/emulated/cloud"
)

// ControllerName is the GatewayClass controllerName this provider serves.
const ControllerName = "cloudgate.dev/emulated"

// Config configures a Provider.
type Config struct {
	// Endpoint is the cloud API's base URL, e.g. cloud.Server.URL().
	Endpoint string
	// HTTPClient carries API requests; nil means a pooled client with a 30s
	// timeout per attempt.
	HTTPClient *http.Client
	// Logger receives plan and retry logs; nil discards them.
	Logger *slog.Logger
	// RetryMax, RetryWaitMin and RetryWaitMax tune the retries of 429 and 5xx
	// answers; zero values mean 5, 50ms and 1s. The cloud is local, so short
	// waits are enough to ride out injected faults and restarts.
	RetryMax     int
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
}

// Provider implements providers.Provider for the emulated cloud.
type Provider struct {
	api    *client
	logger *slog.Logger
}

var _ providers.Provider = (*Provider)(nil)

// New returns a Provider for the cloud at cfg.Endpoint. It makes no request.
func New(cfg Config) (*Provider, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("emulated: endpoint %q must be an http(s) URL", cfg.Endpoint)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rc := retryablehttp.NewClient()
	rc.Logger = nil // retries are reported through the returned error, not logged per attempt
	rc.RetryMax = orDefault(cfg.RetryMax, 5)
	rc.RetryWaitMin = orDefault(cfg.RetryWaitMin, 50*time.Millisecond)
	rc.RetryWaitMax = orDefault(cfg.RetryWaitMax, time.Second)
	// Hand back the last response instead of a generic "giving up" error, so
	// that the caller can decode the cloud's JSON error into an *APIError.
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	if cfg.HTTPClient != nil {
		rc.HTTPClient = cfg.HTTPClient
	} else {
		rc.HTTPClient.Timeout = 30 * time.Second
	}
	return &Provider{
		api:    &client{base: strings.TrimRight(cfg.Endpoint, "/"), http: rc},
		logger: logger,
	}, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// ControllerName implements providers.Provider.
func (p *Provider) ControllerName() string { return ControllerName }

// Capabilities implements providers.Provider.
func (p *Provider) Capabilities() lb.Capabilities {
	both := map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchRegex: true}
	protocols := map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true,
		lb.ProtocolTCP: true, lb.ProtocolUDP: true, lb.ProtocolTLS: true}
	// TCP and UDP target groups carry Streams; TLS ones, passed through or
	// terminated, reach their targets over TCP.
	backends := map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true, lb.ProtocolH2C: true,
		lb.ProtocolTCP: true, lb.ProtocolUDP: true}
	return lb.Capabilities{
		Provider:            "emulated",
		Protocols:           protocols,
		PathMatch:           map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchPrefix: true, lb.MatchRegex: true},
		HeaderMatch:         both,
		QueryMatch:          map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchRegex: true},
		MethodMatch:         true,
		InvalidBackendShare: true,
		// The data plane realizes every filter of the model (dataplane/filters.go).
		RequestHeaderModifier:  true,
		ResponseHeaderModifier: true,
		Redirect:               true,
		Rewrite:                true,
		Mirror:                 true,
		MirrorPercent:          true,
		Timeouts:               true,
		MisdirectedRequests:    true,
		// TLS listeners pass TLS through or end it with the Stream's
		// certificate (dataplane/tcp.go), chosen per connection by SNI.
		TLSTerminate: true,
		// Listeners accept HTTP/2 (prior knowledge on HTTP, ALPN h2 on HTTPS) and
		// H2C target groups keep it HTTP/2 to the backend, which gRPC needs.
		GRPC:             map[lb.Protocol]bool{lb.ProtocolHTTP: true, lb.ProtocolHTTPS: true},
		BackendProtocols: backends,
	}
}

// ownerTags are the tags that find everything owner has. The gateway-uid tag
// alone would do within one cluster; the cluster tag keeps two clusters that
// share a cloud apart.
func ownerTags(owner lb.Owner) map[string]string {
	return map[string]string{lb.TagCluster: owner.Cluster, lb.TagGatewayUID: owner.UID}
}

func owns(owner lb.Owner, tags map[string]string) bool {
	c, ok1 := tags[lb.TagCluster]
	u, ok2 := tags[lb.TagGatewayUID]
	return ok1 && ok2 && c == owner.Cluster && u == owner.UID
}

// Plan reads the cloud and returns what Ensure would do, without doing it.
func (p *Provider) Plan(ctx context.Context, desired *lb.LoadBalancer) (Plan, error) {
	if err := validate(desired); err != nil {
		return Plan{}, err
	}
	return p.plan(ctx, desired)
}

func (p *Provider) plan(ctx context.Context, desired *lb.LoadBalancer) (Plan, error) {
	owned, err := p.api.list(ctx, "", ownerTags(desired.Owner))
	if err != nil {
		return Plan{}, fmt.Errorf("list load balancers of %s: %w", desired.Owner.Key(), err)
	}
	want := toWire(desired)
	return plan(&want, owned), nil
}

func validate(desired *lb.LoadBalancer) error {
	if desired == nil {
		return fmt.Errorf("%w: no load balancer model", providers.ErrInvalid)
	}
	if err := desired.Validate(); err != nil {
		return fmt.Errorf("%w: %w", providers.ErrInvalid, err)
	}
	return nil
}

// errReplan says the cloud changed under the plan (a concurrent writer):
// read again and plan again.
var errReplan = errors.New("the cloud changed while applying; planning again")

// maxPlans bounds re-planning after conflicts; a writer racing us that often
// is better handled by the controller's backoff.
const maxPlans = 3

// Ensure implements providers.Provider.
func (p *Provider) Ensure(ctx context.Context, desired *lb.LoadBalancer) (lb.Status, error) {
	if err := validate(desired); err != nil {
		return lb.Status{}, err
	}
	var err error
	for range maxPlans {
		var pl Plan
		if pl, err = p.plan(ctx, desired); err != nil {
			return lb.Status{}, err
		}
		if pl.Changes() {
			p.logger.Info("Applying plan", "gateway", desired.Owner.Key(), "plan", pl.String())
		}
		var cur cloud.LoadBalancer
		cur, err = p.apply(ctx, desired.Owner, pl)
		if err == nil {
			return status(cur), nil
		}
		if !errors.Is(err, errReplan) {
			return lb.Status{}, err
		}
	}
	return lb.Status{}, err
}

// apply runs the plan's steps in order and returns the desired load
// balancer's final state.
func (p *Provider) apply(ctx context.Context, owner lb.Owner, pl Plan) (cloud.LoadBalancer, error) {
	var final cloud.LoadBalancer
	for _, s := range pl.Steps {
		var err error
		switch s.Kind {
		case StepNothing:
			final, err = p.api.get(ctx, s.ID)
			if isStatus(err, http.StatusNotFound) {
				err = errReplan
			}
		case StepCreate:
			final, err = p.api.create(ctx, s.desired)
			if isStatus(err, http.StatusConflict) {
				err = p.explainConflict(ctx, owner, s.Name)
			}
		case StepUpdate:
			in := s.desired
			in.Version = s.version
			final, err = p.api.replace(ctx, s.ID, in)
			if isStatus(err, http.StatusConflict) || isStatus(err, http.StatusNotFound) {
				err = errReplan
			}
		case StepDelete:
			err = p.api.delete(ctx, s.ID)
			if isStatus(err, http.StatusNotFound) {
				err = nil // already gone: the goal of the step
			}
		}
		if err != nil {
			if errors.Is(err, errReplan) {
				return final, err
			}
			return final, fmt.Errorf("%s load balancer %s: %w", strings.ToLower(string(s.Kind)), s.Name, err)
		}
	}
	return final, nil
}

// explainConflict runs after a create found the name taken. If the holder is
// ours (a retried create, or a concurrent Ensure), planning again finds it by
// its tags. Otherwise it is someone else's and must not be adopted.
func (p *Provider) explainConflict(ctx context.Context, owner lb.Owner, name string) error {
	found, err := p.api.list(ctx, name, nil)
	if err != nil {
		return err
	}
	for _, f := range found {
		if owns(owner, f.Tags) {
			return errReplan
		}
	}
	return fmt.Errorf("%w: load balancer %q already exists without the ownership tags of Gateway %s (%s=%q, %s=%q); "+
		"refusing to adopt it: delete or rename it", providers.ErrInvalid, name, owner.Key(),
		lb.TagCluster, owner.Cluster, lb.TagGatewayUID, owner.UID)
}

// status reports a load balancer as the model wants it.
func status(cur cloud.LoadBalancer) lb.Status {
	st := lb.Status{Ready: cur.Address != "", Listeners: make(map[string]lb.ListenerStatus, len(cur.Listeners))}
	if cur.Address != "" {
		st.Addresses = []lb.Address{{Type: lb.AddressIP, Value: cur.Address}}
	} else {
		st.Message = "no address allocated"
	}
	for _, l := range cur.Listeners {
		st.Listeners[l.Name] = lb.ListenerStatus{Ready: l.Bound, Message: l.Message}
		if !l.Bound {
			st.Ready = false
			if st.Message == "" {
				st.Message = fmt.Sprintf("listener %q is not serving", l.Name)
			}
		}
	}
	return st
}

// Delete implements providers.Provider.
func (p *Provider) Delete(ctx context.Context, owner lb.Owner) error {
	owned, err := p.api.list(ctx, "", ownerTags(owner))
	if err != nil {
		return fmt.Errorf("list load balancers of %s: %w", owner.Key(), err)
	}
	mine := owned[:0]
	for _, cur := range owned {
		if owns(owner, cur.Tags) { // the filter already ensures it; never trust one check for deletes
			mine = append(mine, cur)
		}
	}
	pl := plan(nil, mine)
	if _, err := p.apply(ctx, owner, pl); err != nil {
		return err
	}
	if pl.Changes() {
		p.logger.Info("Deleted load balancers", "gateway", owner.Key(), "count", len(pl.Steps))
	}
	return nil
}
