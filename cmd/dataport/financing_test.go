package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
)

// call sends a JSON request (body nil: none) and decodes the answer into out.
func call(t *testing.T, method, url, key string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	if res.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	return res.StatusCode
}

// The financing side end to end on the demo: the demo merchant's attested order
// batches became features, a score, a grade and a line, and an offer to the bank
// it consented to; the merchant applies and the bank's rules decide at once; the
// loan is disbursed; receivables that settle in a later batch repay it; every
// step is filed. The other bank, without the merchant's consent, sees nothing of
// the merchant.
func TestDemoFinancing(t *testing.T) {
	r := start(t, []string{"demo", "-addr", "127.0.0.1:0", "-data", t.TempDir()}, nil)
	defer r.stop(t)
	keys := demoKeys(r.stdout.String())
	merchantKey, bankKey, operatorKey := keys["merchant"], keys["financial_institution"], keys["operator"]
	api := r.url + "/api/v1"

	var me struct {
		Participant struct {
			ID string `json:"id"`
		} `json:"participant"`
	}
	call(t, "GET", api+"/me", merchantKey, nil, &me)
	merchant := me.Participant.ID
	call(t, "GET", api+"/me", bankKey, nil, &me)
	bank := me.Participant.ID
	if merchant == "" || bank == "" {
		t.Fatal("no demo merchant or bank")
	}

	// The merchant's credit decision, made from its attested batches at seeding.
	var decision struct {
		ID, Grade   string
		Score       int64
		DataThrough int64  `json:"data_through"`
		FeatureHash string `json:"feature_hash"`
		Line        dataport.Money
		Reasons     []struct{ Characteristic string }
	}
	if code := call(t, "GET", api+"/merchants/"+merchant+"/decisions/latest", merchantKey, nil, &decision); code != http.StatusOK ||
		decision.Grade == "" || decision.DataThrough == 0 || decision.FeatureHash == "" || decision.Line.Amount <= 0 ||
		len(decision.Reasons) == 0 || len(decision.Reasons) > 4 {
		t.Fatalf("latest decision: %d %+v", code, decision)
	}

	// The bank pulls its offers: one for the merchant, from that decision.
	type offer struct {
		ID, Status, Product string
		MerchantID          string         `json:"merchant_id"`
		DecisionID          string         `json:"decision_id"`
		Amount              dataport.Money `json:"amount"`
	}
	var offers struct{ Items []offer }
	call(t, "GET", api+"/offers?limit=100", bankKey, nil, &offers)
	var o offer
	for _, it := range offers.Items {
		if it.MerchantID == merchant && it.Product == "order_financing" && it.Status == "open" {
			o = it
		}
	}
	if o.ID == "" || o.DecisionID != decision.ID {
		t.Fatalf("the bank has no open order-financing offer for the merchant: %+v", offers.Items)
	}

	// The merchant applies; the bank's rules decide in the same request.
	amount := dataport.Money{Amount: min(o.Amount.Amount, 20_000_00), Currency: "CNY"}
	var app struct {
		ID       string
		Decision struct {
			Outcome string
			Reasons []string
			Rules   []struct {
				ID     string
				Passed bool
			}
		}
		Loan *struct {
			ID           string
			Principal    dataport.Money
			Outstanding  dataport.Money
			Status       string
			Disbursement struct {
				Amount dataport.Money
			}
			FilingSeq int64 `json:"filing_seq"`
		}
		FilingSeq int64 `json:"filing_seq"`
	}
	began := time.Now()
	code := call(t, "POST", api+"/offers/"+o.ID+"/applications", merchantKey, map[string]any{"amount": amount, "purpose": "stock for the new year"}, &app)
	t.Logf("application decided in %v (BENCHMARKS.md has the p99)", time.Since(began))
	if code != http.StatusCreated || app.Decision.Outcome != "approved" || len(app.Decision.Rules) == 0 || app.Loan == nil ||
		app.Loan.Principal != amount || app.Loan.Status != "active" || app.Loan.Disbursement.Amount != amount {
		t.Fatalf("application: %d %+v", code, app)
	}
	for _, rule := range app.Decision.Rules {
		if !rule.Passed {
			t.Fatalf("approved with a failed rule: %+v", app.Decision)
		}
	}
	loan := app.Loan.ID

	// Receivables settle: orders sent, then sent again as paid out by the platform.
	var shops struct {
		Items []struct {
			Platform   string `json:"platform"`
			ExternalID string `json:"external_id"`
		}
	}
	call(t, "GET", api+"/merchants/"+merchant+"/shops", merchantKey, nil, &shops)
	shop := shops.Items[0].Platform + ":" + shops.Items[0].ExternalID
	now := time.Now().In(dataport.China)
	orders := func(settled bool) string {
		var b strings.Builder
		for i := range 3 {
			extra := fmt.Sprintf(`,"expected_settlement":%q`, now.AddDate(0, 0, 10).Format(time.DateOnly))
			if settled {
				extra += fmt.Sprintf(`,"settled_at":%q,"updated_at":%q`, now.Format(time.RFC3339), now.Format(time.RFC3339))
			}
			fmt.Fprintf(&b, `{"order_id":"E2E-%d","shop":%q,"ordered_at":%q,"amount":"5000.00","currency":"CNY","status":"delivered"%s}`+"\n",
				i, shop, now.Add(-time.Hour).Format(time.RFC3339), extra)
		}
		return b.String()
	}
	for _, settled := range []bool{false, true} {
		req, _ := http.NewRequest("POST", api+"/merchants/"+merchant+"/batches?format=jsonl", strings.NewReader(orders(settled)))
		req.Header.Set("Authorization", "Bearer "+merchantKey)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("batch: %d %s", res.StatusCode, b)
		}
	}
	var repayments struct {
		Items []struct {
			Amount, Settled dataport.Money
			Source          string
		}
	}
	call(t, "GET", api+"/loans/"+loan+"/repayments", merchantKey, nil, &repayments)
	// The bank takes its repayment share (50 % in the demo) of the 15,000 yuan settled.
	want := min(15_000_00*50/100, app.Loan.Outstanding.Amount)
	if len(repayments.Items) != 1 || repayments.Items[0].Amount.Amount != want || repayments.Items[0].Settled.Amount != 15_000_00 ||
		repayments.Items[0].Source != "settlement" {
		t.Fatalf("repayments %+v, want one of %d", repayments.Items, want)
	}

	// Every step is in the log.
	var filings struct {
		Items []struct{ Type string }
	}
	call(t, "GET", api+"/filings?subject="+merchant+"&limit=1000", operatorKey, nil, &filings)
	seen := map[string]bool{}
	for _, f := range filings.Items {
		seen[f.Type] = true
	}
	for _, step := range []string{"finance.batch_attested", "lending.consent_granted", "credit.decided", "lending.offer_made",
		"lending.application_decided", "lending.disbursed", "lending.repaid"} {
		if !seen[step] {
			t.Errorf("no %s filing about the merchant: %v", step, seen)
		}
	}

	// The other bank has no consent from this merchant: nothing of it is visible.
	var everyone struct {
		Items []struct {
			ID    string
			Roles []string
		}
	}
	call(t, "GET", api+"/participants?limit=500", operatorKey, nil, &everyone)
	other := ""
	for _, p := range everyone.Items {
		if p.ID != bank && strings.Contains(strings.Join(p.Roles, ","), "financial_institution") {
			other = p.ID
		}
	}
	var issued struct{ Token string }
	if code := call(t, "POST", api+"/participants/"+other+"/api-keys", operatorKey,
		map[string]any{"name": "e2e", "roles": []string{"financial_institution"}}, &issued); code != http.StatusCreated {
		t.Fatalf("key for the other bank: %d", code)
	}
	call(t, "GET", api+"/offers?limit=1000", issued.Token, nil, &offers)
	for _, it := range offers.Items {
		if it.MerchantID == merchant {
			t.Fatalf("the other bank sees an offer for the merchant: %+v", it)
		}
	}
	for _, path := range []string{"/offers/" + o.ID, "/applications/" + app.ID, "/loans/" + loan, "/merchants/" + merchant + "/decisions/latest",
		"/merchants/" + merchant + "/features", "/decisions/" + decision.ID} {
		if code := call(t, "GET", api+path, issued.Token, nil, nil); code != http.StatusNotFound {
			t.Errorf("the other bank reads %s: %d", path, code)
		}
	}
}
