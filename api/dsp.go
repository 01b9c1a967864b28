package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

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
