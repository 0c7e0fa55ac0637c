package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a Cloud serving its API on a TCP address.
type Server struct {
	cloud *Cloud
	srv   *http.Server
	url   string

	closeOnce sync.Once
	closeErr  error
	cancel    context.CancelFunc // ends the goroutine that closes on ctx done
}

// Start creates a Cloud from cfg and serves its API on listenAddr
// ("127.0.0.1:0" picks a free port). The server stops when ctx is done or on
// Close, whichever comes first.
func Start(ctx context.Context, cfg Config, listenAddr string) (*Server, error) {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("emulated cloud: listen on %s: %w", listenAddr, err)
	}
	c := New(cfg)
	s := &Server{
		cloud: c,
		url:   "http://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           c.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
		},
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.logger.Error("Emulated cloud API stopped", "error", err)
		}
	}()
	watch, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	go func() {
		<-watch.Done()
		_ = s.Close()
	}()
	c.logger.Info("Emulated cloud API serving", "url", s.url, "addressRange", c.prefix)
	return s, nil
}

// URL is the API's base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// Cloud returns the Cloud behind the API, for fault injection and inspection.
func (s *Server) Cloud() *Cloud { return s.cloud }

// Close stops the API and closes every data plane socket. It is safe to call
// more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, s.srv.Close())
		}
		s.closeErr = errors.Join(err, s.cloud.Close())
	})
	return s.closeErr
}
