// Package api is the exchange's REST API: OpenAPI 3.1 over net/http's ServeMux with
// huma, problem+json errors (RFC 9457), API-key authentication, Prometheus metrics and
// the API docs served from embedded files.
//
// Handlers decode, call a service with the caller's Actor, and encode; permission
// checks live in the services (ARCHITECTURE principle 3). routes.go lists every route.
package api

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are what the API serves.
type Deps struct {
	DB         *store.DB
	Registry   *registry.Service
	Catalog    *catalog.Service
	Notify     *notify.Service
	Compliance *compliance.Service
	Trade      *trade.Service
	Delivery   *delivery.Service
	Mirror     *mirror.Service
	Harvest    *harvest.Service
	Finance    *finance.Service
	Credit     *credit.Service
	Lending    *lending.Service
	S3Keys     *registry.S3Keys
	Filings    *ledger.Reader
	Log        *ledger.Log
	Logger     *slog.Logger
	Metrics    *prometheus.Registry // the process's explicit registry; nil makes a new one
	Version    string
	// The Dataspace Protocol, dataport the consumer of transfers
	// (api/dsp_consumer_transfer.go): the blob store pulled data goes to, and whether
	// the exchange completes a transfer once all of its data is pulled and verified.
	Blobs           blob.Store
	DSPAutoComplete bool

	// DSPSealKey (32 bytes, derived from the exchange's secret) seals what dataport
	// must present to other connectors: the tokens DSP peers issued to the exchange
	// (dsp_peers; api/dsp_consumer.go). Without it peers are registered without tokens.
	DSPSealKey []byte

	// DSPTransfer configures the Transfer Process Protocol's provider side (api/dsp_transfer.go).
	DSPTransfer DSPTransferOptions

	// Console is the web console (package web), served beside the API: the
	// requests it Serves go to it, everything else to the API. Nil serves the API
	// alone.
	Console Console

	// Limits bound each caller: rates, request time, failed authentications
	// (api/limits.go); the zero value is right for production.
	Limits Limits
}

// Console is a handler for some paths of the server: the web console, which
// answers its own pages (and / itself) in front of the API.
type Console interface {
	http.Handler
	Serves(r *http.Request) bool
}

// Server is the HTTP face of the exchange.
type Server struct {
	Deps
	api     huma.API
	handler http.Handler
	metrics *httpMetrics
	// dspConsumerTransfers holds the pulls under way (api/dsp_consumer_transfer.go).
	dspConsumerTransfers *dsp.ConsumerTransfers
	// dspTransfers is the Transfer Process Protocol's provider side (api/dsp_transfer.go).
	dspTransfers *dsp.TransferService
	// limiter and audit are the abuse limits and the record of denied requests
	// (api/limits.go, api/audit.go).
	limiter *limiter
	audit   *auditor
}

//go:embed docsui
var docsFiles embed.FS

// NewServer builds the API over deps.
func NewServer(deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = prometheus.NewRegistry()
	}
	s := &Server{Deps: deps}
	s.metrics = newHTTPMetrics(deps.Metrics)

	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("dataport", deps.Version)
	cfg.Info.Description = "The REST API of the dataport data exchange. Authenticate with an API key: " +
		"`Authorization: Bearer dp.…`. Errors are RFC 9457 problem+json; field problems are listed " +
		"in `errors` with their `location`."
	cfg.DocsPath = ""     // served below from embedded files, never from a CDN
	cfg.SchemasPath = ""  // no per-schema endpoints
	cfg.CreateHooks = nil // no $schema links in every response body
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API key issued by the exchange (dp.key_….secret)."},
	}
	s.api = humago.New(mux, cfg)
	s.dspConsumerTransfers = s.newDSPConsumerTransfers()
	s.dspTransfers = s.newDSPTransfers()
	s.limiter = newLimiter(deps.Limits, deps.DB.Clock(), mux)
	s.audit = newAuditor(deps.DB, s.limiter.cfg, deps.Metrics)
	s.routes(mux)
	s.exemptRoutes()
	if g, ok := deps.Console.(interface {
		GuardSignIn(wait func(*http.Request, string) time.Duration, done func(*http.Request, string, bool))
	}); ok {
		g.GuardSignIn(s.signInWait, s.signedIn) // one count of failed authentications for the API and the console
	}

	h := withRoute(mux)
	h = s.limitTime(h)
	h = s.authenticate(h)  // and limits each key and each anonymous client (api/limits.go)
	h = s.dspFirst(mux, h) // the Dataspace Protocol authenticates itself (api/dsp.go)
	h = s.consoleFirst(h)  // the web console signs its people in itself (package web)
	h = s.auditDenials(h)
	h = s.observe(h)
	s.handler = h
	return s
}

// consoleFirst hands the console's own requests to it, before the API's
// authentication and routes; observe still logs and counts them.
func (s *Server) consoleFirst(next http.Handler) http.Handler {
	if s.Console == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Console.Serves(r) {
			s.Console.ServeHTTP(w, r)
			infoOf(r).route = "console " + r.Pattern // the console's mux sets the pattern it matched
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the API's OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

func (s *Server) docsHandler() http.Handler {
	sub, _ := fs.Sub(docsFiles, "docsui")
	files := http.StripPrefix("/docs/assets/", http.FileServerFS(sub))
	index, _ := fs.ReadFile(sub, "index.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/docs" || r.URL.Path == "/docs/" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
			w.Write(index)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}

type ctxKey int

const actorKey ctxKey = iota

func withActor(r *http.Request, a dataport.Actor) *http.Request {
	infoOf(r).actor = a
	return r.WithContext(context.WithValue(r.Context(), actorKey, a))
}
