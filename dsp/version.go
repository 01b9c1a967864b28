package dsp

import (
	"net/http"

	"github.com/dataport/dataport"
)

// Version is the protocol version this package speaks.
const Version = "2025-1"

// BindingHTTPS is the only binding DSP 2025-1 defines.
const BindingHTTPS = "HTTPS"

// WellKnownPath is where a connector publishes the versions it speaks (DSP
// 2025-1, "Common Functionalities", HTTPS binding: "The Well-Known Version
// Metadata Endpoint", an RFC 8615 well-known URI).
const WellKnownPath = "/.well-known/dspace-version"

// VersionResponse is the version metadata: the protocol versions a connector
// speaks and where each one's endpoints are.
type VersionResponse struct {
	ProtocolVersions []ProtocolVersion `json:"protocolVersions"`
}

// MessageKind implements Message.
func (*VersionResponse) MessageKind() string { return KindVersion }

// ProtocolVersion is one version a connector speaks: its endpoints under Path
// (an absolute path on the connector's host), and how requests authenticate.
type ProtocolVersion struct {
	Version        string `json:"version"`
	Path           string `json:"path"`
	Binding        string `json:"binding"`
	IdentifierType string `json:"identifierType,omitempty"` // how participants are identified, e.g. did:web
	ServiceID      string `json:"serviceId,omitempty"`
	Auth           *Auth  `json:"auth,omitempty"`
}

// Auth names the authentication scheme of a version's endpoints, e.g.
// {"protocol": "DCP", "version": "1.0", "profile": ["vc11-sl2021/jwt"]}.
type Auth struct {
	Protocol string   `json:"protocol"`
	Version  string   `json:"version"`
	Profile  []string `json:"profile,omitzero"`
}

// Metadata is the version metadata of a dataport whose DSP 2025-1 endpoints are
// under path and authenticate with a.
func Metadata(path string, a Authenticator) VersionResponse {
	return VersionResponse{ProtocolVersions: []ProtocolVersion{{
		Version: Version, Path: path, Binding: BindingHTTPS, Auth: a.Auth(),
	}}}
}

// VersionHandler serves v at WellKnownPath: GET and HEAD, no authentication, as
// application/json. v is validated once, here: a handler that would serve
// metadata its schema refuses is not made.
func VersionHandler(v VersionResponse) (http.Handler, error) {
	body, err := Encode(&v)
	if err != nil {
		return nil, dataport.Wrap("dsp.VersionHandler", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "max-age=300")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	}), nil
}

// DIDService is a service entry of a participant's DID document that points to
// its catalog ("CatalogService") or its connector's version metadata
// ("DataService"): how a participant identified by a DID is discovered (DSP
// 2025-1, "Common Functionalities", "Discovery of Catalogs").
type DIDService struct {
	Context         Context `json:"@context,omitempty"` // the DSP and the DID contexts
	ID              string  `json:"id"`
	Type            string  `json:"type"` // "CatalogService" or "DataService"
	ServiceEndpoint string  `json:"serviceEndpoint"`
}

// MessageKind implements Message.
func (*DIDService) MessageKind() string { return KindDIDService }
