// Package faultproxy stands between the exchange and a server it depends on
// (PostgreSQL, an S3-compatible store) and fails on demand, so that tests can show
// how dataport behaves when a real dependency goes away and comes back: the faults
// are real ones, seen by the real clients (pgx, minio-go) on real sockets.
//
// TCP forwards connections byte for byte; Down cuts every connection and refuses new
// ones (the port is closed: connecting is refused) until Up. HTTP is a reverse proxy
// that can answer a request itself with an error status or cut its connection after
// some bytes of its body, as a load balancer or a failing server would.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
)

// TCP forwards the connections made to Addr to a target address.
type TCP struct {
	target string
	addr   string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted atomic.Int64
}

// ListenTCP starts a proxy on a free port of 127.0.0.1 forwarding to target
// (host:port).
func ListenTCP(target string) (*TCP, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &TCP{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	return p, nil
}

// Addr is where the proxy listens (host:port).
func (p *TCP) Addr() string { return p.addr }

// Accepted counts the connections accepted so far.
func (p *TCP) Accepted() int64 { return p.accepted.Load() }

func (p *TCP) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Down or Close
			}
			p.accepted.Add(1)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c)
			}()
		}
	}()
}

func (p *TCP) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		// Either side ending ends the pair, as a cut cable would.
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// track records a connection pair, or closes it when the proxy went down meanwhile.
func (p *TCP) track(c, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		up.Close()
		return false
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	return true
}

// Down closes the port, so that connecting is refused, and cuts every connection
// open through the proxy.
func (p *TCP) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Up listens again, on the same address, after Down.
func (p *TCP) Up() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("faultproxy: closed")
	}
	if p.ln != nil {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("faultproxy: listening again on %s: %w", p.addr, err)
	}
	p.serve(ln)
	return nil
}

// Close stops the proxy and waits for its goroutines.
func (p *TCP) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Down()
	p.wg.Wait()
}

// Fault is what HTTP does to one request.
type Fault struct {
	// Status, when not zero, answers the request with this status and an S3 error
	// document whose code is Code, without forwarding it.
	Status int
	Code   string
	// CutAfter, when above zero, forwards the request but cuts both its connections
	// (to the client and to the server) once this many bytes of its body have passed.
	CutAfter int64
}

// HTTP is a reverse proxy to one server that injects the faults its Decide function
// chooses, request by request. The Host header is passed as the client sent it, so
// that signed requests (AWS Signature V4) still verify at the server.
type HTTP struct {
	srv    *http.Server
	ln     net.Listener
	decide atomic.Pointer[func(*http.Request) Fault]
	// Faulted counts the requests a fault was injected into.
	Faulted atomic.Int64
}

// ListenHTTP starts a proxy on a free port of 127.0.0.1 forwarding to target
// (http://host:port). It injects no fault until SetFaults.
func ListenHTTP(target string) (*HTTP, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q: want http://host:port", target)
	}
	u.Path, u.RawQuery, u.User = "", "", nil
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &HTTP{ln: ln}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if c, ok := r.Body.(*cutReader); ok && c.left <= 0 {
				cut(w)
				return
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if d := p.decide.Load(); d != nil {
			f = (*d)(r)
		}
		switch {
		case f.Status != 0:
			p.Faulted.Add(1)
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(f.Status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>%s</Code><Message>injected fault</Message><Resource>%s</Resource></Error>`, f.Code, r.URL.Path)
			return
		case f.CutAfter > 0 && r.ContentLength != 0:
			p.Faulted.Add(1)
			r.Body = &cutReader{r: r.Body, left: f.CutAfter}
		}
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the proxy's address, http://host:port.
func (p *HTTP) URL() string { return "http://" + p.ln.Addr().String() }

// Addr is the proxy's host:port.
func (p *HTTP) Addr() string { return p.ln.Addr().String() }

// SetFaults sets the function that chooses each request's fault; nil heals the proxy.
func (p *HTTP) SetFaults(decide func(*http.Request) Fault) {
	if decide == nil {
		p.decide.Store(nil)
		return
	}
	p.decide.Store(&decide)
}

// Close stops the proxy.
func (p *HTTP) Close() { p.srv.Close() }

var errCut = errors.New("faultproxy: connection cut")

// cutReader yields left bytes of a request body, then fails: the transport to the
// server gives the request up and closes that connection mid-body.
type cutReader struct {
	r    io.ReadCloser
	left int64
}

func (c *cutReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }

// cut closes the client's connection without an answer.
func cut(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // a reset, as when a peer goes away, not an orderly close
			}
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http closes the connection
}
