package dsppeer_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/dcat"
	"github.com/dataport/dataport/harvest/dsppeer"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade/tradetest"
)

// connector is a provider connector serving a two-page Catalog at /dsp/catalog/request,
// to the token it issued to the exchange only; every request it gets must be a valid
// CatalogRequestMessage.
type connector struct {
	srv    *httptest.Server
	token  string
	mu     sync.Mutex
	asked  []string // the pages asked, by query
	nextTo string   // where page 1's next link leads; the connector's own page 2 when empty
}

func newConnector(t *testing.T) *connector {
	c := &connector{token: "kit-issued-token-" + dataport.NewID("t")}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /dsp/catalog/request", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+c.token {
			dsp.WriteMessage(w, http.StatusUnauthorized, &dsp.CatalogError{Code: "UNAUTHORIZED", Reason: []any{"not the token this connector issued"}})
			return
		}
		var m dsp.CatalogRequestMessage
		if err := dsp.ReadMessage(r, &m); err != nil {
			t.Errorf("the catalog request does not validate: %v", err)
			dsp.WriteError(w, dsp.CatalogProtocol, "", "", err)
			return
		}
		c.mu.Lock()
		c.asked = append(c.asked, r.URL.RawQuery)
		c.mu.Unlock()
		cat := dsp.Catalog{ID: c.srv.URL + "/dsp/catalog", ParticipantID: "did:web:kit.example",
			Service: []dsp.DataService{{ID: c.srv.URL + "/dsp", EndpointURL: c.srv.URL + "/dsp"}}}
		if r.URL.Query().Get("page") == "" {
			next := c.nextTo
			if next == "" {
				next = c.srv.URL + "/dsp/catalog/request?page=2"
			}
			w.Header().Set("Link", "<"+next+`>; rel="next"`)
			cat.Dataset = []dsp.Dataset{dataset(c, "urn:kit:dataset:tides", "Tide gauges, hourly", "climate"),
				dataset(c, "urn:kit:dataset:berths", "Berth occupancy", "logistics")}
		} else {
			cat.Dataset = []dsp.Dataset{dataset(c, "urn:kit:dataset:fuel", "Bunker fuel prices", "energy")}
		}
		dsp.WriteMessage(w, http.StatusOK, &cat)
	})
	c.srv = httptest.NewServer(mux)
	t.Cleanup(c.srv.Close)
	return c
}

func dataset(c *connector, id, title, keyword string) dsp.Dataset {
	return dsp.Dataset{ID: id,
		HasPolicy:    []dsp.Policy{{ID: id + ":offer", Type: dsp.TypeOffer, Permission: []dsp.Rule{{Action: "use"}}}},
		Distribution: []dsp.Distribution{{Format: dsp.FormatPull, AccessService: dsp.AccessService{Ref: c.srv.URL + "/dsp"}}},
		Extra: dsp.Extra{"dct:title": []any{map[string]any{"@value": title, "@language": "en"}},
			"dct:description": "Published by the kit's connector.", "dcat:keyword": []any{keyword}}}
}

// A peer's catalog read as a harvest source: each page fetched with the catalog
// request and the peer's token, the next page followed, every dataset a record; then a
// harvest run lists them under the source's supplier, as a DCAT source's are.
func TestHarvestPeerCatalog(t *testing.T) {
	ctx := context.Background()
	w := tradetest.New(t, store.SQLite)
	c := newConnector(t)
	peers, err := dsp.NewPeers(w.DB, bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := peers.Register(ctx, w.Operator, dsp.NewPeer{ParticipantID: w.Supplier.ParticipantID, Address: c.srv.URL + "/dsp/", Token: c.token}); err != nil {
		t.Fatal(err)
	}
	kind := dsppeer.DCAT(peers, &dsp.Client{}, dcat.Options{Retries: -1}, nil)
	if _, err := kind(harvest.Source{Location: dsppeer.Location("prt_nosuch")}); err == nil {
		t.Fatal("a source for a participant that is no peer")
	}
	if _, err := kind(harvest.Source{Location: "https://catalog.example/dcat"}); err == nil {
		t.Fatal("a plain DCAT location without the DCAT connector")
	}
	conn, err := kind(harvest.Source{Location: dsppeer.Location(w.Supplier.ParticipantID)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []harvest.Record
	var problems []harvest.Problem
	err = conn.Read(ctx, func(r harvest.Record) error { recs = append(recs, r); return nil }, func(p harvest.Problem) { problems = append(problems, p) })
	if err != nil || len(problems) != 0 {
		t.Fatalf("read: %v, problems %+v", err, problems)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
		if r.Title.En == "" || len(r.Keywords) != 1 || r.Description.En == "" {
			t.Errorf("record %+v", r)
		}
	}
	if !slices.Equal(ids, []string{"urn:kit:dataset:tides", "urn:kit:dataset:berths", "urn:kit:dataset:fuel"}) {
		t.Fatalf("records %v", ids)
	}
	if !slices.Equal(c.asked, []string{"", "page=2"}) {
		t.Fatalf("pages asked %q", c.asked)
	}

	report, err := w.Cat.UploadAttachment(ctx, w.Supplier, catalog.NewAttachment{Name: "assessment.pdf", MediaType: "application/pdf"},
		strings.NewReader("%PDF assessment of the peer's catalog"))
	if err != nil {
		t.Fatal(err)
	}
	svc := harvest.New(w.DB, w.Reg, w.Cat, nil, harvest.Connectors{harvest.KindDCAT: kind})
	n := harvest.NewSource{Name: "Kit connector", Kind: harvest.KindDCAT, Location: dsppeer.Location(w.Supplier.ParticipantID), SupplierID: w.Supplier.ParticipantID,
		Settings: harvest.Settings{Scenarios: []string{"research"}, ComplianceReport: report.SHA256}}
	bad := n
	bad.Location = dsppeer.Location("prt_nosuch")
	if _, err := svc.AddSource(ctx, w.Operator, bad); dataport.KindOf(err) != dataport.KindInvalid {
		t.Fatalf("a source naming no peer: %v", err)
	}
	src, err := svc.AddSource(ctx, w.Operator, n)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Run(ctx, w.Operator, src.ID, nil)
	if err != nil || rep.Status != "succeeded" || rep.Records != 3 || rep.Added != 3 || rep.Failed != 0 {
		t.Fatalf("run: %+v, %v", rep, err)
	}
	page, err := w.Cat.ProductsOf(ctx, w.Operator, w.Supplier.ParticipantID, "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, p := range page.Items {
		titles = append(titles, p.Details.Title.En)
	}
	for _, want := range []string{"Tide gauges, hourly", "Berth occupancy", "Bunker fuel prices"} {
		if !slices.Contains(titles, want) {
			t.Errorf("no product %q among %q", want, titles)
		}
	}
	rep, err = svc.Run(ctx, w.Operator, src.ID, nil)
	if err != nil || rep.Unchanged != 3 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
}

// A peer whose token the connector does not accept fails the run as unauthorised, and
// a next page at another origin is not asked with the peer's token.
func TestHarvestPeerRefusals(t *testing.T) {
	ctx := context.Background()
	w := tradetest.New(t, store.SQLite)
	c := newConnector(t)
	peers, _ := dsp.NewPeers(w.DB, bytes.Repeat([]byte{3}, 32))
	if _, _, err := peers.Register(ctx, w.Operator, dsp.NewPeer{ParticipantID: w.Supplier.ParticipantID, Address: c.srv.URL + "/dsp", Token: "not-the-token"}); err != nil {
		t.Fatal(err)
	}
	kind := dsppeer.DCAT(peers, &dsp.Client{}, dcat.Options{Retries: -1, Client: &http.Client{Timeout: 10 * time.Second}}, nil)
	conn, err := kind(harvest.Source{Location: dsppeer.Location(w.Supplier.ParticipantID)})
	if err != nil {
		t.Fatal(err)
	}
	read := func() error {
		return conn.Read(ctx, func(harvest.Record) error { return nil }, func(harvest.Problem) {})
	}
	if err := read(); dataport.KindOf(err) != dataport.KindUnauthorized {
		t.Fatalf("a refused token: %v", err)
	}
	if _, _, err := peers.Register(ctx, w.Operator, dsp.NewPeer{ParticipantID: w.Supplier.ParticipantID, Address: c.srv.URL + "/dsp", Token: c.token}); err != nil {
		t.Fatal(err)
	}
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the peer's next page was asked at another origin, with %q", r.Header.Get("Authorization"))
	}))
	defer elsewhere.Close()
	c.nextTo = elsewhere.URL + "/dsp/catalog/request?page=2"
	if err := read(); err == nil || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("a next page at another origin: %v", err)
	}
}
