package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport/notify"
)

func TestWebhookEndpoints(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		_, key := x.createWithKey(with(tencent, "roles", []string{"buyer"}))
		other := x.createWithKeyID(with(tencent, "uscc", mustUSCC("91440300MA5FUJ2X4")))
		wantProblem(t, x.do("POST", "/api/v1/webhooks", key, map[string]any{"url": "ftp://example.com"}), http.StatusBadRequest, "url")
		wantProblem(t, x.do("POST", "/api/v1/webhooks", "", map[string]any{"url": "https://example.com"}), http.StatusUnauthorized, "")
		if x.count("webhooks") != 0 {
			t.Fatal("a refused webhook was stored")
		}
		var mu sync.Mutex
		var got []*http.Request
		var bodies [][]byte
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got, bodies = append(got, r), append(bodies, b)
			mu.Unlock()
		}))
		defer rcv.Close()
		r := x.do("POST", "/api/v1/webhooks", key, map[string]any{"url": rcv.URL + "/hook", "events": []string{"demand.matched"}})
		wantStatus(t, r, http.StatusCreated)
		hook := r.json(t)
		hookID := hook["id"].(string)
		if r.header.Get("Location") != "/api/v1/webhooks/"+hookID || hook["status"] != "active" {
			t.Fatalf("register: %v %s", r.header, r.body)
		}
		if l := x.do("GET", "/api/v1/webhooks", key, nil).json(t)["items"].([]any); len(l) != 1 {
			t.Fatalf("list: %v", l)
		}
		if l := x.do("GET", "/api/v1/webhooks", other, nil).json(t)["items"].([]any); len(l) != 0 {
			t.Fatalf("someone else's list: %v", l)
		}
		wantProblem(t, x.do("DELETE", "/api/v1/webhooks/"+hookID, other, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", "/api/v1/webhooks/"+hookID+"/deliveries", other, nil), http.StatusNotFound, "")

		// A demand whose match arrives later: the match reaches the endpoint, signed.
		dm := x.do("POST", "/api/v1/demands", key, map[string]any{"text": "全球航运 global shipping", "currency": "CNY"})
		wantStatus(t, dm, http.StatusCreated)
		_, supplier := x.createWithKey(with(with(tencent, "uscc", mustUSCC("91310101MA1G8PJ03")), "roles", []string{"supplier"}))
		x.listProduct(supplier, map[string]any{"zh": "全球航运指数", "en": "Global shipping index"})
		if _, err := x.notify.DeliverDue(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(got) != 1 {
			mu.Unlock()
			t.Fatalf("%d deliveries", len(got))
		}
		pub, err := notify.ParsePublicKey(hook["public_key"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if err := notify.Verify(pub, got[0].Header, bodies[0], time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("delivery does not verify: %v", err)
		}
		mu.Unlock()
		ds := x.do("GET", "/api/v1/webhooks/"+hookID+"/deliveries", key, nil).json(t)["items"].([]any)
		if len(ds) != 1 || ds[0].(map[string]any)["status"] != "delivered" || ds[0].(map[string]any)["kind"] != "demand.matched" {
			t.Fatalf("deliveries: %v", ds)
		}
		inbox := x.do("GET", "/api/v1/inbox", key, nil).json(t)["items"].([]any)
		if len(inbox) != 1 {
			t.Fatalf("inbox: %v", inbox)
		}
		rot := x.do("POST", "/api/v1/webhooks/"+hookID+"/rotate", key, nil).json(t)
		if rot["previous_public_key"] != hook["public_key"] || rot["public_key"] == hook["public_key"] {
			t.Fatalf("rotate: %v", rot)
		}
		wantStatus(t, x.do("DELETE", "/api/v1/webhooks/"+hookID, key, nil), http.StatusOK)
		wantProblem(t, x.do("POST", "/api/v1/webhooks/"+hookID+"/rotate", key, nil), http.StatusConflict, "")
	})
}

// listProduct lists a product of the supplier's with title through the workflow.
func (x *exchange) listProduct(key string, title map[string]any) string {
	x.t.Helper()
	supplierID := x.do("GET", "/api/v1/me", key, nil).json(x.t)["participant"].(map[string]any)["id"].(string)
	report := x.upload("POST", "/api/v1/attachments?name=report.pdf", key, "application/pdf", []byte("%PDF-1.4 report for "+title["en"].(string)))
	wantStatus(x.t, report, http.StatusCreated)
	details := map[string]any{
		"type": "dataset", "title": title, "summary": map[string]any{"en": "An index"}, "category": "shipping",
		"delivery_modes": []string{"api"}, "scenarios": []string{"research"}, "source": "enterprise", "grade": "general",
		"sublevel": 1, "pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "CN",
		"rights":      map[string]any{"holding": true, "processing_use": true, "product_operation": false},
		"price_plans": []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": 100000, "currency": "CNY"}}},
		"attachments": []any{map[string]any{"kind": "compliance_report", "sha256": report.json(x.t)["sha256"]}},
	}
	r := x.do("POST", "/api/v1/products", key, map[string]any{"supplier_id": supplierID, "details": details})
	wantStatus(x.t, r, http.StatusCreated)
	pid := r.json(x.t)["id"].(string)
	for _, step := range []struct{ path, key string }{{"submit", key}, {"review", x.operator}, {"approve", x.operator}} {
		wantStatus(x.t, x.do("POST", "/api/v1/products/"+pid+"/"+step.path, step.key, nil), http.StatusOK)
	}
	return pid
}
