// Package tradetest builds a small exchange with a listed product and funded
// parties, for the tests of trade and of the capabilities that build on deals.
package tradetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
)

// World is a small exchange for tests of deals and what follows them: an operator,
// a domestic supplier with a listed product, a domestic buyer and a foreign one, each
// with a registered signing key.
type World struct {
	T        testing.TB
	DB       *store.DB
	Clock    *dataport.FixedClock
	Reg      *registry.Service
	Rules    *compliance.Service
	Cat      *catalog.Service
	Deals    *trade.Service
	Operator dataport.Actor
	Supplier dataport.Actor // domestic
	Buyer    dataport.Actor // domestic
	Abroad   dataport.Actor // a foreign buyer: its deals are exports
	Product  catalog.Product
	Keys     map[string]ed25519.PrivateKey
	KeyIDs   map[string]string
	Log      *ledger.Log
	Blobs    *blob.FS
}

// sign signs a deal's contract as who.
func (w *World) Sign(who dataport.Actor, doc string) trade.Signature {
	return trade.Signature{KeyID: w.KeyIDs[who.ParticipantID], Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(w.Keys[who.ParticipantID], []byte(doc)))}
}

// agree fetches the draft contract and agrees to it as the provider.
func (w *World) Agree(ctx context.Context, provider dataport.Actor, id, key string) (trade.Deal, error) {
	draft, err := w.Deals.Contract(ctx, provider, id)
	if err != nil {
		return trade.Deal{}, err
	}
	return w.Deals.Agree(ctx, provider, id, key, w.Sign(provider, draft.Document))
}

// verify signs the agreed contract as the buyer.
func (w *World) Verify(ctx context.Context, buyer dataport.Actor, id string) (trade.Deal, error) {
	d, err := w.Deals.Get(ctx, buyer, id)
	if err != nil {
		return trade.Deal{}, err
	}
	return w.Deals.Verify(ctx, buyer, id, w.Sign(buyer, d.Contract))
}

func uscc(t testing.TB, first17 string) string {
	c, err := registry.CompleteUSCC(first17)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// New builds the world on engine.
func New(t testing.TB, engine store.Engine) *World {
	ctx := context.Background()
	clock := dataport.NewFixedClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	db := storetest.Open(t, engine, store.Options{Clock: clock})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	skey, _, _ := ledger.GenerateKey("trade.test/log")
	lg, err := ledger.OpenLog(ctx, db, skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := compliance.New(ctx, db, reg, lg)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &World{T: t, DB: db, Clock: clock, Reg: reg, Rules: rules, Blobs: blobs, Cat: catalog.New(db, reg, blobs, rules), Log: lg,
		Keys: map[string]ed25519.PrivateKey{}, KeyIDs: map[string]string{}}
	w.Deals = trade.New(db, reg, rules, lg, blobs, trade.Options{FeeBasisPoints: 100, CommissionBasisPoints: 500, AcceptanceWindow: 72 * time.Hour})
	w.Operator, _ = reg.Authenticate(ctx, token)
	member := func(n registry.NewParticipant) dataport.Actor {
		p, err := reg.CreateParticipant(ctx, w.Operator, n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.ReviewKYC(ctx, w.Operator, p.ID, registry.KYCReview{Status: registry.KYCVerified}); err != nil {
			t.Fatal(err)
		}
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		k, err := reg.AddSigningKey(ctx, w.Operator, p.ID, registry.NewSigningKey{Name: "contracts", PublicKey: base64.StdEncoding.EncodeToString(pub)})
		if err != nil {
			t.Fatal(err)
		}
		w.Keys[p.ID], w.KeyIDs[p.ID] = priv, k.ID
		return dataport.Actor{ParticipantID: p.ID, Roles: n.Roles}
	}
	w.Supplier = member(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "上海星河数据科技有限公司"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: uscc(t, "91310115MA1K2XH01"), Roles: []dataport.Role{dataport.RoleSupplier}})
	w.Buyer = member(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "华东证券股份有限公司"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: uscc(t, "91310000132200821"), Roles: []dataport.Role{dataport.RoleBuyer}})
	w.Abroad = member(registry.NewParticipant{LegalName: dataport.Bilingual{En: "Straits Analytics Pte Ltd"}, Jurisdiction: "SG",
		Kind: registry.Foreign, RegistrationNumber: "201912345K", Roles: []dataport.Role{dataport.RoleBuyer}})
	report, err := w.Cat.UploadAttachment(ctx, w.Supplier, catalog.NewAttachment{Name: "report.pdf", MediaType: "application/pdf"}, strings.NewReader("%PDF assessment"))
	if err != nil {
		t.Fatal(err)
	}
	d := catalog.Details{Type: "dataset", Title: dataport.Bilingual{Zh: "集装箱运价指数", En: "Container freight index"},
		Summary: dataport.Bilingual{En: "Weekly freight rates"}, Category: "shipping", DeliveryModes: []string{"api", "file"},
		Scenarios: []string{"research", "risk management"}, Source: "enterprise", Grade: "general", Sublevel: 1, OriginJurisdiction: "CN",
		Rights:      catalog.Rights{Holding: true, ProcessingUse: true},
		PricePlans:  []catalog.PricePlan{{Kind: "one_off", Price: dataport.Money{Amount: 1_000_000, Currency: "CNY"}}},
		Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: report.SHA256}}}
	p, err := w.Cat.Create(ctx, w.Supplier, catalog.NewProduct{SupplierID: w.Supplier.ParticipantID, Details: d})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() (catalog.Product, error){
		func() (catalog.Product, error) { return w.Cat.Submit(ctx, w.Supplier, p.ID) },
		func() (catalog.Product, error) { return w.Cat.StartReview(ctx, w.Operator, p.ID) },
		func() (catalog.Product, error) { return w.Cat.Approve(ctx, w.Operator, p.ID) },
	} {
		if p, err = step(); err != nil {
			t.Fatal(err)
		}
	}
	w.Product = p
	return w
}

func (w *World) Fund(who dataport.Actor, amount int64) {
	w.T.Helper()
	if _, err := w.Deals.Fund(context.Background(), w.Operator, who.ParticipantID, dataport.Money{Amount: amount, Currency: "CNY"}, dataport.NewID("idem")); err != nil {
		w.T.Fatal(err)
	}
}

func (w *World) Balance(account string) int64 {
	var n int64
	w.DB.Read(context.Background(), func(tx *store.Tx) error {
		tx.QueryRow(`SELECT amount FROM balances WHERE account = $1 AND currency = 'CNY'`, account).Scan(&n)
		return nil
	})
	return n
}

func (w *World) BooksBalance() {
	w.T.Helper()
	tb, err := w.Deals.TrialBalance(context.Background(), w.Operator)
	if err != nil {
		w.T.Fatal(err)
	}
	for c, n := range tb {
		if n != 0 {
			w.T.Fatalf("the books do not balance in %s: %d", c, n)
		}
	}
}

// Finalized runs a deal for the world's product from request to FINALIZED for
// buyer (funded here), with n the deal's terms; it returns the finalized deal.
func (w *World) Finalized(ctx context.Context, buyer dataport.Actor, n trade.NewDeal) trade.Deal {
	w.T.Helper()
	if n.ProductID == "" {
		n.ProductID = w.Product.ID
	}
	w.Fund(buyer, n.Price)
	d, err := w.Deals.Request(ctx, buyer, n)
	if err != nil {
		w.T.Fatal(err)
	}
	if d, err = w.Deals.Offer(ctx, w.Supplier, d.ID, n.Price); err != nil {
		w.T.Fatal(err)
	}
	if d, err = w.Deals.Accept(ctx, buyer, d.ID, dataport.NewID("idem")); err != nil {
		w.T.Fatal(err)
	}
	if d, err = w.Agree(ctx, w.Supplier, d.ID, dataport.NewID("idem")); err != nil {
		w.T.Fatal(err)
	}
	if d, err = w.Verify(ctx, buyer, d.ID); err != nil {
		w.T.Fatal(err)
	}
	if d, err = w.Deals.Finalize(ctx, w.Supplier, d.ID); err != nil {
		w.T.Fatal(err)
	}
	return d
}
