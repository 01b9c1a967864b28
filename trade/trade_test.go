package trade_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
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
	"golang.org/x/mod/sumdb/note"
)

type world struct {
	t        testing.TB
	db       *store.DB
	clock    *dataport.FixedClock
	reg      *registry.Service
	rules    *compliance.Service
	cat      *catalog.Service
	deals    *trade.Service
	operator dataport.Actor
	supplier dataport.Actor // domestic
	buyer    dataport.Actor // domestic
	abroad   dataport.Actor // a foreign buyer: its deals are exports
	product  catalog.Product
	keys     map[string]ed25519.PrivateKey
	keyIDs   map[string]string
	log      *ledger.Log
}

// sign signs a deal's contract as who.
func (w *world) sign(who dataport.Actor, doc string) trade.Signature {
	return trade.Signature{KeyID: w.keyIDs[who.ParticipantID], Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(w.keys[who.ParticipantID], []byte(doc)))}
}

// agree fetches the draft contract and agrees to it as the provider.
func (w *world) agree(ctx context.Context, provider dataport.Actor, id, key string) (trade.Deal, error) {
	draft, err := w.deals.Contract(ctx, provider, id)
	if err != nil {
		return trade.Deal{}, err
	}
	return w.deals.Agree(ctx, provider, id, key, w.sign(provider, draft.Document))
}

// verify signs the agreed contract as the buyer.
func (w *world) verify(ctx context.Context, buyer dataport.Actor, id string) (trade.Deal, error) {
	d, err := w.deals.Get(ctx, buyer, id)
	if err != nil {
		return trade.Deal{}, err
	}
	return w.deals.Verify(ctx, buyer, id, w.sign(buyer, d.Contract))
}

func uscc(t testing.TB, first17 string) string {
	c, err := registry.CompleteUSCC(first17)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setup(t testing.TB, engine store.Engine) *world {
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
	blobs, _ := blob.OpenFS(t.TempDir())
	w := &world{t: t, db: db, clock: clock, reg: reg, rules: rules, cat: catalog.New(db, reg, blobs, rules), log: lg,
		keys: map[string]ed25519.PrivateKey{}, keyIDs: map[string]string{}}
	w.deals = trade.New(db, reg, rules, lg, blobs, trade.Options{FeeBasisPoints: 100, CommissionBasisPoints: 500, AcceptanceWindow: 72 * time.Hour})
	w.operator, _ = reg.Authenticate(ctx, token)
	member := func(n registry.NewParticipant) dataport.Actor {
		p, err := reg.CreateParticipant(ctx, w.operator, n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.ReviewKYC(ctx, w.operator, p.ID, registry.KYCReview{Status: registry.KYCVerified}); err != nil {
			t.Fatal(err)
		}
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		k, err := reg.AddSigningKey(ctx, w.operator, p.ID, registry.NewSigningKey{Name: "contracts", PublicKey: base64.StdEncoding.EncodeToString(pub)})
		if err != nil {
			t.Fatal(err)
		}
		w.keys[p.ID], w.keyIDs[p.ID] = priv, k.ID
		return dataport.Actor{ParticipantID: p.ID, Roles: n.Roles}
	}
	w.supplier = member(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "上海星河数据科技有限公司"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: uscc(t, "91310115MA1K2XH01"), Roles: []dataport.Role{dataport.RoleSupplier}})
	w.buyer = member(registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "华东证券股份有限公司"}, Jurisdiction: "CN",
		Kind: registry.Domestic, USCC: uscc(t, "91310000132200821"), Roles: []dataport.Role{dataport.RoleBuyer}})
	w.abroad = member(registry.NewParticipant{LegalName: dataport.Bilingual{En: "Straits Analytics Pte Ltd"}, Jurisdiction: "SG",
		Kind: registry.Foreign, RegistrationNumber: "201912345K", Roles: []dataport.Role{dataport.RoleBuyer}})
	report, err := w.cat.UploadAttachment(ctx, w.supplier, catalog.NewAttachment{Name: "report.pdf", MediaType: "application/pdf"}, strings.NewReader("%PDF assessment"))
	if err != nil {
		t.Fatal(err)
	}
	d := catalog.Details{Type: "dataset", Title: dataport.Bilingual{Zh: "集装箱运价指数", En: "Container freight index"},
		Summary: dataport.Bilingual{En: "Weekly freight rates"}, Category: "shipping", DeliveryModes: []string{"api", "file"},
		Scenarios: []string{"research", "risk management"}, Source: "enterprise", Grade: "general", Sublevel: 1, OriginJurisdiction: "CN",
		Rights:      catalog.Rights{Holding: true, ProcessingUse: true},
		PricePlans:  []catalog.PricePlan{{Kind: "one_off", Price: dataport.Money{Amount: 1_000_000, Currency: "CNY"}}},
		Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: report.SHA256}}}
	p, err := w.cat.Create(ctx, w.supplier, catalog.NewProduct{SupplierID: w.supplier.ParticipantID, Details: d})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() (catalog.Product, error){
		func() (catalog.Product, error) { return w.cat.Submit(ctx, w.supplier, p.ID) },
		func() (catalog.Product, error) { return w.cat.StartReview(ctx, w.operator, p.ID) },
		func() (catalog.Product, error) { return w.cat.Approve(ctx, w.operator, p.ID) },
	} {
		if p, err = step(); err != nil {
			t.Fatal(err)
		}
	}
	w.product = p
	return w
}

func (w *world) fund(who dataport.Actor, amount int64) {
	w.t.Helper()
	if _, err := w.deals.Fund(context.Background(), w.operator, who.ParticipantID, dataport.Money{Amount: amount, Currency: "CNY"}, dataport.NewID("idem")); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) balance(account string) int64 {
	var n int64
	w.db.Read(context.Background(), func(tx *store.Tx) error {
		tx.QueryRow(`SELECT amount FROM balances WHERE account = $1 AND currency = 'CNY'`, account).Scan(&n)
		return nil
	})
	return n
}

func (w *world) booksBalance() {
	w.t.Helper()
	tb, err := w.deals.TrialBalance(context.Background(), w.operator)
	if err != nil {
		w.t.Fatal(err)
	}
	for c, n := range tb {
		if n != 0 {
			w.t.Fatalf("the books do not balance in %s: %d", c, n)
		}
	}
}

func is(t *testing.T, err error, k dataport.Kind, says string) {
	t.Helper()
	if err == nil || dataport.KindOf(err) != k || !strings.Contains(err.Error(), says) {
		t.Fatalf("err = %v, want %s saying %q", err, k, says)
	}
}

// A deal through every state of the protocol, with a counter-offer, and the money:
// held when the buyer commits, released on delivery to supplier and exchange.
func TestDealLifecycle(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		req := trade.NewDeal{ProductID: w.product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api", Price: 800_000, MaxUses: 2}
		_, err := w.deals.Request(ctx, w.buyer, req)
		is(t, err, dataport.KindConflict, "balance") // nothing to hold yet
		w.fund(w.buyer, 2_000_000)
		for field, bad := range map[string]func(n *trade.NewDeal){
			"scenario":      func(n *trade.NewDeal) { n.Scenario = "advertising" },
			"delivery_mode": func(n *trade.NewDeal) { n.DeliveryMode = "sandbox" },
			"plan":          func(n *trade.NewDeal) { n.Plan = 3 },
			"purpose":       func(n *trade.NewDeal) { n.Purpose = "espionage" },
		} {
			n := req
			bad(&n)
			_, err := w.deals.Request(ctx, w.buyer, n)
			if fs := dataport.FieldsOf(err); len(fs) != 1 || fs[0].Field != field {
				t.Errorf("%s: %v", field, err)
			}
		}
		d, err := w.deals.Request(ctx, w.buyer, req)
		if err != nil || d.State != trade.Requested || d.Outcome != "allow" || d.Held.Amount != 800_000 {
			t.Fatalf("request: %+v %v", d, err)
		}
		// Out of order, and out of turn: 409 naming the state and the allowed moves;
		// 403 for the wrong side. Nothing changes.
		_, err = w.deals.Verify(ctx, w.buyer, d.ID, w.sign(w.buyer, "anything"))
		is(t, err, dataport.KindConflict, "is REQUESTED: verify is not allowed; allowed: offer, agree, terminate")
		_, err = w.deals.Offer(ctx, w.buyer, d.ID, 900_000)
		is(t, err, dataport.KindForbidden, "provider")
		if got, _ := w.deals.Get(ctx, w.buyer, d.ID); got.Version != d.Version || got.State != trade.Requested {
			t.Fatalf("a refused move changed the deal: %+v", got)
		}
		_, err = w.deals.Get(ctx, w.abroad, d.ID)
		is(t, err, dataport.KindNotFound, "no deal")

		// A suspended buyer's deal is paused for the other side too, and goes on after.
		if _, err := w.reg.Suspend(ctx, w.operator, w.buyer.ParticipantID, "KYC refresh"); err != nil {
			t.Fatal(err)
		}
		_, err = w.deals.Offer(ctx, w.supplier, d.ID, 950_000)
		is(t, err, dataport.KindConflict, "paused")
		if _, err := w.reg.Resume(ctx, w.operator, w.buyer.ParticipantID, ""); err != nil {
			t.Fatal(err)
		}
		if d, err = w.deals.Offer(ctx, w.supplier, d.ID, 950_000); err != nil || d.State != trade.Offered || d.Price.Amount != 950_000 {
			t.Fatalf("offer: %+v %v", d, err)
		}
		if d, err = w.deals.CounterRequest(ctx, w.buyer, d.ID, 900_000); err != nil || d.State != trade.Requested || d.Held.Amount != 900_000 {
			t.Fatalf("counter-request: %+v %v", d, err)
		}
		if d, err = w.deals.Offer(ctx, w.supplier, d.ID, 920_000); err != nil {
			t.Fatal(err)
		}
		if d, err = w.deals.Accept(ctx, w.buyer, d.ID, "accept-1"); err != nil || d.State != trade.Accepted || d.Held.Amount != 920_000 {
			t.Fatalf("accept: %+v %v", d, err)
		}
		// A retry with the same key answers as the first did; another key is a 409.
		if again, err := w.deals.Accept(ctx, w.buyer, d.ID, "accept-1"); err != nil || again.Version != d.Version {
			t.Fatalf("retried accept: %+v %v", again, err)
		}
		_, err = w.deals.Accept(ctx, w.buyer, d.ID, "accept-2")
		is(t, err, dataport.KindConflict, "ACCEPTED")
		// A signature over other bytes, or by the wrong party, agrees to nothing.
		draft, err := w.deals.Contract(ctx, w.supplier, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.deals.Agree(ctx, w.supplier, d.ID, "", w.sign(w.supplier, strings.Replace(draft.Document, "920000", "1", 1)))
		is(t, err, dataport.KindInvalid, "does not verify")
		_, err = w.deals.Agree(ctx, w.supplier, d.ID, "", w.sign(w.buyer, draft.Document))
		is(t, err, dataport.KindInvalid, "not the signer's")
		for _, step := range []func() (trade.Deal, error){
			func() (trade.Deal, error) { return w.agree(ctx, w.supplier, d.ID, "agree-1") },
			func() (trade.Deal, error) { return w.verify(ctx, w.buyer, d.ID) },
			func() (trade.Deal, error) { return w.deals.Finalize(ctx, w.supplier, d.ID) },
		} {
			if d, err = step(); err != nil {
				t.Fatal(err)
			}
		}
		if d.State != trade.Finalized || len(d.Moves) != 0 {
			t.Fatalf("finalized: %+v", d)
		}
		// The contract: canonical JSON with the ODRL policy and the cross-border basis,
		// signed by both sides; the exchange's countersignature checks with its key.
		var contract struct {
			Type   string `json:"type"`
			Policy struct {
				Type        string `json:"@type"`
				Prohibition []struct {
					Action string `json:"action"`
				} `json:"prohibition"`
			} `json:"policy"`
			Basis struct {
				Outcome, PackVersion string
			} `json:"cross_border_basis"`
		}
		if err := json.Unmarshal([]byte(d.Contract), &contract); err != nil || contract.Type != trade.ContractType ||
			contract.Policy.Type != "Agreement" || contract.Policy.Prohibition[0].Action != "distribute" || contract.Basis.Outcome != "allow" {
			t.Fatalf("contract %s: %v", d.Contract, err)
		}
		for who, sig := range map[string]*trade.Signature{w.supplier.ParticipantID: d.ProviderSignature, w.buyer.ParticipantID: d.BuyerSignature} {
			raw, _ := base64.StdEncoding.DecodeString(sig.Signature)
			if !ed25519.Verify(w.keys[who].Public().(ed25519.PublicKey), []byte(d.Contract), raw) {
				t.Fatalf("%s's signature does not verify", who)
			}
		}
		verifier, _ := note.NewVerifier(w.log.VerifierKey())
		n, err := note.Open([]byte(d.Countersignature), note.VerifierList(verifier))
		if err != nil || !strings.Contains(n.Text, d.ContractSHA256) || !strings.HasPrefix(n.Text, trade.CountersignatureKind+"\n") {
			t.Fatalf("countersignature: %v %q", err, d.Countersignature)
		}
		if d.BundleSHA256 == "" {
			t.Fatal("the signed contract is not stored")
		}
		// The entitlement: in the buyer's territory, twice, paused while a party is
		// suspended.
		_, err = w.deals.Use(ctx, w.buyer, d.ID, trade.Access{Kind: "download", Territory: "US", Object: "rates.csv"})
		is(t, err, dataport.KindForbidden, "allows use in CN")
		_, err = w.deals.Use(ctx, w.supplier, d.ID, trade.Access{Kind: "download", Territory: "CN"})
		is(t, err, dataport.KindForbidden, "buyer's")
		if e, err := w.deals.Use(ctx, w.buyer, d.ID, trade.Access{Kind: "download", Territory: "CN", Object: "rates.csv"}); err != nil || e.Uses != 1 || e.Revision != d.Revision {
			t.Fatalf("use: %+v %v", e, err)
		}
		if _, err := w.reg.Suspend(ctx, w.operator, w.supplier.ParticipantID, "audit"); err != nil {
			t.Fatal(err)
		}
		_, err = w.deals.Use(ctx, w.buyer, d.ID, trade.Access{Kind: "download", Territory: "CN"})
		is(t, err, dataport.KindForbidden, "paused")
		if _, err := w.reg.Resume(ctx, w.operator, w.supplier.ParticipantID, ""); err != nil {
			t.Fatal(err)
		}
		if e, err := w.deals.Use(ctx, w.buyer, d.ID, trade.Access{Kind: "call", Territory: "CN"}); err != nil || e.Uses != 2 {
			t.Fatalf("second use: %+v %v", e, err)
		}
		_, err = w.deals.Use(ctx, w.buyer, d.ID, trade.Access{Kind: "download", Territory: "CN"})
		is(t, err, dataport.KindForbidden, "all 2 uses")
		if es, err := w.deals.Entitlements(ctx, w.buyer, w.buyer.ParticipantID); err != nil || len(es) != 1 || es[0].Uses != 2 {
			t.Fatalf("entitlements: %+v %v", es, err)
		}
		_, err = w.deals.Terminate(ctx, w.buyer, d.ID, "changed my mind", "")
		is(t, err, dataport.KindConflict, "FINALIZED")
		if d, err = w.deals.ConfirmDelivery(ctx, w.buyer, d.ID, "confirm-1"); err != nil || d.Settled != "released" {
			t.Fatalf("confirm: %+v %v", d, err)
		}
		if again, err := w.deals.ConfirmDelivery(ctx, w.buyer, d.ID, "confirm-1"); err != nil || again.Settled != "released" {
			t.Fatalf("retried confirm: %+v %v", again, err)
		}
		// 920,000 paid: 1 % to the exchange, the rest to the supplier; no agent here.
		if w.balance("balance:"+w.buyer.ParticipantID) != 2_000_000-920_000 || w.balance("supplier:"+w.supplier.ParticipantID) != 910_800 ||
			w.balance("fee:exchange") != 9_200 || w.balance("escrow") != 0 {
			t.Fatalf("balances: buyer %d supplier %d fee %d escrow %d", w.balance("balance:"+w.buyer.ParticipantID),
				w.balance("supplier:"+w.supplier.ParticipantID), w.balance("fee:exchange"), w.balance("escrow"))
		}
		w.booksBalance()
		// Every step is in the log, under the deal.
		var types []string
		w.db.Read(ctx, func(tx *store.Tx) error {
			fs, err := ledger.List(tx, ledger.Filter{Subject: d.ID})
			for _, f := range fs {
				types = append(types, f.Type)
			}
			return err
		})
		want := "trade.requested compliance.assessed trade.offered trade.counter_requested trade.offered trade.accepted compliance.assessed trade.agreed trade.verified trade.finalized trade.used trade.used trade.released trade.certified"
		if strings.Join(types, " ") != want {
			t.Fatalf("filed:\n%s\nwant\n%s", strings.Join(types, " "), want)
		}
	})
}

// A deal whose assessment turns to deny between request and agreement — the
// recipient is added to the restricted list — terminates at agreement with R15 as
// the reason, and the buyer's money comes back.
func TestDealDeniedAtAgreement(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		w.fund(w.abroad, 1_000_000)
		d, err := w.deals.Request(ctx, w.abroad, trade.NewDeal{ProductID: w.product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "file"})
		if err != nil || d.State != trade.Requested || d.Outcome != "allow" {
			t.Fatalf("an export without PI: %+v %v", d, err)
		}
		src := strings.Replace(string(compliance.DefaultPackSource), `version: "2026.11.1"`, `version: "2026.11.2"`, 1)
		src = strings.Replace(src, "restricted_recipients: []", "restricted_recipients: ["+w.abroad.ParticipantID+"]", 1)
		// The provider signed the draft before the pack changed: at agreement the deal is
		// assessed again and denied, whatever the signature.
		draft, err := w.deals.Contract(ctx, w.supplier, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.rules.UploadPack(ctx, w.operator, []byte(src)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.rules.ActivatePack(ctx, w.operator, "2026.11.2"); err != nil {
			t.Fatal(err)
		}
		if d, err = w.deals.Agree(ctx, w.supplier, d.ID, "", w.sign(w.supplier, draft.Document)); err != nil {
			t.Fatal(err)
		}
		if d.State != trade.Terminated || d.Outcome != "deny" || !strings.Contains(d.TerminationReason, "R15") || d.Settled != "refunded" {
			t.Fatalf("after agreement: %+v", d)
		}
		if w.balance("balance:"+w.abroad.ParticipantID) != 1_000_000 || w.balance("escrow") != 0 {
			t.Fatalf("not refunded: %d", w.balance("balance:"+w.abroad.ParticipantID))
		}
		w.booksBalance()
	})
}

// Funding is idempotent by key; a key reused for another request is refused.
func TestFundingIdempotency(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		money := dataport.Money{Amount: 500, Currency: "CNY"}
		for range 2 {
			b, err := w.deals.Fund(ctx, w.operator, w.buyer.ParticipantID, money, "bank-stmt-1")
			if err != nil || b.Balance.Amount != 500 {
				t.Fatalf("fund: %+v %v", b, err)
			}
		}
		_, err := w.deals.Fund(ctx, w.operator, w.buyer.ParticipantID, dataport.Money{Amount: 700, Currency: "CNY"}, "bank-stmt-1")
		is(t, err, dataport.KindConflict, "another request")
		_, err = w.deals.Fund(ctx, w.operator, w.buyer.ParticipantID, money, "")
		is(t, err, dataport.KindInvalid, "Idempotency-Key")
		_, err = w.deals.Fund(ctx, w.buyer, w.buyer.ParticipantID, money, "self")
		is(t, err, dataport.KindForbidden, "operator")
		if w.balance("balance:"+w.buyer.ParticipantID) != 500 {
			t.Fatal("funded twice")
		}
		w.booksBalance()
	})
}

// Many deals at once, some terminated at random points, two accepts racing: each
// move takes effect once, and the books balance to zero.
func TestConcurrentDealsBalance(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		deals := 1000
		if testing.Short() {
			deals = 100
		}
		w.fund(w.buyer, int64(deals)*2_000_000)
		var wg sync.WaitGroup
		var mu sync.Mutex
		finished, terminated := 0, 0
		work := make(chan int)
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					r := mrand.New(mrand.NewPCG(uint64(i), 7))
					if err := w.oneDeal(ctx, r, &mu, &finished, &terminated); err != nil {
						select {
						case errs <- fmt.Errorf("deal %d: %w", i, err):
						default:
						}
					}
				}
			}()
		}
		for i := range deals {
			work <- i
		}
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if finished == 0 || terminated == 0 || finished+terminated != deals {
			t.Fatalf("%d finished, %d terminated of %d", finished, terminated, deals)
		}
		w.booksBalance()
		if w.balance("escrow") != 0 {
			t.Fatalf("escrow holds %d after every deal ended", w.balance("escrow"))
		}
	})
}

func (w *world) oneDeal(ctx context.Context, r *mrand.Rand, mu *sync.Mutex, finished, terminated *int) error {
	d, err := w.deals.Request(ctx, w.buyer, trade.NewDeal{ProductID: w.product.ID, Scenario: "research", Purpose: "academic",
		DeliveryMode: "api", Price: 500_000 + r.Int64N(500_000)})
	if err != nil {
		return err
	}
	stop := r.IntN(6) // the step after which the deal is terminated; 5: never
	steps := []func() (trade.Deal, error){
		func() (trade.Deal, error) {
			return w.deals.Offer(ctx, w.supplier, d.ID, d.Price.Amount+r.Int64N(100_000))
		},
		func() (trade.Deal, error) {
			// Two accepts race: exactly one takes effect.
			var wg sync.WaitGroup
			res := make([]error, 2)
			for i := range res {
				wg.Add(1)
				go func() { defer wg.Done(); _, res[i] = w.deals.Accept(ctx, w.buyer, d.ID, "") }()
			}
			wg.Wait()
			if (res[0] == nil) == (res[1] == nil) {
				return trade.Deal{}, fmt.Errorf("two accepts: %v / %v", res[0], res[1])
			}
			return w.deals.Get(ctx, w.buyer, d.ID)
		},
		func() (trade.Deal, error) { return w.agree(ctx, w.supplier, d.ID, "") },
		func() (trade.Deal, error) { return w.verify(ctx, w.buyer, d.ID) },
		func() (trade.Deal, error) { return w.deals.Finalize(ctx, w.supplier, d.ID) },
	}
	for i, step := range steps {
		if i == stop {
			who := w.buyer
			if r.IntN(2) == 0 {
				who = w.supplier
			}
			if _, err := w.deals.Terminate(ctx, who, d.ID, "changed course", ""); err != nil {
				return err
			}
			mu.Lock()
			*terminated++
			mu.Unlock()
			return nil
		}
		if d, err = step(); err != nil {
			return err
		}
	}
	if _, err := w.deals.ConfirmDelivery(ctx, w.buyer, d.ID, ""); err != nil {
		return err
	}
	mu.Lock()
	*finished++
	mu.Unlock()
	return nil
}

// A completed export adds its PI subjects to the exporter's year-to-date counters
// (R14); a terminated one does not.
func TestCompletedExportsCount(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		// A product with the PI of 5,000 people: exported, R13's evidence is needed.
		for _, kind := range []string{"pipia_report", "notice_declaration", "consent_declaration"} {
			doc, err := w.cat.UploadAttachment(ctx, w.supplier, catalog.NewAttachment{Name: kind + ".pdf"}, strings.NewReader("%PDF "+kind))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.rules.RecordApproval(ctx, w.supplier, compliance.Approval{Kind: kind, Reference: kind + "-1",
				ExporterID: w.supplier.ParticipantID, IssuedOn: "2026-01-05", EvidenceSHA256: doc.SHA256}); err != nil {
				t.Fatal(err)
			}
		}
		revised := w.product.Details
		revised.PISubjects = 5000
		if _, err := w.cat.Revise(ctx, w.supplier, w.product.ID, revised); err != nil {
			t.Fatal(err)
		}
		for _, step := range []func() (catalog.Product, error){
			func() (catalog.Product, error) { return w.cat.Submit(ctx, w.supplier, w.product.ID) },
			func() (catalog.Product, error) { return w.cat.StartReview(ctx, w.operator, w.product.ID) },
			func() (catalog.Product, error) { return w.cat.Approve(ctx, w.operator, w.product.ID) },
		} {
			if _, err := step(); err != nil {
				t.Fatal(err)
			}
		}
		w.fund(w.abroad, 10_000_000)
		for i, complete := range []bool{true, false, true} {
			d, err := w.deals.Request(ctx, w.abroad, trade.NewDeal{ProductID: w.product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api"})
			if err != nil {
				t.Fatal(err)
			}
			if !complete {
				if _, err := w.deals.Terminate(ctx, w.abroad, d.ID, "not needed", ""); err != nil {
					t.Fatal(err)
				}
				continue
			}
			for _, step := range []func() (trade.Deal, error){
				func() (trade.Deal, error) { return w.agree(ctx, w.supplier, d.ID, "") },
				func() (trade.Deal, error) { return w.verify(ctx, w.abroad, d.ID) },
				func() (trade.Deal, error) { return w.deals.Finalize(ctx, w.supplier, d.ID) },
				func() (trade.Deal, error) { return w.deals.ConfirmDelivery(ctx, w.abroad, d.ID, "") },
			} {
				if _, err := step(); err != nil {
					t.Fatalf("deal %d: %v", i, err)
				}
			}
		}
		c, err := w.rules.YearToDate(ctx, w.supplier, w.supplier.ParticipantID)
		if err != nil || c.PISubjects != 10_000 {
			t.Fatalf("counters after two completed exports of 5,000: %+v %v", c, err)
		}
		cert, err := w.deals.Certificate(ctx, w.abroad, firstCertified(t, w))
		if err != nil || cert.Certificate.PISubjects != 5000 || cert.Certificate.RegistrationNumber != w.product.RegistrationNumber {
			t.Fatalf("certificate: %+v %v", cert.Certificate, err)
		}
	})
}

func firstCertified(t *testing.T, w *world) string {
	var id string
	w.db.Read(context.Background(), func(tx *store.Tx) error {
		fs, err := ledger.List(tx, ledger.Filter{Type: "trade.certified", Limit: 1})
		if err == nil && len(fs) == 1 {
			id = fs[0].Subjects[0]
		}
		return err
	})
	if id == "" {
		t.Fatal("no certificate filed")
	}
	return id
}

// A buyer that neither confirms delivery nor ends the deal: the escrow is released
// when the acceptance window has passed, once, with the certificate.
func TestReleaseAfterTheAcceptanceWindow(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		w.fund(w.buyer, 2_000_000)
		d, err := w.deals.Request(ctx, w.buyer, trade.NewDeal{ProductID: w.product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api"})
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []func() (trade.Deal, error){
			func() (trade.Deal, error) { return w.agree(ctx, w.supplier, d.ID, "") },
			func() (trade.Deal, error) { return w.verify(ctx, w.buyer, d.ID) },
			func() (trade.Deal, error) { return w.deals.Finalize(ctx, w.supplier, d.ID) },
		} {
			if _, err := step(); err != nil {
				t.Fatal(err)
			}
		}
		w.clock.Advance(71 * time.Hour)
		if n, err := w.deals.ReleaseDue(ctx); err != nil || n != 0 {
			t.Fatalf("released %d within the window: %v", n, err)
		}
		w.clock.Advance(2 * time.Hour)
		if n, err := w.deals.ReleaseDue(ctx); err != nil || n != 1 {
			t.Fatalf("released %d after the window: %v", n, err)
		}
		if n, _ := w.deals.ReleaseDue(ctx); n != 0 {
			t.Fatal("released twice")
		}
		got, _ := w.deals.Get(ctx, w.buyer, d.ID)
		if got.Settled != "released" || w.balance("supplier:"+w.supplier.ParticipantID) != 990_000 || w.balance("escrow") != 0 {
			t.Fatalf("after the window: %+v, supplier %d", got, w.balance("supplier:"+w.supplier.ParticipantID))
		}
		if _, err := w.deals.Certificate(ctx, w.buyer, d.ID); err != nil {
			t.Fatalf("certificate: %v", err)
		}
		w.booksBalance()
	})
}
