package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	handler  http.Handler
}

// newHTTPMetrics registers the API's metrics, and the Go runtime's and the process's,
// in reg: an explicit registry, never the global one.
func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dataport_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dataport_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"method", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
				panic(err)
			}
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// ReadFrom keeps net/http's ReadFrom, and with it sendfile(2), within reach of the
// handlers: file downloads go out without a copy through the process.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(r.ResponseWriter, src)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe logs each request, counts it by route pattern (never by raw path, which
// would grow the label set without bound) and turns a panic into a 500 problem.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), infoKey, info))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if !rec.wrote {
					writeProblem(rec, http.StatusInternalServerError, "internal error")
				}
			}
			route := info.route
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.metrics.requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Inc()
			s.metrics.duration.WithLabelValues(r.Method, route).Observe(elapsed.Seconds())
			actor := info.actor
			level := s.Logger.Debug
			if rec.status >= 500 {
				level = s.Logger.Warn
			} else if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && r.URL.Path != "/metrics" {
				level = s.Logger.Info
			}
			level("http", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"ms", float64(elapsed.Microseconds())/1000, "participant", actor.ParticipantID)
		}()
		next.ServeHTTP(rec, r)
	})
}

// requestInfo carries what inner handlers learn about a request back out to observe.
type requestInfo struct {
	route string
	actor dataport.Actor
}

const infoKey ctxKey = 100

func infoOf(r *http.Request) *requestInfo {
	if i, ok := r.Context().Value(infoKey).(*requestInfo); ok {
		return i
	}
	return &requestInfo{}
}

// withRoute records the pattern ServeMux matched (it sets r.Pattern on the request it
// routes) for metrics and logs.
// Requests no route takes get a problem too: 405 with Allow when the path exists
// under other methods, 404 otherwise.
func withRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			var allow []string
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				probe := r.Clone(r.Context())
				probe.Method = m
				if _, p := mux.Handler(probe); p != "" {
					allow = append(allow, m)
				}
			}
			if len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeProblem(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here")
				return
			}
			writeProblem(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
			return
		}
		defer func() { infoOf(r).route = r.Pattern }()
		mux.ServeHTTP(w, r)
	})
}
