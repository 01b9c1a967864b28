package catalog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

type world struct {
	t        *testing.T
	db       *store.DB
	blobs    blob.Store
	reg      *registry.Service
	cat      *catalog.Service
	operator dataport.Actor
	supplier dataport.Actor // domestic
	foreign  registry.Participant
	agent    dataport.Actor // whitelisted domestic agent
	buyer    dataport.Actor
}

func uscc(t *testing.T, first17 string) string {
	c, err := registry.CompleteUSCC(first17)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setup(t *testing.T, engine store.Engine) *world {
	ctx := context.Background()
	db := storetest.Open(t, engine, store.Options{Clock: dataport.NewFixedClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, db: db, blobs: blobs, reg: reg, cat: catalog.New(db, reg, blobs, nil)}
	reg.OnSuspension(w.cat.SuspensionCascade)
	w.operator, _ = reg.Authenticate(ctx, token)
	member := func(n registry.NewParticipant, verify bool) (registry.Participant, dataport.Actor) {
		p, err := reg.CreateParticipant(ctx, w.operator, n)
		if err != nil {
			t.Fatal(err)
		}
		if verify {
			if p, err = reg.ReviewKYC(ctx, w.operator, p.ID, registry.KYCReview{Status: registry.KYCVerified}); err != nil {
				t.Fatal(err)
			}
		}
		_, tok, err := reg.CreateAPIKey(ctx, w.operator, p.ID, registry.NewAPIKey{Name: "t"})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := reg.Authenticate(ctx, tok)
		return p, a
	}
	_, w.supplier = member(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "上海星河数据科技有限公司"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: uscc(t, "91310115MA1K2XH01"), Roles: []dataport.Role{dataport.RoleSupplier}}, true)
	w.foreign, _ = member(registry.NewParticipant{LegalName: dataport.Bilingual{En: "Nordhav Energy Data AS"}, Jurisdiction: "NO",
		Kind: registry.Foreign, RegistrationNumber: "923456781", Roles: []dataport.Role{dataport.RoleSupplier}}, true)
	agentP, agent := member(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "上海浦江国际数据服务有限公司"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: uscc(t, "91310101MA1G8PJ03"), Roles: []dataport.Role{dataport.RoleAgent}}, true)
	if _, err := reg.SetWhitelist(ctx, w.operator, agentP.ID, registry.WhitelistEntry{Reference: "MOFCOM-1", ValidUntil: "2027-12-31"}); err != nil {
		t.Fatal(err)
	}
	w.agent = agent
	for _, a := range []dataport.Actor{w.supplier, w.agent} {
		w.upload(a, complianceReport)
	}
	_, w.buyer = member(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "华东证券股份有限公司"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: uscc(t, "91310000132200821"), Roles: []dataport.Role{dataport.RoleBuyer}}, true)
	return w
}

// complianceReport is the third-party compliance assessment every test product cites.
var complianceReport = []byte("第三方数据合规评估报告 / Third-party data compliance assessment report\n结论：符合 / Conclusion: compliant\n")

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// upload uploads content as an attachment of actor's.
func (w *world) upload(actor dataport.Actor, content []byte) catalog.UploadedAttachment {
	w.t.Helper()
	a, err := w.cat.UploadAttachment(context.Background(), actor, catalog.NewAttachment{Name: "report.txt", MediaType: "text/plain"}, bytes.NewReader(content))
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

func details() catalog.Details {
	return catalog.Details{
		Type:          "dataset",
		Title:         dataport.Bilingual{Zh: "小微企业信用评分", En: "SME credit scoring"},
		Summary:       dataport.Bilingual{Zh: "基于订单数据的信用评分", En: "Credit scores from order data"},
		Category:      "finance",
		Tags:          []string{"credit", "信用"},
		DeliveryModes: []string{"api"},
		Scenarios:     []string{"credit risk assessment"},
		PricePlans:    []catalog.PricePlan{{Kind: "subscription", Period: "month", Price: dataport.Money{Amount: 1200000, Currency: "CNY"}}},
		Source:        "enterprise", Grade: "general", Sublevel: 2, OriginJurisdiction: "CN",
		Rights:      catalog.Rights{Holding: true, ProcessingUse: true, ProductOperation: true},
		Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: sha256Hex(complianceReport), Name: "合规评估报告.txt"}},
	}
}

func kind(t *testing.T, err error, k dataport.Kind) {
	t.Helper()
	if dataport.KindOf(err) != k || err == nil {
		t.Fatalf("err = %v, want %s", err, k)
	}
}

func TestListingWorkflow(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		incomplete := details()
		incomplete.Attachments, incomplete.Scenarios = nil, nil
		p, err := w.cat.Create(ctx, w.supplier, catalog.NewProduct{SupplierID: w.supplier.ParticipantID, Details: incomplete})
		if err != nil || p.Status != catalog.Draft || p.LatestRevision != 1 {
			t.Fatalf("create: %+v %v", p, err)
		}
		// R20: no compliance report, no scenario: not submitted.
		_, err = w.cat.Submit(ctx, w.supplier, p.ID)
		kind(t, err, dataport.KindInvalid)
		if fs := dataport.FieldsOf(err); len(fs) != 2 {
			t.Fatalf("R20 problems: %v", fs)
		}
		if p, err = w.cat.Revise(ctx, w.supplier, p.ID, details()); err != nil || p.LatestRevision != 2 {
			t.Fatalf("revise: %+v %v", p, err)
		}
		// Others cannot act on it; an illegal step names the state.
		_, err = w.cat.Submit(ctx, w.buyer, p.ID)
		kind(t, err, dataport.KindNotFound)
		_, err = w.cat.Approve(ctx, w.operator, p.ID)
		kind(t, err, dataport.KindConflict)
		if !strings.Contains(err.Error(), "is draft") {
			t.Fatalf("conflict does not name the state: %v", err)
		}
		if p, err = w.cat.Submit(ctx, w.supplier, p.ID); err != nil || p.Status != catalog.Submitted {
			t.Fatalf("submit: %v", err)
		}
		_, err = w.cat.StartReview(ctx, w.supplier, p.ID)
		kind(t, err, dataport.KindForbidden)
		// A buyer does not see a product before it is listed.
		_, err = w.cat.Get(ctx, w.buyer, p.ID)
		kind(t, err, dataport.KindNotFound)
		if _, err = w.cat.StartReview(ctx, w.operator, p.ID); err != nil {
			t.Fatal(err)
		}
		if p, err = w.cat.Approve(ctx, w.operator, p.ID); err != nil {
			t.Fatal(err)
		}
		if p.Status != catalog.Listed || p.RegistrationNumber != "DP-2026-000001" || p.ListedRevision != 2 {
			t.Fatalf("listed: %+v", p)
		}
		// The certificate is filed.
		var listed []ledger.Filing
		w.db.Read(ctx, func(tx *store.Tx) error {
			listed, err = ledger.List(tx, ledger.Filter{Subject: p.ID, Type: "product.listed"})
			return err
		})
		if len(listed) != 1 || !strings.Contains(string(listed[0].Payload), `"registration_number":"DP-2026-000001"`) ||
			!strings.Contains(string(listed[0].Payload), p.DetailsSHA256) {
			t.Fatalf("certificate filing: %v", listed)
		}
		// Buyers see it now; its history stays readable to its supplier.
		got, err := w.cat.Get(ctx, w.buyer, p.ID)
		if err != nil || got.Revision != 2 || got.Details.Title.Zh != "小微企业信用评分" {
			t.Fatalf("buyer get: %+v %v", got, err)
		}
		revs, err := w.cat.Revisions(ctx, w.supplier, p.ID)
		if err != nil || len(revs) != 2 || revs[0].Details.Scenarios != nil {
			t.Fatalf("revisions: %v %v", revs, err)
		}
		// A suspended supplier's products vanish at once, and return on resume.
		if _, err := w.reg.Suspend(ctx, w.operator, w.supplier.ParticipantID, "investigation"); err != nil {
			t.Fatal(err)
		}
		_, err = w.cat.Get(ctx, w.buyer, p.ID)
		kind(t, err, dataport.KindNotFound)
		w.reg.Resume(ctx, w.operator, w.supplier.ParticipantID, "")
		if _, err := w.cat.Get(ctx, w.buyer, p.ID); err != nil {
			t.Fatalf("after resume: %v", err)
		}
		// Operator suspension, resume, delisting.
		_, err = w.cat.Suspend(ctx, w.operator, p.ID, "")
		kind(t, err, dataport.KindInvalid)
		if _, err = w.cat.Suspend(ctx, w.operator, p.ID, "complaint under review"); err != nil {
			t.Fatal(err)
		}
		_, err = w.cat.Get(ctx, w.buyer, p.ID)
		kind(t, err, dataport.KindNotFound)
		if _, err = w.cat.Resume(ctx, w.operator, p.ID); err != nil {
			t.Fatal(err)
		}
		if p, err = w.cat.Delist(ctx, w.supplier, p.ID); err != nil || p.Status != catalog.Delisted {
			t.Fatalf("delist: %v", err)
		}
	})
}

func TestForeignSupplierThroughAgent(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		d := details()
		d.OriginJurisdiction = "NO"
		// R22: not by the supplier itself, nor by a buyer.
		_, err := w.cat.Create(ctx, w.buyer, catalog.NewProduct{SupplierID: w.foreign.ID, Details: d})
		kind(t, err, dataport.KindForbidden)
		p, err := w.cat.Create(ctx, w.agent, catalog.NewProduct{SupplierID: w.foreign.ID, Details: d})
		if err != nil || p.AgentID != w.agent.ParticipantID {
			t.Fatalf("agent create: %+v %v", p, err)
		}
		// An agent taken off the whitelist can no longer submit.
		if _, err := w.reg.RemoveWhitelist(ctx, w.operator, w.agent.ParticipantID, "expired"); err != nil {
			t.Fatal(err)
		}
		_, err = w.cat.Submit(ctx, w.agent, p.ID)
		kind(t, err, dataport.KindForbidden)
	})
}

func TestBadDetailsChangeNothing(t *testing.T) {
	w := setup(t, store.SQLite)
	ctx := context.Background()
	for field, edit := range map[string]func(*catalog.Details){
		"type":                          func(d *catalog.Details) { d.Type = "spreadsheet" },
		"price_plans[0].price.amount":   func(d *catalog.Details) { d.PricePlans[0].Price.Amount = -1 },
		"price_plans[0].price.currency": func(d *catalog.Details) { d.PricePlans[0].Price.Currency = "yuan" },
		"price_plans[0].period":         func(d *catalog.Details) { d.PricePlans[0].Period = "" },
		"sublevel":                      func(d *catalog.Details) { d.Sublevel = 5 },
		"delivery_modes[0]":             func(d *catalog.Details) { d.DeliveryModes = []string{"fax"} },
		"origin_jurisdiction":           func(d *catalog.Details) { d.OriginJurisdiction = "XX" },
		"attachments[0].sha256":         func(d *catalog.Details) { d.Attachments[0].SHA256 = "abc" },
		"sensitive_pi_subjects":         func(d *catalog.Details) { d.SensitivePISubjects = 5 },
		"title":                         func(d *catalog.Details) { d.Title = dataport.Bilingual{} },
	} {
		d := details()
		d.PricePlans = append([]catalog.PricePlan(nil), d.PricePlans...)
		d.Attachments = append([]catalog.Attachment(nil), d.Attachments...)
		edit(&d)
		_, err := w.cat.Create(ctx, w.supplier, catalog.NewProduct{SupplierID: w.supplier.ParticipantID, Details: d})
		found := false
		for _, f := range dataport.FieldsOf(err) {
			found = found || f.Field == "details."+field
		}
		if dataport.KindOf(err) != dataport.KindInvalid || !found {
			t.Errorf("%s: %v", field, err)
		}
	}
	var n int
	w.db.Read(ctx, func(tx *store.Tx) error { return tx.QueryRow(`SELECT COUNT(*) FROM products`).Scan(&n) })
	if n != 0 {
		t.Fatalf("%d products after bad input", n)
	}
}
