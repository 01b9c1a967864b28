package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// lendingNow is the fixed clock of the lending tests, 17:00 on 25 November 2026 in
// China: consents, offers and loans fall due by it, and webhook signatures carry
// it, whatever the day the tests run.
var lendingNow = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

type lendingExchange struct {
	*exchange
	lend                 *lending.Service
	merchantID, merchant string // a merchant in frozen_food and its key
	bankAID, bankA       string // the bank the merchant consents to
	bankBID, bankB       string // a bank it does not
	hookA, hookB         *hookReceiver
}

// hookReceiver is a bank's webhook endpoint: it keeps every delivery as it came.
type hookReceiver struct {
	*httptest.Server
	pub    string // the webhook's public key, as registered
	mu     sync.Mutex
	heads  []http.Header
	bodies [][]byte
}

func newLendingExchange(t *testing.T, engine store.Engine) *lendingExchange {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, engine, store.Options{Clock: dataport.NewFixedClock(lendingNow)})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试数据交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	notifier, err := notify.New(db, bytes.Repeat([]byte{7}, notify.SecretSize), notify.Options{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	lend := lending.New(db, reg, lending.Options{})
	reg.OnSuspension(lend.SuspensionCascade)
	srv := httptest.NewServer(api.NewServer(api.Deps{DB: db, Registry: reg, Notify: notifier, Lending: lend,
		Filings: ledger.NewReader(db), Version: "test"}))
	t.Cleanup(srv.Close)
	x := &lendingExchange{exchange: &exchange{t: t, db: db, reg: reg, srv: srv, operator: token, notify: notifier}, lend: lend}
	member := func(name, first17, role, category string) (string, string) {
		return x.createWithKey(map[string]any{"legal_name": map[string]any{"zh": name}, "jurisdiction": "CN", "kind": "domestic",
			"uscc": mustUSCC(first17), "roles": []string{role}, "merchant_category": category})
	}
	x.merchantID, x.merchant = member("嘉兴冻品鲜生食品有限公司", "91330402MA2JD7F10", "merchant", "frozen_food")
	x.bankAID, x.bankA = member("上海浦江银行股份有限公司", "91310000132200821", "financial_institution", "")
	x.bankBID, x.bankB = member("华东小额贷款有限公司", "91310115MA1K2XH01", "financial_institution", "")
	x.hookA, x.hookB = x.hook(x.bankA), x.hook(x.bankB)
	return x
}

// hook registers a webhook of the bank's, through the API, at a new receiver.
func (x *lendingExchange) hook(key string) *hookReceiver {
	x.t.Helper()
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.heads, h.bodies = append(h.heads, r.Header.Clone()), append(h.bodies, b)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	x.t.Cleanup(h.Close)
	r := x.do("POST", "/api/v1/webhooks", key, map[string]any{"url": h.URL + "/dataport"})
	wantStatus(x.t, r, http.StatusCreated)
	h.pub = r.json(x.t)["public_key"].(string)
	return h
}

type hookEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// received delivers what is due and returns the receiver's deliveries of kind,
// each checked against the webhook's Ed25519 key first.
func (x *lendingExchange) received(t *testing.T, h *hookReceiver, kind string) []hookEvent {
	t.Helper()
	if _, err := x.notify.DeliverDue(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	pub, err := notify.ParsePublicKey(h.pub)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookEvent
	for i, b := range h.bodies {
		// The signature's timestamp is the exchange's (fixed) clock.
		if err := notify.Verify(pub, h.heads[i], b, lendingNow, 5*time.Minute); err != nil {
			t.Fatalf("delivery %d does not verify: %v\n%s", i, err, b)
		}
		var e hookEvent
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if e.Type == kind || kind == "" {
			out = append(out, e)
		}
	}
	return out
}

// publish files a credit decision as the credit side does and hands it to lending
// in the same transaction: the credit → lending hook is wired in cmd/dataport.
func (x *lendingExchange) publish(t *testing.T, grade string, line int64) lending.CreditView {
	t.Helper()
	v := lending.CreditView{DecisionID: dataport.NewID("cdec"), MerchantID: x.merchantID, DecidedAt: lendingNow,
		ModelID: "scorecard-2026.11", FeatureHash: "9f2c", Score: 712, PD: 0.031, Grade: grade,
		Line: dataport.Money{Amount: line, Currency: "CNY"}, Reasons: []string{"stable_orders", "low_return_rate"},
		Features: map[string]float64{"return_rate": 0.04, "order_cv": 0.21}}
	err := x.db.Write(context.Background(), func(tx *store.Tx) error {
		f, err := ledger.File(tx, dataport.System, ledger.Change{Type: "credit.decided", Subjects: []string{v.DecisionID, v.MerchantID},
			Payload: map[string]any{"decision_id": v.DecisionID}})
		if err != nil {
			return err
		}
		v.FilingSeq = f.Seq
		return x.lend.Publish(tx, v)
	})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return v
}

// settle tells lending that amount of the merchant's receivables settled, in a
// transaction as the order ingest does: the finance → lending hook is wired in
// cmd/dataport.
func (x *lendingExchange) settle(t *testing.T, amount int64) {
	t.Helper()
	err := x.db.Write(context.Background(), func(tx *store.Tx) error {
		return x.lend.Settled(tx, x.merchantID, "CNY", amount, time.Time{})
	})
	if err != nil {
		t.Fatalf("settle: %v", err)
	}
}

// written counts what a lending request may write.
func (x *lendingExchange) written() string {
	return fmt.Sprint(x.count("lending_consents"), x.count("lending_subscriptions"), x.count("lending_offers"),
		x.count("lending_applications"), x.count("lending_loans"), x.count("lending_repayments"), x.count("filings"))
}

// filed returns the types of the filings about subject, as the key reads them.
func (x *lendingExchange) filed(t *testing.T, key, subject string) []string {
	t.Helper()
	r := x.do("GET", "/api/v1/filings?limit=1000&subject="+subject, key, nil)
	wantStatus(t, r, http.StatusOK)
	var page struct {
		Items []struct {
			Type string `json:"type"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, f := range page.Items {
		types = append(types, f.Type)
	}
	return types
}

func decodeBody[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%v\n%s", err, r.body)
	}
	return v
}

type listOf[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

func cnyMoney(a int64) map[string]any { return map[string]any{"amount": a, "currency": "CNY"} }

// subscriptionBody is a subscription to product for grades A–C and lines of 10,000
// to 1,000,000 yuan, any sector, with terms and rules as given.
func subscriptionBody(product string, maxAmount, rateBPS int64, termDays int, shareBPS int64, rules ...map[string]any) map[string]any {
	if rules == nil {
		rules = []map[string]any{}
	}
	return map[string]any{
		"criteria": map[string]any{"product": product, "grades": []string{"A", "B", "C"}, "min_line": cnyMoney(1_000_000), "max_line": cnyMoney(100_000_000)},
		"terms": map[string]any{"max_amount": cnyMoney(maxAmount), "rate_bps": rateBPS, "term_days": termDays,
			"repayment_share_bps": shareBPS, "offer_valid_days": 7},
		"rules": rules,
	}
}

func celRule(id, expr, reason string) map[string]any {
	return map[string]any{"id": id, "expr": expr, "reason": reason}
}

// The whole of lending over the API: a bank subscribes with CEL rules, the
// merchant consents to it alone, a credit decision makes offers that the bank
// pulls and receives signed while the other bank sees nothing; the merchant
// applies, is approved with the loan and declined by a failing rule, a retry is
// answered with the first application; settlements repay and close the loan;
// revoking the consent withdraws the open offers, and a suspended merchant is
// refused. Bad input is a problem naming its field and changes nothing, and every
// step is filed.
func TestLendingEndpoints(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newLendingExchange(t, engine)
		merchantPath := "/api/v1/merchants/" + x.merchantID + "/consents"

		// Subscriptions. Bank A: order financing with rules on grade, line and
		// overdue loans; credit sales, one loan at a time. Bank B: order financing.
		before := x.written()
		wantProblem(t, x.do("POST", "/api/v1/subscriptions", x.bankA, subscriptionBody("order_financing", 30_000_000, 3000, 30, 2000)),
			http.StatusBadRequest, "terms.rate_bps")
		bad := subscriptionBody("order_financing", 30_000_000, 720, 30, 2000)
		bad["terms"].(map[string]any)["max_amount"] = map[string]any{"amount": 30_000_000, "currency": "USD"}
		wantProblem(t, x.do("POST", "/api/v1/subscriptions", x.bankA, bad), http.StatusBadRequest, "terms.max_amount.currency")
		wantProblem(t, x.do("POST", "/api/v1/subscriptions", x.bankA, subscriptionBody("order_financing", 30_000_000, 720, 30, 2000,
			celRule("grade_ok", `grade in ["A", "B"`, "grade A or B"))), http.StatusBadRequest, "rules[0].expr")
		wantProblem(t, x.do("POST", "/api/v1/subscriptions", x.merchant, subscriptionBody("order_financing", 30_000_000, 720, 30, 2000)),
			http.StatusForbidden, "")
		if x.written() != before {
			t.Fatal("refused subscriptions wrote")
		}
		r := x.do("POST", "/api/v1/subscriptions", x.bankA, subscriptionBody("order_financing", 30_000_000, 720, 30, 2000,
			celRule("grade_ok", `grade in ["A", "B"]`, "grade A or B only")))
		wantStatus(t, r, http.StatusCreated)
		orderSub := decodeBody[lending.Subscription](t, r)
		if r.header.Get("Location") != "/api/v1/subscriptions/"+orderSub.ID || orderSub.InstitutionID != x.bankAID ||
			orderSub.Status != "active" || orderSub.RulesVersion != 1 || len(orderSub.Rules) != 1 {
			t.Fatalf("subscription %v %s", r.header, r.body)
		}
		r = x.do("POST", "/api/v1/subscriptions", x.bankA, subscriptionBody("credit_sales", 20_000_000, 900, 60, 1000,
			celRule("one_at_a_time", "outstanding == 0", "one open loan with us at a time"),
			celRule("returns_low", `!("return_rate" in features) || features["return_rate"] < 0.1`, "a return rate under 10 %")))
		wantStatus(t, r, http.StatusCreated)
		salesSub := decodeBody[lending.Subscription](t, r)
		r = x.do("POST", "/api/v1/subscriptions", x.bankB, subscriptionBody("order_financing", 50_000_000, 600, 30, 3000))
		wantStatus(t, r, http.StatusCreated)
		subB := decodeBody[lending.Subscription](t, r)

		// The rules: a bad one is refused at its field and changes nothing.
		rulesPath := "/api/v1/subscriptions/" + orderSub.ID + "/rules"
		before = x.written()
		for _, expr := range []string{"amount >", "amount + 1", "unknown_variable > 0"} {
			p := wantProblem(t, x.do("PUT", rulesPath, x.bankA, map[string]any{"rules": []any{celRule("r1", expr, "why")}}),
				http.StatusBadRequest, "rules[0].expr")
			if !strings.Contains(p["detail"].(string), "rules[0].expr") {
				t.Fatalf("the detail does not name the rule: %v", p["detail"])
			}
		}
		wantProblem(t, x.do("PUT", rulesPath, x.bankA, map[string]any{"rules": []any{celRule("Bad Id", "true", "why")}}), http.StatusBadRequest, "rules[0].id")
		wantProblem(t, x.do("PUT", rulesPath, x.bankB, map[string]any{"rules": []any{}}), http.StatusNotFound, "")
		if x.written() != before {
			t.Fatal("refused rules wrote")
		}
		if s := decodeBody[lending.Subscription](t, x.do("GET", "/api/v1/subscriptions/"+orderSub.ID, x.bankA, nil)); s.RulesVersion != 1 || s.Rules[0].ID != "grade_ok" {
			t.Fatalf("refused rules changed the subscription: %+v", s)
		}
		r = x.do("PUT", rulesPath, x.bankA, map[string]any{"rules": []any{
			celRule("grade_ok", `grade in ["A", "B"]`, "grade A or B only"),
			celRule("within_line", "amount + outstanding <= line", "what the merchant owes us stays within its line"),
			celRule("no_overdue", "overdue_loans == 0", "no overdue loans with us"),
		}})
		wantStatus(t, r, http.StatusOK)
		if s := decodeBody[lending.Subscription](t, r); s.RulesVersion != 2 || len(s.Rules) != 3 || s.RulesSHA256 == orderSub.RulesSHA256 {
			t.Fatalf("rules set: %s", r.body)
		}

		// Each bank reads its own subscriptions; a merchant none.
		if l := decodeBody[listOf[lending.Subscription]](t, x.do("GET", "/api/v1/subscriptions", x.bankA, nil)); len(l.Items) != 2 {
			t.Fatalf("bank A's subscriptions: %+v", l)
		}
		if l := decodeBody[listOf[lending.Subscription]](t, x.do("GET", "/api/v1/subscriptions?limit=1", x.operator, nil)); len(l.Items) != 1 || l.Next != l.Items[0].ID {
			t.Fatalf("a first page of one: %+v", l)
		}
		wantProblem(t, x.do("GET", "/api/v1/subscriptions/"+orderSub.ID, x.bankB, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", "/api/v1/subscriptions", x.merchant, nil), http.StatusForbidden, "")

		// Pause, resume, cancel (bank B's; the operator may pause it too).
		subBPath := "/api/v1/subscriptions/" + subB.ID
		for _, step := range []struct {
			key, action, status string
			want                int
		}{
			{x.bankB, "pause", "paused", http.StatusOK},
			{x.bankB, "pause", "", http.StatusConflict},
			{x.bankB, "resume", "active", http.StatusOK},
			{x.operator, "pause", "paused", http.StatusOK},
			{x.bankA, "cancel", "", http.StatusNotFound},
			{x.bankB, "cancel", "cancelled", http.StatusOK},
			{x.bankB, "resume", "", http.StatusConflict},
		} {
			r := x.do("POST", subBPath+"/"+step.action, step.key, nil)
			if step.want != http.StatusOK {
				wantProblem(t, r, step.want, "")
				continue
			}
			wantStatus(t, r, http.StatusOK)
			if s := decodeBody[lending.Subscription](t, r); s.Status != step.status {
				t.Fatalf("%s: %s", step.action, r.body)
			}
		}
		if l := decodeBody[listOf[lending.Subscription]](t, x.do("GET", "/api/v1/subscriptions?status=cancelled", x.operator, nil)); len(l.Items) != 1 || l.Items[0].ID != subB.ID {
			t.Fatalf("cancelled subscriptions: %+v", l)
		}
		// Bank B subscribes again: without a consent it is still offered nothing.
		wantStatus(t, x.do("POST", "/api/v1/subscriptions", x.bankB, subscriptionBody("order_financing", 50_000_000, 600, 30, 3000)), http.StatusCreated)

		// Consent: to bank A only. Bad consents are problems and write nothing.
		expires := lendingNow.AddDate(0, 6, 0).Format(time.RFC3339)
		consent := func(institutions ...string) map[string]any {
			return map[string]any{"scope": []string{"score", "features"}, "institutions": institutions, "expires_at": expires}
		}
		before = x.written()
		wantProblem(t, x.do("POST", merchantPath, x.merchant, consent(x.merchantID)), http.StatusBadRequest, "institutions[0]")
		wantProblem(t, x.do("POST", merchantPath, x.merchant, consent(x.bankAID, x.bankAID)), http.StatusBadRequest, "institutions[1]")
		wantProblem(t, x.do("POST", merchantPath, x.merchant, with(consent(x.bankAID), "expires_at", lendingNow.AddDate(0, 0, -1).Format(time.RFC3339))),
			http.StatusBadRequest, "expires_at")
		wantProblem(t, x.do("POST", merchantPath, x.merchant, with(consent(x.bankAID), "scope", []string{"everything"})), http.StatusBadRequest, "scope[0]")
		wantProblem(t, x.do("POST", merchantPath, x.bankA, consent(x.bankAID)), http.StatusForbidden, "")
		wantProblem(t, x.do("POST", "/api/v1/merchants/"+x.bankAID+"/consents", x.merchant, consent(x.bankAID)), http.StatusNotFound, "")
		wantProblem(t, x.do("POST", merchantPath, "", consent(x.bankAID)), http.StatusUnauthorized, "")
		if x.written() != before {
			t.Fatal("refused consents wrote")
		}
		r = x.do("POST", merchantPath, x.merchant, consent(x.bankAID))
		wantStatus(t, r, http.StatusCreated)
		cns := decodeBody[lending.Consent](t, r)
		if r.header.Get("Location") != "/api/v1/consents/"+cns.ID || cns.Status != "active" || cns.MerchantID != x.merchantID ||
			!slices.Equal(cns.Institutions, []string{x.bankAID}) || cns.FilingSeq == 0 {
			t.Fatalf("consent %v %s", r.header, r.body)
		}
		if l := decodeBody[listOf[lending.Consent]](t, x.do("GET", "/api/v1/consents", x.bankA, nil)); len(l.Items) != 1 || l.Items[0].ID != cns.ID {
			t.Fatalf("bank A's consents: %+v", l)
		}
		if l := decodeBody[listOf[lending.Consent]](t, x.do("GET", "/api/v1/consents?merchant_id="+x.merchantID, x.merchant, nil)); len(l.Items) != 1 {
			t.Fatalf("the merchant's consents: %+v", l)
		}
		if l := decodeBody[listOf[lending.Consent]](t, x.do("GET", "/api/v1/consents", x.bankB, nil)); len(l.Items) != 0 {
			t.Fatalf("bank B sees consents: %+v", l)
		}
		wantProblem(t, x.do("GET", "/api/v1/consents/"+cns.ID, x.bankB, nil), http.StatusNotFound, "")
		wantStatus(t, x.do("GET", "/api/v1/consents/"+cns.ID, x.bankA, nil), http.StatusOK)

		// A credit decision: grade B, a line of 500,000 yuan. Bank A is offered
		// 300,000 yuan of order financing and 200,000 of credit sales.
		view := x.publish(t, "B", 50_000_000)
		r = x.do("GET", "/api/v1/offers?status=open", x.bankA, nil)
		wantStatus(t, r, http.StatusOK)
		offers := decodeBody[listOf[lending.Offer]](t, r).Items
		if len(offers) != 2 {
			t.Fatalf("bank A's offers: %s", r.body)
		}
		var orderOffer, salesOffer lending.Offer
		for _, o := range offers {
			switch o.SubscriptionID {
			case orderSub.ID:
				orderOffer = o
			case salesSub.ID:
				salesOffer = o
			}
		}
		if orderOffer.Amount.Amount != 30_000_000 || orderOffer.Product != lending.OrderFinancing || orderOffer.MerchantID != x.merchantID ||
			orderOffer.Credit == nil || orderOffer.Credit.Grade != "B" || orderOffer.Credit.DecisionID != view.DecisionID ||
			orderOffer.Credit.Features["return_rate"] != 0.04 || salesOffer.Amount.Amount != 20_000_000 {
			t.Fatalf("offers: %s", r.body)
		}
		if l := decodeBody[listOf[lending.Offer]](t, x.do("GET", "/api/v1/offers?product=credit_sales", x.bankA, nil)); len(l.Items) != 1 || l.Items[0].ID != salesOffer.ID {
			t.Fatalf("credit sales offers: %+v", l)
		}
		wantProblem(t, x.do("GET", "/api/v1/offers?status=pending", x.bankA, nil), http.StatusBadRequest, "query.status")
		if o := decodeBody[lending.Offer](t, x.do("GET", "/api/v1/offers/"+orderOffer.ID, x.merchant, nil)); o.ID != orderOffer.ID || o.Status != "open" {
			t.Fatalf("the merchant's offer: %+v", o)
		}
		// Pushed too: the offers reach bank A's webhook, signed.
		pushed := x.received(t, x.hookA, "lending.offer")
		var pushedIDs []string
		for _, e := range pushed {
			var o lending.Offer
			if err := json.Unmarshal(e.Data, &o); err != nil {
				t.Fatal(err)
			}
			pushedIDs = append(pushedIDs, o.ID)
		}
		want := []string{orderOffer.ID, salesOffer.ID}
		slices.Sort(pushedIDs)
		slices.Sort(want)
		if !slices.Equal(pushedIDs, want) {
			t.Fatalf("pushed offers %v, want %v", pushedIDs, want)
		}

		// Bank B, which the consent does not name, sees nothing of the merchant.
		if l := decodeBody[listOf[lending.Offer]](t, x.do("GET", "/api/v1/offers", x.bankB, nil)); len(l.Items) != 0 {
			t.Fatalf("bank B's offers: %+v", l)
		}
		wantProblem(t, x.do("GET", "/api/v1/offers/"+orderOffer.ID, x.bankB, nil), http.StatusNotFound, "")
		if got := x.received(t, x.hookB, ""); len(got) != 0 {
			t.Fatalf("bank B was told: %+v", got)
		}

		// Applications. Bad amounts are problems naming the field; nothing changes.
		applyPath := "/api/v1/offers/" + orderOffer.ID + "/applications"
		before = x.written()
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"amount": cnyMoney(0)}, "amount.amount"},
			{map[string]any{"amount": cnyMoney(-5)}, "amount.amount"},
			{map[string]any{"amount": cnyMoney(30_000_001)}, "amount.amount"},
			{map[string]any{"amount": map[string]any{"amount": 10_000_000, "currency": "USD"}}, "amount.currency"},
			{map[string]any{"amount": map[string]any{"amount": 10_000_000, "currency": "yuan"}}, "amount.currency"},
			{map[string]any{"amount": map[string]any{"amount": "100000.00", "currency": "CNY"}}, "amount.amount"},
			{map[string]any{"amount": cnyMoney(10_000_000), "term_days": 31}, "term_days"},
			{map[string]any{"amount": cnyMoney(10_000_000), "term_days": 400}, "term_days"},
		} {
			wantProblem(t, x.do("POST", applyPath, x.merchant, c.body), http.StatusBadRequest, c.field)
		}
		wantProblem(t, x.do("POST", applyPath, x.bankA, map[string]any{"amount": cnyMoney(10_000_000)}), http.StatusForbidden, "")
		wantProblem(t, x.do("POST", "/api/v1/offers/ofr_nosuchoffer/applications", x.merchant, map[string]any{"amount": cnyMoney(10_000_000)}), http.StatusNotFound, "")
		if x.written() != before {
			t.Fatalf("refused applications wrote: %s, was %s", x.written(), before)
		}

		// 100,000 yuan for 30 days at 7.2 %: approved at once, with the loan.
		key := "po-2026-11-25-001"
		body := map[string]any{"amount": cnyMoney(10_000_000), "purpose": "冬季冻品备货"}
		r = x.send("POST", applyPath, x.merchant, "application/json", strings.NewReader(jsonText(t, body)), "Idempotency-Key", key)
		wantStatus(t, r, http.StatusCreated)
		approved := decodeBody[lending.Application](t, r)
		d, loan := approved.Decision, approved.Loan
		if r.header.Get("Location") != "/api/v1/applications/"+approved.ID || d.Outcome != "approved" || len(d.Reasons) != 0 ||
			len(d.Rules) != 3 || !d.Rules[0].Passed || !d.Rules[1].Passed || !d.Rules[2].Passed || d.RulesVersion != 2 ||
			d.Inputs.Amount != 10_000_000 || d.Inputs.Sector != "frozen_food" || d.Inputs.Outstanding != 0 || d.InputsSHA256 == "" ||
			approved.IdempotencyKey != key || approved.FilingSeq == 0 {
			t.Fatalf("approved: %v %s", r.header, r.body)
		}
		// Interest: ⌊10,000,000 × 720 × 30 / 3,650,000⌋ = 59,178 fen.
		if loan == nil || approved.LoanID != loan.ID || loan.Principal.Amount != 10_000_000 || loan.Interest.Amount != 59_178 ||
			loan.Outstanding.Amount != 10_059_178 || loan.Status != "active" || !loan.DueAt.Equal(lendingNow.Add(30*24*time.Hour)) ||
			loan.Disbursement.ID == "" || loan.Disbursement.Amount.Amount != 10_000_000 || loan.Grade != "B" {
			t.Fatalf("loan: %s", r.body)
		}
		if o := decodeBody[lending.Offer](t, x.do("GET", "/api/v1/offers/"+orderOffer.ID, x.bankA, nil)); o.Status != "taken" {
			t.Fatalf("the offer after approval: %+v", o)
		}

		// The retry with the same key: 200, the same application, nothing new.
		before = x.written()
		r = x.send("POST", applyPath, x.merchant, "application/json", strings.NewReader(jsonText(t, body)), "Idempotency-Key", key)
		wantStatus(t, r, http.StatusOK)
		if again := decodeBody[lending.Application](t, r); again.ID != approved.ID || again.LoanID != loan.ID || again.Decision.Outcome != "approved" {
			t.Fatalf("replay: %s", r.body)
		}
		// The key with another request: a conflict, named on the header.
		wantProblem(t, x.send("POST", applyPath, x.merchant, "application/json", strings.NewReader(jsonText(t, with(body, "amount", cnyMoney(9_000_000)))),
			"Idempotency-Key", key), http.StatusConflict, "header.Idempotency-Key")
		// Without the key, on the taken offer: a conflict.
		wantProblem(t, x.do("POST", applyPath, x.merchant, body), http.StatusConflict, "")
		if x.written() != before {
			t.Fatalf("a replay wrote: %s, was %s", x.written(), before)
		}

		// Credit sales while the loan is open: bank A's rule says no, and why.
		r = x.do("POST", "/api/v1/offers/"+salesOffer.ID+"/applications", x.merchant, map[string]any{"amount": cnyMoney(5_000_000)})
		wantStatus(t, r, http.StatusCreated)
		declined := decodeBody[lending.Application](t, r)
		if dd := declined.Decision; dd.Outcome != "declined" || !slices.Equal(dd.Reasons, []string{"one open loan with us at a time"}) ||
			len(dd.Rules) != 2 || dd.Rules[0].ID != "one_at_a_time" || dd.Rules[0].Passed || !dd.Rules[1].Passed ||
			dd.Inputs.Outstanding != 10_059_178 || declined.Loan != nil || declined.LoanID != "" {
			t.Fatalf("declined: %s", r.body)
		}
		if o := decodeBody[lending.Offer](t, x.do("GET", "/api/v1/offers/"+salesOffer.ID, x.bankA, nil)); o.Status != "open" {
			t.Fatalf("a declined application took the offer: %+v", o)
		}
		if l := decodeBody[listOf[lending.Application]](t, x.do("GET", "/api/v1/applications?outcome=declined", x.bankA, nil)); len(l.Items) != 1 || l.Items[0].ID != declined.ID {
			t.Fatalf("bank A's declined applications: %+v", l)
		}
		if a := decodeBody[lending.Application](t, x.do("GET", "/api/v1/applications/"+approved.ID, x.bankA, nil)); a.Loan == nil || a.Loan.ID != loan.ID {
			t.Fatalf("the application as bank A reads it: %+v", a)
		}
		decided := x.received(t, x.hookA, "lending.application_decided")
		if len(decided) != 2 {
			t.Fatalf("bank A was told of %d decisions", len(decided))
		}

		// Bank B sees no application, loan, repayment or portfolio of bank A's.
		loanPath := "/api/v1/loans/" + loan.ID
		wantProblem(t, x.do("GET", "/api/v1/applications/"+approved.ID, x.bankB, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", loanPath, x.bankB, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", loanPath+"/repayments", x.bankB, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", "/api/v1/institutions/"+x.bankAID+"/portfolio", x.bankB, nil), http.StatusNotFound, "")
		if l := decodeBody[listOf[lending.Loan]](t, x.do("GET", "/api/v1/loans?merchant_id="+x.merchantID, x.bankB, nil)); len(l.Items) != 0 {
			t.Fatalf("bank B sees loans: %+v", l)
		}
		if l := decodeBody[listOf[lending.Loan]](t, x.do("GET", "/api/v1/loans?merchant_id="+x.merchantID, x.merchant, nil)); len(l.Items) != 1 || l.Items[0].ID != loan.ID {
			t.Fatalf("the merchant's loans: %+v", l)
		}

		// Receivables settle (T+0): 20 % of each settlement repays, interest first.
		x.settle(t, 10_000_000)
		r = x.do("GET", loanPath+"/repayments", x.merchant, nil)
		wantStatus(t, r, http.StatusOK)
		reps := decodeBody[listOf[lending.Repayment]](t, r).Items
		if len(reps) != 1 || reps[0].Amount.Amount != 2_000_000 || reps[0].Interest.Amount != 59_178 || reps[0].Principal.Amount != 1_940_822 ||
			reps[0].Outstanding.Amount != 8_059_178 || reps[0].Settled.Amount != 10_000_000 || reps[0].FilingSeq == 0 {
			t.Fatalf("repayments: %s", r.body)
		}
		if l := decodeBody[lending.Loan](t, x.do("GET", loanPath, x.bankA, nil)); l.Status != "active" || l.Outstanding.Amount != 8_059_178 {
			t.Fatalf("the loan part repaid: %+v", l)
		}
		// 20 % of 500,000 yuan is more than is left: the rest is repaid, the loan closes.
		x.settle(t, 50_000_000)
		l := decodeBody[lending.Loan](t, x.do("GET", loanPath, x.bankA, nil))
		if l.Status != "closed" || l.Outstanding.Amount != 0 || l.PrincipalPaid.Amount != 10_000_000 || l.InterestPaid.Amount != 59_178 || l.ClosedAt.IsZero() {
			t.Fatalf("the loan repaid: %+v", l)
		}
		first := decodeBody[listOf[lending.Repayment]](t, x.do("GET", loanPath+"/repayments?limit=1", x.bankA, nil))
		second := decodeBody[listOf[lending.Repayment]](t, x.do("GET", loanPath+"/repayments?limit=1&after="+first.Next, x.bankA, nil))
		if len(first.Items) != 1 || first.Next != first.Items[0].ID || len(second.Items) != 1 || second.Items[0].ID == first.Items[0].ID {
			t.Fatalf("repayments paged: %+v, then %+v", first, second)
		}
		if last := decodeBody[listOf[lending.Repayment]](t, x.do("GET", loanPath+"/repayments?limit=1&after="+second.Next, x.bankA, nil)); len(last.Items) != 0 || last.Next != "" {
			t.Fatalf("after the last repayment: %+v", last)
		}
		if l := decodeBody[listOf[lending.Loan]](t, x.do("GET", "/api/v1/loans?status=closed", x.bankA, nil)); len(l.Items) != 1 {
			t.Fatalf("bank A's closed loans: %+v", l)
		}
		p := decodeBody[lending.Portfolio](t, x.do("GET", "/api/v1/institutions/"+x.bankAID+"/portfolio", x.bankA, nil))
		if p.InstitutionID != x.bankAID || p.OpenLoans != 0 || p.ClosedLoans != 1 || p.Disbursed.Amount != 10_000_000 || p.Outstanding.Amount != 0 ||
			len(p.ByGrade) != 1 || p.ByGrade[0].Key != "B" || len(p.ByProduct) != 1 || p.ByProduct[0].Key != "order_financing" {
			t.Fatalf("portfolio: %+v", p)
		}
		if got := x.received(t, x.hookA, "lending.loan_closed"); len(got) != 1 {
			t.Fatalf("bank A was told of %d closed loans", len(got))
		}

		// Revoking the consent withdraws the open credit-sales offer: bank A keeps
		// its terms and status, not the merchant's credit data.
		wantProblem(t, x.do("POST", "/api/v1/consents/"+cns.ID+"/revoke", x.bankA, nil), http.StatusForbidden, "")
		r = x.do("POST", "/api/v1/consents/"+cns.ID+"/revoke", x.merchant, map[string]any{"reason": "switching banks"})
		wantStatus(t, r, http.StatusOK)
		if c := decodeBody[lending.Consent](t, r); c.Status != "revoked" || c.RevokeReason != "switching banks" {
			t.Fatalf("revoked: %s", r.body)
		}
		wantProblem(t, x.do("POST", "/api/v1/consents/"+cns.ID+"/revoke", x.merchant, nil), http.StatusConflict, "")
		if l := decodeBody[listOf[lending.Offer]](t, x.do("GET", "/api/v1/offers?status=open", x.bankA, nil)); len(l.Items) != 0 {
			t.Fatalf("open offers after the revocation: %+v", l)
		}
		if o := decodeBody[lending.Offer](t, x.do("GET", "/api/v1/offers/"+salesOffer.ID, x.bankA, nil)); o.Status != "withdrawn" || o.Credit != nil {
			t.Fatalf("the withdrawn offer as bank A reads it: %+v", o)
		}
		if got := x.received(t, x.hookA, "lending.offer_withdrawn"); len(got) != 1 {
			t.Fatalf("bank A was told of %d withdrawals", len(got))
		}

		// A new consent and decision, then the merchant is suspended: its open
		// offers are withdrawn with the suspension, and it is refused.
		wantStatus(t, x.do("POST", merchantPath, x.merchant, consent(x.bankAID)), http.StatusCreated)
		x.publish(t, "A", 50_000_000)
		if l := decodeBody[listOf[lending.Offer]](t, x.do("GET", "/api/v1/offers?status=open", x.bankA, nil)); len(l.Items) != 2 {
			t.Fatalf("offers on the new decision: %+v", l)
		}
		wantStatus(t, x.do("POST", "/api/v1/participants/"+x.merchantID+"/suspend", x.operator, map[string]any{"reason": "fabricated orders"}), http.StatusOK)
		if l := decodeBody[listOf[lending.Offer]](t, x.do("GET", "/api/v1/offers?status=withdrawn", x.bankA, nil)); len(l.Items) != 3 {
			t.Fatalf("withdrawn offers after the suspension: %+v", l)
		}
		before = x.written()
		wantProblem(t, x.do("POST", merchantPath, x.merchant, consent(x.bankAID)), http.StatusForbidden, "")
		wantProblem(t, x.do("POST", applyPath, x.merchant, body), http.StatusForbidden, "")
		wantStatus(t, x.do("GET", "/api/v1/loans", x.merchant, nil), http.StatusOK) // its own records: read, suspended or not
		if x.written() != before {
			t.Fatal("a suspended merchant's requests wrote")
		}

		// Every step is filed, about the merchant; nothing filed names bank B
		// beyond its own subscriptions.
		types := x.filed(t, x.operator, x.merchantID)
		count := map[string]int{}
		for _, typ := range types {
			count[typ]++
		}
		for typ, n := range map[string]int{"lending.consent_granted": 2, "lending.consent_revoked": 1, "lending.offer_made": 4,
			"lending.application_decided": 2, "lending.disbursed": 1, "lending.repaid": 2, "lending.loan_closed": 1,
			"lending.offer_withdrawn": 3} {
			if count[typ] != n {
				t.Errorf("%d %s filings about the merchant, want %d (%v)", count[typ], typ, n, types)
			}
		}
		for _, typ := range x.filed(t, x.bankB, x.bankBID) {
			if strings.HasPrefix(typ, "lending.") && !strings.HasPrefix(typ, "lending.subscription_") {
				t.Errorf("bank B is named in a %s filing", typ)
			}
		}
		subFilings := x.filed(t, x.operator, subB.ID)
		if want := []string{"lending.subscription_created", "lending.subscription_paused", "lending.subscription_resumed",
			"lending.subscription_paused", "lending.subscription_cancelled"}; !slices.Equal(subFilings, want) {
			t.Errorf("bank B's subscription filed %v, want %v", subFilings, want)
		}
		if rules := x.filed(t, x.operator, orderSub.ID); !slices.Contains(rules, "lending.subscription_rules_changed") {
			t.Errorf("the rules change was not filed: %v", rules)
		}
	})
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A bank polls offers with next_seq and misses nothing: new offers, and the same
// offers again when superseded, taken or withdrawn. Racing retries of one
// application answer 201 once and 200 for the rest; the idempotency key is the
// merchant's alone. A suspended merchant reads its own lending records and
// changes nothing.
func TestLendingOfferPollAndReplays(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newLendingExchange(t, engine)
		consent := func(institutions ...string) map[string]any {
			return map[string]any{"scope": []string{"score"}, "institutions": institutions, "expires_at": lendingNow.AddDate(0, 6, 0).Format(time.RFC3339)}
		}
		wantStatus(t, x.do("POST", "/api/v1/subscriptions", x.bankA, subscriptionBody("order_financing", 30_000_000, 720, 30, 2000)), http.StatusCreated)
		// A consent is the merchant's own word: the operator gives none for it.
		wantProblem(t, x.do("POST", "/api/v1/merchants/"+x.merchantID+"/consents", x.operator, consent(x.bankAID)), http.StatusForbidden, "")
		r := x.do("POST", "/api/v1/merchants/"+x.merchantID+"/consents", x.merchant, consent(x.bankAID))
		wantStatus(t, r, http.StatusCreated)
		cns := decodeBody[lending.Consent](t, r)

		type offerPage struct {
			Items   []lending.Offer `json:"items"`
			NextSeq int64           `json:"next_seq"`
		}
		var seq int64
		poll := func() map[string]string {
			t.Helper()
			got := map[string]string{}
			for {
				r := x.do("GET", fmt.Sprintf("/api/v1/offers?limit=1&after_seq=%d", seq), x.bankA, nil)
				wantStatus(t, r, http.StatusOK)
				p := decodeBody[offerPage](t, r)
				if len(p.Items) == 0 {
					if p.NextSeq != seq {
						t.Fatalf("an empty page moves the cursor from %d to %d", seq, p.NextSeq)
					}
					return got
				}
				if p.NextSeq != p.Items[0].ChangeSeq || p.NextSeq <= seq {
					t.Fatalf("next_seq %d after %d for %+v", p.NextSeq, seq, p.Items[0])
				}
				seq, got[p.Items[0].ID] = p.NextSeq, p.Items[0].Status
			}
		}
		x.publish(t, "B", 50_000_000)
		first := poll()
		if len(first) != 1 {
			t.Fatalf("first poll: %v", first)
		}
		x.publish(t, "A", 60_000_000)
		second := poll()
		var open string
		for id, status := range second {
			if status == "open" {
				open = id
			}
		}
		for id := range first {
			if len(second) != 2 || second[id] != "superseded" || open == "" {
				t.Fatalf("second poll: %v (first %v)", second, first)
			}
		}
		wantProblem(t, x.do("GET", "/api/v1/offers?after_seq=-1", x.bankA, nil), http.StatusBadRequest, "query.after_seq")

		// Eight tries of one application at once: one decision, seven replays.
		const key = "po-race-1"
		body := jsonText(t, map[string]any{"amount": cnyMoney(1_000_000)})
		statuses := make([]int, 8)
		ids := make([]string, 8)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", x.srv.URL+"/api/v1/offers/"+open+"/applications", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+x.merchant)
				req.Header.Set("Idempotency-Key", key)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				defer res.Body.Close()
				var a lending.Application
				_ = json.NewDecoder(res.Body).Decode(&a)
				statuses[i], ids[i] = res.StatusCode, a.ID
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for i, s := range statuses {
			count[s]++
			if ids[i] != ids[0] || ids[i] == "" {
				t.Fatalf("racing tries answered %v with %v", statuses, ids)
			}
		}
		if count[http.StatusCreated] != 1 || count[http.StatusOK] != 7 {
			t.Fatalf("racing tries answered %v", statuses)
		}
		if got := poll(); len(got) != 1 || got[open] != "taken" {
			t.Fatalf("poll after the take: %v", got)
		}

		// The key is the merchant's: the bank reads the application, and is told
		// of it, without it.
		if a := decodeBody[lending.Application](t, x.do("GET", "/api/v1/applications/"+ids[0], x.merchant, nil)); a.IdempotencyKey != key {
			t.Fatalf("the merchant's application: %+v", a)
		}
		r = x.do("GET", "/api/v1/applications/"+ids[0], x.bankA, nil)
		wantStatus(t, r, http.StatusOK)
		if strings.Contains(string(r.body), "idempotency_key") || strings.Contains(string(r.body), key) {
			t.Fatalf("the bank reads the key: %s", r.body)
		}
		if r = x.do("GET", "/api/v1/applications", x.bankA, nil); strings.Contains(string(r.body), key) {
			t.Fatalf("the bank lists the key: %s", r.body)
		}
		decided := x.received(t, x.hookA, "lending.application_decided")
		if len(decided) != 1 {
			t.Fatalf("bank A was told of %d decisions", len(decided))
		}
		if strings.Contains(string(decided[0].Data), "idempotency_key") || strings.Contains(string(decided[0].Data), key) {
			t.Fatalf("the bank's webhook carries the key: %s", decided[0].Data)
		}

		// Revoked: nothing is open to withdraw now; a new decision's offer is,
		// and the suspension withdraws it. The bank's poll sees both changes.
		x.publish(t, "A", 60_000_000)
		if got := poll(); len(got) != 1 {
			t.Fatalf("poll after the third decision: %v", got)
		}
		wantStatus(t, x.do("POST", "/api/v1/participants/"+x.merchantID+"/suspend", x.operator, map[string]any{"reason": "fabricated orders"}), http.StatusOK)
		if got := poll(); len(got) != 1 {
			t.Fatalf("poll after the suspension: %v", got)
		} else {
			for _, status := range got {
				if status != "withdrawn" {
					t.Fatalf("poll after the suspension: %v", got)
				}
			}
		}
		// Suspended, the merchant reads what is its own, and changes nothing.
		before := x.written()
		for _, path := range []string{"/api/v1/loans", "/api/v1/offers", "/api/v1/applications/" + ids[0], "/api/v1/consents/" + cns.ID} {
			wantStatus(t, x.do("GET", path, x.merchant, nil), http.StatusOK)
		}
		if l := decodeBody[listOf[lending.Loan]](t, x.do("GET", "/api/v1/loans", x.merchant, nil)); len(l.Items) != 1 {
			t.Fatalf("the suspended merchant's loans: %+v", l)
		}
		wantProblem(t, x.do("POST", "/api/v1/consents/"+cns.ID+"/revoke", x.merchant, nil), http.StatusForbidden, "")
		if x.written() != before {
			t.Fatal("a suspended merchant's requests wrote")
		}
	})
}
