package credit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/credit/merchantsim"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// now is the fixed clock of every test: 17:00 on 25 November 2026 in China.
var now = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// simSeed is the seed of the generated merchants the tests send.
const simSeed = 7

type env struct {
	t         testing.TB
	db        *store.DB
	reg       *registry.Service
	fin       *finance.Service
	svc       *credit.Service
	operator  dataport.Actor
	merchant  dataport.Actor // has sent a generated merchant's orders (load)
	other     dataport.Actor // a merchant without data
	buyer     dataport.Actor
	regulator dataport.Actor
	batches   []finance.BatchReport
}

func setup(t testing.TB, engine store.Engine) *env {
	t.Helper()
	db := storetest.Open(t, engine, store.Options{Clock: dataport.NewFixedClock(now)})
	ctx := context.Background()
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试数据交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, reg: reg, fin: finance.New(db, reg, finance.Options{SpoolDir: t.TempDir()})}
	if e.operator, err = reg.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	if e.svc, err = credit.New(db, reg, e.fin, nil, credit.Options{}); err != nil {
		t.Fatal(err)
	}
	e.merchant = e.member("嘉兴冻品鲜生食品有限公司", "91330402MA2JD7F10", dataport.RoleMerchant)
	e.other = e.member("义乌优选直播电商有限公司", "91330782MA2EYX311", dataport.RoleMerchant)
	e.buyer = e.member("华东证券股份有限公司", "91310000132200821", dataport.RoleBuyer)
	e.regulator = e.member("国家金融监督管理总局上海监管局", "11100000000013127", dataport.RoleRegulator)
	return e
}

func (e *env) member(name, first17 string, role dataport.Role) dataport.Actor {
	e.t.Helper()
	code, err := registry.CompleteUSCC(first17)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.reg.CreateParticipant(context.Background(), e.operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: name},
		Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: []dataport.Role{role}})
	if err != nil {
		e.t.Fatal(err)
	}
	return dataport.Actor{ParticipantID: p.ID, Roles: []dataport.Role{role}}
}

// load connects the generated merchant's shops to actor's merchant and sends
// its orders through the real ingest, in four batches, CSV and JSON lines in
// turn. Every row must be accepted.
func (e *env) load(actor dataport.Actor, m merchantsim.Merchant) {
	e.t.Helper()
	ctx := context.Background()
	for _, n := range m.NewShops() {
		if _, err := e.fin.ConnectShop(ctx, actor, actor.ParticipantID, n); err != nil {
			e.t.Fatal(err)
		}
	}
	orders := m.Orders(now)
	if len(orders) < 100 {
		e.t.Fatalf("the generated merchant has %d orders", len(orders))
	}
	const parts = 4
	for i := range parts {
		part := orders[i*len(orders)/parts : (i+1)*len(orders)/parts]
		var b bytes.Buffer
		format := []string{"csv", "jsonl"}[i%2]
		write := merchantsim.WriteCSV
		if format == "jsonl" {
			write = merchantsim.WriteJSONL
		}
		if err := write(&b, part); err != nil {
			e.t.Fatal(err)
		}
		rep, err := e.fin.IngestBatch(ctx, actor, actor.ParticipantID, format, &b)
		if err != nil {
			e.t.Fatal(err)
		}
		if rep.Rejected != 0 || rep.Inserted != int64(len(part)) {
			e.t.Fatalf("batch %d: %+v, problems %+v", i, rep.Batch, rep.Problems)
		}
		e.batches = append(e.batches, rep)
	}
}

// simMerchant is a generated merchant of middling risk with 120 days of history.
func simMerchant(z float64) merchantsim.Merchant {
	m := merchantsim.DefaultParams().WithRisk(simSeed, 3, z)
	m.Age = 120
	return m
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) { fn(t, setup(t, engine)) })
}

func (e *env) count(query string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.Read(context.Background(), func(tx *store.Tx) error { return tx.QueryRow(query, args...).Scan(&n) }); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) filings(typ, subject string) []ledger.Filing {
	e.t.Helper()
	var out []ledger.Filing
	err := e.db.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = ledger.List(tx, ledger.Filter{Type: typ, Subject: subject, Limit: 1000})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func is(t testing.TB, err error, k dataport.Kind, says string) {
	t.Helper()
	if err == nil || dataport.KindOf(err) != k || !strings.Contains(err.Error(), says) {
		t.Fatalf("err = %v, want %s saying %q", err, k, says)
	}
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A merchant that sent generated order batches asks for a decision: it cites
// the model and the attested data, its hash is reproducible from its own
// fields, its grade is its PD's band, its line follows the policy worked out
// here by hand, and it is stored and filed with those fields.
func TestDecide(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := e.merchant.ParticipantID
		e.load(e.merchant, simMerchant(0))
		d, err := e.svc.Decide(ctx, e.merchant, id)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("decision %s", jsonOf(t, d))
		model := e.svc.Model()
		if d.Model.ID != model.ID || d.Model.Version != "merchant-synthetic-1" || len(d.Model.ID) != 64 {
			t.Errorf("model %+v", d.Model)
		}
		if !strings.HasPrefix(d.ID, "cdec_") || d.MerchantID != id || d.DecidedBy != id || !d.DecidedAt.Equal(now) {
			t.Errorf("decision %s of %s by %s at %v", d.ID, d.MerchantID, d.DecidedBy, d.DecidedAt)
		}
		if last := e.batches[len(e.batches)-1]; d.DataThrough != last.FilingSeq {
			t.Errorf("data_through %d, the last batch was filed as %d", d.DataThrough, last.FilingSeq)
		}

		// The inputs are the features' as of the decision, and their hash is
		// reproducible from the decision's own fields.
		fs, err := e.fin.Features(ctx, e.merchant, id, now)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := jsonOf(t, d.Inputs), jsonOf(t, credit.Inputs(fs)); got != want {
			t.Errorf("inputs %s, the features say %s", got, want)
		}
		if len(d.Inputs) != len(credit.InputNames) {
			t.Errorf("%d inputs", len(d.Inputs))
		}
		if h, err := credit.FeatureHash(d.Inputs, d.DataThrough, d.Model.ID); err != nil || h != d.FeatureHash || len(h) != 64 {
			t.Errorf("feature hash %s, recomputed %s (%v)", d.FeatureHash, h, err)
		}
		if h, _ := credit.FeatureHash(d.Inputs, d.DataThrough+1, d.Model.ID); h == d.FeatureHash {
			t.Error("the hash does not cover data_through")
		}

		// Score, PD, grade and reasons are the model's.
		sc, err := model.Score(d.Inputs)
		if err != nil {
			t.Fatal(err)
		}
		if d.Score != int64(math.Round(sc.Points)) || d.PD != sc.PD || d.PD <= 0 || d.PD >= 1 {
			t.Errorf("score %d, PD %v; the model says %v, %v", d.Score, d.PD, sc.Points, sc.PD)
		}
		band := bandOf(t, d.Grade)
		if d.PD < band.MinPD || (band.MaxPD > 0 && d.PD >= band.MaxPD) {
			t.Errorf("grade %s for PD %v", d.Grade, d.PD)
		}
		if len(d.Reasons) == 0 || len(d.Reasons) > 4 {
			t.Errorf("%d reasons", len(d.Reasons))
		}
		for i, r := range d.Reasons {
			if _, ok := d.Inputs[r.Characteristic]; !ok || r.PointsLost <= 0 || r.Bin == "" || r.Value != d.Inputs[r.Characteristic] {
				t.Errorf("reason %+v", r)
			}
			if i > 0 && r.PointsLost > d.Reasons[i-1].PointsLost {
				t.Errorf("reasons not costliest first: %+v", d.Reasons)
			}
		}

		// The line, by the policy's formula (package documentation).
		checkLine(t, d, fs)

		// Filed, with the decision's fields.
		fl := e.filings("credit.decided", d.ID)
		if len(fl) != 1 || fl[0].Seq != d.FilingSeq || fl[0].Actor != id || fl[0].Subjects[0] != id {
			t.Fatalf("filings %+v", fl)
		}
		var p map[string]any
		if err := json.Unmarshal(fl[0].Payload, &p); err != nil {
			t.Fatal(err)
		}
		sum, err := credit.DecisionHash(d)
		if err != nil {
			t.Fatal(err)
		}
		if p["merchant_id"] != id || p["decision_id"] != d.ID || p["model_id"] != d.Model.ID || p["model_version"] != d.Model.Version ||
			p["feature_hash"] != d.FeatureHash || p["data_through"] != float64(d.DataThrough) || p["decision_sha256"] != sum || len(p) != 7 {
			t.Errorf("filed %s", fl[0].Payload)
		}
		// The public log commits to the score, not shows it: none of it is in the filing.
		for _, secret := range []string{"score", "grade", "pd", "line", "reasons"} {
			if _, ok := p[secret]; ok {
				t.Errorf("the filing shows %s: %s", secret, fl[0].Payload)
			}
		}

		// Stored: read back as decided, by the merchant, the operator and a regulator.
		for _, who := range []dataport.Actor{e.merchant, e.operator, e.regulator} {
			got, err := e.svc.Get(ctx, who, d.ID)
			if err != nil || jsonOf(t, got) != jsonOf(t, d) {
				t.Fatalf("get as %v: %s, %v; decided %s", who.Roles, jsonOf(t, got), err, jsonOf(t, d))
			}
			if h, _ := credit.FeatureHash(got.Inputs, got.DataThrough, got.Model.ID); h != d.FeatureHash {
				t.Errorf("the stored decision's hash recomputes to %s", h)
			}
		}

		// A second decision, by the operator, supersedes it.
		d2, err := e.svc.Decide(ctx, e.operator, id)
		if err != nil {
			t.Fatal(err)
		}
		if d2.DecidedBy != e.operator.ParticipantID || d2.FeatureHash != d.FeatureHash || d2.Score != d.Score || d2.FilingSeq <= d.FilingSeq {
			t.Errorf("the second decision %+v", d2)
		}
		latest, err := e.svc.Latest(ctx, e.regulator, id)
		if err != nil || latest.ID != d2.ID {
			t.Fatalf("latest %s, %v; want %s", latest.ID, err, d2.ID)
		}
		err = e.db.Read(ctx, func(tx *store.Tx) error {
			in, ok, err := e.svc.LatestIn(tx, id)
			if err != nil || !ok || in.ID != d2.ID {
				t.Errorf("LatestIn %s %v %v", in.ID, ok, err)
			}
			_, ok, err = e.svc.LatestIn(tx, e.other.ParticipantID)
			if err != nil || ok {
				t.Errorf("LatestIn of a merchant without decisions: %v %v", ok, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		hist, err := e.svc.History(ctx, e.merchant, id, "", 0)
		if err != nil || len(hist) != 2 || hist[0].ID != d2.ID || hist[1].ID != d.ID {
			t.Fatalf("history %d, %v", len(hist), err)
		}
		page, err := e.svc.History(ctx, e.merchant, id, d2.ID, 1)
		if err != nil || len(page) != 1 || page[0].ID != d.ID {
			t.Fatalf("the page before %s: %d, %v", d2.ID, len(page), err)
		}
		if page, err = e.svc.History(ctx, e.merchant, id, d.ID, 10); err != nil || len(page) != 0 {
			t.Fatalf("the page before the first: %d, %v", len(page), err)
		}
		if n := e.count(`SELECT COUNT(*) FROM credit_decisions WHERE merchant_id = $1`, id); n != 2 {
			t.Errorf("%d rows", n)
		}
	})
}

func bandOf(t testing.TB, g credit.RiskGrade) credit.Band {
	t.Helper()
	for _, b := range credit.MasterScale {
		if b.Grade == g {
			return b
		}
	}
	t.Fatalf("no grade %q on the master scale", g)
	return credit.Band{}
}

// checkLine works the line out again from the features, by the formula of the
// package documentation.
func checkLine(t *testing.T, d credit.Decision, fs finance.FeatureSet) {
	t.Helper()
	var r, sales, refunded int64
	var cv *float64
	for _, x := range fs.Merchant.Receivables {
		if x.Currency == "CNY" {
			r = x.Amount
		}
	}
	for _, w := range fs.Merchant.Windows {
		for _, s := range w.Sales {
			if w.Days == 90 && s.Currency == "CNY" {
				sales, refunded, cv = s.Amount, s.Refunded, s.CV
			}
		}
	}
	stability := 0.0
	if cv != nil {
		stability = math.Max(0, 1-*cv)
	}
	m := int64(math.Floor(float64(sales-refunded) / 3 * stability))
	caps := map[credit.RiskGrade]int64{"A": 100_000_000, "B": 50_000_000, "C": 20_000_000, "D": 5_000_000, "E": 0}
	want := min(int64(math.Floor(0.8*float64(r)+0.5*float64(m))), caps[d.Grade])
	want -= want % 10_000
	b := d.LineBasis
	if d.Line != (dataport.Money{Amount: want, Currency: "CNY"}) || b.Receivables != r || b.StableMonthlySales != m ||
		b.GradeCap != caps[d.Grade] || b.Sales90 != sales || b.Refunded90 != refunded || b.AdvanceRate != 0.8 || b.SalesShare != 0.5 {
		t.Errorf("line %+v, basis %+v; want %d from R %d, sales %d − %d, cv %v", d.Line, b, want, r, sales, refunded, cv)
	}
	if r == 0 || sales == 0 {
		t.Errorf("the generated merchant has receivables %d and sales %d: the line is not exercised", r, sales)
	}
}

// A merchant that has sent no attested data is refused, and nothing is written.
func TestNoDataIsAConflict(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := e.other.ParticipantID
		_, err := e.svc.Decide(ctx, e.other, id)
		is(t, err, dataport.KindConflict, "no attested order data")
		if _, err := e.fin.ConnectShop(ctx, e.other, id, finance.NewShop{Platform: "douyin", ExternalID: "L1", Name: "直播间"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Decide(ctx, e.operator, id)
		is(t, err, dataport.KindConflict, "send their orders")
		if n := e.count(`SELECT COUNT(*) FROM credit_decisions`); n != 0 {
			t.Errorf("%d decisions", n)
		}
		if f := e.filings("credit.decided", ""); len(f) != 0 {
			t.Errorf("%d filings", len(f))
		}
		_, err = e.svc.Latest(ctx, e.other, id)
		is(t, err, dataport.KindNotFound, "no credit decision yet")
	})
}

// Who may decide and read: the merchant itself and the operator decide; they
// and regulators read; to anyone else the merchant and its decisions do not
// exist. A suspended merchant gets no decision.
func TestWhoMay(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := e.merchant.ParticipantID
		e.load(e.merchant, simMerchant(0.5))
		d, err := e.svc.Decide(ctx, e.merchant, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, who := range []dataport.Actor{e.buyer, e.other, e.regulator} {
			_, err = e.svc.Decide(ctx, who, id)
			is(t, err, dataport.KindNotFound, "no merchant")
		}
		for _, who := range []dataport.Actor{e.buyer, e.other} {
			_, err = e.svc.Get(ctx, who, d.ID)
			is(t, err, dataport.KindNotFound, "no credit decision "+d.ID)
			_, err = e.svc.Latest(ctx, who, id)
			is(t, err, dataport.KindNotFound, "no merchant")
			_, err = e.svc.History(ctx, who, id, "", 0)
			is(t, err, dataport.KindNotFound, "no merchant")
		}
		_, err = e.svc.Decide(ctx, e.operator, e.buyer.ParticipantID)
		is(t, err, dataport.KindNotFound, "no merchant")
		_, err = e.svc.Decide(ctx, e.operator, "prt_nobody")
		is(t, err, dataport.KindNotFound, "no merchant")
		_, err = e.svc.Get(ctx, e.operator, "cdec_nothing")
		is(t, err, dataport.KindNotFound, "no credit decision")
		_, err = e.svc.Decide(ctx, dataport.Actor{}, id)
		is(t, err, dataport.KindUnauthorized, "")
		_, err = e.svc.Decide(ctx, dataport.Actor{ParticipantID: id}, id)
		is(t, err, dataport.KindForbidden, "merchant role")

		if _, err := e.reg.Suspend(ctx, e.operator, id, "fraud inquiry"); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Decide(ctx, e.operator, id)
		is(t, err, dataport.KindForbidden, "suspended")
		_, err = e.svc.Decide(ctx, e.merchant, id)
		is(t, err, dataport.KindForbidden, "suspended")
		// The merchant itself, and those who oversee, still read what was decided.
		for _, who := range []dataport.Actor{e.merchant, e.operator, e.regulator} {
			if got, err := e.svc.Latest(ctx, who, id); err != nil || got.ID != d.ID {
				t.Fatalf("latest as %v: %s, %v", who.Roles, got.ID, err)
			}
		}
		if n := e.count(`SELECT COUNT(*) FROM credit_decisions`); n != 1 {
			t.Errorf("%d decisions", n)
		}
	})
}

// Hooks run in the decision's transaction: they see it stored, and an error
// from one rolls back the decision and its filing.
func TestHooks(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := e.merchant.ParticipantID
		e.load(e.merchant, simMerchant(0))
		svc, err := credit.New(e.db, e.reg, e.fin, nil, credit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var seen []string
		svc.OnDecided(func(tx *store.Tx, d credit.Decision) error {
			stored, ok, err := svc.LatestIn(tx, d.MerchantID)
			if err != nil || !ok || stored.ID != d.ID {
				return errors.New("the hook does not see the decision it is called with")
			}
			seen = append(seen, d.ID)
			return nil
		})
		fail := true
		svc.OnDecided(func(tx *store.Tx, d credit.Decision) error {
			if fail {
				return dataport.Errorf("lending.publish", dataport.KindUnavailable, "no financial institution answers")
			}
			return nil
		})
		filed := len(e.filings("", ""))
		_, err = svc.Decide(ctx, e.merchant, id)
		is(t, err, dataport.KindUnavailable, "no financial institution answers")
		if len(seen) != 1 {
			t.Fatalf("the first hook ran %d times", len(seen))
		}
		if n := e.count(`SELECT COUNT(*) FROM credit_decisions`); n != 0 {
			t.Errorf("%d decisions after the hook failed", n)
		}
		if f := e.filings("", ""); len(f) != filed {
			t.Errorf("%d filings after the hook failed, %d before", len(f), filed)
		}
		fail = false
		d, err := svc.Decide(ctx, e.merchant, id)
		if err != nil || len(seen) != 2 || seen[1] != d.ID {
			t.Fatalf("%v, hooks saw %v", err, seen)
		}
		if f := e.filings("credit.decided", d.ID); len(f) != 1 {
			t.Errorf("%d filings", len(f))
		}
	})
}
