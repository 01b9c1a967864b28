package api_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dataport/dataport/store"
)

// fuzzEndpoint is an endpoint whose request body the fuzzer writes: path may name
// {self}, a participant made for the run; asOperator sends the operator's key, else
// that participant's.
type fuzzEndpoint struct {
	method, path, contentType string
	asOperator                bool
	seed                      string
}

var fuzzEndpoints = []fuzzEndpoint{
	{"POST", "/api/v1/participants", "application/json", true,
		`{"legal_name": {"zh": "深圳市腾讯计算机系统有限公司", "en": "Shenzhen Tencent Computer Systems Co., Ltd."}, "jurisdiction": "CN", "kind": "domestic", "uscc": "9144030071526726XG", "roles": ["buyer"], "contact": {"email": "a@b.example"}}`},
	{"PATCH", "/api/v1/participants/{self}", "application/json", true, `{"contact": {"name": "Ops", "email": "ops@x.example", "phone": "+86 10 1234 5678"}, "ciio": false}`},
	{"POST", "/api/v1/participants/{self}/kyc", "application/json", true, `{"status": "verified", "note": "documents checked"}`},
	{"PUT", "/api/v1/participants/{self}/whitelist", "application/json", true, `{"reference": "WL-2026-001", "valid_until": "2027-01-01"}`},
	{"POST", "/api/v1/compliance/assessments", "application/json", false,
		`{"facts": {"direction": "export", "exporter": {"id": "{self}"}, "recipient": {"jurisdiction": "SG"}, "purpose": "other", "data": {"grade": "general", "sublevel": 2, "pi_subjects": 150000, "sensitive_pi_subjects": 0}}}`},
	{"POST", "/api/v1/compliance/packs", "application/yaml", true, "version: \"t.1\"\nrules: []\n"},
	{"POST", "/api/v1/compliance/approvals", "application/json", true,
		`{"kind": "pi_certification", "reference": "CERT-2026-001", "exporter_id": "{self}", "issued_on": "2026-01-15"}`},
	{"POST", "/api/v1/products", "application/json", false,
		`{"supplier_id": "{self}", "details": {"type": "dataset", "title": {"zh": "小微企业信用评分", "en": "SME credit scoring"}, "summary": {"en": "Credit scores"}, "category": "finance", "delivery_modes": ["api"], "scenarios": ["credit risk"], "source": "enterprise", "grade": "general", "sublevel": 2, "pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "CN", "rights": {"holding": true, "processing_use": true, "product_operation": false}, "price_plans": [{"kind": "one_off", "price": {"amount": 500000, "currency": "CNY"}}]}}`},
	{"POST", "/api/v1/demands", "application/json", false, `{"text": "信用评分", "currency": "CNY", "budget_max": 100000}`},
	{"POST", "/api/v1/agency-contracts", "application/json", false, `{"supplier_id": "prt_x", "agent_id": "{self}", "categories": ["energy"], "valid_from": "2026-01-01", "valid_until": "2027-01-01"}`},
	{"POST", "/api/v1/deals", "application/json", false, `{"product_id": "prd_x", "plan": 0, "scenario": "research", "purpose": "academic", "delivery_mode": "api"}`},
	{"POST", "/api/v1/harvest/sources", "application/json", true, `{"name": "Port feed", "kind": "feed", "location": "https://feeds.example/port.csv", "supplier_id": "{self}", "settings": {"scenarios": ["research"], "category": "shipping"}}`},
	{"POST", "/api/v1/participants/{self}/signing-keys", "application/json", false, `{"name": "laptop", "public_key": "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="}`},
	{"POST", "/dsp/catalog/request", "application/json", false, `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "CatalogRequestMessage", "filter": []}`},
}

// Any body sent to the endpoints that take one is answered, never with a server
// fault (5xx), and a refusal is a problem+json document whose status is the
// response's.
func FuzzRequestBodies(f *testing.F) {
	x := newExchangeTB(f, store.SQLite)
	self, key := x.createWithKey(with(tencent, "roles", []string{"supplier", "buyer"}))
	for i, e := range fuzzEndpoints {
		f.Add(uint8(i), []byte(e.seed))
	}
	f.Add(uint8(2), []byte(`{}`))
	f.Add(uint8(0), []byte(`{"legal_name": {"zh": "x"`))
	f.Add(uint8(0), []byte(`[1, 2]`))
	f.Add(uint8(4), []byte(`{"facts": {"data": {"grade": 7, "sublevel": 1e400}}}`))
	f.Add(uint8(7), []byte(`{"details": {"price_plans": [{"price": {"amount": -5}}]}, "details": null}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e := fuzzEndpoints[int(which)%len(fuzzEndpoints)]
		body = bytes.ReplaceAll(body, []byte("{self}"), []byte(self))
		req := httptest.NewRequest(e.method, strings.ReplaceAll(e.path, "{self}", self), bytes.NewReader(body))
		req.Header.Set("Content-Type", e.contentType)
		if e.asOperator {
			req.Header.Set("Authorization", "Bearer "+x.operator)
		} else {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		w := httptest.NewRecorder()
		x.server.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", e.method, e.path, body, w.Code, w.Body)
		}
		if w.Code < 400 {
			return
		}
		var p struct {
			Status int `json:"status"`
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") && !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s %q: %d with Content-Type %q", e.method, e.path, body, w.Code, ct)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatalf("%s %s %q: %d with a body that is not JSON: %v", e.method, e.path, body, w.Code, err)
		}
		if p.Status != 0 && p.Status != w.Code {
			t.Fatalf("%s %s %q: %d with a problem of status %d", e.method, e.path, body, w.Code, p.Status)
		}
	})
}
