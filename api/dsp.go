package api

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/store"
)

// The Eclipse Dataspace Protocol 2025-1 (package dsp): a connector of an international
// data space discovers the exchange at /.well-known/dspace-version (public, as "Exposure
// of Versions" requires: "unversioned and unauthenticated") and finds its endpoints under
// dspPath, the path the metadata advertises. They are plain handlers outside the OpenAPI
// document: the protocol has its own messages, and answers errors with them, never with a
// problem. They authenticate with dsp.APIKeys: a foreign connector is a registered
// participant presenting an API key the exchange issued to it (dsp/doc.go, "Identity").

// dspPath is the protocol's base path (<base> in the bindings); dspWellKnownPath is
// where the version metadata is.
const (
	dspPath          = "/dsp"
	dspWellKnownPath = dsp.WellKnownPath
)

// dspAuth is how protocol requests authenticate.
func (s *Server) dspAuth() dsp.Authenticator { return dsp.APIKeys{Keys: s.Registry} }

// dspVersion serves the version metadata. The metadata is fixed and its schema checked
// by dsp.VersionHandler; should it fail, the endpoint answers 500 and says why in the log.
func (s *Server) dspVersion() http.Handler {
	h, err := dsp.VersionHandler(dsp.Metadata(dspPath, s.dspAuth()))
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.Logger.ErrorContext(r.Context(), "dsp version metadata", "error", err)
			w.WriteHeader(http.StatusInternalServerError)
		})
	}
	return h
}

// dspCatalog is the Catalog Protocol's provider side over the catalog's listed products:
// the same products, and the same visibility, as the REST search.
func (s *Server) dspCatalog() *dsp.CatalogService {
	return &dsp.CatalogService{
		Auth:     s.dspAuth(),
		Listings: dspListings{Service: s.Catalog, db: s.DB},
		Path:     dspPath,
		ParticipantID: func(ctx context.Context) (string, error) {
			id, err := s.Registry.Operator(ctx)
			return dsp.ParticipantIRI(id), err
		},
		Logger: s.Logger,
	}
}

// dspNegotiations is the Contract Negotiation Protocol's provider side over trade: a
// negotiation is a deal the authenticated participant requests as buyer (dsp/doc.go,
// "Negotiations are deals").
// The service holds no state of its own (the store does), so one is made where needed.
func (s *Server) dspNegotiations() *dsp.NegotiationService {
	return &dsp.NegotiationService{
		Auth:   s.dspAuth(),
		DB:     s.DB,
		Trade:  s.Trade,
		Client: &dsp.Client{HTTP: s.dspHTTP()},
		Peers:  s.dspPeers(),
		Logger: s.Logger,
	}
}

// DSPNegotiationService is the provider's negotiations, for serve's loop that sends
// consumers what they are owed (dsp.SendOwedEvery).
func (s *Server) DSPNegotiationService() *dsp.NegotiationService { return s.dspNegotiations() }

// dspHTTP is the client protocol requests leave with: to a consumer's callback
// address, and to a peer connector. Those addresses come from participants, so they
// go out as webhooks do (notify.Service.OutboundClient: no connection into private
// networks unless the exchange allows it, no redirects).
func (s *Server) dspHTTP() *http.Client {
	if s.Notify != nil {
		return s.Notify.OutboundClient()
	}
	return dspCallbackClient
}

// dspCallbackClient posts the provider's messages to consumers' callback addresses.
var dspCallbackClient = &http.Client{Timeout: dspCallbackTimeout}

// dspCallbackTimeout bounds one post of a provider message to a consumer's callback.
const dspCallbackTimeout = 10 * time.Second

// dspDealMove matches the REST API's moves on a deal: after each, the deal's
// negotiation, if it is one, tells the consumer of a provider's move, and records a
// buyer's (dsp.NegotiationService.Notify).
var dspDealMove = regexp.MustCompile(`^/api/v1/deals/([^/]+)/(offer|request|accept|agree|verify|finalize|terminate)$`)

// dspNotify posts the message of a provider's move to the consumer's callback address
// once the REST request that made it is served (and records a buyer's move); a failure is logged, and the next
// move's notification sends what is still owed (Notify compares the deal's state with
// the one the consumer was last told).
func (s *Server) dspNotify(r *http.Request) {
	m := dspDealMove.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil || s.Trade == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), dspCallbackTimeout)
	defer cancel()
	if err := s.dspNegotiations().Notify(ctx, dataport.System, m[1]); err != nil {
		s.Logger.ErrorContext(ctx, "dsp negotiation: notifying the consumer", "deal", m[1], "error", err)
	}
}

// dspListings adds the read of one listed product to the catalog's search.
type dspListings struct {
	*catalog.Service
	db *store.DB
}

func (l dspListings) Listed(ctx context.Context, productID string) (catalog.Product, error) {
	var p catalog.Product
	err := l.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		p, err = catalog.ListedProduct(tx, productID)
		return err
	})
	return p, err
}

// dspFirst routes the protocol's requests past the REST API's authentication, which
// would answer a bad key (or the bare token some connectors send) with a problem: the
// protocol's endpoints authenticate themselves and answer in the protocol's messages.
// A path under dspPath that no route matches gets 404 or 405 without a body (the
// bindings' errors may come without one), never a problem.
func (s *Server) dspFirst(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p != dsp.WellKnownPath && p != dspPath && !strings.HasPrefix(p, dspPath+"/") {
			next.ServeHTTP(w, r)
			s.dspNotify(r)
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			var allow []string
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				probe := r.Clone(r.Context())
				probe.Method = m
				if _, pt := mux.Handler(probe); pt != "" && !slices.Contains(allow, m) {
					allow = append(allow, m)
				}
			}
			if len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.WriteHeader(http.StatusNotFound)
			return
		}
		defer func() { infoOf(r).route = r.Pattern }()
		mux.ServeHTTP(w, r)
	})
}
