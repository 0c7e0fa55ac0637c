package emulated

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
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
	// RetryMax, RetryWaitMin and RetryWaitMax tune the retries of 429, 5xx
	// and failed connections; zero values mean 2, 20ms and 200ms, and a
	// negative RetryMax means no retry. Retries stay short on purpose: a
	// failing call gives up within a fraction of a second (two waits of
	// 20ms and 40ms by default) and the controller's rate-limited
	// exponential backoff takes over, so one Gateway's outage never holds
	// its worker for long. A Retry-After longer than RetryWaitMax is cut to
	// it for the same reason.
	RetryMax     int
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// ListPageSize is the page size of list requests; zero means the
	// cloud's default (cloud.DefaultPageSize), and the cloud caps it at
	// cloud.MaxPageSize.
	ListPageSize int
	// CountCall, when set, is told of every API call once it is over (after
	// the retries above) with its operation (OpList, ...) and outcome
	// (Outcome), for metrics. It runs on the calling goroutine and must not
	// block.
	CountCall func(operation, outcome string)
}

// Defaults of Config.
const (
	DefaultRetryMax     = 2
	DefaultRetryWaitMin = 20 * time.Millisecond
	DefaultRetryWaitMax = 200 * time.Millisecond
)

// Provider implements providers.Provider for the emulated cloud.
type Provider struct {
	api    *client
	logger *slog.Logger
	// restart is the bulk observation of each cluster that stands in for
	// every Gateway's first read after a restart (observe.go).
	restart restartViews
	// last is each owner's load balancer as the last write or read left
	// it (written.go).
	last lastWritten
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
	rc.RetryMax = max(orDefault(cfg.RetryMax, DefaultRetryMax), 0)
	rc.RetryWaitMin = orDefault(cfg.RetryWaitMin, DefaultRetryWaitMin)
	rc.RetryWaitMax = orDefault(cfg.RetryWaitMax, DefaultRetryWaitMax)
	rc.Backoff = func(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
		return min(retryablehttp.DefaultBackoff(minWait, maxWait, attempt, resp), maxWait)
	}
	// Hand back the last response instead of a generic "giving up" error, so
	// that the caller can decode the cloud's JSON error into an *APIError.
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	if cfg.HTTPClient != nil {
		rc.HTTPClient = cfg.HTTPClient
	} else {
		rc.HTTPClient.Timeout = 30 * time.Second
	}
	return &Provider{
		api:    &client{base: strings.TrimRight(cfg.Endpoint, "/"), http: rc, pageSize: cfg.ListPageSize, count: cfg.CountCall},
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

// Capabilities implements providers.Provider. The emulated cloud realizes
// every feature of the model but two, and has no limits (every Max field is
// 0):
//   - CertificateRefs is empty: it holds no certificates of its own, so it
//     serves PEM certificates only, and mapping reports the parameters'
//     aws.certificateARNs and gcp.sslCertificates on the listeners.
//   - TargetGroup.HealthCheck is stored and given back as it came, but the
//     data plane does not probe: EndpointSlice readiness decides which
//     targets get traffic, and Status.TargetGroups stays empty.
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
		StaticAddresses:     true,
		Protocols:           protocols,
		PathMatch:           map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchPrefix: true, lb.MatchRegex: true},
		HeaderMatch:         both,
		QueryMatch:          map[lb.MatchType]bool{lb.MatchExact: true, lb.MatchRegex: true},
		MethodMatch:         true,
		InvalidBackendShare: true,
		FixedResponse:       true,
		// The data plane realizes every filter of the model, on rules and
		// on backends (dataplane/filters.go), and every redirect code.
		RequestHeaderModifier:  true,
		ResponseHeaderModifier: true,
		BackendHeaderModifier:  true,
		BackendURLRewrite:      true,
		Redirect:               true,
		RedirectStatusCodes:    map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true},
		PrefixRedirect:         true,
		RedirectPort:           true,
		Rewrite:                true,
		PrefixRewrite:          true,
		// The data plane rewrites the whole path whatever matched it.
		FullPathRewriteOnAnyMatch: true,
		Mirror:                    true,
		MirrorPercent:             true,
		RequestTimeout:            true,
		BackendTimeout:            true,
		// Retries on lb.Retry's terms, with exponential backoff from its
		// base interval (dataplane/retry.go).
		Retry:               true,
		RetryBackoff:        true,
		MisdirectedRequests: true,
		// The handler answers preflights itself and adds the CORS
		// headers to the other responses (dataplane/cors.go).
		CORS: true,
		// Cookies and headers of every kind, pinned per rule by the
		// handler (dataplane/sessions.go).
		SessionPersistence: lb.SessionPersistenceCapabilities{Cookie: true, CookieName: true, CookiePath: true,
			PermanentCookie: true, TrackedTimeout: true, Header: true, WeightedBackends: true},
		// TLS listeners pass TLS through or end it with the Stream's
		// certificate (dataplane/tcp.go), chosen per connection by SNI.
		TLSTerminate: true,
		// HTTPS listeners ask clients for certificates and check them
		// against the CA bundles, or let every client in for the insecure
		// fallback (dataplane/compile.go, compileClientValidation).
		ClientValidation:                 true,
		ClientValidationInsecureFallback: true,
		// Target groups with TLS are reached over TLS with the model's
		// SNI, verified against its CA bundles (or the host's roots) and
		// names, presenting its client certificate
		// (dataplane/backendtls.go).
		BackendTLS:               true,
		BackendTLSVerify:         true,
		BackendClientCertificate: true,
		// Health checks are stored as they come (not probed), success
		// codes included.
		HealthCheckSuccessCodes: true,
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

// Plan implements providers.Provider: it reads the cloud and returns what
// Ensure would do, without doing it. It always reads afresh (a dry run must
// show the cloud as it is) and leaves the restart's bulk view to Ensure.
func (p *Provider) Plan(ctx context.Context, desired *lb.LoadBalancer) (providers.Plan, error) {
	if err := validate(desired); err != nil {
		return providers.Plan{}, err
	}
	owned, err := p.observe(ctx, desired.Owner)
	if err != nil {
		return providers.Plan{}, err
	}
	want := toWire(desired)
	return newPlan(&want, owned, nil).public(), nil
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

// Ensure implements providers.Provider: Plan, then apply. It reads once (a
// list by the owner's tags) and writes only what the plan changes; right
// after a restart the first Ensure of each owner plans on the bulk list
// instead (observe.go).
func (p *Provider) Ensure(ctx context.Context, desired *lb.LoadBalancer) (providers.Result, error) {
	if err := validate(desired); err != nil {
		return providers.Result{}, err
	}
	want := toWire(desired)
	owned, observed := p.take(ctx, desired.Owner)
	// Between reads a change plans on what the last write left
	// (written.go); a plan that finds nothing to change there is a resync
	// or a retry, which reads.
	onRemembered := false
	var memo ruleIDs
	if !observed {
		if cur, ids, ok := p.last.get(desired.Owner); ok {
			owned, observed, onRemembered, memo = []cloud.LoadBalancer{cur}, true, true, ids
		}
	}
	var res providers.Result
	var err error
	for range maxPlans + 1 {
		if !observed {
			if owned, err = p.observe(ctx, desired.Owner); err != nil {
				p.last.forget(desired.Owner)
				return res, err
			}
		}
		observed = false // planning again means the view was stale: read
		pl := newPlan(&want, owned, memo)
		memo = nil // of the remembered view only
		changes := pl.changes()
		if onRemembered {
			onRemembered = false
			if !changes {
				continue
			}
		}
		// The plan's text is built only for a logger that keeps it: for
		// thousands of rules it costs more than the write.
		if changes && p.logger.Enabled(ctx, slog.LevelInfo) {
			p.logger.Info("Applying plan", "gateway", desired.Owner.Key(), "plan", pl.public().String())
		}
		var cur cloud.LoadBalancer
		cur, res.Applied, err = p.apply(ctx, desired, desired.Owner, pl)
		if err == nil {
			// The plan's first write is the desired load balancer's.
			mem, ids := remembered(pl.writes[0], cur)
			p.last.set(desired.Owner, mem, ids)
			res.Status = status(cur)
			return res, nil
		}
		p.last.forget(desired.Owner)
		if !errors.Is(err, errReplan) {
			return res, err
		}
	}
	return res, err
}

// apply runs the plan's writes in order and returns the desired load
// balancer's final state and the steps that ran, with the ids of what they
// created. desired is nil when the plan deletes everything.
func (p *Provider) apply(ctx context.Context, desired *lb.LoadBalancer, owner lb.Owner, pl plan) (cloud.LoadBalancer, providers.Plan, error) {
	var final cloud.LoadBalancer
	var applied providers.Plan
	if len(pl.writes) > 1 {
		n := 0
		for _, w := range pl.writes {
			n += len(w.steps)
		}
		applied.Steps = make([]providers.Step, 0, n)
	}
	for _, w := range pl.writes {
		var err error
		switch w.action {
		case providers.ActionNothing:
			final = w.current
		case providers.ActionCreate:
			final, err = p.api.create(ctx, w.desired)
			if isStatus(err, http.StatusConflict) {
				err = p.explainConflict(ctx, owner, w.name)
			}
			err = refused(desired, err)
		case providers.ActionUpdate:
			if w.patch != nil {
				in := *w.patch
				in.Version = w.version
				final, err = p.api.patch(ctx, w.id, in, w.desired.Spec)
			} else {
				in := w.desired
				in.Version = w.version
				final, err = p.api.replace(ctx, w.id, in)
			}
			if isStatus(err, http.StatusConflict) || isStatus(err, http.StatusNotFound) {
				err = errReplan
			}
			err = refused(desired, err)
		case providers.ActionDelete:
			err = p.api.delete(ctx, w.id)
			if isStatus(err, http.StatusNotFound) {
				err = nil // already gone: the goal of the step
			}
		}
		if err != nil {
			if errors.Is(err, errReplan) {
				return final, applied, err
			}
			return final, applied, fmt.Errorf("%s load balancer %s: %w", strings.ToLower(string(w.action)), w.name, err)
		}
		// The plan is not used again: its steps become the applied
		// ones as they are (one write's are thousands for as many
		// rules).
		for i := range w.steps {
			if w.steps[i].CloudID == "" {
				w.steps[i].CloudID = final.ID // what the create made
			}
		}
		if len(pl.writes) == 1 {
			applied.Steps = w.steps
		} else {
			applied.Steps = append(applied.Steps, w.steps...)
		}
	}
	return final, applied, nil
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

// refused turns the cloud's 400 for a spec into a *providers.InvalidError
// naming the model elements at fault, with the cloud's message; other errors
// pass unchanged. The emulated spec is the model's own types, so the cloud's
// names are the model's: the lookup only keeps names the model has, so that
// nothing the cloud made up reaches the reconciler as a model element.
func refused(desired *lb.LoadBalancer, err error) error {
	var e *APIError
	if desired == nil || !errors.As(err, &e) || e.StatusCode != http.StatusBadRequest {
		return err
	}
	known := map[cloud.Element]bool{}
	certs := func(cs []lb.Certificate) {
		for _, c := range cs {
			known[cloud.Element{Kind: cloud.ElementCertificate, Name: c.Name}] = true
		}
	}
	for _, l := range desired.Listeners {
		known[cloud.Element{Kind: cloud.ElementListener, Name: l.Name}] = true
		for _, vh := range l.VirtualHosts {
			certs(vh.Certificates)
			for _, r := range vh.Rules {
				known[cloud.Element{Kind: cloud.ElementRule, Name: r.Name}] = true
			}
		}
		for _, s := range l.Streams {
			known[cloud.Element{Kind: cloud.ElementStream, Name: s.Name}] = true
			certs(s.Certificates)
		}
	}
	for _, tg := range desired.TargetGroups {
		known[cloud.Element{Kind: cloud.ElementTargetGroup, Name: tg.Name}] = true
	}
	// The code and request id go with the cloud's words, for the Events
	// and logs that report a refusal (never a condition).
	msg := e.Message + " (" + e.Code
	if e.RequestID != "" {
		msg += ", request id " + e.RequestID
	}
	out := &providers.InvalidError{Message: msg + ")", Cause: e}
	for _, el := range e.Elements {
		if known[el] && !slices.Contains(out.Elements, el.Name) {
			out.Elements = append(out.Elements, el.Name)
		}
	}
	return out
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

// Delete implements providers.Provider. Unlike Ensure it always reads
// afresh, even right after a restart: a stale "nothing left" would let the
// Gateway's finalizer go and leak a load balancer, and one read is little
// next to the deletes.
func (p *Provider) Delete(ctx context.Context, owner lb.Owner) error {
	p.forget(owner)
	p.last.forget(owner)
	mine, err := p.observe(ctx, owner)
	if err != nil {
		return err
	}
	_, applied, err := p.apply(ctx, nil, owner, newPlan(nil, mine, nil))
	if applied.Changes() {
		p.logger.Info("Applied plan", "gateway", owner.Key(), "plan", applied.String())
	}
	return err
}
