// Package dsppeer harvests the catalog of a DSP peer: another connector of the data
// space, registered with the exchange (dsp.Peers), whose catalog is read with the
// Catalog Protocol (DSP 2025-1, "Catalog Protocol", "Catalog HTTPS Binding") as a
// buyer reads it through the REST API — a CatalogRequestMessage posted to
// <address>/catalog/request with the peer's credentials, the Catalog validated, its
// pages followed with their Link headers (dsp.CatalogPage).
//
// A DSP catalog is a DCAT catalog written with the protocol's JSON-LD context, so a
// peer is a DCAT source (harvest.KindDCAT) whose location is "dsp:<participant id>"
// (Location) rather than a URL, and its records are what harvest/dcat reads: this
// package only changes how a page is fetched. The DCAT connector is given the
// protocol's contexts (dsp.Contexts, so nothing is fetched to interpret a page) and an
// HTTP transport whose every request is answered by the catalog request: the page's URL
// is where the message is posted, and the Catalog, re-encoded, with its next page in a
// Link header, is the answer. Each dataset is a record as any DCAT dataset is: its @id
// (for a dataport provider, urn:dataport:product:<id>), dct:title, dct:description,
// dcat:keyword, …
//
// (A kind of its own, "dsp", would need the harvest_sources table's CHECK on kind and
// the harvest.NewSource enum to name it; as a DCAT location it needs neither.)
package dsppeer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/dcat"
)

// LocationPrefix starts the location of a DCAT source that is a DSP peer's catalog:
// "dsp:<participant id>", the peer's owner.
const LocationPrefix = "dsp:"

// Location is the harvest location of participantID's peer catalog.
func Location(participantID string) string { return LocationPrefix + participantID }

// DCAT wraps the DCAT kind's connector factory (other: nil when there is none): a
// source located at "dsp:<participant id>" is that registered peer's catalog, its
// address and credentials read at each run from peers, its requests sent with client;
// any other location is other's. opts tune the DCAT reading of a peer's catalog;
// Contexts and Client are set here.
func DCAT(peers *dsp.Peers, client *dsp.Client, opts dcat.Options, other func(harvest.Source) (harvest.Connector, error)) func(harvest.Source) (harvest.Connector, error) {
	return func(src harvest.Source) (harvest.Connector, error) {
		id, ok := strings.CutPrefix(strings.TrimSpace(src.Location), LocationPrefix)
		if !ok {
			if other == nil {
				return nil, fmt.Errorf("the location is a DSP peer's catalog, %s<participant id>", LocationPrefix)
			}
			return other(src)
		}
		if id == "" {
			return nil, fmt.Errorf("a DSP peer's catalog is located at %s<participant id>, the peer's owner", LocationPrefix)
		}
		// Registering a source checks the peer is there; each run reads it again.
		if _, _, err := peers.Connect(context.Background(), client, id); dataport.KindOf(err) == dataport.KindNotFound {
			return nil, err
		}
		return &Connector{participantID: id, peers: peers, client: client, opts: opts}, nil
	}
}

// Connector reads a peer's catalog. It implements harvest.Connector.
type Connector struct {
	participantID string
	peers         *dsp.Peers
	client        *dsp.Client
	opts          dcat.Options
}

var _ harvest.Connector = (*Connector)(nil)

// Read reads the peer's catalog with harvest/dcat (see dcat.Connector.Read for how a
// dataset becomes a record), each page fetched by the catalog request.
func (c *Connector) Read(ctx context.Context, yield func(harvest.Record) error, problem func(harvest.Problem)) error {
	peer, client, err := c.peers.Connect(ctx, c.client, c.participantID)
	if err != nil {
		return err
	}
	opts := c.opts
	opts.Contexts = dsp.Contexts()
	opts.Client = &http.Client{Transport: catalogRequests{client: client, base: peer.Address}}
	if c.opts.Client != nil {
		opts.Client.Timeout = c.opts.Client.Timeout
	}
	return dcat.New(peer.Address+"/catalog/request", opts).Read(ctx, yield, problem)
}

// catalogRequests answers the DCAT connector's page requests with the catalog
// request: each GET of a page's URL is a CatalogRequestMessage posted there with the
// peer's credentials.
type catalogRequests struct {
	client *dsp.Client
	base   string
}

func (t catalogRequests) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	page := r.URL.String()
	cat, next, err := dsp.CatalogPage(r.Context(), t.client, t.base, page)
	if err != nil {
		status := 0
		switch dataport.KindOf(err) {
		case dataport.KindNotFound:
			status = http.StatusNotFound
		case dataport.KindUnauthorized:
			status = http.StatusUnauthorized
		case dataport.KindForbidden:
			status = http.StatusForbidden
		case dataport.KindInvalid, dataport.KindConflict:
			status = http.StatusBadRequest
		}
		if status == 0 { // unreachable or unavailable: the DCAT connector tries again
			return nil, err
		}
		return answer(r, status, []byte(dataport.MessageOf(err)), ""), nil
	}
	body, err := dsp.Encode(&cat)
	if err != nil {
		return nil, err
	}
	return answer(r, http.StatusOK, body, next), nil
}

func answer(r *http.Request, status int, body []byte, next string) *http.Response {
	h := http.Header{"Content-Type": {"application/ld+json"}}
	if next != "" {
		h.Set("Link", "<"+next+`>; rel="next"`)
	}
	return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}
