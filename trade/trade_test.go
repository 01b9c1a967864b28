package trade_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/trade/tradetest"
	"golang.org/x/mod/sumdb/note"
)

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
		w := tradetest.New(t, engine)
		ctx := context.Background()
		req := trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api", Price: 800_000, MaxUses: 2}
		_, err := w.Deals.Request(ctx, w.Buyer, req)
		is(t, err, dataport.KindConflict, "balance") // nothing to hold yet
		w.Fund(w.Buyer, 2_000_000)
		for field, bad := range map[string]func(n *trade.NewDeal){
			"scenario":      func(n *trade.NewDeal) { n.Scenario = "advertising" },
			"delivery_mode": func(n *trade.NewDeal) { n.DeliveryMode = "sandbox" },
			"plan":          func(n *trade.NewDeal) { n.Plan = 3 },
			"purpose":       func(n *trade.NewDeal) { n.Purpose = "espionage" },
		} {
			n := req
			bad(&n)
			_, err := w.Deals.Request(ctx, w.Buyer, n)
			if fs := dataport.FieldsOf(err); len(fs) != 1 || fs[0].Field != field {
				t.Errorf("%s: %v", field, err)
			}
		}
		d, err := w.Deals.Request(ctx, w.Buyer, req)
		if err != nil || d.State != trade.Requested || d.Outcome != "allow" || d.Held.Amount != 800_000 {
			t.Fatalf("request: %+v %v", d, err)
		}
		// Out of order, and out of turn: 409 naming the state and the allowed moves;
		// 403 for the wrong side. Nothing changes.
		_, err = w.Deals.Verify(ctx, w.Buyer, d.ID, w.Sign(w.Buyer, "anything"))
		is(t, err, dataport.KindConflict, "is REQUESTED: verify is not allowed; allowed: offer, agree, terminate")
		_, err = w.Deals.Offer(ctx, w.Buyer, d.ID, 900_000)
		is(t, err, dataport.KindForbidden, "provider")
		if got, _ := w.Deals.Get(ctx, w.Buyer, d.ID); got.Version != d.Version || got.State != trade.Requested {
			t.Fatalf("a refused move changed the deal: %+v", got)
		}
		_, err = w.Deals.Get(ctx, w.Abroad, d.ID)
		is(t, err, dataport.KindNotFound, "no deal")

		// A suspended buyer's deal is paused for the other side too, and goes on after.
		if _, err := w.Reg.Suspend(ctx, w.Operator, w.Buyer.ParticipantID, "KYC refresh"); err != nil {
			t.Fatal(err)
		}
		_, err = w.Deals.Offer(ctx, w.Supplier, d.ID, 950_000)
		is(t, err, dataport.KindConflict, "paused")
		if _, err := w.Reg.Resume(ctx, w.Operator, w.Buyer.ParticipantID, ""); err != nil {
			t.Fatal(err)
		}
		if d, err = w.Deals.Offer(ctx, w.Supplier, d.ID, 950_000); err != nil || d.State != trade.Offered || d.Price.Amount != 950_000 {
			t.Fatalf("offer: %+v %v", d, err)
		}
		if d, err = w.Deals.CounterRequest(ctx, w.Buyer, d.ID, 900_000); err != nil || d.State != trade.Requested || d.Held.Amount != 900_000 {
			t.Fatalf("counter-request: %+v %v", d, err)
		}
		if d, err = w.Deals.Offer(ctx, w.Supplier, d.ID, 920_000); err != nil {
			t.Fatal(err)
		}
		if d, err = w.Deals.Accept(ctx, w.Buyer, d.ID, "accept-1"); err != nil || d.State != trade.Accepted || d.Held.Amount != 920_000 {
			t.Fatalf("accept: %+v %v", d, err)
		}
		// A retry with the same key answers as the first did; another key is a 409.
		if again, err := w.Deals.Accept(ctx, w.Buyer, d.ID, "accept-1"); err != nil || again.Version != d.Version {
			t.Fatalf("retried accept: %+v %v", again, err)
		}
		_, err = w.Deals.Accept(ctx, w.Buyer, d.ID, "accept-2")
		is(t, err, dataport.KindConflict, "ACCEPTED")
		// A signature over other bytes, or by the wrong party, agrees to nothing.
		draft, err := w.Deals.Contract(ctx, w.Supplier, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Deals.Agree(ctx, w.Supplier, d.ID, "", w.Sign(w.Supplier, strings.Replace(draft.Document, "920000", "1", 1)))
		is(t, err, dataport.KindInvalid, "does not verify")
		_, err = w.Deals.Agree(ctx, w.Supplier, d.ID, "", w.Sign(w.Buyer, draft.Document))
		is(t, err, dataport.KindInvalid, "not the signer's")
		for _, step := range []func() (trade.Deal, error){
			func() (trade.Deal, error) { return w.Agree(ctx, w.Supplier, d.ID, "agree-1") },
			func() (trade.Deal, error) { return w.Verify(ctx, w.Buyer, d.ID) },
			func() (trade.Deal, error) { return w.Deals.Finalize(ctx, w.Supplier, d.ID) },
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
		for who, sig := range map[string]*trade.Signature{w.Supplier.ParticipantID: d.ProviderSignature, w.Buyer.ParticipantID: d.BuyerSignature} {
			raw, _ := base64.StdEncoding.DecodeString(sig.Signature)
			if !ed25519.Verify(w.Keys[who].Public().(ed25519.PublicKey), []byte(d.Contract), raw) {
				t.Fatalf("%s's signature does not verify", who)
			}
		}
		verifier, _ := note.NewVerifier(w.Log.VerifierKey())
		n, err := note.Open([]byte(d.Countersignature), note.VerifierList(verifier))
		if err != nil || !strings.Contains(n.Text, d.ContractSHA256) || !strings.HasPrefix(n.Text, trade.CountersignatureKind+"\n") {
			t.Fatalf("countersignature: %v %q", err, d.Countersignature)
		}
		if d.BundleSHA256 == "" {
			t.Fatal("the signed contract is not stored")
		}
		// The entitlement: in the buyer's territory, twice, paused while a party is
		// suspended.
		_, err = w.Deals.Use(ctx, w.Buyer, d.ID, trade.Access{Kind: "download", Territory: "US", Object: "rates.csv"})
		is(t, err, dataport.KindForbidden, "allows use in CN")
		_, err = w.Deals.Use(ctx, w.Supplier, d.ID, trade.Access{Kind: "download", Territory: "CN"})
		is(t, err, dataport.KindForbidden, "buyer's")
		if e, err := w.Deals.Use(ctx, w.Buyer, d.ID, trade.Access{Kind: "download", Territory: "CN", Object: "rates.csv"}); err != nil || e.Uses != 1 || e.Revision != d.Revision {
			t.Fatalf("use: %+v %v", e, err)
		}
		if _, err := w.Reg.Suspend(ctx, w.Operator, w.Supplier.ParticipantID, "audit"); err != nil {
			t.Fatal(err)
		}
		_, err = w.Deals.Use(ctx, w.Buyer, d.ID, trade.Access{Kind: "download", Territory: "CN"})
		is(t, err, dataport.KindForbidden, "paused")
		if _, err := w.Reg.Resume(ctx, w.Operator, w.Supplier.ParticipantID, ""); err != nil {
			t.Fatal(err)
		}
		if e, err := w.Deals.Use(ctx, w.Buyer, d.ID, trade.Access{Kind: "call", Territory: "CN"}); err != nil || e.Uses != 2 {
			t.Fatalf("second use: %+v %v", e, err)
		}
		_, err = w.Deals.Use(ctx, w.Buyer, d.ID, trade.Access{Kind: "download", Territory: "CN"})
		is(t, err, dataport.KindForbidden, "all 2 uses")
		if es, err := w.Deals.Entitlements(ctx, w.Buyer, w.Buyer.ParticipantID); err != nil || len(es) != 1 || es[0].Uses != 2 {
			t.Fatalf("entitlements: %+v %v", es, err)
		}
		_, err = w.Deals.Terminate(ctx, w.Buyer, d.ID, "changed my mind", "")
		is(t, err, dataport.KindConflict, "FINALIZED")
		if d, err = w.Deals.ConfirmDelivery(ctx, w.Buyer, d.ID, "confirm-1"); err != nil || d.Settled != "released" {
			t.Fatalf("confirm: %+v %v", d, err)
		}
		if again, err := w.Deals.ConfirmDelivery(ctx, w.Buyer, d.ID, "confirm-1"); err != nil || again.Settled != "released" {
			t.Fatalf("retried confirm: %+v %v", again, err)
		}
		// 920,000 paid: 1 % to the exchange, the rest to the supplier; no agent here.
		if w.Balance("balance:"+w.Buyer.ParticipantID) != 2_000_000-920_000 || w.Balance("supplier:"+w.Supplier.ParticipantID) != 910_800 ||
			w.Balance("fee:exchange") != 9_200 || w.Balance("escrow") != 0 {
			t.Fatalf("balances: buyer %d supplier %d fee %d escrow %d", w.Balance("balance:"+w.Buyer.ParticipantID),
				w.Balance("supplier:"+w.Supplier.ParticipantID), w.Balance("fee:exchange"), w.Balance("escrow"))
		}
		w.BooksBalance()
		// Every step is in the log, under the deal.
		var types []string
		w.DB.Read(ctx, func(tx *store.Tx) error {
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
		w := tradetest.New(t, engine)
		ctx := context.Background()
		w.Fund(w.Abroad, 1_000_000)
		d, err := w.Deals.Request(ctx, w.Abroad, trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "file"})
		if err != nil || d.State != trade.Requested || d.Outcome != "allow" {
			t.Fatalf("an export without PI: %+v %v", d, err)
		}
		src := strings.Replace(string(compliance.DefaultPackSource), `version: "2026.11.1"`, `version: "2026.11.2"`, 1)
		src = strings.Replace(src, "restricted_recipients: []", "restricted_recipients: ["+w.Abroad.ParticipantID+"]", 1)
		// The provider signed the draft before the pack changed: at agreement the deal is
		// assessed again and denied, whatever the signature.
		draft, err := w.Deals.Contract(ctx, w.Supplier, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Rules.UploadPack(ctx, w.Operator, []byte(src)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Rules.ActivatePack(ctx, w.Operator, "2026.11.2"); err != nil {
			t.Fatal(err)
		}
		if d, err = w.Deals.Agree(ctx, w.Supplier, d.ID, "", w.Sign(w.Supplier, draft.Document)); err != nil {
			t.Fatal(err)
		}
		if d.State != trade.Terminated || d.Outcome != "deny" || !strings.Contains(d.TerminationReason, "R15") || d.Settled != "refunded" {
			t.Fatalf("after agreement: %+v", d)
		}
		if w.Balance("balance:"+w.Abroad.ParticipantID) != 1_000_000 || w.Balance("escrow") != 0 {
			t.Fatalf("not refunded: %d", w.Balance("balance:"+w.Abroad.ParticipantID))
		}
		w.BooksBalance()
	})
}

// Funding is idempotent by key; a key reused for another request is refused.
func TestFundingIdempotency(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := tradetest.New(t, engine)
		ctx := context.Background()
		money := dataport.Money{Amount: 500, Currency: "CNY"}
		for range 2 {
			b, err := w.Deals.Fund(ctx, w.Operator, w.Buyer.ParticipantID, money, "bank-stmt-1")
			if err != nil || b.Balance.Amount != 500 {
				t.Fatalf("fund: %+v %v", b, err)
			}
		}
		_, err := w.Deals.Fund(ctx, w.Operator, w.Buyer.ParticipantID, dataport.Money{Amount: 700, Currency: "CNY"}, "bank-stmt-1")
		is(t, err, dataport.KindConflict, "another request")
		_, err = w.Deals.Fund(ctx, w.Operator, w.Buyer.ParticipantID, money, "")
		is(t, err, dataport.KindInvalid, "Idempotency-Key")
		_, err = w.Deals.Fund(ctx, w.Buyer, w.Buyer.ParticipantID, money, "self")
		is(t, err, dataport.KindForbidden, "operator")
		if w.Balance("balance:"+w.Buyer.ParticipantID) != 500 {
			t.Fatal("funded twice")
		}
		w.BooksBalance()
	})
}

// Many deals at once, some terminated at random points, two accepts racing: each
// move takes effect once, and the books balance to zero.
func TestConcurrentDealsBalance(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := tradetest.New(t, engine)
		ctx := context.Background()
		deals := 1000
		if testing.Short() {
			deals = 100
		}
		w.Fund(w.Buyer, int64(deals)*2_000_000)
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
					if err := oneDeal(w, ctx, r, &mu, &finished, &terminated); err != nil {
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
		w.BooksBalance()
		if w.Balance("escrow") != 0 {
			t.Fatalf("escrow holds %d after every deal ended", w.Balance("escrow"))
		}
	})
}

func oneDeal(w *tradetest.World, ctx context.Context, r *mrand.Rand, mu *sync.Mutex, finished, terminated *int) error {
	d, err := w.Deals.Request(ctx, w.Buyer, trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic",
		DeliveryMode: "api", Price: 500_000 + r.Int64N(500_000)})
	if err != nil {
		return err
	}
	stop := r.IntN(6) // the step after which the deal is terminated; 5: never
	steps := []func() (trade.Deal, error){
		func() (trade.Deal, error) {
			return w.Deals.Offer(ctx, w.Supplier, d.ID, d.Price.Amount+r.Int64N(100_000))
		},
		func() (trade.Deal, error) {
			// Two accepts race: exactly one takes effect.
			var wg sync.WaitGroup
			res := make([]error, 2)
			for i := range res {
				wg.Add(1)
				go func() { defer wg.Done(); _, res[i] = w.Deals.Accept(ctx, w.Buyer, d.ID, "") }()
			}
			wg.Wait()
			if (res[0] == nil) == (res[1] == nil) {
				return trade.Deal{}, fmt.Errorf("two accepts: %v / %v", res[0], res[1])
			}
			return w.Deals.Get(ctx, w.Buyer, d.ID)
		},
		func() (trade.Deal, error) { return w.Agree(ctx, w.Supplier, d.ID, "") },
		func() (trade.Deal, error) { return w.Verify(ctx, w.Buyer, d.ID) },
		func() (trade.Deal, error) { return w.Deals.Finalize(ctx, w.Supplier, d.ID) },
	}
	for i, step := range steps {
		if i == stop {
			who := w.Buyer
			if r.IntN(2) == 0 {
				who = w.Supplier
			}
			if _, err := w.Deals.Terminate(ctx, who, d.ID, "changed course", ""); err != nil {
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
	if _, err := w.Deals.ConfirmDelivery(ctx, w.Buyer, d.ID, ""); err != nil {
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
		w := tradetest.New(t, engine)
		ctx := context.Background()
		// A product with the PI of 5,000 people: exported, R13's evidence is needed.
		for _, kind := range []string{"pipia_report", "notice_declaration", "consent_declaration"} {
			doc, err := w.Cat.UploadAttachment(ctx, w.Supplier, catalog.NewAttachment{Name: kind + ".pdf"}, strings.NewReader("%PDF "+kind))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Rules.RecordApproval(ctx, w.Supplier, compliance.Approval{Kind: kind, Reference: kind + "-1",
				ExporterID: w.Supplier.ParticipantID, IssuedOn: "2026-01-05", EvidenceSHA256: doc.SHA256}); err != nil {
				t.Fatal(err)
			}
		}
		revised := w.Product.Details
		revised.PISubjects = 5000
		if _, err := w.Cat.Revise(ctx, w.Supplier, w.Product.ID, revised); err != nil {
			t.Fatal(err)
		}
		for _, step := range []func() (catalog.Product, error){
			func() (catalog.Product, error) { return w.Cat.Submit(ctx, w.Supplier, w.Product.ID) },
			func() (catalog.Product, error) { return w.Cat.StartReview(ctx, w.Operator, w.Product.ID) },
			func() (catalog.Product, error) { return w.Cat.Approve(ctx, w.Operator, w.Product.ID) },
		} {
			if _, err := step(); err != nil {
				t.Fatal(err)
			}
		}
		w.Fund(w.Abroad, 10_000_000)
		for i, complete := range []bool{true, false, true} {
			d, err := w.Deals.Request(ctx, w.Abroad, trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api"})
			if err != nil {
				t.Fatal(err)
			}
			if !complete {
				if _, err := w.Deals.Terminate(ctx, w.Abroad, d.ID, "not needed", ""); err != nil {
					t.Fatal(err)
				}
				continue
			}
			for _, step := range []func() (trade.Deal, error){
				func() (trade.Deal, error) { return w.Agree(ctx, w.Supplier, d.ID, "") },
				func() (trade.Deal, error) { return w.Verify(ctx, w.Abroad, d.ID) },
				func() (trade.Deal, error) { return w.Deals.Finalize(ctx, w.Supplier, d.ID) },
				func() (trade.Deal, error) { return w.Deals.ConfirmDelivery(ctx, w.Abroad, d.ID, "") },
			} {
				if _, err := step(); err != nil {
					t.Fatalf("deal %d: %v", i, err)
				}
			}
		}
		c, err := w.Rules.YearToDate(ctx, w.Supplier, w.Supplier.ParticipantID)
		if err != nil || c.PISubjects != 10_000 {
			t.Fatalf("counters after two completed exports of 5,000: %+v %v", c, err)
		}
		cert, err := w.Deals.Certificate(ctx, w.Abroad, firstCertified(t, w))
		if err != nil || cert.Certificate.PISubjects != 5000 || cert.Certificate.RegistrationNumber != w.Product.RegistrationNumber {
			t.Fatalf("certificate: %+v %v", cert.Certificate, err)
		}
	})
}

func firstCertified(t *testing.T, w *tradetest.World) string {
	var id string
	w.DB.Read(context.Background(), func(tx *store.Tx) error {
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
		w := tradetest.New(t, engine)
		ctx := context.Background()
		w.Fund(w.Buyer, 2_000_000)
		d, err := w.Deals.Request(ctx, w.Buyer, trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api"})
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []func() (trade.Deal, error){
			func() (trade.Deal, error) { return w.Agree(ctx, w.Supplier, d.ID, "") },
			func() (trade.Deal, error) { return w.Verify(ctx, w.Buyer, d.ID) },
			func() (trade.Deal, error) { return w.Deals.Finalize(ctx, w.Supplier, d.ID) },
		} {
			if _, err := step(); err != nil {
				t.Fatal(err)
			}
		}
		w.Clock.Advance(71 * time.Hour)
		if n, err := w.Deals.ReleaseDue(ctx); err != nil || n != 0 {
			t.Fatalf("released %d within the window: %v", n, err)
		}
		w.Clock.Advance(2 * time.Hour)
		if n, err := w.Deals.ReleaseDue(ctx); err != nil || n != 1 {
			t.Fatalf("released %d after the window: %v", n, err)
		}
		if n, _ := w.Deals.ReleaseDue(ctx); n != 0 {
			t.Fatal("released twice")
		}
		got, _ := w.Deals.Get(ctx, w.Buyer, d.ID)
		if got.Settled != "released" || w.Balance("supplier:"+w.Supplier.ParticipantID) != 990_000 || w.Balance("escrow") != 0 {
			t.Fatalf("after the window: %+v, supplier %d", got, w.Balance("supplier:"+w.Supplier.ParticipantID))
		}
		if _, err := w.Deals.Certificate(ctx, w.Buyer, d.ID); err != nil {
			t.Fatalf("certificate: %v", err)
		}
		w.BooksBalance()
	})
}

// A buyer that holds no registered signing key verifies with an authenticated protocol
// message (trade.Assent): the assent must name the agreed contract and come from a
// caller authenticated with a key; it is recorded, and the exchange's countersignature
// and the stored bundle cover it.
func TestVerifyByMessage(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := tradetest.New(t, engine)
		ctx := context.Background()
		w.Fund(w.Buyer, 2_000_000)
		d, err := w.Deals.Request(ctx, w.Buyer, trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api"})
		if err != nil {
			t.Fatal(err)
		}
		if d, err = w.Agree(ctx, w.Supplier, d.ID, ""); err != nil {
			t.Fatal(err)
		}
		buyer := w.Buyer
		buyer.KeyID = "key_connector"
		msg := strings.Repeat("ab", 32)
		assent := trade.Assent{Protocol: "dsp/2025-1 ContractAgreementVerificationMessage", MessageSHA256: msg, ContractSHA256: d.ContractSHA256}

		other := assent
		other.ContractSHA256 = strings.Repeat("0", 64)
		_, err = w.Deals.VerifyByMessage(ctx, buyer, d.ID, other)
		is(t, err, dataport.KindInvalid, "agreed contract")
		bad := assent
		bad.MessageSHA256 = "not a hash"
		_, err = w.Deals.VerifyByMessage(ctx, buyer, d.ID, bad)
		is(t, err, dataport.KindInvalid, "SHA-256")
		_, err = w.Deals.VerifyByMessage(ctx, w.Buyer, d.ID, assent) // no key behind the call
		is(t, err, dataport.KindForbidden, "API key")
		supplier := w.Supplier
		supplier.KeyID = "key_supplier"
		_, err = w.Deals.VerifyByMessage(ctx, supplier, d.ID, assent)
		is(t, err, dataport.KindForbidden, "buyer's move")
		if got, _ := w.Deals.Get(ctx, w.Buyer, d.ID); got.State != trade.Agreed || got.BuyerAssent != nil {
			t.Fatalf("refused verifications changed the deal: %+v", got)
		}

		d, err = w.Deals.VerifyByMessage(ctx, buyer, d.ID, assent)
		if err != nil || d.State != trade.Verified || d.BuyerSignature != nil || d.BuyerAssent == nil ||
			d.BuyerAssent.KeyID != "key_connector" || d.BuyerAssent.MessageSHA256 != msg {
			t.Fatalf("verified: %+v %v", d, err)
		}
		if d, err = w.Deals.Finalize(ctx, w.Supplier, d.ID); err != nil || d.State != trade.Finalized {
			t.Fatalf("finalize: %+v %v", d, err)
		}
		verifier, _ := note.NewVerifier(w.Log.VerifierKey())
		n, err := note.Open([]byte(d.Countersignature), note.VerifierList(verifier))
		if err != nil || !strings.Contains(n.Text, msg) || !strings.Contains(n.Text, "key_connector") {
			t.Fatalf("the countersignature does not cover the assent: %v %q", err, d.Countersignature)
		}
		if got, err := w.Deals.Get(ctx, w.Supplier, d.ID); err != nil || got.BuyerAssent == nil || *got.BuyerAssent != *d.BuyerAssent {
			t.Fatalf("stored assent %+v %v", got.BuyerAssent, err)
		}
		o, err := w.Blobs.Open(ctx, d.BundleSHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		b, _ := io.ReadAll(o)
		if !strings.Contains(string(b), `"buyer_assent":{`) || !strings.Contains(string(b), msg) {
			t.Fatalf("the stored bundle does not hold the assent: %s", b)
		}
	})
}
