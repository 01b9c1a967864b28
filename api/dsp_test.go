package api_test

// The Dataspace Protocol 2025-1 against the running API server, a real SQLite store and
// products listed through the REST workflow. The TCK's scenarios are named with their
// ids (dsp/SCENARIOS.md): MET:01-01 → TestTCK_MET_01_01. Every protocol body received
// is decoded with dsp.Decode, which validates it against its schema.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/store"
)

// dspWorld is an exchange with two suppliers' listed products and a foreign connector
// registered as a buyer, which the protocol requests authenticate as.
type dspWorld struct {
	*exchange
	supplierA, keyA string
	supplierB, keyB string
	connector       string // the connector's API key
	connectorID     string
	products        []string
	draft           string // a product of A's that is not listed
}

const catalogRequest = `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "CatalogRequestMessage"}`

func newDSPWorld(t *testing.T, perA, perB int, opts ...func(*api.Deps)) *dspWorld {
	x := newExchange(t, store.SQLite, opts...)
	w := &dspWorld{exchange: x}
	w.supplierA, w.keyA = x.createWithKey(with(with(tencent, "uscc", mustUSCC("91310101MA1G8PJ03")), "roles", []string{"supplier"}))
	w.supplierB, w.keyB = x.createWithKey(with(with(tencent, "uscc", mustUSCC("91440300MA5FUJ2X4")), "roles", []string{"supplier"}))
	w.connectorID, w.connector = x.createWithKey(with(tencent, "uscc", "914403001922038216")) // a buyer
	for i := range perA {
		w.products = append(w.products, w.list(w.supplierA, w.keyA, fmt.Sprintf("Port throughput %d", i), true))
	}
	for i := range perB {
		w.products = append(w.products, w.list(w.supplierB, w.keyB, fmt.Sprintf("Freight rates %d", i), true))
	}
	w.draft = w.list(w.supplierA, w.keyA, "Unlisted draft", false)
	return w
}

// list creates a product with two price plans and two delivery modes, and lists it
// unless listed is false.
func (w *dspWorld) list(supplierID, key, title string, listed bool) string {
	t := w.t
	t.Helper()
	report := w.upload("POST", "/api/v1/attachments?name=report.pdf", key, "application/pdf", []byte("%PDF-1.4 report for "+title))
	wantStatus(t, report, http.StatusCreated)
	details := map[string]any{
		"type": "dataset", "title": map[string]any{"zh": "港口吞吐量", "en": title}, "summary": map[string]any{"en": "An index"},
		"category": "shipping", "tags": []string{"ports", "logistics"}, "delivery_modes": []string{"file", "api"},
		"scenarios": []string{"research", "route planning"}, "source": "enterprise", "grade": "general",
		"sublevel": 1, "pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "CN",
		"usage_policy": "No resale; attribution required.",
		"rights":       map[string]any{"holding": true, "processing_use": true, "product_operation": false},
		"price_plans": []any{
			map[string]any{"kind": "one_off", "price": map[string]any{"amount": 500000, "currency": "CNY"}, "name": "Snapshot"},
			map[string]any{"kind": "subscription", "period": "month", "price": map[string]any{"amount": 1250, "currency": "USD"}},
		},
		"attachments": []any{map[string]any{"kind": "compliance_report", "sha256": report.json(t)["sha256"]}},
	}
	r := w.do("POST", "/api/v1/products", key, map[string]any{"supplier_id": supplierID, "details": details})
	wantStatus(t, r, http.StatusCreated)
	pid := r.json(t)["id"].(string)
	if listed {
		for _, step := range []struct{ path, key string }{{"submit", key}, {"review", w.operator}, {"approve", w.operator}} {
			wantStatus(t, w.do("POST", "/api/v1/products/"+pid+"/"+step.path, step.key, nil), http.StatusOK)
		}
	}
	return pid
}

// catalogPage posts a catalog request to path (a base path or a page link's path and
// query) and decodes the Catalog.
func (w *dspWorld) catalogPage(path, body string) (dsp.Catalog, response) {
	w.t.Helper()
	r := w.do("POST", path, w.connector, body)
	wantStatus(w.t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		w.t.Fatalf("Content-Type %q", ct)
	}
	var c dsp.Catalog
	if err := dsp.Decode(r.body, &c); err != nil {
		w.t.Fatalf("the catalog does not validate: %v\n%s", err, r.body)
	}
	return c, r
}

// wantCatalogError checks status and a CatalogError body that validates, and returns it.
func wantCatalogError(t *testing.T, r response, status int, code string) dsp.CatalogError {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json (never a problem): %s", ct, r.body)
	}
	var e dsp.CatalogError
	if err := dsp.Decode(r.body, &e); err != nil {
		t.Fatalf("the error does not validate as a CatalogError: %v\n%s", err, r.body)
	}
	if e.Code != code || len(e.Reason) == 0 {
		t.Fatalf("error %+v, want code %s with reasons", e, code)
	}
	return e
}

// links parses the Link header into relation → target (RFC 8288: a rel may name
// several relations, separated by spaces).
func links(t *testing.T, r response) map[string]string {
	t.Helper()
	out := map[string]string{}
	re := regexp.MustCompile(`^\s*<([^>]*)>\s*;\s*rel="([^"]*)"\s*$`)
	for _, h := range r.header.Values("Link") {
		for _, v := range strings.Split(h, ",") {
			m := re.FindStringSubmatch(v)
			if m == nil {
				t.Fatalf("Link %q", v)
			}
			for _, rel := range strings.Fields(m[2]) {
				out[rel] = m[1]
			}
		}
	}
	return out
}

func datasetIDs(c dsp.Catalog) []string {
	var ids []string
	for _, d := range c.Dataset {
		ids = append(ids, d.ID)
	}
	return ids
}

// MET:01-01: Verify metadata request — against the wired server, unauthenticated, and
// its path leads to the catalog.
func TestTCK_MET_01_01(t *testing.T) {
	w := newDSPWorld(t, 1, 0)
	for _, key := range []string{"", "dp.not.a-key"} { // public: even a bad key is not looked at
		r := w.do("GET", "/.well-known/dspace-version", key, nil)
		wantStatus(t, r, http.StatusOK)
		var v dsp.VersionResponse
		if err := dsp.Decode(r.body, &v); err != nil {
			t.Fatalf("the metadata does not validate: %v\n%s", err, r.body)
		}
		if len(v.ProtocolVersions) != 1 {
			t.Fatalf("metadata %+v", v)
		}
		pv := v.ProtocolVersions[0]
		if pv.Version != dsp.Version || pv.Binding != "HTTPS" || pv.Path != "/dsp" || pv.Auth == nil || pv.Auth.Protocol != dsp.APIKeyScheme {
			t.Fatalf("metadata %+v", pv)
		}
		c, _ := w.catalogPage(pv.Path+"/catalog/request", catalogRequest)
		if len(c.Dataset) != 1 {
			t.Fatalf("the advertised path's catalog: %v", datasetIDs(c))
		}
	}
	wantStatus(t, w.do("POST", "/.well-known/dspace-version", "", nil), http.StatusMethodNotAllowed)
}

// CAT:01-01: Verify catalog request.
func TestTCK_CAT_01_01(t *testing.T) {
	w := newDSPWorld(t, 2, 1)
	c, r := w.catalogPage("/dsp/catalog/request", catalogRequest)
	if len(r.header.Values("Link")) != 0 {
		t.Fatalf("one page, yet Link %v", r.header.Values("Link"))
	}
	if c.ParticipantID != dsp.ParticipantIRI(w.operatorID()) {
		t.Fatalf("participantId %q", c.ParticipantID)
	}
	if len(c.Service) != 1 || c.Service[0].EndpointURL != w.srv.URL+"/dsp" {
		t.Fatalf("service %+v", c.Service)
	}
	ids := datasetIDs(c)
	for _, pid := range w.products {
		if !slices.Contains(ids, dsp.ProductIRI(pid)) {
			t.Fatalf("listed product %s missing from %v", pid, ids)
		}
	}
	if len(ids) != len(w.products) || slices.Contains(ids, dsp.ProductIRI(w.draft)) {
		t.Fatalf("datasets %v; listed %v, draft %s", ids, w.products, w.draft)
	}
	product := w.do("GET", "/api/v1/products/"+w.products[0], w.connector, nil).json(t)
	for _, d := range c.Dataset {
		if d.ID != dsp.ProductIRI(w.products[0]) {
			continue
		}
		// One offer per price plan, with ids that resolve to the product, its listed
		// revision and the plan.
		if len(d.HasPolicy) != 2 {
			t.Fatalf("offers %+v", d.HasPolicy)
		}
		for i, o := range d.HasPolicy {
			pid, rev, plan, err := dsp.ParseOfferID(o.ID)
			if err != nil || pid != w.products[0] || rev != int64(product["listed_revision"].(float64)) || plan != i || o.Type != dsp.TypeOffer || o.Target != "" {
				t.Fatalf("offer %d: %+v (%v)", i, o, err)
			}
			if o.Extra["dct:rights"] != "No resale; attribution required." {
				t.Fatalf("offer %d carries no usage policy: %+v", i, o.Extra)
			}
			if len(o.Permission) != 1 || o.Permission[0].Action != "use" || len(o.Permission[0].Duty) != 1 {
				t.Fatalf("offer %d permission %+v", i, o.Permission)
			}
		}
		pay := func(i int) any {
			return d.HasPolicy[i].Permission[0].Duty[0].Constraint[0].RightOperand.(map[string]any)["@value"]
		}
		if pay(0) != "5000.00" || pay(1) != "12.50" {
			t.Fatalf("prices %v %v", pay(0), pay(1))
		}
		if got := d.HasPolicy[1].Permission[0].Constraint; len(got) != 2 || got[1].LeftOperand != "odrl:elapsedTime" {
			t.Fatalf("subscription constraints %+v", got)
		}
		// One distribution per delivery mode, served by the catalog's data service.
		var formats []string
		for _, dist := range d.Distribution {
			formats = append(formats, dist.Format)
			if dist.AccessService.Ref != c.Service[0].ID {
				t.Fatalf("distribution %+v", dist)
			}
		}
		if !slices.Equal(formats, []string{dsp.FormatPull, "dataport-api"}) {
			t.Fatalf("formats %v", formats)
		}
		if d.Extra["dct:identifier"] != product["registration_number"] {
			t.Fatalf("dataset extras %v", d.Extra)
		}
		return
	}
	t.Fatal("unreachable")
}

// CAT:01-02: Verify dataset request.
func TestTCK_CAT_01_02(t *testing.T) {
	w := newDSPWorld(t, 1, 0)
	pid := w.products[0]
	for _, id := range []string{dsp.ProductIRI(pid), "urn%3Adataport%3Aproduct%3A" + pid, pid} {
		r := w.do("GET", "/dsp/catalog/datasets/"+id, w.connector, nil)
		wantStatus(t, r, http.StatusOK)
		var d dsp.Dataset
		if err := dsp.Decode(r.body, &d); err != nil {
			t.Fatalf("the dataset does not validate: %v\n%s", err, r.body)
		}
		if d.ID != dsp.ProductIRI(pid) || len(d.HasPolicy) != 2 || len(d.Distribution) != 2 {
			t.Fatalf("dataset %+v", d)
		}
		if s := d.Distribution[0].AccessService.Service; s == nil || s.EndpointURL != w.srv.URL+"/dsp" {
			t.Fatalf("a dataset alone carries its data service inline: %+v", d.Distribution[0].AccessService)
		}
	}
	// With the Dataset Request Message as the body, as the binding's example sends it.
	msg := fmt.Sprintf(`{"@context": ["%s"], "@type": "DatasetRequestMessage", "dataset": "%s"}`, dsp.ContextURL, dsp.ProductIRI(pid))
	wantStatus(t, w.do("GET", "/dsp/catalog/datasets/"+dsp.ProductIRI(pid), w.connector, msg), http.StatusOK)
	other := strings.Replace(msg, pid, w.draft, 1)
	wantCatalogError(t, w.do("GET", "/dsp/catalog/datasets/"+dsp.ProductIRI(pid), w.connector, other), http.StatusBadRequest, dsp.CodeInvalidMessage)
	wantCatalogError(t, w.do("GET", "/dsp/catalog/datasets/"+dsp.ProductIRI(pid), w.connector, `{"@type": "DatasetRequestMessage"}`), http.StatusBadRequest, dsp.CodeInvalidMessage)
}

// CAT:01-03: Verify dataset request not found — an unknown id, and a product that exists
// but is not listed, are answered alike.
func TestTCK_CAT_01_03(t *testing.T) {
	w := newDSPWorld(t, 1, 0)
	unknown := wantCatalogError(t, w.do("GET", "/dsp/catalog/datasets/"+dsp.ProductIRI("prd_nosuch"), w.connector, nil), http.StatusNotFound, dsp.CodeNotFound)
	draft := wantCatalogError(t, w.do("GET", "/dsp/catalog/datasets/"+dsp.ProductIRI(w.draft), w.connector, nil), http.StatusNotFound, dsp.CodeNotFound)
	if !strings.Contains(fmt.Sprint(unknown.Reason), "prd_nosuch") || strings.Contains(fmt.Sprint(draft.Reason), "draft") {
		t.Fatalf("reasons %v / %v", unknown.Reason, draft.Reason)
	}
}

func TestDSPCatalogPagesWithLinkHeaders(t *testing.T) {
	w := newDSPWorld(t, 3, 2)
	var seen []string
	next, page := "/dsp/catalog/request?size=2", 0
	for next != "" {
		page++
		c, r := w.catalogPage(next, catalogRequest)
		l := links(t, r)
		if (page > 1) != (l["prev"] != "") || l["prev"] != l["previous"] {
			t.Fatalf("page %d: Link %v", page, r.header.Values("Link"))
		}
		want := 2
		if page == 3 {
			want = 1
		}
		if len(c.Dataset) != want {
			t.Fatalf("page %d: %d datasets", page, len(c.Dataset))
		}
		seen = append(seen, datasetIDs(c)...)
		next = ""
		if n := l["next"]; n != "" {
			if !strings.HasPrefix(n, w.srv.URL+"/dsp/catalog/request?") {
				t.Fatalf("next %q", n)
			}
			next = strings.TrimPrefix(n, w.srv.URL)
		}
		if page == 2 { // the previous link leads back to the first page
			back, _ := w.catalogPage(strings.TrimPrefix(l["prev"], w.srv.URL), catalogRequest)
			if !slices.Equal(datasetIDs(back), seen[:2]) {
				t.Fatalf("prev page %v, first page %v", datasetIDs(back), seen[:2])
			}
		}
	}
	if page != 3 || len(seen) != 5 {
		t.Fatalf("%d pages, %d datasets", page, len(seen))
	}
	slices.Sort(seen)
	if len(slices.Compact(slices.Clone(seen))) != 5 {
		t.Fatalf("a dataset on two pages: %v", seen)
	}
	for _, bad := range []string{"size=0", "size=101", "page=0", "page=x", "page=100000&size=100"} {
		wantCatalogError(t, w.do("POST", "/dsp/catalog/request?"+bad, w.connector, catalogRequest), http.StatusBadRequest, dsp.CodeInvalidMessage)
	}
	// A page link belongs to its filter.
	_, r := w.catalogPage("/dsp/catalog/request?size=1", catalogRequest)
	filtered := `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "CatalogRequestMessage", "filter": [{"q": "Freight"}]}`
	wantCatalogError(t, w.do("POST", strings.TrimPrefix(links(t, r)["next"], w.srv.URL), w.connector, filtered), http.StatusBadRequest, dsp.CodeInvalidMessage)
}

func TestDSPCatalogFilter(t *testing.T) {
	w := newDSPWorld(t, 2, 1)
	msg := func(filter string) string {
		return `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "CatalogRequestMessage", "filter": ` + filter + `}`
	}
	c, _ := w.catalogPage("/dsp/catalog/request", msg(`[{"q": "Freight"}]`))
	if ids := datasetIDs(c); !slices.Equal(ids, []string{dsp.ProductIRI(w.products[2])}) {
		t.Fatalf("q=Freight: %v", ids)
	}
	c, _ = w.catalogPage("/dsp/catalog/request", msg(`[{"publisher": "`+dsp.ParticipantIRI(w.supplierA)+`"}, {"deliveryMode": "HttpData-PULL"}]`))
	if ids := datasetIDs(c); len(ids) != 2 || slices.Contains(ids, dsp.ProductIRI(w.products[2])) {
		t.Fatalf("publisher A: %v", ids)
	}
	c, _ = w.catalogPage("/dsp/catalog/request", msg(`[{"category": "energy"}]`))
	if len(c.Dataset) != 0 {
		t.Fatalf("energy: %v", datasetIDs(c))
	}
	for _, bad := range []string{`[{"sql": "1=1"}]`, `["Freight"]`, `[{"q": 5}]`, `[{"q": "a"}, {"q": "b"}]`} {
		e := wantCatalogError(t, w.do("POST", "/dsp/catalog/request", w.connector, msg(bad)), http.StatusBadRequest, dsp.CodeInvalidMessage)
		if !strings.Contains(fmt.Sprint(e.Reason), "filter[") {
			t.Fatalf("%s: reasons %v", bad, e.Reason)
		}
	}
}

func TestDSPInvalidCatalogRequest(t *testing.T) {
	w := newDSPWorld(t, 1, 0)
	for _, body := range []string{
		`{"@context": ["https://example.com/other-context.jsonld"], "@type": "CatalogRequestMessage"}`, // not the DSP context
		`{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "CatalogRequestMessage", "filter": "everything"}`,
		`{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "DatasetRequestMessage"}`,
		`{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "CatalogRequestMessage", "filter": {"q": "x"}}`,
		`not json`,
		``,
	} {
		t.Run(body, func(t *testing.T) {
			wantCatalogError(t, w.do("POST", "/dsp/catalog/request", w.connector, body), http.StatusBadRequest, dsp.CodeInvalidMessage)
		})
	}
	// The prefixed JSON-LD form of the same message is read by its meaning.
	prefixed := `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "dspace:CatalogRequestMessage"}`
	w.catalogPage("/dsp/catalog/request", prefixed)
	// No route under the base path answers with a problem.
	r := w.do("POST", "/dsp/nosuch/request", w.connector, "{}")
	if r.status != http.StatusNotFound || len(r.body) != 0 {
		t.Fatalf("unknown DSP path: %d %q", r.status, r.body)
	}
	r = w.do("GET", "/dsp/catalog/request", w.connector, nil)
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" || len(r.body) != 0 {
		t.Fatalf("GET catalog/request: %d %v %q", r.status, r.header, r.body)
	}
}

// Without valid credentials the catalog answers 401 with WWW-Authenticate and a
// CatalogError (dsp/catalogservice.go says why not 404); an API key is accepted as a
// Bearer token or bare.
func TestDSPCatalogAuthentication(t *testing.T) {
	w := newDSPWorld(t, 1, 0)
	pid := w.products[0]
	unauthorised := func(r response) {
		t.Helper()
		wantCatalogError(t, r, http.StatusUnauthorized, dsp.CodeUnauthorized)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
	}
	for _, key := range []string{"", "dp.key_nosuch.secret", "garbage"} {
		unauthorised(w.do("POST", "/dsp/catalog/request", key, catalogRequest))
		unauthorised(w.do("GET", "/dsp/catalog/datasets/"+dsp.ProductIRI(pid), key, nil))
	}
	unauthorised(w.send("POST", "/dsp/catalog/request", "", "application/json", strings.NewReader(catalogRequest), "Authorization", "Basic dXNlcjpwYXNz"))
	// A bare token, as some connectors send it (the REST API would refuse it).
	r := w.send("POST", "/dsp/catalog/request", "", "application/json", strings.NewReader(catalogRequest), "Authorization", w.connector)
	wantStatus(t, r, http.StatusOK)
	// A revoked key authenticates no one.
	keyID := strings.SplitN(strings.TrimPrefix(w.connector, "dp."), ".", 2)[0]
	me := w.do("GET", "/api/v1/me", w.connector, nil).json(t)["participant"].(map[string]any)["id"].(string)
	wantStatus(t, w.do("DELETE", "/api/v1/participants/"+me+"/api-keys/"+keyID, w.operator, nil), http.StatusOK)
	unauthorised(w.do("POST", "/dsp/catalog/request", w.connector, catalogRequest))
}

// A suspended supplier's products leave the catalog at once, and its datasets are not
// found; resumed, they come back.
func TestDSPSuspendedSupplierAbsent(t *testing.T) {
	w := newDSPWorld(t, 1, 2)
	b1, b2 := dsp.ProductIRI(w.products[1]), dsp.ProductIRI(w.products[2])
	wantStatus(t, w.do("POST", "/api/v1/participants/"+w.supplierB+"/suspend", w.operator, map[string]any{"reason": "叫停: investigation"}), http.StatusOK)
	c, _ := w.catalogPage("/dsp/catalog/request", catalogRequest)
	if ids := datasetIDs(c); !slices.Equal(ids, []string{dsp.ProductIRI(w.products[0])}) {
		t.Fatalf("with B suspended: %v", ids)
	}
	wantCatalogError(t, w.do("GET", "/dsp/catalog/datasets/"+b1, w.connector, nil), http.StatusNotFound, dsp.CodeNotFound)
	wantStatus(t, w.do("POST", "/api/v1/participants/"+w.supplierB+"/resume", w.operator, map[string]any{}), http.StatusOK)
	c, _ = w.catalogPage("/dsp/catalog/request", catalogRequest)
	if ids := datasetIDs(c); len(ids) != 3 || !slices.Contains(ids, b1) || !slices.Contains(ids, b2) {
		t.Fatalf("with B resumed: %v", ids)
	}
}

// The Contract Negotiation Protocol, dataport the provider (CN): the connector (the
// kit, K) sends its messages to the running server's /dsp/negotiations endpoints; the
// provider's moves (D) are the supplier's deal moves through the REST API, which the
// server posts to the connector's callback address, an httptest server that decodes
// and validates each message (dsp.Decode) as the kit would. Each scenario is a script
// of steps; a step marked bad is a message the provider must refuse with 400 and a
// ContractNegotiationError, the state unchanged (GET, the deal and dsp_negotiations).

// callbackServer is the connector's callback endpoints for one process (negotiations
// or transfers): it decodes and validates every message the provider posts
// (dsp.Decode), checks it went to its consumer pid's address, and queues it with the
// credentials it came with.
type callbackServer struct {
	t    *testing.T
	srv  *httptest.Server
	got  chan received
	down atomic.Bool // while set, every post is answered 503
}

// received is one message the provider posted, with the credentials it came with.
type received struct {
	msg           dsp.Message
	authorization string
}

func newCallbackServer(t *testing.T, process string, kinds map[string]func() dsp.Message) *callbackServer {
	c := &callbackServer{t: t, got: make(chan received, 16)}
	mux := http.NewServeMux()
	handle := func(suffix string, fresh func() dsp.Message) {
		mux.HandleFunc("POST /cb/"+process+"/{consumerPid}/"+suffix, func(w http.ResponseWriter, r *http.Request) {
			if c.down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			raw, _ := io.ReadAll(r.Body)
			m := fresh()
			if err := dsp.Decode(raw, m); err != nil {
				t.Errorf("the provider's %s does not validate: %v\n%s", suffix, err, raw)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("the provider's %s: Content-Type %q", suffix, ct)
			}
			var pid struct {
				ConsumerPID string `json:"consumerPid"`
			}
			json.Unmarshal(raw, &pid)
			if pid.ConsumerPID != r.PathValue("consumerPid") {
				t.Errorf("the provider's %s for %s went to %s", suffix, pid.ConsumerPID, r.URL.Path)
			}
			c.got <- received{msg: m, authorization: r.Header.Get("Authorization")}
			w.WriteHeader(http.StatusOK)
		})
	}
	for suffix, fresh := range kinds {
		handle(suffix, fresh)
	}
	c.srv = httptest.NewServer(mux)
	t.Cleanup(c.srv.Close)
	return c
}

// next returns the next message the provider posted.
func (c *callbackServer) next() received {
	c.t.Helper()
	select {
	case m := <-c.got:
		return m
	case <-time.After(10 * time.Second):
		c.t.Fatal("the provider posted nothing to the callback address")
		return received{}
	}
}

// none checks that the provider posted nothing more.
func (c *callbackServer) none() {
	c.t.Helper()
	select {
	case m := <-c.got:
		c.t.Fatalf("the provider posted a %s", m.msg.MessageKind())
	default:
	}
}

// consumerCallback is the connector's callback endpoints for negotiations.
type consumerCallback struct{ *callbackServer }

func newConsumerCallback(t *testing.T) *consumerCallback {
	return &consumerCallback{newCallbackServer(t, "negotiations", map[string]func() dsp.Message{
		"offers":      func() dsp.Message { return &dsp.ContractOfferMessage{} },
		"agreement":   func() dsp.Message { return &dsp.ContractAgreementMessage{} },
		"events":      func() dsp.Message { return &dsp.ContractNegotiationEventMessage{} },
		"termination": func() dsp.Message { return &dsp.ContractNegotiationTerminationMessage{} },
	})}
}

// next returns the next message the provider posted.
func (c *consumerCallback) next() dsp.Message {
	c.t.Helper()
	return c.callbackServer.next().msg
}

// cnRun is one negotiation between the connector and the server.
type cnRun struct {
	*dspWorld
	cb                        *consumerCallback
	product                   string
	offer                     dsp.Policy // the catalog's offer the request names
	providerPID, consumerPID  string
	dealID                    string
	supplierKey, consumerKey  ed25519.PrivateKey
	supplierKID, connectorKID string
	agreement                 *dsp.ContractAgreementMessage
}

func newCNRun(t *testing.T, opts ...func(*api.Deps)) *cnRun {
	w := newDSPWorld(t, 1, 0, opts...)
	c := &cnRun{dspWorld: w, cb: newConsumerCallback(t), product: w.products[0], consumerPID: "urn:uuid:" + dataportTestID(t)}
	wantStatus(t, w.send("POST", "/api/v1/participants/"+w.connectorID+"/funding", w.operator, "application/json",
		strings.NewReader(`{"amount":{"amount":5000000,"currency":"CNY"}}`), "Idempotency-Key", "dsp-"+c.consumerPID), http.StatusOK)
	c.supplierKID, c.supplierKey = c.signingKey(w.supplierA, w.keyA)
	c.connectorKID, c.consumerKey = c.signingKey(w.connectorID, w.connector)
	r := w.do("GET", "/dsp/catalog/datasets/"+dsp.ProductIRI(c.product), w.connector, nil)
	wantStatus(t, r, http.StatusOK)
	var ds dsp.Dataset
	if err := dsp.Decode(r.body, &ds); err != nil {
		t.Fatal(err)
	}
	c.offer = ds.HasPolicy[0] // the one-off plan, 5000.00 CNY
	c.offer.Target = ds.ID
	c.offer.Permission[0].Constraint[0] = dsp.Constraint{LeftOperand: "odrl:purpose", Operator: "eq", RightOperand: "research"}
	return c
}

func dataportTestID(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func (c *cnRun) signingKey(participantID, key string) (string, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	r := c.do("POST", "/api/v1/participants/"+participantID+"/signing-keys", key,
		map[string]any{"name": "contracts", "public_key": base64.StdEncoding.EncodeToString(pub)})
	wantStatus(c.t, r, http.StatusCreated)
	return r.json(c.t)["id"].(string), priv
}

// post sends a protocol message as the connector.
func (c *cnRun) post(path string, m dsp.Message) response {
	c.t.Helper()
	body, err := dsp.Encode(m)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do("POST", path, c.connector, body)
}

// wantNegotiation decodes a ContractNegotiation answer.
func (c *cnRun) wantNegotiation(r response, status int, state dsp.NegotiationState) {
	c.t.Helper()
	wantStatus(c.t, r, status)
	var n dsp.ContractNegotiation
	if err := dsp.Decode(r.body, &n); err != nil {
		c.t.Fatalf("the answer does not validate as a ContractNegotiation: %v\n%s", err, r.body)
	}
	if n.ProviderPID != c.providerPID || n.ConsumerPID != c.consumerPID || n.State != state {
		c.t.Fatalf("negotiation %+v, want %s %s %s", n, c.providerPID, c.consumerPID, state)
	}
}

// wantState checks the state three ways: GET, the deal, and what dsp_negotiations
// says the consumer was told.
func (c *cnRun) wantState(state dsp.NegotiationState) {
	c.t.Helper()
	c.wantNegotiation(c.do("GET", "/dsp/negotiations/"+c.providerPID, c.connector, nil), http.StatusOK, state)
	var deal, told string
	err := c.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT d.state, n.state FROM dsp_negotiations n JOIN deals d ON d.id = n.deal_id WHERE n.provider_pid = $1`, c.providerPID).Scan(&deal, &told)
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if deal != string(state) || told != string(state) {
		c.t.Fatalf("deal %s, dsp_negotiations %s; want %s", deal, told, state)
	}
}

// wantRefused checks a 400 with a ContractNegotiationError naming both pids.
func (c *cnRun) wantRefused(r response, code string) {
	c.t.Helper()
	wantStatus(c.t, r, http.StatusBadRequest)
	var e dsp.ContractNegotiationError
	if err := dsp.Decode(r.body, &e); err != nil {
		c.t.Fatalf("the error does not validate as a ContractNegotiationError: %v\n%s", err, r.body)
	}
	if e.Code != code || e.ProviderPID != c.providerPID || e.ConsumerPID != c.consumerPID || len(e.Reason) == 0 {
		c.t.Fatalf("error %+v, want %s for %s %s", e, code, c.providerPID, c.consumerPID)
	}
}

// The connector's moves.

func (c *cnRun) kRequest() {
	c.t.Helper()
	r := c.post("/dsp/negotiations/request", &dsp.ContractRequestMessage{ConsumerPID: c.consumerPID, Offer: c.offer, CallbackAddress: c.cb.srv.URL + "/cb"})
	wantStatus(c.t, r, http.StatusCreated)
	var n dsp.ContractNegotiation
	if err := dsp.Decode(r.body, &n); err != nil {
		c.t.Fatal(err)
	}
	if n.ConsumerPID != c.consumerPID || n.State != dsp.NegotiationRequested || !strings.HasPrefix(n.ProviderPID, dsp.NegotiationPIDPrefix) {
		c.t.Fatalf("created %+v", n)
	}
	c.providerPID, c.dealID = n.ProviderPID, strings.TrimPrefix(n.ProviderPID, dsp.NegotiationPIDPrefix)
	c.wantState(dsp.NegotiationRequested)
}

func (c *cnRun) counterRequest(amount string) response {
	offer := c.offer
	offer.Permission = slices.Clone(offer.Permission)
	offer.Permission[0].Duty = []dsp.Rule{{Action: "odrl:compensate", Constraint: []dsp.Constraint{{LeftOperand: "odrl:payAmount", Operator: "eq",
		RightOperand: map[string]any{"@value": amount, "@type": "xsd:decimal"}}}}}
	return c.post("/dsp/negotiations/"+c.providerPID+"/request", &dsp.ContractRequestMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, Offer: offer})
}

func (c *cnRun) kCounterRequest(amount string) {
	c.t.Helper()
	c.wantNegotiation(c.counterRequest(amount), http.StatusOK, dsp.NegotiationRequested)
}

func (c *cnRun) accepted() response {
	return c.post("/dsp/negotiations/"+c.providerPID+"/events", &dsp.ContractNegotiationEventMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, EventType: dsp.EventAccepted})
}

func (c *cnRun) kAccepted() {
	c.t.Helper()
	c.wantNegotiation(c.accepted(), http.StatusOK, dsp.NegotiationAccepted)
}

func (c *cnRun) verification() response {
	m := &dsp.ContractAgreementVerificationMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID}
	if c.agreement != nil {
		doc := c.agreement.Agreement.Extra[dsp.PropContract].(string)
		m.SigningKey, m.Signature = c.connectorKID, base64.StdEncoding.EncodeToString(ed25519.Sign(c.consumerKey, []byte(doc)))
	}
	return c.post("/dsp/negotiations/"+c.providerPID+"/agreement/verification", m)
}

func (c *cnRun) kVerification() {
	c.t.Helper()
	c.wantNegotiation(c.verification(), http.StatusOK, dsp.NegotiationVerified)
}

func (c *cnRun) termination() response {
	return c.post("/dsp/negotiations/"+c.providerPID+"/termination", &dsp.ContractNegotiationTerminationMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID,
		Code: "CONSUMER_ENDED", Reason: []any{"the kit ends the negotiation"}})
}

func (c *cnRun) kTerminate() {
	c.t.Helper()
	c.wantNegotiation(c.termination(), http.StatusOK, dsp.NegotiationTerminated)
	c.wantState(dsp.NegotiationTerminated)
	c.cb.none()
}

// refused checks that the provider refuses a message out of state and changes nothing.
func (c *cnRun) refused(r response, state dsp.NegotiationState) {
	c.t.Helper()
	c.wantRefused(r, dsp.CodeInvalidState)
	c.wantState(state)
	c.cb.none()
}

// The provider's moves: the supplier's deal moves, which the server posts to the
// callback.

func (c *cnRun) dOffer(price int64) {
	c.t.Helper()
	wantStatus(c.t, c.do("POST", "/api/v1/deals/"+c.dealID+"/offer", c.keyA, map[string]any{"price": price}), http.StatusOK)
	m, ok := c.cb.next().(*dsp.ContractOfferMessage)
	if !ok || m.ProviderPID != c.providerPID || m.ConsumerPID != c.consumerPID || m.Offer.ID != c.offer.ID || m.Offer.Target != dsp.ProductIRI(c.product) {
		c.t.Fatalf("offer %+v", m)
	}
	c.wantState(dsp.NegotiationOffered)
}

func (c *cnRun) dAgreement() {
	c.t.Helper()
	draft := c.do("GET", "/api/v1/deals/"+c.dealID+"/contract", c.keyA, nil)
	wantStatus(c.t, draft, http.StatusOK)
	doc := draft.json(c.t)["document"].(string)
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(c.supplierKey, []byte(doc)))
	wantStatus(c.t, c.do("POST", "/api/v1/deals/"+c.dealID+"/agree", c.keyA, map[string]any{"key_id": c.supplierKID, "signature": sig}), http.StatusOK)
	m, ok := c.cb.next().(*dsp.ContractAgreementMessage)
	if !ok || m.ProviderPID != c.providerPID || m.ConsumerPID != c.consumerPID {
		c.t.Fatalf("agreement %+v", m)
	}
	a := m.Agreement
	if a.ID != dsp.DealIRIPrefix+c.dealID || a.Target != dsp.ProductIRI(c.product) || a.Assigner != dsp.ParticipantIRI(c.supplierA) ||
		a.Assignee != dsp.ParticipantIRI(c.connectorID) || a.Timestamp == "" || a.Extra[dsp.PropContract] != doc {
		c.t.Fatalf("agreement %+v", a)
	}
	sum := sha256.Sum256([]byte(doc))
	if a.Extra[dsp.PropContractSHA256] != hex.EncodeToString(sum[:]) {
		c.t.Fatalf("the agreement's contract hash %v", a.Extra[dsp.PropContractSHA256])
	}
	c.agreement = m
	c.wantState(dsp.NegotiationAgreed)
}

func (c *cnRun) dFinalized() {
	c.t.Helper()
	wantStatus(c.t, c.do("POST", "/api/v1/deals/"+c.dealID+"/finalize", c.keyA, nil), http.StatusOK)
	m, ok := c.cb.next().(*dsp.ContractNegotiationEventMessage)
	if !ok || m.EventType != dsp.EventFinalized || m.ProviderPID != c.providerPID || m.ConsumerPID != c.consumerPID {
		c.t.Fatalf("event %+v", m)
	}
	c.wantState(dsp.NegotiationFinalized)
}

func (c *cnRun) dTerminate() {
	c.t.Helper()
	wantStatus(c.t, c.do("POST", "/api/v1/deals/"+c.dealID+"/terminate", c.keyA, map[string]any{"reason": "the supplier withdraws"}), http.StatusOK)
	m, ok := c.cb.next().(*dsp.ContractNegotiationTerminationMessage)
	if !ok || m.ProviderPID != c.providerPID || m.ConsumerPID != c.consumerPID || len(m.Reason) == 0 {
		c.t.Fatalf("termination %+v", m)
	}
	c.wantState(dsp.NegotiationTerminated)
}

// held is what the deal holds in escrow.
func (c *cnRun) held() float64 {
	c.t.Helper()
	return c.do("GET", "/api/v1/deals/"+c.dealID, c.connector, nil).json(c.t)["held"].(map[string]any)["amount"].(float64)
}

func TestTCK_CN_01_01(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dOffer(450000)
	c.kTerminate()
	if c.held() != 0 {
		t.Fatal("the escrow was not refunded")
	}
}

func TestTCK_CN_01_02(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dOffer(600000)
	c.kCounterRequest("5500.00")
	if h := c.held(); h != 550000 {
		t.Fatalf("held %v after the counter-request, want 550000", h)
	}
	c.dTerminate()
}

func TestTCK_CN_01_03(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dOffer(480000)
	c.kAccepted()
	if h := c.held(); h != 480000 {
		t.Fatalf("held %v after acceptance, want the offered 480000", h)
	}
	c.dAgreement()
	c.kVerification()
	c.dFinalized()
	ents := c.do("GET", "/api/v1/participants/"+c.connectorID+"/entitlements", c.connector, nil)
	wantStatus(t, ents, http.StatusOK)
	if !strings.Contains(string(ents.body), c.dealID) {
		t.Fatalf("no entitlement for the finalized deal: %s", ents.body)
	}
	trace := string(c.do("GET", "/api/v1/trace?subject="+c.dealID, c.operator, nil).body)
	for _, f := range []string{"trade.requested", "trade.finalized", "dsp.negotiation_requested", "dsp.negotiation_received", "dsp.negotiation_sent"} {
		if !strings.Contains(trace, f) {
			t.Errorf("the deal's trace has no %s", f)
		}
	}
}

func TestTCK_CN_01_04(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dAgreement()
	c.kVerification()
	c.dFinalized()
}

func TestTCK_CN_02_01(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dTerminate()
}

func TestTCK_CN_02_02(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.kTerminate()
}

func TestTCK_CN_02_03(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dAgreement()
	c.kTerminate()
}

func TestTCK_CN_02_04(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dOffer(0) // the price on the table
	c.kTerminate()
}

func TestTCK_CN_02_05(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dOffer(470000)
	c.dTerminate()
}

func TestTCK_CN_02_06(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dOffer(470000)
	c.kAccepted()
	c.dTerminate()
}

func TestTCK_CN_02_07(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dAgreement()
	c.kVerification()
	c.dTerminate()
}

func TestTCK_CN_03_01(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dAgreement()
	c.kVerification()
	c.dFinalized()
	c.refused(c.termination(), dsp.NegotiationFinalized)
}

func TestTCK_CN_03_02(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dOffer(450000)
	c.refused(c.verification(), dsp.NegotiationOffered)
	c.kAccepted() // still usable
}

func TestTCK_CN_03_03(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dOffer(450000)
	c.kAccepted()
	c.refused(c.verification(), dsp.NegotiationAccepted)
	c.dAgreement() // still usable
}

func TestTCK_CN_03_04(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dOffer(600000)
	c.kCounterRequest("5500.00")
	c.refused(c.counterRequest("5400.00"), dsp.NegotiationRequested)
	if h := c.held(); h != 550000 {
		t.Fatalf("held %v after the refused second counter-request, want 550000", h)
	}
	c.dTerminate()
}

// Unknown negotiations, and another participant's, are not found (404 with a
// ContractNegotiationError); so are requests without a key that binds to a participant.
func TestDSPNegotiationNotFound(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	_, other := c.createWithKey(with(tencent, "uscc", mustUSCC("91110000MA01ABCD1"))) // another buyer
	notFound := func(r response) {
		t.Helper()
		wantStatus(t, r, http.StatusNotFound)
		var e dsp.ContractNegotiationError
		if err := dsp.Decode(r.body, &e); err != nil || e.Code != dsp.CodeNotFound {
			t.Fatalf("404 body %s (%v)", r.body, err)
		}
	}
	notFound(c.do("GET", "/dsp/negotiations/"+dsp.NegotiationPIDPrefix+"deal_nosuch", c.connector, nil))
	notFound(c.do("GET", "/dsp/negotiations/"+c.providerPID, other, nil))
	notFound(c.do("GET", "/dsp/negotiations/"+c.providerPID, "", nil))
	accept, _ := dsp.Encode(&dsp.ContractNegotiationEventMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, EventType: dsp.EventAccepted})
	notFound(c.do("POST", "/dsp/negotiations/"+c.providerPID+"/events", other, accept))
	terminate, _ := dsp.Encode(&dsp.ContractNegotiationTerminationMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID})
	notFound(c.do("POST", "/dsp/negotiations/"+c.providerPID+"/termination", other, terminate))
	deals := c.count("deals")
	request, _ := dsp.Encode(&dsp.ContractRequestMessage{ConsumerPID: "urn:uuid:nokey", Offer: c.offer, CallbackAddress: c.cb.srv.URL})
	notFound(c.do("POST", "/dsp/negotiations/request", "", request))
	notFound(c.do("POST", "/dsp/negotiations/request", "dp.key_nosuch.secret", request))
	if c.count("deals") != deals {
		t.Fatal("an unauthenticated request opened a deal")
	}
	c.wantState(dsp.NegotiationRequested)
}

// Invalid messages are refused with 400 and INVALID_MESSAGE, naming the problem, and
// change nothing.
func TestDSPNegotiationInvalidMessages(t *testing.T) {
	c := newCNRun(t)
	deals := c.count("deals")
	request := func(m *dsp.ContractRequestMessage) dsp.ContractNegotiationError {
		t.Helper()
		r := c.post("/dsp/negotiations/request", m)
		wantStatus(t, r, http.StatusBadRequest)
		var e dsp.ContractNegotiationError
		if err := dsp.Decode(r.body, &e); err != nil || e.Code != dsp.CodeInvalidMessage || e.ProviderPID != "" {
			t.Fatalf("400 body %s (%v)", r.body, err)
		}
		return e
	}
	cb := c.cb.srv.URL + "/cb"
	stale := c.offer
	stale.ID = dsp.OfferID(c.product, 7, 0)
	if e := request(&dsp.ContractRequestMessage{ConsumerPID: "urn:uuid:a", Offer: stale, CallbackAddress: cb}); !strings.Contains(fmt.Sprint(e.Reason), "stale") {
		t.Fatalf("stale offer: %v", e.Reason)
	}
	foreign := c.offer
	foreign.ID = "urn:uuid:not-ours"
	request(&dsp.ContractRequestMessage{ConsumerPID: "urn:uuid:b", Offer: foreign, CallbackAddress: cb})
	request(&dsp.ContractRequestMessage{ConsumerPID: "urn:uuid:c", Offer: c.offer, CallbackAddress: "ftp://example"})
	anyScenario := c.offer
	anyScenario.Permission = []dsp.Rule{{Action: "use", Constraint: []dsp.Constraint{{LeftOperand: "odrl:purpose", Operator: "isAnyOf", RightOperand: []any{"research", "route planning"}}}}}
	if e := request(&dsp.ContractRequestMessage{ConsumerPID: "urn:uuid:e", Offer: anyScenario, CallbackAddress: cb}); !strings.Contains(fmt.Sprint(e.Reason), "scenarios") {
		t.Fatalf("several scenarios: %v", e.Reason)
	}
	r := c.do("POST", "/dsp/negotiations/request", c.connector, `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "ContractRequestMessage"}`)
	wantStatus(t, r, http.StatusBadRequest)
	if got := c.count("deals"); got != deals {
		t.Fatalf("%d deals after refused requests, want %d", got, deals)
	}

	c.kRequest()
	again := c.post("/dsp/negotiations/request", &dsp.ContractRequestMessage{ConsumerPID: c.consumerPID, Offer: c.offer, CallbackAddress: cb})
	wantStatus(t, again, http.StatusBadRequest) // the consumer pid names a negotiation already
	// A message whose pids are not the path's negotiation's.
	wrong, _ := dsp.Encode(&dsp.ContractNegotiationEventMessage{ProviderPID: c.providerPID, ConsumerPID: "urn:uuid:other", EventType: dsp.EventAccepted})
	c.wantRefused(c.do("POST", "/dsp/negotiations/"+c.providerPID+"/events", c.connector, wrong), dsp.CodeInvalidMessage)
	// A consumer's FINALIZED event is the provider's move.
	fin, _ := dsp.Encode(&dsp.ContractNegotiationEventMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, EventType: dsp.EventFinalized})
	c.refused(c.do("POST", "/dsp/negotiations/"+c.providerPID+"/events", c.connector, fin), dsp.NegotiationRequested)
	// A body that is not the endpoint's message.
	c.wantRefused(c.do("POST", "/dsp/negotiations/"+c.providerPID+"/termination", c.connector, string(fin)), dsp.CodeInvalidMessage)
	c.wantState(dsp.NegotiationRequested)

	// A counter-request that changes more than the price is refused, naming the term.
	c.dOffer(600000)
	other := c.offer
	other.Permission = []dsp.Rule{{Action: "use", Constraint: []dsp.Constraint{{LeftOperand: "odrl:purpose", Operator: "eq", RightOperand: "route planning"}}}}
	r = c.post("/dsp/negotiations/"+c.providerPID+"/request", &dsp.ContractRequestMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, Offer: other})
	c.wantRefused(r, dsp.CodeInvalidMessage)
	if !strings.Contains(string(r.body), "price only") {
		t.Fatalf("the refusal does not say why: %s", r.body)
	}
	c.wantState(dsp.NegotiationOffered)

	// A verification with half a signature, or a signature over other bytes.
	c.kAccepted()
	c.dAgreement()
	half, _ := dsp.Encode(&dsp.ContractAgreementVerificationMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID, SigningKey: c.connectorKID})
	r = c.do("POST", "/dsp/negotiations/"+c.providerPID+"/agreement/verification", c.connector, half)
	c.wantRefused(r, dsp.CodeInvalidMessage)
	c.wantState(dsp.NegotiationAgreed)
	forged, _ := dsp.Encode(&dsp.ContractAgreementVerificationMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID,
		SigningKey: c.connectorKID, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(c.consumerKey, []byte("another contract")))})
	wantStatus(t, c.do("POST", "/dsp/negotiations/"+c.providerPID+"/agreement/verification", c.connector, forged), http.StatusBadRequest)
	c.wantState(dsp.NegotiationAgreed)
	c.kVerification()
	c.cb.none()
}

// A connector that holds no signing key registered here verifies with the bare
// message, as the protocol defines it: the message's hash and the key it came with are
// the buyer's assent, and the exchange's countersignature covers them.
func TestDSPVerificationByMessage(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.dAgreement()
	m := &dsp.ContractAgreementVerificationMessage{ProviderPID: c.providerPID, ConsumerPID: c.consumerPID}
	sum, err := dsp.MessageSHA256(m)
	if err != nil {
		t.Fatal(err)
	}
	c.wantNegotiation(c.post("/dsp/negotiations/"+c.providerPID+"/agreement/verification", m), http.StatusOK, dsp.NegotiationVerified)
	c.wantState(dsp.NegotiationVerified)
	c.dFinalized()
	deal := c.do("GET", "/api/v1/deals/"+c.dealID, c.connector, nil).json(t)
	assent, _ := deal["buyer_assent"].(map[string]any)
	if assent == nil || assent["message_sha256"] != sum || assent["contract_sha256"] != deal["contract_sha256"] ||
		!strings.HasPrefix(fmt.Sprint(assent["key_id"]), "key_") || deal["buyer_signature"] != nil {
		t.Fatalf("the deal's assent %v (signature %v)", assent, deal["buyer_signature"])
	}
	if cs := fmt.Sprint(deal["countersignature"]); !strings.Contains(cs, sum) {
		t.Fatalf("the countersignature does not cover the message: %s", cs)
	}
}

// A consumer that cannot be reached misses no message: the state it was told stays,
// and the next move's notification sends what is owed.
func TestDSPNegotiationCallbackDown(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.cb.srv.Close()
	wantStatus(t, c.do("POST", "/api/v1/deals/"+c.dealID+"/offer", c.keyA, map[string]any{"price": 450000}), http.StatusOK)
	var told string
	if err := c.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT state FROM dsp_negotiations WHERE provider_pid = $1`, c.providerPID).Scan(&told)
	}); err != nil {
		t.Fatal(err)
	}
	if told != string(dsp.NegotiationRequested) {
		t.Fatalf("dsp_negotiations says the consumer was told %s", told)
	}
	c.wantNegotiation(c.do("GET", "/dsp/negotiations/"+c.providerPID, c.connector, nil), http.StatusOK, dsp.NegotiationOffered)
}

// What an unreachable consumer missed is sent by the periodic sender once it is back,
// without waiting for another move, and only once.
func TestDSPNegotiationSendOwed(t *testing.T) {
	c := newCNRun(t)
	c.kRequest()
	c.cb.down.Store(true)
	wantStatus(t, c.do("POST", "/api/v1/deals/"+c.dealID+"/offer", c.keyA, map[string]any{"price": 450000}), http.StatusOK)
	svc := c.server.DSPNegotiationService()
	if n, err := svc.SendOwed(context.Background()); n != 0 || err == nil {
		t.Fatalf("SendOwed with the consumer down: %d, %v", n, err)
	}
	c.cb.none()
	c.cb.down.Store(false)
	if n, err := svc.SendOwed(context.Background()); n != 1 || err != nil {
		t.Fatalf("SendOwed: %d, %v", n, err)
	}
	if m, ok := c.cb.next().(*dsp.ContractOfferMessage); !ok || m.ProviderPID != c.providerPID {
		t.Fatalf("the owed offer: %+v", m)
	}
	c.wantState(dsp.NegotiationOffered)
	if n, err := svc.SendOwed(context.Background()); n != 0 || err != nil {
		t.Fatalf("SendOwed with nothing owed: %d, %v", n, err)
	}
	c.cb.none()
}
