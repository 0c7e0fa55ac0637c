package albplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// albFront serves one ALB listener port: rules, then the chosen action.
type albFront struct {
	p     *Plane
	lbARN string
	port  int32
}

func (f *albFront) listener() *listener {
	if b := f.p.table.Load().byARN[f.lbARN]; b != nil {
		return b.Listeners[f.port]
	}
	return nil
}

func (f *albFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	li := f.listener()
	if li == nil {
		// Deleted since the connection was accepted.
		http.Error(w, "albplane: no listener", http.StatusServiceUnavailable)
		return
	}
	q := newRequest(r)
	for _, ru := range li.Rules {
		if ru.Action != nil && ru.matches(q) {
			f.p.act(w, r, li, ru)
			return
		}
	}
	// Only when the default rule's action could not be read (reported by
	// Sync): ALB itself always has one.
	http.Error(w, "albplane: no rule matched and the listener has no usable default action", http.StatusInternalServerError)
}

// act carries out a rule's action. "Action types for listener rules",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-action-types.html.
func (p *Plane) act(w http.ResponseWriter, r *http.Request, li *listener, ru *rule) {
	a := ru.Action
	switch a.Type {
	case "fixed-response":
		// FixedResponseActionConfig: the status code, and optionally the
		// content type and message body.
		if a.Fixed.ContentType != "" {
			w.Header().Set("Content-Type", a.Fixed.ContentType)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(a.Fixed.Body)))
		w.WriteHeader(a.Fixed.Status)
		_, _ = w.Write([]byte(a.Fixed.Body))
	case "redirect":
		w.Header().Set("Location", redirectURL(a.Redirect, r, li))
		w.WriteHeader(a.Redirect.Status)
	case "forward":
		p.forward(w, r, li, ru)
	default:
		http.Error(w, "albplane: action "+a.Type, http.StatusInternalServerError)
	}
}

// redirectURL builds the Location of a redirect action. RedirectActionConfig
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RedirectActionConfig.html):
// "A URI consists of the following components:
// protocol://hostname:port/path?query", "Any components that you do not
// modify retain their original values", the reserved keywords #{protocol},
// #{host}, #{port}, #{path} ("the leading "/" is removed") and #{query},
// and components that are "not percent-encoded". The port is always
// written, as ALB writes it (https://host:443/...).
func redirectURL(rd redirect, r *http.Request, li *listener) string {
	q := newRequest(r)
	sub := strings.NewReplacer(
		"#{protocol}", strings.ToLower(httpProto(li)),
		"#{host}", q.host,
		"#{port}", strconv.Itoa(int(li.Port)),
		"#{path}", strings.TrimPrefix(q.path, "/"),
		"#{query}", q.query,
	)
	proto := strings.ToLower(sub.Replace(rd.Protocol))
	loc := proto + "://" + sub.Replace(rd.Host) + ":" + sub.Replace(rd.Port) + sub.Replace(rd.Path)
	if qs := sub.Replace(rd.Query); qs != "" {
		loc += "?" + qs
	}
	return loc
}

func httpProto(li *listener) string {
	if li.Protocol == "HTTPS" {
		return "HTTPS"
	}
	return "HTTP"
}

type ctxKey struct{}

// hop is what Rewrite needs of one forwarded request.
type hop struct {
	target   string
	host     string // the Host header to send
	uri      string // path and query to send
	listener *listener
}

// forward sends the request to a target of the action's groups.
func (p *Plane) forward(w http.ResponseWriter, r *http.Request, li *listener, ru *rule) {
	g := ru.Action.pickGroup()
	if g == nil {
		// Every group of the forward weighs 0.
		http.Error(w, "503 Service Temporarily Unavailable", http.StatusServiceUnavailable)
		return
	}
	target, ok := g.pick()
	if !ok {
		// "Troubleshoot your Application Load Balancers": HTTP 503 "The
		// target groups for the load balancer have no registered
		// targets" (or none it may route to).
		http.Error(w, "503 Service Temporarily Unavailable", http.StatusServiceUnavailable)
		return
	}
	h := &hop{target: target, host: r.Host, uri: r.URL.RequestURI(), listener: li}
	if r.RequestURI != "" && strings.HasPrefix(r.RequestURI, "/") {
		h.uri = r.RequestURI
	}
	for _, t := range ru.Transforms {
		if err := t.apply(h); err != nil {
			// "Transforms for listener rules": "If there is a pattern
			// match but the transform fails, we return an HTTP 500
			// error."
			http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
			return
		}
	}
	rp := p.proxies[proxyKind(g)]
	rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, h)))
}

// apply rewrites the hop. "Transforms for listener rules"
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-transforms.html):
// host-header-rewrite matches its regex in the host header and
// url-rewrite in the request URL (path and query), each replacing what
// matched; "If there is no pattern match, the original request is sent to
// the target."
func (t transform) apply(h *hop) error {
	switch t.Type {
	case "host-header-rewrite":
		if v, ok := replaceFirst(t.Regex, h.host, t.Replace); ok {
			if v == "" || strings.ContainsAny(v, " /\r\n") {
				return fmt.Errorf("host %q", v)
			}
			h.host = v
		}
	case "url-rewrite":
		if v, ok := replaceFirst(t.Regex, h.uri, t.Replace); ok {
			if !strings.HasPrefix(v, "/") {
				return fmt.Errorf("url %q", v)
			}
			if _, err := url.ParseRequestURI(v); err != nil {
				return err
			}
			h.uri = v
		}
	}
	return nil
}

// replaceFirst replaces the first match of re in s with repl, where $N
// (N digits) is the Nth capture group.
func replaceFirst(re interface {
	FindStringSubmatchIndex(string) []int
}, s, repl string) (string, bool) {
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return s, false
	}
	var b strings.Builder
	b.WriteString(s[:m[0]])
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '$' || i+1 == len(repl) || repl[i+1] < '0' || repl[i+1] > '9' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(repl) && repl[j] >= '0' && repl[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(repl[i+1 : j])
		if 2*n+1 < len(m) && m[2*n] >= 0 {
			b.WriteString(s[m[2*n]:m[2*n+1]])
		}
		i = j - 1
	}
	b.WriteString(s[m[1]:])
	return b.String(), true
}

// Target protocols: ALB speaks HTTP/1.1 to HTTP1 groups, HTTP/2 to HTTP2
// and GRPC groups ("Target groups for your Application Load Balancers",
// protocol versions), in TLS to HTTPS groups (without verifying the
// target's certificate, as ALB does not) and in clear text (h2c, prior
// knowledge) to HTTP ones.
const (
	kindHTTP1 = iota
	kindHTTPS1
	kindH2C
	kindH2
	kinds
)

func proxyKind(g *group) int {
	h2 := g.ProtocolVersion == "HTTP2" || g.ProtocolVersion == "GRPC"
	switch {
	case g.Protocol == "HTTPS" && h2:
		return kindH2
	case g.Protocol == "HTTPS":
		return kindHTTPS1
	case h2:
		return kindH2C
	}
	return kindHTTP1
}

// connectTimeout is how long ALB tries to connect to a target before it
// answers 504 ("HTTP 504: Gateway Timeout ... The load balancer failed to
// establish a connection to the target before the connection timeout
// expired (10 seconds)", Troubleshoot your Application Load Balancers).
const connectTimeout = 10 * time.Second

func (p *Plane) newProxies() {
	for k := range kinds {
		tr := &http.Transport{
			DialContext:         p.dialTarget,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
			ForceAttemptHTTP2:   k == kindH2,
		}
		tr.TLSClientConfig = insecureTLS()
		tr.Protocols = new(http.Protocols)
		switch k {
		case kindHTTP1, kindHTTPS1:
			tr.Protocols.SetHTTP1(true)
		case kindH2C:
			tr.Protocols.SetUnencryptedHTTP2(true)
		case kindH2:
			tr.Protocols.SetHTTP2(true)
		}
		secure := k == kindHTTPS1 || k == kindH2
		p.proxies[k] = &httputil.ReverseProxy{
			Transport:     tr,
			FlushInterval: -1, // stream, as gRPC needs
			Rewrite: func(pr *httputil.ProxyRequest) {
				h := pr.In.Context().Value(ctxKey{}).(*hop)
				scheme := "http"
				if secure {
					scheme = "https"
				}
				u, _ := url.ParseRequestURI(h.uri)
				if u == nil {
					u = &url.URL{Path: "/"}
				}
				pr.Out.URL = &url.URL{Scheme: scheme, Host: h.target, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
				pr.Out.Host = h.host
				setForwarded(pr, h.listener)
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				w.WriteHeader(proxyStatus(err))
			},
		}
	}
}

// setForwarded sets the X-Forwarded headers as ALB does. "HTTP headers and
// Application Load Balancers"
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html):
// X-Forwarded-For appends the client's address to the header the client
// sent (the default "append" mode), X-Forwarded-Proto is the protocol the
// client used to connect to the load balancer (http or https), and
// X-Forwarded-Port the port it connected to. ALB also adds X-Amzn-Trace-Id
// when the request has none
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-request-tracing.html).
func setForwarded(pr *httputil.ProxyRequest, li *listener) {
	client, _, err := net.SplitHostPort(pr.In.RemoteAddr)
	if err != nil {
		client = pr.In.RemoteAddr
	}
	xff := client
	if prior := pr.In.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		xff = strings.Join(prior, ", ") + ", " + client
	}
	pr.Out.Header.Set("X-Forwarded-For", xff)
	pr.Out.Header.Set("X-Forwarded-Proto", strings.ToLower(httpProto(li)))
	pr.Out.Header.Set("X-Forwarded-Port", strconv.Itoa(int(li.Port)))
	if pr.Out.Header.Get("X-Amzn-Trace-Id") == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		pr.Out.Header.Set("X-Amzn-Trace-Id", fmt.Sprintf("Root=1-%08x-%s", time.Now().Unix(), hex.EncodeToString(b[:])))
	}
}

// proxyStatus maps a failure to reach a target to ALB's answer
// ("Troubleshoot your Application Load Balancers"): 504 when the
// connection timed out, 502 when the target refused or reset it or
// answered with something that is not HTTP.
func proxyStatus(err error) int {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return 499 // the client went away; nobody reads this
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, syscall.ECONNREFUSED):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}
