package lending_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// The whole story: an offer to a bank, an application decided at once with its
// reasons, the disbursement, repayment from settling receivables — every step filed.
func TestOfferApplicationDisbursementRepayment(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		sub := e.subscribe(e.bankA, subscription(lending.OrderFinancing,
			lending.Rule{ID: "grade_ok", Expr: `grade in ["A", "B"]`, Reason: "grade A or B only"},
			lending.Rule{ID: "within_line", Expr: `amount + outstanding <= line`, Reason: "total borrowing within the credit line"}))
		v := e.decision(e.merchant, "B", 50_000_000) // a 500,000 yuan line
		e.publish(v)

		// The bank receives the offer as a signed webhook and through the pull API.
		got := e.received(e.rcvA, "lending.offer")
		if len(got) != 1 {
			t.Fatalf("bank A received %d offers, want 1", len(got))
		}
		var pushed lending.Offer
		if err := json.Unmarshal(got[0].Data, &pushed); err != nil {
			t.Fatal(err)
		}
		pulled := e.offers(e.bankA, lending.OfferFilter{Status: "open"})
		if len(pulled) != 1 || pulled[0].ID != pushed.ID {
			t.Fatalf("pulled %+v, pushed %s", pulled, pushed.ID)
		}
		o := pulled[0]
		if o.Amount != cny(30_000_000) || o.RateBPS != 720 || o.TermDays != 30 || o.ConsentID != c.ID ||
			o.SubscriptionID != sub.ID || o.DecisionID != v.DecisionID || !o.ExpiresAt.Equal(now.Add(7*24*time.Hour)) {
			t.Fatalf("offer %+v", o)
		}
		if o.Credit == nil || o.Credit.Grade != "B" || o.Credit.Score != 712 || o.Credit.Line != cny(50_000_000) ||
			!slices.Equal(o.Credit.Reasons, v.Reasons) || o.Credit.Features != nil {
			t.Fatalf("credit disclosed under scope score: %+v", o.Credit)
		}

		// The merchant applies; the bank's rules decide at once.
		a := e.apply(e.merchant, o.ID, lending.NewApplication{Amount: cny(20_000_000), Purpose: "备货：双十二冻品"})
		d := a.Decision
		if d.Outcome != "approved" || len(d.Reasons) != 0 || len(d.Rules) != 2 || !d.Rules[0].Passed || !d.Rules[1].Passed ||
			d.RulesVersion != 1 || d.RulesSHA256 != sub.RulesSHA256 {
			t.Fatalf("decision %+v", d)
		}
		// The inputs' hash is the SHA-256 of their canonical JSON.
		raw, _ := json.Marshal(d.Inputs)
		canon, _ := jcs.Transform(raw)
		if sum := sha256.Sum256(canon); hex.EncodeToString(sum[:]) != d.InputsSHA256 {
			t.Fatal("inputs_sha256 is not the SHA-256 of the inputs' canonical JSON")
		}
		if d.Inputs.Grade != "B" || d.Inputs.Amount != 20_000_000 || d.Inputs.Line != 50_000_000 || d.Inputs.Sector != "frozen_food" ||
			d.Inputs.Outstanding != 0 || len(d.Inputs.Features) != 0 {
			t.Fatalf("inputs %+v", d.Inputs)
		}

		// The loan and its disbursement.
		l := a.Loan
		if l == nil || a.LoanID != l.ID {
			t.Fatalf("approved without a loan: %+v", a)
		}
		// 200,000 yuan at 7.2 % for 30 days: 20,000,000 × 720 × 30 / 3,650,000 = 118,356.16… fen.
		if l.Principal != cny(20_000_000) || l.Interest != cny(118_356) || !l.DueAt.Equal(now.Add(30*24*time.Hour)) ||
			l.Status != "active" || l.Outstanding != cny(20_118_356) || l.Disbursement.Amount != cny(20_000_000) || l.Grade != "B" {
			t.Fatalf("loan %+v", l)
		}
		if got := e.loan(e.bankA, l.ID); got.Outstanding != l.Outstanding || got.Disbursement.ID != l.Disbursement.ID {
			t.Fatalf("loan as read %+v", got)
		}
		if taken, _ := e.svc.Offer(e.ctx, e.merchant, o.ID); taken.Status != "taken" {
			t.Fatalf("offer after approval: %s", taken.Status)
		}
		if n := len(e.received(e.rcvA, "lending.application_decided")); n != 1 {
			t.Fatalf("bank A was told of %d decisions, want 1", n)
		}

		// Receivables settle: 20 % of each goes to the loan, interest first.
		e.settled(e.merchant, 1_000_001) // 20 % = 200,000.2 → 200,000 fen
		rs, err := e.svc.Repayments(e.ctx, e.bankA, lending.RepaymentFilter{LoanID: l.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].Amount != cny(200_000) || rs[0].Interest != cny(118_356) || rs[0].Principal != cny(81_644) ||
			rs[0].Settled != cny(1_000_001) || rs[0].Outstanding != cny(19_918_356) {
			t.Fatalf("repayments %+v", rs)
		}
		// A settlement large enough closes it: only what is outstanding is taken.
		e.settled(e.merchant, 500_000_000)
		l2 := e.loan(e.merchant, l.ID)
		if l2.Status != "closed" || l2.Outstanding.Amount != 0 || l2.PrincipalPaid != cny(20_000_000) || l2.InterestPaid != cny(118_356) {
			t.Fatalf("loan after full repayment %+v", l2)
		}
		rs, _ = e.svc.Repayments(e.ctx, e.merchant, lending.RepaymentFilter{LoanID: l.ID})
		if len(rs) != 2 || rs[1].Amount != cny(19_918_356) || rs[1].Interest.Amount != 0 {
			t.Fatalf("repayments %+v", rs)
		}

		// Every step is in the log, about the loan and the parties.
		for _, typ := range []string{"lending.consent_granted", "lending.subscription_created", "lending.offer_made",
			"lending.application_decided", "lending.disbursed", "lending.repaid", "lending.loan_closed"} {
			if len(e.filings(typ)) == 0 {
				t.Errorf("no %s filing", typ)
			}
		}
		if got, want := e.filingsAbout(l.ID), []string{"lending.disbursed", "lending.repaid", "lending.repaid", "lending.loan_closed"}; !slices.Equal(got, want) {
			t.Fatalf("filings about the loan: %v, want %v", got, want)
		}
		decided := e.filings("lending.application_decided")[0]
		var p struct {
			Outcome      string   `json:"outcome"`
			Reasons      []string `json:"reasons"`
			InputsSHA256 string   `json:"inputs_sha256"`
			RulesSHA256  string   `json:"rules_sha256"`
		}
		if err := json.Unmarshal(decided.Payload, &p); err != nil || p.Outcome != "approved" || p.InputsSHA256 != d.InputsSHA256 ||
			p.RulesSHA256 != sub.RulesSHA256 || decided.Seq != a.FilingSeq {
			t.Fatalf("decision filing %s", decided.Payload)
		}
	})
}

// A bank the merchant did not consent to sees nothing of it; revoking a consent
// withdraws the offers made under it at once.
func TestConsentGatesEverything(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		e.subscribe(e.bankA, subscription(lending.OrderFinancing))
		e.subscribe(e.bankB, subscription(lending.OrderFinancing)) // matches just as well
		e.publish(e.decision(e.merchant, "A", 50_000_000))

		o := e.openOffer(e.merchant, e.bankA)
		if os := e.offers(e.bankB, lending.OfferFilter{}); len(os) != 0 {
			t.Fatalf("bank B sees offers: %+v", os)
		}
		if os := e.offers(e.bankB, lending.OfferFilter{MerchantID: e.merchant.ParticipantID}); len(os) != 0 {
			t.Fatalf("bank B sees the merchant's offers: %+v", os)
		}
		_, err := e.svc.Offer(e.ctx, e.bankB, o.ID)
		wantKind(t, err, dataport.KindNotFound)
		if n := len(e.received(e.rcvB, "lending.offer")); n != 0 {
			t.Fatalf("bank B received %d offers by webhook", n)
		}
		if inbox, _ := e.hooks.Inbox(e.ctx, e.bankB, 50); len(inbox) != 0 {
			t.Fatalf("bank B's inbox: %+v", inbox)
		}
		if cs, err := e.svc.Consents(e.ctx, e.bankB, lending.ConsentFilter{}); err != nil || len(cs) != 0 {
			t.Fatalf("bank B sees consents %+v %v", cs, err)
		}
		_, err = e.svc.Consent(e.ctx, e.bankB, c.ID)
		wantKind(t, err, dataport.KindNotFound)
		fs, err := ledger.NewReader(e.db).List(e.ctx, e.bankB, ledger.Filter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if slices.Contains(f.Subjects, e.merchant.ParticipantID) {
				t.Fatalf("bank B reads a filing about the merchant: %s", f.Type)
			}
		}
		// Bank A sees the consent, with itself as its only institution.
		if cs, err := e.svc.Consents(e.ctx, e.bankA, lending.ConsentFilter{}); err != nil || len(cs) != 1 ||
			!slices.Equal(cs[0].Institutions, []string{e.bankA.ParticipantID}) || cs[0].Status != "active" {
			t.Fatalf("bank A's consents %+v %v", cs, err)
		}
		// Nor does a bank learn whom else a consent names.
		both := e.consent(e.merchant2, []lending.Scope{lending.ScopeScore}, e.bankA, e.bankB)
		if cs, _ := e.svc.Consents(e.ctx, e.bankB, lending.ConsentFilter{InstitutionID: e.bankA.ParticipantID}); len(cs) != 0 {
			t.Fatalf("bank B learns whom else merchant2 consented to: %+v", cs)
		}
		if cs, _ := e.svc.Consents(e.ctx, e.bankB, lending.ConsentFilter{}); len(cs) != 1 || cs[0].ID != both.ID ||
			!slices.Equal(cs[0].Institutions, []string{e.bankB.ParticipantID}) {
			t.Fatalf("bank B's consents %+v", cs)
		}
		if cs, _ := e.svc.Consents(e.ctx, e.regulator, lending.ConsentFilter{InstitutionID: e.bankB.ParticipantID}); len(cs) != 1 || len(cs[0].Institutions) != 2 {
			t.Fatalf("regulator's view %+v", cs)
		}
		// Applications and loans of the merchant do not exist for bank B either.
		a := e.apply(e.merchant, o.ID, lending.NewApplication{Amount: cny(1_000_000)})
		_, err = e.svc.Application(e.ctx, e.bankB, a.ID)
		wantKind(t, err, dataport.KindNotFound)
		_, err = e.svc.Loan(e.ctx, e.bankB, a.LoanID)
		wantKind(t, err, dataport.KindNotFound)
		if ls, _ := e.svc.Loans(e.ctx, e.bankB, lending.LoanFilter{}); len(ls) != 0 {
			t.Fatalf("bank B sees loans %+v", ls)
		}

		// A second decision makes a new offer; revocation withdraws it at once.
		e.publish(e.decision(e.merchant, "A", 50_000_000))
		o2 := e.openOffer(e.merchant, e.bankA)
		_, err = e.svc.RevokeConsent(e.ctx, e.bankA, c.ID, "")
		wantKind(t, err, dataport.KindForbidden) // the bank cannot revoke the merchant's consent
		_, err = e.svc.RevokeConsent(e.ctx, e.merchant2, c.ID, "")
		wantKind(t, err, dataport.KindNotFound)
		rc, err := e.svc.RevokeConsent(e.ctx, e.merchant, c.ID, "switching banks")
		if err != nil || rc.Status != "revoked" {
			t.Fatalf("revoke: %+v %v", rc, err)
		}
		w, err := e.svc.Offer(e.ctx, e.bankA, o2.ID)
		if err != nil || w.Status != "withdrawn" || w.Credit != nil {
			t.Fatalf("after revocation bank A reads %+v %v", w, err)
		}
		if mine, _ := e.svc.Offer(e.ctx, e.merchant, o2.ID); mine.Credit == nil {
			t.Fatal("the merchant no longer sees its own credit data")
		}
		if n := len(e.received(e.rcvA, "lending.offer_withdrawn")); n != 1 {
			t.Fatalf("bank A was told of %d withdrawals, want 1", n)
		}
		_, _, err = e.svc.Apply(e.ctx, e.merchant, o2.ID, lending.NewApplication{Amount: cny(1_000_000)})
		wantKind(t, err, dataport.KindConflict)
		_, err = e.svc.RevokeConsent(e.ctx, e.merchant, c.ID, "")
		wantKind(t, err, dataport.KindConflict)
		if got := e.filingsAbout(o2.ID); !slices.Equal(got, []string{"lending.offer_made", "lending.offer_withdrawn"}) {
			t.Fatalf("filings about the offer: %v", got)
		}
		// No consent in force: the next decision offers nothing to anyone.
		before := len(e.filings("lending.offer_made"))
		e.publish(e.decision(e.merchant, "A", 50_000_000))
		if after := len(e.filings("lending.offer_made")); after != before {
			t.Fatalf("an offer was made without consent")
		}
	})
}

// Consent input is checked against the registry; bad input changes nothing.
func TestConsentValidation(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		before := e.snapshot()
		cases := []struct {
			n     lending.NewConsent
			field string
		}{
			{lending.NewConsent{Institutions: []string{e.bankA.ParticipantID}, ExpiresAt: now.AddDate(0, 1, 0)}, "scope"},
			{lending.NewConsent{Scope: []lending.Scope{"score", "gossip"}, Institutions: []string{e.bankA.ParticipantID}, ExpiresAt: now.AddDate(0, 1, 0)}, "scope[1]"},
			{lending.NewConsent{Scope: []lending.Scope{"score"}, Institutions: []string{e.bankA.ParticipantID, e.merchant2.ParticipantID}, ExpiresAt: now.AddDate(0, 1, 0)}, "institutions[1]"},
			{lending.NewConsent{Scope: []lending.Scope{"score"}, Institutions: []string{"prt_nobody"}, ExpiresAt: now.AddDate(0, 1, 0)}, "institutions[0]"},
			{lending.NewConsent{Scope: []lending.Scope{"score"}, Institutions: []string{e.bankA.ParticipantID, e.bankA.ParticipantID}, ExpiresAt: now.AddDate(0, 1, 0)}, "institutions[1]"},
			{lending.NewConsent{Scope: []lending.Scope{"score"}, Institutions: []string{e.bankA.ParticipantID}, ExpiresAt: now.Add(-time.Minute)}, "expires_at"},
			{lending.NewConsent{Scope: []lending.Scope{"score"}, Institutions: []string{e.bankA.ParticipantID}, ExpiresAt: now.AddDate(2, 0, 0)}, "expires_at"},
		}
		for _, c := range cases {
			_, err := e.svc.GrantConsent(e.ctx, e.merchant, e.merchant.ParticipantID, c.n)
			wantField(t, err, c.field)
		}
		_, err := e.svc.GrantConsent(e.ctx, e.bankA, e.bankA.ParticipantID, lending.NewConsent{Scope: []lending.Scope{"score"}, Institutions: []string{e.bankB.ParticipantID}, ExpiresAt: now.AddDate(0, 1, 0)})
		wantKind(t, err, dataport.KindForbidden)
		// A merchant grants its own consents only: to it another merchant does
		// not exist, and the operator grants none for a merchant.
		good := lending.NewConsent{Scope: []lending.Scope{"score"}, Institutions: []string{e.bankA.ParticipantID}, ExpiresAt: now.AddDate(0, 1, 0)}
		_, err = e.svc.GrantConsent(e.ctx, e.merchant2, e.merchant.ParticipantID, good)
		wantKind(t, err, dataport.KindNotFound)
		_, err = e.svc.GrantConsent(e.ctx, e.operator, e.merchant.ParticipantID, good)
		wantKind(t, err, dataport.KindForbidden)
		e.unchanged(before)

		// A consent expires by itself: its offers stop with it.
		c, err := e.svc.GrantConsent(e.ctx, e.merchant, e.merchant.ParticipantID, lending.NewConsent{Scope: []lending.Scope{"score"},
			Institutions: []string{e.bankA.ParticipantID}, ExpiresAt: now.Add(48 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		e.subscribe(e.bankA, subscription(lending.OrderFinancing))
		e.publish(e.decision(e.merchant, "B", 50_000_000))
		o := e.openOffer(e.merchant, e.bankA)
		if !o.ExpiresAt.Equal(c.ExpiresAt) {
			t.Fatalf("the offer outlives its consent: %s, consent %s", o.ExpiresAt, c.ExpiresAt)
		}
		e.clock.Advance(49 * time.Hour)
		if got, _ := e.svc.Consent(e.ctx, e.merchant, c.ID); got.Status != "expired" {
			t.Fatalf("consent status %s", got.Status)
		}
		if got, _ := e.svc.Offer(e.ctx, e.bankA, o.ID); got.Status != "expired" || got.Credit != nil {
			t.Fatalf("offer after its consent expired: %+v", got)
		}
		_, _, err = e.svc.Apply(e.ctx, e.merchant, o.ID, lending.NewApplication{Amount: cny(1_000_000)})
		wantKind(t, err, dataport.KindConflict)
		var consented bool
		if err := e.db.Read(e.ctx, func(tx *store.Tx) error {
			var err error
			consented, err = e.svc.Consented(tx, e.merchant.ParticipantID, e.bankA.ParticipantID, lending.ScopeScore)
			return err
		}); err != nil || consented {
			t.Fatalf("consented after expiry: %v %v", consented, err)
		}
	})
}
