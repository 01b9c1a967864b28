package dsp

import (
	"context"
	"net/http"
	"strings"

	"github.com/dataport/dataport"
)

// Identity. DSP leaves the semantics of the Authorization header to the data
// space ("All requests should use the Authorization header to include an
// authorization token. The semantics of such tokens are not part of these
// specifications."); a data space picks a profile, commonly the Decentralized
// Claims Protocol (DCP). dataport binds every protocol request to a registered
// participant through an Authenticator, and authorises its own requests to other
// connectors with Credentials; the version metadata names the scheme (Auth).

// Authenticator tells which registered participant sent a protocol request.
// Implementations: APIKeys (scheme "dataport-api-key", version 1); a DCP
// authenticator would verify the self-issued ID token and the presented
// credentials and map the holder's DID to the participant registered with it.
type Authenticator interface {
	// Authenticate returns the actor the request's token is bound to. No token,
	// or one that binds to no registered participant, is KindUnauthorized, which
	// the negotiation and transfer endpoints answer with 404 ("Unauthorized
	// Access") and the catalog endpoints with 401 (CatalogService).
	Authenticate(r *http.Request) (dataport.Actor, error)
	// Auth describes the scheme for the version metadata.
	Auth() *Auth
}

// Credentials authorise a request dataport sends to another connector: a
// request as consumer, or a callback as provider.
type Credentials interface {
	Authorize(r *http.Request) error
}

// KeyVerifier turns an exchange API key into the actor it stands for;
// *registry.Service is one (registry.Service.Authenticate).
type KeyVerifier interface {
	Authenticate(ctx context.Context, token string) (dataport.Actor, error)
}

// APIKeyScheme names the API-key scheme in the version metadata.
const APIKeyScheme = "dataport-api-key"

// APIKeys is the first identity scheme: a foreign connector is a registered
// participant (its registration number or foreign registration, KYC, roles, as
// any other) and presents an API key the exchange issued to it, in the
// Authorization header as "Bearer dp.key_….…" or as the bare token, the form
// some connectors send. The key's participant and roles are the request's actor;
// a revoked or expired key, or a key of another kind, authenticates no one.
type APIKeys struct {
	Keys KeyVerifier
}

var _ Authenticator = APIKeys{}

// Authenticate implements Authenticator.
func (a APIKeys) Authenticate(r *http.Request) (dataport.Actor, error) {
	const op = "dsp.APIKeys.Authenticate"
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return dataport.Actor{}, dataport.Errorf(op, dataport.KindUnauthorized, "the Authorization header is required")
	}
	token := h
	if scheme, rest, ok := strings.Cut(h, " "); ok {
		if !strings.EqualFold(scheme, "Bearer") {
			return dataport.Actor{}, dataport.Errorf(op, dataport.KindUnauthorized, "the Authorization header must be a Bearer token")
		}
		token = strings.TrimSpace(rest)
	}
	actor, err := a.Keys.Authenticate(r.Context(), token)
	if err != nil {
		return dataport.Actor{}, dataport.Wrap(op, err)
	}
	if actor.Anonymous() {
		return dataport.Actor{}, dataport.Errorf(op, dataport.KindUnauthorized, "the key is bound to no participant")
	}
	return actor, nil
}

// Auth implements Authenticator.
func (APIKeys) Auth() *Auth { return &Auth{Protocol: APIKeyScheme, Version: "1"} }

// BearerToken authorises dataport's requests with a token the other connector
// issued to this exchange: for another dataport, an API key it issued to the
// participant this exchange is registered as there.
type BearerToken string

var _ Credentials = BearerToken("")

// Authorize implements Credentials.
func (t BearerToken) Authorize(r *http.Request) error {
	if t == "" {
		return dataport.Errorf("dsp.BearerToken.Authorize", dataport.KindInvalid, "no token for %s", r.URL.Host)
	}
	r.Header.Set("Authorization", "Bearer "+string(t))
	return nil
}
