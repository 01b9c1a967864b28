package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/credit/merchantsim"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/gowebpki/jcs"
)

// creditExchange is an exchange with the whole financing side and the catalog:
// a merchant whose generated orders are sent through the API, another merchant
// without data, a buyer, a bank and a regulator. Its clock is fixed at
// financeNow, so that the orders, their days and the features do not move with
// the day the tests run.
type creditExchange struct {
	*exchange
	merchantID, merchant string
	shops                []finance.NewShop
	otherID, other       string
	buyer, bank, watcher string
}

func newCreditExchange(t *testing.T, engine store.Engine) *creditExchange {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, engine, store.Options{Clock: dataport.NewFixedClock(financeNow)})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试数据交易所", En: "Test Data Exchange"}})
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := ledger.GenerateKey("api.test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	lg, err := ledger.OpenLog(ctx, db, skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	running, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); lg.Run(running, 50*time.Millisecond) }()
	blobs, err := blob.OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rules, err := compliance.New(ctx, db, reg, lg)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(db, reg, blobs, rules)
	reg.OnSuspension(cat.SuspensionCascade)
	fin := finance.New(db, reg, finance.Options{SpoolDir: t.TempDir()})
	credits, err := credit.New(db, reg, fin, nil, credit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	credits.ListThrough(cat, fin)
	srv := httptest.NewServer(api.NewServer(api.Deps{DB: db, Registry: reg, Catalog: cat, Compliance: rules, Finance: fin, Credit: credits,
		Filings: ledger.NewReader(db), Log: lg, Version: "test"}))
	t.Cleanup(func() { srv.Close(); stop(); <-done })
	x := &creditExchange{exchange: &exchange{t: t, db: db, reg: reg, log: lg, vkey: vkey, srv: srv, operator: token}}
	member := func(name, first17 string, roles ...string) (string, string) {
		return x.createWithKey(map[string]any{"legal_name": map[string]any{"zh": name}, "jurisdiction": "CN", "kind": "domestic",
			"uscc": mustUSCC(first17), "roles": roles})
	}
	x.merchantID, x.merchant = member("嘉兴冻品鲜生食品有限公司", "91330402MA2JD7F10", "merchant")
	x.otherID, x.other = member("义乌小商品电子商务有限公司", "91330782MA2EC4K31", "merchant")
	_, x.buyer = member("华东证券股份有限公司", "91310000132200821", "buyer")
	_, x.bank = member("华东小额贷款有限公司", "91310115MA1K2XH01", "financial_institution")
	_, x.watcher = member("国家金融监督管理总局上海监管局", "11100000000013127", "regulator")
	return x
}

func (x *creditExchange) path(suffix string) string {
	return "/api/v1/merchants/" + x.merchantID + suffix
}

// sendOrders connects a generated merchant's shops to the merchant and sends
// its orders, as of the exchange's clock, as one CSV batch through the API.
func (x *creditExchange) sendOrders() finance.BatchReport {
	x.t.Helper()
	// merchantsim: a merchant of middling risk (z = 0) with 120 days of history.
	m := merchantsim.DefaultParams().WithRisk(7, 3, 0)
	m.Age = 120
	x.shops = m.NewShops()
	for _, sh := range x.shops {
		wantStatus(x.t, x.do("POST", x.path("/shops"), x.merchant, sh), http.StatusCreated)
	}
	var b bytes.Buffer
	if err := merchantsim.WriteCSV(&b, m.Orders(financeNow)); err != nil {
		x.t.Fatal(err)
	}
	r := x.upload("POST", x.path("/batches"), x.merchant, "text/csv", b.Bytes())
	wantStatus(x.t, r, http.StatusCreated)
	var rep finance.BatchReport
	if err := json.Unmarshal(r.body, &rep); err != nil {
		x.t.Fatal(err)
	}
	if rep.Rejected != 0 || rep.Inserted < 100 || len(x.shops) < 2 {
		x.t.Fatalf("the generated batch: %s", r.body)
	}
	return rep
}

// written counts what a credit request may write: decisions, products and filings.
func (x *creditExchange) written() string {
	return fmt.Sprint(x.count("credit_decisions"), x.count("products"), x.count("filings"))
}

// filing reads a filing with its proof of inclusion, once a checkpoint covers it.
func (x *creditExchange) filing(key string, seq int64) map[string]any {
	x.t.Helper()
	r := x.do("GET", fmt.Sprintf("/api/v1/filings/%d?wait=20", seq), key, nil)
	wantStatus(x.t, r, http.StatusOK)
	f := r.json(x.t)
	if sum := sha256.Sum256([]byte(f["entry"].(string))); hex.EncodeToString(sum[:]) != f["sha256"] || f["proof"] == nil {
		x.t.Fatalf("filing %d is not the entry logged, with its proof: %s", seq, r.body)
	}
	return f
}

// A merchant sends its orders, asks for a decision and reads it back, with the
// operator; the decision explains itself and its filing is in the log; the model
// behind it is open to anyone with a key. Other participants find no merchant,
// a merchant without data gets a conflict, a suspended one is refused, and none
// of them writes anything.
func TestCreditDecisionEndpoints(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newCreditExchange(t, engine)

		// No attested data: a conflict that says what to do, nothing filed.
		before := x.written()
		p := wantProblem(t, x.do("POST", "/api/v1/merchants/"+x.otherID+"/decisions", x.other, nil), http.StatusConflict, "")
		if !strings.Contains(p["detail"].(string), "no attested order data") {
			t.Fatalf("409 does not say why: %v", p["detail"])
		}
		wantProblem(t, x.do("GET", "/api/v1/merchants/"+x.otherID+"/decisions/latest", x.other, nil), http.StatusNotFound, "")
		if x.written() != before {
			t.Fatal("a refused decision wrote")
		}

		batch := x.sendOrders()

		// The model, to anyone with a key.
		r := x.do("GET", "/api/v1/credit/model", x.bank, nil)
		wantStatus(t, r, http.StatusOK)
		var model credit.ModelInfo
		if err := json.Unmarshal(r.body, &model); err != nil {
			t.Fatal(err)
		}
		if len(model.ID) != 64 || model.Card.IntendedUse == "" || len(model.MasterScale) != 5 || model.MasterScale[0].Grade != credit.GradeA ||
			model.MasterScale[4].MaxPD != 0 || model.Policy != credit.DefaultPolicy() || len(model.Scorecard) == 0 || model.Currency != "CNY" {
			t.Fatalf("model %s", r.body)
		}
		wantProblem(t, x.do("GET", "/api/v1/credit/model", "", nil), http.StatusUnauthorized, "")

		// The merchant asks.
		r = x.do("POST", x.path("/decisions"), x.merchant, nil)
		wantStatus(t, r, http.StatusCreated)
		var d credit.Decision
		if err := json.Unmarshal(r.body, &d); err != nil {
			t.Fatal(err)
		}
		if r.header.Get("Location") != "/api/v1/decisions/"+d.ID || !strings.HasPrefix(d.ID, "cdec_") || d.MerchantID != x.merchantID {
			t.Fatalf("decision %s (Location %q)", r.body, r.header.Get("Location"))
		}
		if !slices.Contains([]credit.RiskGrade{"A", "B", "C", "D", "E"}, d.Grade) || d.Score <= 0 || d.PD <= 0 || d.PD >= 1 ||
			len(d.Reasons) == 0 || len(d.Reasons) > 4 || d.Line.Currency != "CNY" || d.Line.Amount < 0 ||
			d.Model.ID != model.ID || d.Model.Version != model.Version || d.DataThrough != batch.FilingSeq || d.FilingSeq <= batch.FilingSeq {
			t.Fatalf("decision %s", r.body)
		}
		if h, err := credit.FeatureHash(d.Inputs, d.DataThrough, d.Model.ID); err != nil || h != d.FeatureHash {
			t.Fatalf("feature hash %s, recomputed %s (%v)", d.FeatureHash, h, err)
		}
		// Its filing, in the log: what it decided, and on what.
		f := x.filing(x.merchant, d.FilingSeq)
		var filed struct {
			MerchantID  string `json:"merchant_id"`
			DecisionID  string `json:"decision_id"`
			ModelID     string `json:"model_id"`
			FeatureHash string `json:"feature_hash"`
			DataThrough int64  `json:"data_through"`
			Sum         string `json:"decision_sha256"`
		}
		json.Unmarshal(mustJSON(t, f["payload"]), &filed)
		if f["type"] != "credit.decided" || f["actor"] != x.merchantID || filed.DecisionID != d.ID || filed.MerchantID != x.merchantID ||
			filed.ModelID != d.Model.ID || filed.FeatureHash != d.FeatureHash || filed.DataThrough != d.DataThrough ||
			filed.Sum != mustDecisionHash(t, d) {
			t.Fatalf("filing %v of decision %s", f, r.body)
		}

		// The operator asks for the merchant: a second decision on the same data.
		r = x.do("POST", x.path("/decisions"), x.operator, nil)
		wantStatus(t, r, http.StatusCreated)
		var again credit.Decision
		json.Unmarshal(r.body, &again)
		if again.DecidedBy != x.operatorID() || again.FeatureHash != d.FeatureHash || again.Score != d.Score {
			t.Fatalf("the operator's decision %s", r.body)
		}

		// History, newest first, paged; the latest; one by id.
		var page struct {
			Items []credit.Decision `json:"items"`
			Next  string            `json:"next"`
		}
		r = x.do("GET", x.path("/decisions?limit=1"), x.merchant, nil)
		wantStatus(t, r, http.StatusOK)
		json.Unmarshal(r.body, &page)
		if len(page.Items) != 1 || page.Items[0].ID != again.ID || page.Next != again.ID {
			t.Fatalf("first page %s", r.body)
		}
		r = x.do("GET", x.path("/decisions?limit=1&before="+page.Next), x.merchant, nil)
		page.Next = ""
		json.Unmarshal(r.body, &page)
		if len(page.Items) != 1 || page.Items[0].ID != d.ID {
			t.Fatalf("second page %s", r.body)
		}
		r = x.do("GET", x.path("/decisions?limit=5"), x.watcher, nil)
		page.Next = ""
		json.Unmarshal(r.body, &page)
		if len(page.Items) != 2 || page.Next != "" {
			t.Fatalf("a regulator's page %s", r.body)
		}
		wantProblem(t, x.do("GET", x.path("/decisions?limit=0"), x.merchant, nil), http.StatusBadRequest, "query.limit")
		for _, key := range []string{x.merchant, x.operator, x.watcher} {
			r = x.do("GET", x.path("/decisions/latest"), key, nil)
			wantStatus(t, r, http.StatusOK)
			if r.json(t)["id"] != again.ID {
				t.Fatalf("latest %s", r.body)
			}
			r = x.do("GET", "/api/v1/decisions/"+d.ID, key, nil)
			wantStatus(t, r, http.StatusOK)
			if r.json(t)["feature_hash"] != d.FeatureHash {
				t.Fatalf("decision by id %s", r.body)
			}
		}

		// To another merchant, a buyer or a bank, the merchant and its decisions do
		// not exist.
		before = x.written()
		for _, key := range []string{x.other, x.buyer, x.bank} {
			wantProblem(t, x.do("POST", x.path("/decisions"), key, nil), http.StatusNotFound, "")
			wantProblem(t, x.do("GET", x.path("/decisions"), key, nil), http.StatusNotFound, "")
			wantProblem(t, x.do("GET", x.path("/decisions/latest"), key, nil), http.StatusNotFound, "")
			wantProblem(t, x.do("GET", "/api/v1/decisions/"+d.ID, key, nil), http.StatusNotFound, "")
		}
		wantProblem(t, x.do("GET", "/api/v1/decisions/cdec_nosuch", x.operator, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("POST", x.path("/decisions"), "", nil), http.StatusUnauthorized, "")
		if x.written() != before {
			t.Fatal("refused requests wrote")
		}

		// Suspended: no decision, for the merchant or the operator; its decisions
		// stay readable to those who oversee.
		wantStatus(t, x.do("POST", "/api/v1/participants/"+x.merchantID+"/suspend", x.operator, map[string]any{"reason": "orders fabricated"}), http.StatusOK)
		before = x.written()
		wantProblem(t, x.do("POST", x.path("/decisions"), x.merchant, nil), http.StatusForbidden, "")
		m := wantProblem(t, x.do("POST", x.path("/decisions"), x.operator, nil), http.StatusForbidden, "")
		if !strings.Contains(m["detail"].(string), "suspended") {
			t.Fatalf("403 does not say why: %v", m["detail"])
		}
		if x.written() != before {
			t.Fatal("refused decisions of a suspended merchant wrote")
		}
		wantStatus(t, x.do("GET", x.path("/decisions/latest"), x.operator, nil), http.StatusOK)
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A merchant lists its own data, with its consent, as a draft written from the
// data: its attested orders, and its credit summary. The draft cites the filings
// that attest the data, carries the consent the product.created filing covers,
// and goes through the catalog's review to be listed and found. A merchant that
// is no supplier, a request without consent, and anyone but the merchant are
// refused, and create nothing.
func TestMerchantDataProducts(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newCreditExchange(t, engine)
		batch := x.sendOrders()
		plans := []any{map[string]any{"kind": "subscription", "period": "month", "price": map[string]any{"amount": 200000, "currency": "CNY"}}}
		request := map[string]any{"kind": "orders", "consent": true, "purpose": "向赊销供应商证明真实销售 / prove real sales to credit-sales suppliers",
			"scenarios": []string{"供应链赊销授信", "supplier credit sales"}, "price_plans": plans}

		// The exchange lists data only from registered suppliers.
		before := x.written()
		p := wantProblem(t, x.do("POST", x.path("/data-products"), x.merchant, request), http.StatusForbidden, "")
		if !strings.Contains(p["detail"].(string), "registered suppliers") || !strings.Contains(p["detail"].(string), "operator grants") {
			t.Fatalf("403 does not say what to do: %v", p["detail"])
		}
		if x.written() != before {
			t.Fatal("a refused listing wrote")
		}
		r := x.do("PATCH", "/api/v1/participants/"+x.merchantID, x.operator, map[string]any{"roles": []string{"merchant", "supplier"}})
		wantStatus(t, r, http.StatusOK)
		// A key issued before acts in the roles it was issued with.
		p = wantProblem(t, x.do("POST", x.path("/data-products"), x.merchant, request), http.StatusForbidden, "")
		if !strings.Contains(p["detail"].(string), "key") {
			t.Fatalf("403 does not name the key: %v", p["detail"])
		}
		k := x.do("POST", "/api/v1/participants/"+x.merchantID+"/api-keys", x.merchant, map[string]any{"name": "listing"})
		wantStatus(t, k, http.StatusCreated)
		supplier := k.json(t)["token"].(string)
		keyID := k.json(t)["key"].(map[string]any)["id"].(string)
		after := x.written()

		// Without consent, or a purpose, or with a bad price: 400 naming the field.
		wantProblem(t, x.do("POST", x.path("/data-products"), supplier, with(request, "consent", nil)), http.StatusBadRequest, "consent")
		wantProblem(t, x.do("POST", x.path("/data-products"), supplier, with(request, "consent", false)), http.StatusBadRequest, "consent")
		wantProblem(t, x.do("POST", x.path("/data-products"), supplier, with(request, "purpose", " ")), http.StatusBadRequest, "purpose")
		wantProblem(t, x.do("POST", x.path("/data-products"), supplier, with(request, "kind", "shops")), http.StatusBadRequest, "kind")
		bad := []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": -1, "currency": "CNY"}}}
		wantProblem(t, x.do("POST", x.path("/data-products"), supplier, with(request, "price_plans", bad)), http.StatusBadRequest, "price_plans[0].price.amount")
		unknown := []any{map[string]any{"kind": "compliance_report", "sha256": strings.Repeat("cd", 32)}}
		wantProblem(t, x.do("POST", x.path("/data-products"), supplier, with(request, "attachments", unknown)), http.StatusBadRequest, "attachments[0].sha256")
		// Only the merchant consents for its data.
		for _, key := range []string{x.other, x.buyer, x.bank} {
			wantProblem(t, x.do("POST", x.path("/data-products"), key, request), http.StatusNotFound, "")
		}
		wantProblem(t, x.do("POST", x.path("/data-products"), x.operator, request), http.StatusForbidden, "")
		// No decision yet: no credit summary.
		wantProblem(t, x.do("POST", x.path("/data-products"), supplier, with(request, "kind", "credit_summary")), http.StatusConflict, "")
		if x.written() != after || x.count("products") != 0 {
			t.Fatal("refused listings wrote")
		}

		// The compliance assessment report, uploaded and cited (R20).
		report := []byte("%PDF-1.4\n% 第三方数据合规评估报告：订单数据\n%%EOF\n")
		up := x.upload("POST", "/api/v1/attachments?name=report.pdf", supplier, "application/pdf", report)
		wantStatus(t, up, http.StatusCreated)
		request["attachments"] = []any{map[string]any{"kind": "compliance_report", "sha256": up.json(t)["sha256"]}}

		r = x.do("POST", x.path("/data-products"), supplier, request)
		wantStatus(t, r, http.StatusCreated)
		var prod catalog.Product
		if err := json.Unmarshal(r.body, &prod); err != nil {
			t.Fatal(err)
		}
		if r.header.Get("Location") != "/api/v1/products/"+prod.ID || prod.Status != catalog.Draft || prod.SupplierID != x.merchantID {
			t.Fatalf("draft %s", r.body)
		}
		d := prod.Details
		attest := x.filing(supplier, batch.FilingSeq)
		cited := fmt.Sprintf("#%d · %s", batch.FilingSeq, attest["sha256"])
		var platforms []string
		for _, sh := range x.shops {
			platforms = append(platforms, sh.Platform)
		}
		if d.Type != "dataset" || d.Category != "e-commerce" || !strings.Contains(d.Title.Zh, "嘉兴冻品鲜生食品有限公司") || d.Title.En == "" ||
			d.Summary.Zh == "" || d.Summary.En == "" || !strings.Contains(d.Description.Zh, cited) || !strings.Contains(d.Description.En, cited) ||
			!strings.Contains(d.Sample, fmt.Sprintf("%d,%s,batch,%s,csv,%s,", batch.FilingSeq, attest["sha256"], batch.ID, batch.SHA256)) ||
			d.TimeSpan.From != batch.FirstOrderAt.In(dataport.China).Format(time.DateOnly) || d.TimeSpan.To != "2026-11-25" ||
			d.UpdateFrequency != "irregular" || !slices.Equal(d.DeliveryModes, []string{"file"}) || d.Source != "enterprise" ||
			d.Grade != "general" || d.PISubjects != 0 || d.OriginJurisdiction != "CN" || d.ExportAllowed ||
			len(d.Scenarios) != 2 || len(d.PricePlans) != 1 || d.PricePlans[0].Price.Amount != 200000 || len(d.Attachments) != 1 {
			t.Fatalf("details %s", mustJSON(t, d))
		}
		for _, pl := range platforms {
			if !strings.Contains(d.Coverage, pl) || !slices.Contains(d.Tags, pl) {
				t.Fatalf("coverage %q, tags %v do not name %s", d.Coverage, d.Tags, pl)
			}
		}
		var names []string
		for _, f := range d.Fields {
			names = append(names, f.Name)
		}
		if !slices.Contains(names, "order_id") || !slices.Contains(names, "expected_settlement") || len(names) != 15 {
			t.Fatalf("field dictionary %v", names)
		}
		for _, s := range []string{d.Description.Zh, d.Description.En, d.Title.Zh, d.Summary.Zh} {
			if n := len([]rune(s)); n > 2000 {
				t.Fatalf("a text of %d characters", n)
			}
		}
		if !strings.Contains(d.LawfulBasis, "prove real sales to credit-sales suppliers") || !strings.Contains(d.LawfulBasis, "consent") {
			t.Fatalf("lawful basis %q", d.LawfulBasis)
		}
		// The consent is filed: product.created, by the merchant with its key, over
		// the hash of the details that carry it.
		r = x.do("GET", "/api/v1/filings?type=product.created", supplier, nil)
		wantStatus(t, r, http.StatusOK)
		items := r.json(t)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["payload"].(map[string]any)["product_id"] != prod.ID {
			t.Fatalf("product.created filings: %s", r.body)
		}
		created := items[0].(map[string]any)
		canon, err := jcs.Transform(mustJSON(t, d))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(canon)
		if created["actor"] != x.merchantID || created["key_id"] != keyID ||
			created["payload"].(map[string]any)["details_sha256"] != hex.EncodeToString(sum[:]) || prod.DetailsSHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("the filing %v does not cover the details with their consent", created)
		}
		// The merchant may revise the draft as it stands: it keeps the catalog's limits.
		wantStatus(t, x.do("PUT", "/api/v1/products/"+prod.ID+"/details", supplier, d), http.StatusOK)

		// The normal workflow lists it, and buyers find it.
		for _, step := range []struct{ path, key string }{{"submit", supplier}, {"review", x.operator}, {"approve", x.operator}} {
			wantStatus(t, x.do("POST", "/api/v1/products/"+prod.ID+"/"+step.path, step.key, nil), http.StatusOK)
		}
		found := x.do("GET", "/api/v1/products?q="+url.QueryEscape("订单数据"), x.buyer, nil)
		wantStatus(t, found, http.StatusOK)
		if items := found.json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["product"].(map[string]any)["id"] != prod.ID {
			t.Fatalf("search 订单数据: %s", found.body)
		}

		// The credit summary, once there is a decision.
		r = x.do("POST", x.path("/decisions"), supplier, nil)
		wantStatus(t, r, http.StatusCreated)
		var dec credit.Decision
		json.Unmarshal(r.body, &dec)
		decided := x.filing(supplier, dec.FilingSeq)
		r = x.do("POST", x.path("/data-products"), supplier, with(request, "kind", "credit_summary"))
		wantStatus(t, r, http.StatusCreated)
		json.Unmarshal(r.body, &prod)
		d = prod.Details
		var summary credit.CreditSummary
		if err := json.Unmarshal([]byte(d.Sample), &summary); err != nil {
			t.Fatalf("the sample is not a credit summary: %v\n%s", err, d.Sample)
		}
		if d.Type != "report" || d.Category != "finance" || summary.DecisionID != dec.ID || summary.Score != dec.Score || summary.Grade != dec.Grade ||
			summary.Line != dec.Line || len(summary.Reasons) != len(dec.Reasons) || summary.FeatureHash != dec.FeatureHash ||
			!strings.Contains(d.Description.En, fmt.Sprintf("#%d · %s", dec.FilingSeq, decided["sha256"])) ||
			!strings.Contains(d.Description.Zh, fmt.Sprintf("#%d · %s", dec.FilingSeq, decided["sha256"])) ||
			!strings.Contains(d.Summary.En, "grade "+string(dec.Grade)) || d.TimeSpan.To != "2026-11-25" || len(d.Fields) != 14+len(credit.InputNames) {
			t.Fatalf("credit summary details %s", mustJSON(t, d))
		}
		if h, err := credit.FeatureHash(summary.Inputs, summary.DataThrough, summary.Model.ID); err != nil || h != summary.FeatureHash {
			t.Fatalf("the summary's feature hash does not recompute: %s (%v)", h, err)
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(prod.DetailsSHA256) {
			t.Fatalf("draft %s", r.body)
		}
	})
}

// mustDecisionHash is the hash a decision's filing carries of it.
func mustDecisionHash(t *testing.T, d credit.Decision) string {
	t.Helper()
	sum, err := credit.DecisionHash(d)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
