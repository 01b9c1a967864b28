package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestDealEndpoints(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		_, supplier := x.createWithKey(with(with(tencent, "uscc", mustUSCC("91310101MA1G8PJ03")), "roles", []string{"supplier"}))
		pid := x.listProduct(supplier, map[string]any{"zh": "全球航运指数", "en": "Global shipping index"})
		buyerID, buyer := x.createWithKey(with(tencent, "roles", []string{"buyer"}))
		fund := map[string]any{"amount": map[string]any{"amount": 300000, "currency": "CNY"}}
		wantProblem(t, x.do("POST", "/api/v1/participants/"+buyerID+"/funding", x.operator, fund), http.StatusBadRequest, "")
		for range 2 { // the same bank statement line, recorded once
			r := x.send("POST", "/api/v1/participants/"+buyerID+"/funding", x.operator, "application/json", strings.NewReader(`{"amount":{"amount":300000,"currency":"CNY"}}`), "Idempotency-Key", "stmt-2026-11-25-001")
			wantStatus(t, r, http.StatusOK)
			if r.json(t)["balance"].(map[string]any)["amount"] != float64(300000) {
				t.Fatalf("funding: %s", r.body)
			}
		}
		r := x.do("POST", "/api/v1/deals", buyer, map[string]any{"product_id": pid, "plan": 0, "scenario": "research", "purpose": "academic", "delivery_mode": "api"})
		wantStatus(t, r, http.StatusCreated)
		deal := r.json(t)
		id := deal["id"].(string)
		if deal["state"] != "REQUESTED" || r.header.Get("Location") != "/api/v1/deals/"+id {
			t.Fatalf("deal: %s", r.body)
		}
		p := wantProblem(t, x.do("POST", "/api/v1/deals/"+id+"/verify", buyer, map[string]any{"key_id": "ed25519:00", "signature": "AA=="}), http.StatusConflict, "")
		if !strings.Contains(p["detail"].(string), "REQUESTED") || !strings.Contains(p["detail"].(string), "allowed: offer, agree, terminate") {
			t.Fatalf("409: %v", p)
		}
		if x.do("GET", "/api/v1/deals/"+id, buyer, nil).json(t)["version"] != deal["version"] {
			t.Fatal("a refused move changed the deal")
		}
		wantStatus(t, x.do("POST", "/api/v1/deals/"+id+"/terminate", buyer, map[string]any{"reason": "budget cut"}), http.StatusOK)
		bs := x.do("GET", "/api/v1/participants/"+buyerID+"/balances", buyer, nil).json(t)["items"].([]any)
		if len(bs) != 1 || bs[0].(map[string]any)["balance"].(map[string]any)["amount"] != float64(300000) {
			t.Fatalf("balances after the refund: %v", bs)
		}
		trace := x.do("GET", "/api/v1/trace?subject="+id, x.operator, nil)
		if !strings.Contains(string(trace.body), "trade.requested") || !strings.Contains(string(trace.body), "trade.terminated") {
			t.Fatalf("trace: %s", trace.body)
		}
	})
}
