package api_test

// The Dataspace Protocol 2025-1 against the running API server, a real SQLite store and
// products listed through the REST workflow. The TCK's scenarios are named with their
// ids (dsp/SCENARIOS.md): MET:01-01 → TestTCK_MET_01_01. Every protocol body received
// is decoded with dsp.Decode, which validates it against its schema.

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

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
	products        []string
	draft           string // a product of A's that is not listed
}

const catalogRequest = `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "CatalogRequestMessage"}`

func newDSPWorld(t *testing.T, perA, perB int) *dspWorld {
	x := newExchange(t, store.SQLite)
	w := &dspWorld{exchange: x}
	w.supplierA, w.keyA = x.createWithKey(with(with(tencent, "uscc", mustUSCC("91310101MA1G8PJ03")), "roles", []string{"supplier"}))
	w.supplierB, w.keyB = x.createWithKey(with(with(tencent, "uscc", mustUSCC("91440300MA5FUJ2X4")), "roles", []string{"supplier"}))
	w.connector = x.createWithKeyID(with(tencent, "uscc", "914403001922038216")) // a buyer
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
	r := w.do("POST", "/dsp/negotiations/request", w.connector, "{}")
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
