package gcptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves a Double on a TCP listener.
type Server struct {
	double    *Double
	url       string
	srv       *http.Server
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// Start creates a Double from cfg and serves it on listenAddr ("127.0.0.1:0"
// picks a free port). It stops when ctx is done or on Close.
func Start(ctx context.Context, cfg Config, listenAddr string) (*Server, error) {
	d, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("gcptest: listen on %s: %w", listenAddr, err)
	}
	s := &Server{
		double: d,
		url:    "http://" + ln.Addr().String(),
		srv:    &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second},
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logger.Error("GCP double stopped", "error", err)
		}
	}()
	watch, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	go func() {
		<-watch.Done()
		_ = s.Close()
	}()
	return s, nil
}

// URL is the endpoint to give the compute clients (option.WithEndpoint),
// e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// Double returns the double behind the server, for faults and inspection.
func (s *Server) Double() *Double { return s.double }

// Close stops the server; waits (operations wait) in flight are cut short.
// It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.closeErr = s.srv.Close()
		}
	})
	return s.closeErr
}
