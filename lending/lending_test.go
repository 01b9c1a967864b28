package lending_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// now is the fixed clock of every test: 17:00 on 25 November 2026 in China.
var now = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// env is a small exchange: an operator, a regulator, two merchants in different
// sectors, two banks with webhooks, the real registry, notify and lending.
type env struct {
	t         testing.TB
	ctx       context.Context
	db        *store.DB
	clock     *dataport.FixedClock
	reg       *registry.Service
	hooks     *notify.Service
	svc       *lending.Service
	live      liveLimits
	operator  dataport.Actor
	regulator dataport.Actor
	merchant  dataport.Actor // sector frozen_food
	merchant2 dataport.Actor // sector apparel
	bankA     dataport.Actor
	bankB     dataport.Actor
	rcvA      *receiver
	rcvB      *receiver
}

// liveLimits is the live-limit side as lending declares it, for ad-spend loans:
// finance's live limits are not written yet, so the test holds them.
type liveLimits map[string]dataport.Money

func (l liveLimits) LiveLimitIn(_ *store.Tx, merchantID string) (dataport.Money, bool, error) {
	m, ok := l[merchantID]
	return m, ok, nil
}

func setup(t testing.TB, engine store.Engine) *env {
	t.Helper()
	clock := dataport.NewFixedClock(now)
	db := storetest.Open(t, engine, store.Options{Clock: clock})
	return build(t, db, clock)
}

func build(t testing.TB, db *store.DB, clock *dataport.FixedClock) *env {
	t.Helper()
	ctx := context.Background()
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试数据交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, db: db, clock: clock, reg: reg, live: liveLimits{}}
	if e.operator, err = reg.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	e.svc = lending.New(db, reg, lending.Options{LiveLimits: e.live})
	reg.OnSuspension(e.svc.SuspensionCascade)
	if e.hooks, err = notify.New(db, bytes.Repeat([]byte{7}, notify.SecretSize), notify.Options{AllowPrivate: true}); err != nil {
		t.Fatal(err)
	}
	member := func(name, first17, category string, role dataport.Role) dataport.Actor {
		code, err := registry.CompleteUSCC(first17)
		if err != nil {
			t.Fatal(err)
		}
		p, err := reg.CreateParticipant(ctx, e.operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: name},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, MerchantCategory: category, Roles: []dataport.Role{role}})
		if err != nil {
			t.Fatal(err)
		}
		return dataport.Actor{ParticipantID: p.ID, Roles: []dataport.Role{role}}
	}
	e.merchant = member("嘉兴冻品鲜生食品有限公司", "91330402MA2JD7F10", "frozen_food", dataport.RoleMerchant)
	e.merchant2 = member("杭州衣橱服饰有限公司", "91330106MA2B3C4D5", "apparel", dataport.RoleMerchant)
	e.bankA = member("上海浦江银行股份有限公司", "91310000132200821", "", dataport.RoleFinancialInstitution)
	e.bankB = member("华东小额贷款有限公司", "91310115MA1K2XH01", "", dataport.RoleFinancialInstitution)
	e.regulator = member("上海市地方金融监督管理局", "11310000MB2F01230", "", dataport.RoleRegulator)
	e.rcvA = e.webhook(e.bankA)
	e.rcvB = e.webhook(e.bankB)
	return e
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) { fn(t, setup(t, engine)) })
}

// receiver is a bank's webhook endpoint: it verifies every delivery's Ed25519
// signature with the endpoint's public key and keeps what verified.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	pub    string
	clock  dataport.Clock
	bodies []webhookBody
	bad    []string
}

type webhookBody struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func (e *env) webhook(bank dataport.Actor) *receiver {
	r := &receiver{clock: e.clock}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		pub, err := notify.ParsePublicKey(r.pub)
		if err == nil {
			err = notify.Verify(pub, req.Header, body, r.clock.Now(), 5*time.Minute)
		}
		if err != nil {
			r.bad = append(r.bad, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var b webhookBody
		if err := json.Unmarshal(body, &b); err != nil {
			r.bad = append(r.bad, err.Error())
		}
		r.bodies = append(r.bodies, b)
		w.WriteHeader(http.StatusNoContent)
	}))
	e.t.Cleanup(r.Close)
	h, err := e.hooks.Register(e.ctx, bank, notify.NewWebhook{URL: r.URL + "/dataport"})
	if err != nil {
		e.t.Fatal(err)
	}
	r.pub = h.PublicKey
	return r
}

// received delivers what is due and returns the verified deliveries of kind.
func (e *env) received(r *receiver, kind string) []webhookBody {
	e.t.Helper()
	if _, err := e.hooks.DeliverDue(e.ctx, 100); err != nil {
		e.t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		e.t.Fatalf("deliveries that did not verify: %v", r.bad)
	}
	var out []webhookBody
	for _, b := range r.bodies {
		if b.Type == kind {
			out = append(out, b)
		}
	}
	return out
}

func cny(a int64) dataport.Money { return dataport.Money{Amount: a, Currency: "CNY"} }

// decision is a credit decision for the merchant: grade B, a line of 500,000 yuan.
func (e *env) decision(merchant dataport.Actor, grade string, line int64) lending.CreditView {
	return lending.CreditView{DecisionID: dataport.NewID("crd"), MerchantID: merchant.ParticipantID, DecidedAt: e.clock.Now(),
		ModelID: "scorecard-2026.11", FeatureHash: "9f2c", Score: 712, PD: 0.031, Grade: grade, Line: cny(line),
		Reasons:  []string{"stable_orders", "low_return_rate"},
		Features: map[string]float64{"return_rate": 0.04, "order_cv": 0.21}}
}

// publish files the credit decision as the credit side would and hands it to
// lending in the same transaction.
func (e *env) publish(v lending.CreditView) {
	e.t.Helper()
	err := e.db.Write(e.ctx, func(tx *store.Tx) error {
		f, err := ledger.File(tx, dataport.System, ledger.Change{Type: "credit.decided", Subjects: []string{v.DecisionID, v.MerchantID},
			Payload: map[string]any{"decision_id": v.DecisionID}})
		if err != nil {
			return err
		}
		v.FilingSeq = f.Seq
		return e.svc.Publish(tx, v)
	})
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
}

func (e *env) consent(merchant dataport.Actor, scope []lending.Scope, banks ...dataport.Actor) lending.Consent {
	e.t.Helper()
	var ids []string
	for _, b := range banks {
		ids = append(ids, b.ParticipantID)
	}
	c, err := e.svc.GrantConsent(e.ctx, merchant, merchant.ParticipantID, lending.NewConsent{Scope: scope, Institutions: ids, ExpiresAt: now.AddDate(0, 6, 0)})
	if err != nil {
		e.t.Fatalf("consent: %v", err)
	}
	return c
}

// subscription is bank's subscription to product for grades A–C, lines of 10,000
// to 1,000,000 yuan, any sector: at most 300,000 yuan at 7.2 % for 30 days, 20 % of
// each settlement, offers valid 7 days; rules as given.
func subscription(product lending.Product, rules ...lending.Rule) lending.NewSubscription {
	return lending.NewSubscription{
		Criteria: lending.Criteria{Product: product, Grades: []string{"A", "B", "C"}, MinLine: cny(1_000_000), MaxLine: cny(100_000_000)},
		Terms:    lending.Terms{MaxAmount: cny(30_000_000), RateBPS: 720, TermDays: 30, RepaymentShareBPS: 2000, OfferValidDays: 7},
		Rules:    rules}
}

func (e *env) subscribe(bank dataport.Actor, n lending.NewSubscription) lending.Subscription {
	e.t.Helper()
	s, err := e.svc.CreateSubscription(e.ctx, bank, n)
	if err != nil {
		e.t.Fatalf("subscribe: %v", err)
	}
	return s
}

func (e *env) offers(actor dataport.Actor, f lending.OfferFilter) []lending.Offer {
	e.t.Helper()
	out, err := e.svc.Offers(e.ctx, actor, f)
	if err != nil {
		e.t.Fatalf("offers: %v", err)
	}
	return out
}

// openOffer returns the merchant's one open offer from bank.
func (e *env) openOffer(merchant, bank dataport.Actor) lending.Offer {
	e.t.Helper()
	os := e.offers(merchant, lending.OfferFilter{InstitutionID: bank.ParticipantID, Status: "open"})
	if len(os) != 1 {
		e.t.Fatalf("%d open offers from %s, want 1: %+v", len(os), bank.ParticipantID, os)
	}
	return os[0]
}

func (e *env) apply(merchant dataport.Actor, offerID string, n lending.NewApplication) lending.Application {
	e.t.Helper()
	a, _, err := e.svc.Apply(e.ctx, merchant, offerID, n)
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	return a
}

func (e *env) settled(merchant dataport.Actor, amount int64) {
	e.t.Helper()
	err := e.db.Write(e.ctx, func(tx *store.Tx) error {
		// The ingest files its batch in the same transaction.
		if _, err := ledger.File(tx, merchant, ledger.Change{Type: "finance.batch_attested", Subjects: []string{merchant.ParticipantID},
			Payload: map[string]any{"settled": amount}}); err != nil {
			return err
		}
		return e.svc.Settled(tx, merchant.ParticipantID, "CNY", amount, tx.Now())
	})
	if err != nil {
		e.t.Fatalf("settled: %v", err)
	}
}

func (e *env) loan(actor dataport.Actor, id string) lending.Loan {
	e.t.Helper()
	l, err := e.svc.Loan(e.ctx, actor, id)
	if err != nil {
		e.t.Fatalf("loan: %v", err)
	}
	return l
}

// filings returns the filings of type typ, in order.
func (e *env) filings(typ string) []ledger.Filing {
	e.t.Helper()
	var out []ledger.Filing
	err := e.db.Read(e.ctx, func(tx *store.Tx) error {
		var err error
		out, err = ledger.List(tx, ledger.Filter{Type: typ, Limit: 1000})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) count(query string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.Read(e.ctx, func(tx *store.Tx) error { return tx.QueryRow(query, args...).Scan(&n) }); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// snapshot counts everything lending writes, and the filings, to prove a refused
// request changed nothing.
func (e *env) snapshot() map[string]int64 {
	out := map[string]int64{}
	for _, table := range []string{"filings", "notifications", "webhook_deliveries", "lending_consents", "lending_subscriptions",
		"lending_offers", "lending_applications", "lending_loans", "lending_disbursements", "lending_repayments"} {
		out[table] = e.count(`SELECT COUNT(*) FROM ` + table)
	}
	out["open offers"] = e.count(`SELECT COUNT(*) FROM lending_offers WHERE status = 'open'`)
	out["paid"] = e.count(`SELECT COALESCE(SUM(principal_paid + interest_paid), 0) FROM lending_loans`)
	return out
}

func (e *env) unchanged(before map[string]int64) {
	e.t.Helper()
	if after := e.snapshot(); !mapsEqual(before, after) {
		e.t.Fatalf("a refused request changed something:\nbefore %v\nafter  %v", before, after)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func wantKind(t testing.TB, err error, kind dataport.Kind) {
	t.Helper()
	if dataport.KindOf(err) != kind || err == nil {
		t.Fatalf("err = %v (%v), want %v", err, dataport.KindOf(err), kind)
	}
}

func wantField(t testing.TB, err error, field string) {
	t.Helper()
	wantKind(t, err, dataport.KindInvalid)
	for _, f := range dataport.FieldsOf(err) {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("no problem with %s in %v", field, err)
}

func types(fs []ledger.Filing) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Type)
	}
	return out
}

// filingsAbout returns the types of the filings about subject, in order.
func (e *env) filingsAbout(subject string) []string {
	e.t.Helper()
	var fs []ledger.Filing
	err := e.db.Read(e.ctx, func(tx *store.Tx) error {
		var err error
		fs, err = ledger.List(tx, ledger.Filter{Subject: subject, Limit: 1000})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return types(fs)
}
