package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// FaultKind is one way an AWS API call fails.
type FaultKind string

const (
	// FaultThrottle is AWS's rate limiting: HTTP 400 with Throttling
	// (ELBv2), RequestLimitExceeded (EC2) or ThrottlingException (JSON
	// services such as ACM).
	FaultThrottle FaultKind = "throttle"
	// FaultInternal is HTTP 500 InternalFailure (InternalError on EC2).
	FaultInternal FaultKind = "internal"
	// FaultUnavailable is HTTP 503 ServiceUnavailable (Unavailable on EC2).
	FaultUnavailable FaultKind = "unavailable"
	// FaultReset closes the connection without an answer.
	FaultReset FaultKind = "reset"
)

// FaultConfig configures a FaultProxy.
type FaultConfig struct {
	// Target is the API's endpoint, e.g. Env.Endpoint.
	Target string
	// Rate is the fraction of requests, 0 to 1, that fail.
	Rate float64
	// LostAnswers is the share, 0 to 1, of the failures that happen after
	// the target answered: the call took effect but its caller sees it
	// fail, the case in which a retried create makes a duplicate.
	LostAnswers float64
	// Before are the kinds of failures that stop a request before the
	// target sees it; nil means throttle, internal and unavailable.
	Before []FaultKind
	// After are the kinds of lost answers; nil means internal and reset
	// (AWS throttles before it acts, so throttling is no lost answer).
	After []FaultKind
	// Operations, when set, are the only operations that fail.
	Operations []string
	// MaxFaults, when positive, stops the faults after that many.
	MaxFaults int
	// Seed seeds the choice of the requests that fail and how, so that a
	// failing sequence of calls fails the same way again.
	Seed uint64
	// Answered, when set, is called for every request the target answered
	// (lost answers included), with its operation, before the answer goes
	// back: a hook that stops the caller there loses the answer of a call
	// that took effect.
	Answered func(op string)
}

// FaultCounts are what a FaultProxy saw and did, by operation (the query
// protocol's Action, or the JSON protocol's X-Amz-Target without its
// service prefix, such as "ImportCertificate").
type FaultCounts struct {
	// Requests counts every request received.
	Requests map[string]int
	// Injected counts the requests answered with a fault.
	Injected map[string]int
	// Lost counts the injected faults that came after the target answered.
	Lost map[string]int
	// Kinds counts the injected faults by kind.
	Kinds map[FaultKind]int
}

// Total is the sum of m's values.
func Total[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// FaultProxy is an HTTP reverse proxy in front of an AWS API double that
// answers a fraction of the requests with the errors AWS answers under
// load, for tests of what a controller does with them.
type FaultProxy struct {
	// URL is the proxy's endpoint, to use as AWS_ENDPOINT_URL.
	URL string

	cfg   FaultConfig
	srv   *http.Server
	ln    net.Listener
	proxy *httputil.ReverseProxy
	done  chan struct{}

	mu     sync.Mutex
	rng    *rand.Rand
	rate   float64
	counts FaultCounts
}

// maxParsedBody bounds what the proxy reads of a request to find its
// operation; a longer body is streamed on unread (its operation "unknown").
// AWS's query and JSON requests are well below it.
const maxParsedBody = 1 << 20

// StartFaultProxy listens on a free loopback port and proxies to
// cfg.Target until Close.
func StartFaultProxy(cfg FaultConfig) (*FaultProxy, error) {
	target, err := url.Parse(cfg.Target)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("localstack: fault proxy target %q is not a URL", cfg.Target)
	}
	if cfg.Rate < 0 || cfg.Rate > 1 || cfg.LostAnswers < 0 || cfg.LostAnswers > 1 {
		return nil, fmt.Errorf("localstack: fault rate %v and lost-answer share %v must be within [0, 1]", cfg.Rate, cfg.LostAnswers)
	}
	if cfg.Before == nil {
		cfg.Before = []FaultKind{FaultThrottle, FaultInternal, FaultUnavailable}
	}
	if cfg.After == nil {
		cfg.After = []FaultKind{FaultInternal, FaultReset}
	}
	if (cfg.Rate > 0 && cfg.LostAnswers < 1 && len(cfg.Before) == 0) || (cfg.Rate > 0 && cfg.LostAnswers > 0 && len(cfg.After) == 0) {
		return nil, errors.New("localstack: fault proxy has a fault rate but no fault kinds")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{
		URL: "http://" + ln.Addr().String(), cfg: cfg, ln: ln, done: make(chan struct{}),
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), rate: cfg.Rate,
		counts: FaultCounts{Requests: map[string]int{}, Injected: map[string]int{}, Lost: map[string]int{}, Kinds: map[FaultKind]int{}},
	}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// The SDK signed the Host it sent, the proxy's.
			r.Out.Host = r.In.Host
		},
		// A connection of its own per request: the AWS query protocol
		// POSTs, which net/http never retries on a pooled connection the
		// target closed meanwhile (moto's server closes idle ones), and
		// such a failure would read as a fault the proxy did not inject.
		Transport: &http.Transport{DisableKeepAlives: true},
		// Answers stream through as they come.
		FlushInterval:  -1,
		ModifyResponse: p.answered,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, errLostAnswer) {
				return // serve answers with the fault
			}
			http.Error(w, "fault proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

// SetRate changes the fraction of requests that fail from now on.
func (p *FaultProxy) SetRate(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = min(max(rate, 0), 1)
}

// Counts returns a copy of the counts so far.
func (p *FaultProxy) Counts() FaultCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return FaultCounts{Requests: maps.Clone(p.counts.Requests), Injected: maps.Clone(p.counts.Injected),
		Lost: maps.Clone(p.counts.Lost), Kinds: maps.Clone(p.counts.Kinds)}
}

// Close stops listening, waits a moment for requests in flight, then
// closes every connection.
func (p *FaultProxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = p.srv.Close()
	}
	<-p.done
	return err
}

// fault is what the proxy decided for one request.
type fault struct {
	kind  FaultKind // "" for none
	after bool
	api   api
	op    string
	// dropped is set once the target's answer to an after fault is
	// dropped.
	dropped bool
}

type faultKey struct{}

// errLostAnswer tells the reverse proxy's error handler that answered
// dropped the target's answer on purpose.
var errLostAnswer = errors.New("answer dropped by the fault proxy")

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	op, err := operationOf(r)
	if err != nil {
		http.Error(w, "fault proxy: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	f := p.decide(op, apiOf(r))
	if f.kind != "" && !f.after {
		writeFault(w, f)
		return
	}
	p.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), faultKey{}, &f)))
	if f.dropped {
		// The reverse proxy wrote nothing of the answer it dropped.
		writeFault(w, f)
	}
}

// answered runs once the target answered: the Answered hook, then the lost
// answer, if this request's fault is one.
func (p *FaultProxy) answered(resp *http.Response) error {
	f, _ := resp.Request.Context().Value(faultKey{}).(*fault)
	if f == nil {
		return nil
	}
	if p.cfg.Answered != nil {
		p.cfg.Answered(f.op)
	}
	if !f.after {
		return nil
	}
	// The target's answer is read to its end, so that the target sees a
	// normal exchange, and dropped.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxParsedBody))
	_ = resp.Body.Close()
	f.dropped = true
	return errLostAnswer
}

func (p *FaultProxy) decide(op string, a api) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.Requests[op]++
	f := fault{api: a, op: op}
	if p.cfg.Operations != nil && !slices.Contains(p.cfg.Operations, op) {
		return f
	}
	if p.cfg.MaxFaults > 0 && Total(p.counts.Injected) >= p.cfg.MaxFaults {
		return f
	}
	if p.rate == 0 || p.rng.Float64() >= p.rate {
		return f
	}
	kinds := p.cfg.Before
	if p.rng.Float64() < p.cfg.LostAnswers {
		f.after, kinds = true, p.cfg.After
	}
	if len(kinds) == 0 {
		f.after = false
		return f
	}
	f.kind = kinds[p.rng.IntN(len(kinds))]
	p.counts.Injected[op]++
	p.counts.Kinds[f.kind]++
	if f.after {
		p.counts.Lost[op]++
	}
	return f
}

// api is the wire protocol of a request, which decides the error's shape.
type api int

const (
	apiQuery api = iota // ELBv2 and other query services
	apiEC2              // EC2's own query dialect
	apiJSON             // JSON 1.1 (ACM)
)

func apiOf(r *http.Request) api {
	if r.Header.Get("X-Amz-Target") != "" {
		return apiJSON
	}
	// SigV4's credential scope names the service:
	// Credential=AKID/20261201/us-east-1/ec2/aws4_request.
	if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		if parts := strings.Split(strings.SplitN(cred, ",", 2)[0], "/"); len(parts) >= 4 && parts[3] == "ec2" {
			return apiEC2
		}
	}
	return apiQuery
}

// operationOf names r's operation: X-Amz-Target's operation, or the query
// protocol's Action from the form body (read up to maxParsedBody and put
// back) or the URL.
func operationOf(r *http.Request) (string, error) {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if _, op, ok := strings.Cut(t, "."); ok {
			return op, nil
		}
		return t, nil
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return a, nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		return "unknown", nil
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, maxParsedBody+1))
	if err != nil {
		return "", err
	}
	if len(head) > maxParsedBody {
		// Too long to parse here: stream it on as it is.
		r.Body = readCloser{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		return "unknown", nil
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(head))
	if vals, err := url.ParseQuery(string(head)); err == nil {
		if a := vals.Get("Action"); a != "" {
			return a, nil
		}
	}
	return "unknown", nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// writeFault answers as AWS does: the query protocol's XML error (EC2's
// own shape for EC2), or JSON 1.1's __type body, with a status the SDKs
// retry on.
func writeFault(w http.ResponseWriter, f fault) {
	if f.kind == FaultReset {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		// No hijacking (HTTP/2): abort the handler, which drops the stream.
		panic(http.ErrAbortHandler)
	}
	status, code, message, typ := http.StatusBadRequest, "Throttling", "Rate exceeded", "Sender"
	switch f.kind {
	case FaultInternal:
		status, code, message, typ = http.StatusInternalServerError, "InternalFailure", "We encountered an internal error. Please try again.", "Receiver"
	case FaultUnavailable:
		status, code, message, typ = http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unavailable. Please try again later.", "Receiver"
	}
	const requestID = "00000000-0000-0000-0000-0000fa017000"
	switch f.api {
	case apiJSON:
		if f.kind == FaultThrottle {
			code = "ThrottlingException"
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.Header().Set("X-Amzn-RequestId", requestID)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, message)
	case apiEC2:
		switch f.kind {
		case FaultThrottle:
			code, message = "RequestLimitExceeded", "Request limit exceeded."
		case FaultInternal:
			code = "InternalError"
		case FaultUnavailable:
			code = "Unavailable"
		}
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
			code, message, requestID)
	default:
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("X-Amzn-RequestId", requestID)
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			typ, code, message, requestID)
	}
}
