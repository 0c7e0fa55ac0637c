package localcluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// The kubelet API, as far as kube-apiserver needs it for Pod logs
// (`kubectl logs`, clientset GetLogs, which the Gateway API conformance
// suite's mirror tests read): kube-apiserver serves pods/log by calling
// GET https://<node address>:<kubeletEndpoint port>/containerLogs/<ns>/<pod>/<container>
// with the PodLogOptions as query parameters, after it has checked the
// options and the container name and filled in the name of a Pod's only
// container (pkg/registry/core/pod LogLocation).
//
// Trust, both ways: kube-apiserver verifies the kubelet's serving
// certificate only when started with --kubelet-certificate-authority, and
// sends a client certificate only with --kubelet-client-certificate; envtest
// passes neither, so a self-signed certificate made at start serves, and the
// server asks for no client certificate. It listens on loopback only, where
// nothing but this machine reaches it; the Pods have their own network
// namespaces and loopback.

// listen picks the kubelet API's port, which the Node announces, before
// the server can serve: that needs the Pod informer.
func (k *kubelet) listen() error {
	ln, err := net.Listen("tcp", net.JoinHostPort(hostIP, "0"))
	if err != nil {
		return fmt.Errorf("kubelet server: %w", err)
	}
	k.listener, k.port = ln, int32(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// serve serves the kubelet API on the listener until stopServer.
func (k *kubelet) serve(ctx context.Context) error {
	cert, err := selfSignedServing(k.node)
	if err != nil {
		return fmt.Errorf("kubelet server certificate: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", k.serveContainerLogs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	// What else kube-apiserver proxies to a kubelet: say plainly that it is
	// missing rather than 404, which reads like a wrong Pod name.
	for _, p := range []string{"/exec/", "/attach/", "/portForward/", "/run/", "/stats/", "/metrics", "/logs/", "/pods"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotImplemented, fmt.Sprintf("the local cluster's process kubelet serves only Pod logs (/containerLogs) and /healthz, not %s", r.URL.Path))
		})
	}
	k.server = &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		// Followed logs end when the kubelet stops.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    log.New(logfWriter(k.logf), "server: ", 0),
	}
	k.serving.Go(func() {
		if err := k.server.ServeTLS(k.listener, "", ""); !errors.Is(err, http.ErrServerClosed) {
			k.logf("server: %v", err)
		}
	})
	return nil
}

// stopServer closes the listener and every connection. Handlers that follow
// logs end too: their contexts derive from the kubelet's, which stop cancels
// first.
func (k *kubelet) stopServer() {
	if k.server != nil {
		_ = k.server.Close()
		k.serving.Wait()
	} else if k.listener != nil {
		_ = k.listener.Close()
	}
}

// serveContainerLogs answers as a kubelet's /containerLogs does: the lines
// as the container wrote them, from its current run or the one before
// (previous), chosen by the options.
func (k *kubelet) serveContainerLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, name := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, previous, err := parseLogOptions(r, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	output, code, err := k.containerOutput(ns, pod, name, previous)
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	flush := func() { _ = rc.Flush() }
	if err := output.serve(r.Context(), w, flush, opts); err != nil && r.Context().Err() == nil {
		// The status line is gone; all that is left is to say so here.
		k.logf("serving logs of %s/%s/%s: %v", ns, pod, name, err)
	}
}

// containerOutput finds the run whose output to serve, or says why there is
// none with the HTTP status a kubelet would use.
func (k *kubelet) containerOutput(ns, pod, name string, previous bool) (*containerLog, int, error) {
	k.mu.Lock()
	rt := k.pods[ns+"/"+pod]
	k.mu.Unlock()
	if rt == nil {
		if p, err := k.lister.Pods(ns).Get(pod); err == nil && p.Spec.NodeName == k.node {
			return nil, http.StatusBadRequest, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", name, pod)
		} else if err != nil && !apierrors.IsNotFound(err) {
			return nil, http.StatusInternalServerError, err
		}
		return nil, http.StatusNotFound, fmt.Errorf("pod %q in namespace %q is not running on node %s", pod, ns, k.node)
	}
	rt.mu.Lock()
	var c *container
	for _, ct := range rt.containers {
		if ct.spec.Name == name {
			c = ct
		}
	}
	waiting := rt.waiting[name]
	rt.mu.Unlock()
	if c == nil {
		if waiting != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("container %q in pod %q is waiting to start: %s", name, pod, waiting.Reason)
		}
		return nil, http.StatusNotFound, fmt.Errorf("container %q not found in pod %q", name, pod)
	}
	output := c.output(previous)
	switch {
	case output != nil:
		return output, 0, nil
	case previous:
		return nil, http.StatusBadRequest, fmt.Errorf("previous terminated container %q in pod %q not found", name, pod)
	default:
		reason := "ContainerCreating"
		c.mu.Lock()
		if c.waiting != nil {
			reason = c.waiting.Reason
		}
		c.mu.Unlock()
		return nil, http.StatusBadRequest, fmt.Errorf("container %q in pod %q is waiting to start: %s", name, pod, reason)
	}
}

// writeError answers with a plain-text message, which kube-apiserver puts
// into its Status as it is: without http.Error's newline, which would end up
// in `kubectl logs` errors.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

// parseLogOptions reads the query parameters kube-apiserver sends (see
// LogLocation in k8s.io/kubernetes pkg/registry/core/pod). sinceSeconds
// counts back from now.
func parseLogOptions(r *http.Request, now time.Time) (opts logOptions, previous bool, err error) {
	q := r.URL.Query()
	opts.tail = -1
	boolParam := func(name string) (bool, error) {
		v := q.Get(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s=%q: not a boolean", name, v)
		}
		return b, nil
	}
	intParam := func(name string, least int64) (int64, bool, error) {
		v := q.Get(name)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < least {
			return 0, false, fmt.Errorf("%s=%q: want an integer of at least %d", name, v, least)
		}
		return n, true, nil
	}
	if opts.follow, err = boolParam("follow"); err != nil {
		return opts, false, err
	}
	if previous, err = boolParam("previous"); err != nil {
		return opts, false, err
	}
	if opts.timestamps, err = boolParam("timestamps"); err != nil {
		return opts, false, err
	}
	if n, ok, err := intParam("tailLines", 0); err != nil {
		return opts, false, err
	} else if ok {
		opts.tail = n
	}
	if opts.limitBytes, _, err = intParam("limitBytes", 1); err != nil {
		return opts, false, err
	}
	seconds, hasSeconds, err := intParam("sinceSeconds", 1)
	if err != nil {
		return opts, false, err
	}
	if hasSeconds {
		opts.since = now.Add(-time.Duration(seconds) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		if hasSeconds {
			return opts, false, errors.New("at most one of sinceTime and sinceSeconds")
		}
		if opts.since, err = time.Parse(time.RFC3339, v); err != nil {
			return opts, false, fmt.Errorf("sinceTime=%q: %v", v, err)
		}
	}
	// Only with the PodLogsQuerySplitStreams feature gate, off by default.
	switch s := q.Get("stream"); strings.ToLower(s) {
	case "", "all":
	case streamStdout, streamStderr:
		opts.stream = strings.ToLower(s)
	default:
		return opts, false, fmt.Errorf("stream=%q: want All, Stdout or Stderr", s)
	}
	return opts, previous, nil
}

// selfSignedServing makes a serving certificate for the loopback address
// and the node name, valid for a day: longer than any test run.
func selfSignedServing(node string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: node + " process kubelet"},
		DNSNames:     []string{node, "localhost"},
		IPAddresses:  []net.IP{net.ParseIP(hostIP)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// logfWriter turns the http.Server's error log (TLS handshake failures and
// the like) into kubelet diagnostics.
type logfWriter func(format string, args ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
