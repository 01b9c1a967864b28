package dsp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// The Catalog Protocol's consumer side (DSP 2025-1, "Catalog Protocol", "Catalog
// HTTPS Binding"): dataport asks a peer's connector for its catalog — a
// CatalogRequestMessage posted to <address>/catalog/request with the peer's
// credentials — validates the Catalog it answers, and follows its pages ("Technical
// Considerations", "Pagination": a Link header with rel="next", where the same message
// is posted again). A buyer reads it through the REST API (RemoteCatalog); the harvest
// engine reads it as a source (harvest/dsppeer), page by page (CatalogPage).

// RemoteCatalog is a peer's catalog as a buyer reads it: its datasets with their
// offers, each as the provider wrote it.
type RemoteCatalog struct {
	PeerID        string           `json:"peer_id"`
	ParticipantID string           `json:"participant_id" doc:"the provider's participantId, as its catalog names it"`
	Datasets      []map[string]any `json:"datasets" doc:"each a DCAT dataset with its ODRL offers (hasPolicy), as the provider wrote it; an offer's @id is what a contract request names, with the dataset's @id as its target"`
	Pages         int              `json:"pages" doc:"the catalog pages read"`
	Truncated     bool             `json:"truncated" doc:"more pages follow than were read"`
}

// RemoteCatalog reads peerID's catalog for a buyer (or the operator), at most
// MaxCatalogPages pages.
func (s *ConsumerService) RemoteCatalog(ctx context.Context, actor dataport.Actor, peerID string) (RemoteCatalog, error) {
	const op = "dsp.ConsumerService.RemoteCatalog"
	if actor.Anonymous() {
		return RemoteCatalog{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleBuyer, dataport.RoleOperator) {
		return RemoteCatalog{}, dataport.Errorf(op, dataport.KindForbidden, "a peer's catalog is read by buyers")
	}
	if err := s.DB.Read(ctx, func(tx *store.Tx) error { return registry.MayAct(tx, op, actor) }); err != nil {
		return RemoteCatalog{}, err
	}
	peer, client, err := s.Peers.Connect(ctx, s.Client, peerID)
	if err != nil {
		return RemoteCatalog{}, err
	}
	out := RemoteCatalog{PeerID: peerID, Datasets: []map[string]any{}}
	limit := s.MaxCatalogPages
	if limit <= 0 {
		limit = DefaultMaxCatalogPages
	}
	visited := map[string]bool{}
	for next := peer.Address + "/catalog/request"; next != ""; {
		if out.Pages == limit {
			out.Truncated = true
			break
		}
		visited[next] = true
		c, link, err := CatalogPage(ctx, client, peer.Address, next)
		if err != nil {
			return RemoteCatalog{}, err
		}
		out.Pages++
		if out.ParticipantID == "" {
			out.ParticipantID = c.ParticipantID
		}
		for _, d := range datasetsOf(&c) {
			raw, err := json.Marshal(d)
			if err != nil {
				return RemoteCatalog{}, dataport.Internal(op, err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				return RemoteCatalog{}, dataport.Internal(op, err)
			}
			out.Datasets = append(out.Datasets, m)
		}
		if visited[link] {
			break // a next link back to a page read: the catalog ends there
		}
		next = link
	}
	return out, nil
}

// datasetsOf lists a catalog's datasets, those of the catalogs nested in it included.
func datasetsOf(c *Catalog) []Dataset {
	out := append([]Dataset{}, c.Dataset...)
	for i := range c.Catalog {
		out = append(out, datasetsOf(&c.Catalog[i])...)
	}
	return out
}

// CatalogPage asks the connector at base (its DSP base address) for the catalog page
// at target (base's /catalog/request, or a next link it gave) with c, whose
// credentials are the peer's: the CatalogRequestMessage is sent and the Catalog decoded
// and validated by Client.Send. next is the page the answer's Link header names with
// rel="next" (RFC 8288), resolved against target, or empty. A target or next page at
// another origin than base is refused: the peer's token goes to its own connector only.
func CatalogPage(ctx context.Context, c *Client, base, target string) (Catalog, string, error) {
	const op = "dsp.CatalogPage"
	if !sameOrigin(base, target) {
		return Catalog{}, "", dataport.Errorf(op, dataport.KindUnavailable,
			"the catalog page %s is not at the connector's origin (%s), where this exchange's credentials for it are not sent", target, base)
	}
	hc := http.DefaultClient
	if c.HTTP != nil {
		hc = c.HTTP
	}
	catcher := &linkCatcher{base: hc.Transport}
	if catcher.base == nil {
		catcher.base = http.DefaultTransport
	}
	withLinks := *hc
	withLinks.Transport = catcher
	cc := *c
	cc.HTTP = &withLinks
	var cat Catalog
	if err := cc.Send(ctx, http.MethodPost, target, &CatalogRequestMessage{}, &cat); err != nil {
		return Catalog{}, "", dataport.Wrap(op, err)
	}
	next := nextLink(target, catcher.links)
	if next != "" && !sameOrigin(base, next) {
		return Catalog{}, "", dataport.Errorf(op, dataport.KindUnavailable,
			"the catalog's next page %s is not at the connector's origin (%s), where this exchange's credentials for it are not sent", next, base)
	}
	return cat, next, nil
}

// linkCatcher keeps the Link headers of the answer a request got.
type linkCatcher struct {
	base  http.RoundTripper
	links []string
}

func (l *linkCatcher) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if err == nil {
		l.links = resp.Header.Values("Link")
	}
	return resp, err
}

// nextLink finds the rel="next" target among Link header values, resolved against
// page.
func nextLink(page string, values []string) string {
	for _, v := range values {
		for _, link := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(link, ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						base, err1 := url.Parse(page)
						ref, err2 := url.Parse(strings.Trim(target, "<>"))
						if err1 != nil || err2 != nil {
							return ""
						}
						return base.ResolveReference(ref).String()
					}
				}
			}
		}
	}
	return ""
}

// sameOrigin reports whether u is at base's scheme, host and port.
func sameOrigin(base, u string) bool {
	a, err1 := url.Parse(base)
	b, err2 := url.Parse(u)
	return err1 == nil && err2 == nil && strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}
