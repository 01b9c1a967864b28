package lending_test

import (
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
)

// A suspended merchant or bank is refused every change at once, and their open
// offers go; each still reads its own records (the exchange's rule).
func TestSuspendedPartiesRefused(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		e.subscribe(e.bankA, subscription(lending.OrderFinancing))
		e.publish(e.decision(e.merchant, "B", 50_000_000))
		o := e.openOffer(e.merchant, e.bankA)

		if _, err := e.reg.Suspend(e.ctx, e.operator, e.merchant.ParticipantID, "suspected fake orders"); err != nil {
			t.Fatal(err)
		}
		_, _, err := e.svc.Apply(e.ctx, e.merchant, o.ID, lending.NewApplication{Amount: cny(1_000_000)})
		wantKind(t, err, dataport.KindForbidden)
		_, err = e.svc.GrantConsent(e.ctx, e.merchant, e.merchant.ParticipantID, lending.NewConsent{Scope: []lending.Scope{lending.ScopeScore},
			Institutions: []string{e.bankB.ParticipantID}, ExpiresAt: now.AddDate(0, 1, 0)})
		wantKind(t, err, dataport.KindForbidden)
		if own, err := e.svc.Offers(e.ctx, e.merchant, lending.OfferFilter{}); err != nil || len(own) != 1 || own[0].Status != "withdrawn" {
			t.Fatalf("the suspended merchant reads its offers: %+v %v", own, err)
		}
		if own, err := e.svc.Consents(e.ctx, e.merchant, lending.ConsentFilter{}); err != nil || len(own) != 1 {
			t.Fatalf("the suspended merchant reads its consents: %+v %v", own, err)
		}
		// What is not its own stays hidden while suspended.
		_, err = e.svc.Offer(e.ctx, e.merchant2, o.ID)
		wantKind(t, err, dataport.KindNotFound)
		got, err := e.svc.Offer(e.ctx, e.bankA, o.ID)
		if err != nil || got.Status != "withdrawn" || !strings.Contains(got.StatusReason, "suspected fake orders") {
			t.Fatalf("the suspended merchant's offer: %+v %v", got, err)
		}
		if os := e.offers(e.bankA, lending.OfferFilter{Status: "open"}); len(os) != 0 {
			t.Fatalf("open offers of a suspended merchant: %+v", os)
		}
		before := len(e.filings("lending.offer_made"))
		e.publish(e.decision(e.merchant, "A", 50_000_000))
		if len(e.filings("lending.offer_made")) != before {
			t.Fatal("an offer was made for a suspended merchant")
		}
		if _, err := e.reg.Resume(e.ctx, e.operator, e.merchant.ParticipantID, "cleared"); err != nil {
			t.Fatal(err)
		}

		// The bank suspended: its offers go, the merchant's application is refused,
		// the bank reads only its own, and it is offered nothing.
		e.publish(e.decision(e.merchant, "B", 50_000_000))
		o = e.openOffer(e.merchant, e.bankA)
		if _, err := e.reg.Suspend(e.ctx, e.operator, e.bankA.ParticipantID, "capital adequacy review"); err != nil {
			t.Fatal(err)
		}
		before = len(e.filings("lending.offer_made"))
		_, _, err = e.svc.Apply(e.ctx, e.merchant, o.ID, lending.NewApplication{Amount: cny(1_000_000)})
		wantKind(t, err, dataport.KindForbidden)
		if own, err := e.svc.Offers(e.ctx, e.bankA, lending.OfferFilter{}); err != nil || len(own) != 2 || own[1].Status != "withdrawn" {
			t.Fatalf("the suspended bank reads its offers: %+v %v", own, err)
		}
		if _, err := e.svc.Portfolio(e.ctx, e.bankA, e.bankA.ParticipantID); err != nil {
			t.Fatalf("the suspended bank reads its portfolio: %v", err)
		}
		_, err = e.svc.Portfolio(e.ctx, e.bankA, e.bankB.ParticipantID)
		wantKind(t, err, dataport.KindNotFound)
		_, err = e.svc.CreateSubscription(e.ctx, e.bankA, subscription(lending.CreditSales))
		wantKind(t, err, dataport.KindForbidden)
		e.publish(e.decision(e.merchant, "A", 50_000_000))
		if len(e.filings("lending.offer_made")) != before {
			t.Fatal("a suspended bank was offered")
		}
		// A suspended bank cannot be named in a new consent.
		_, err = e.svc.GrantConsent(e.ctx, e.merchant, e.merchant.ParticipantID, lending.NewConsent{Scope: []lending.Scope{lending.ScopeScore},
			Institutions: []string{e.bankA.ParticipantID}, ExpiresAt: now.AddDate(0, 1, 0)})
		wantField(t, err, "institutions[0]")
	})
}

// Bad applications get field problems, wrong callers not-found or forbidden, and
// none of them changes anything.
func TestBadApplicationChangesNothing(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		e.subscribe(e.bankA, subscription(lending.OrderFinancing))
		e.publish(e.decision(e.merchant, "B", 50_000_000))
		o := e.openOffer(e.merchant, e.bankA)
		before := e.snapshot()
		for _, c := range []struct {
			n     lending.NewApplication
			field string
		}{
			{lending.NewApplication{Amount: cny(30_000_001)}, "amount.amount"},
			{lending.NewApplication{Amount: cny(0)}, "amount.amount"},
			{lending.NewApplication{Amount: cny(-5)}, "amount.amount"},
			{lending.NewApplication{Amount: dataport.Money{Amount: 100, Currency: "USD"}}, "amount.currency"},
			{lending.NewApplication{Amount: dataport.Money{Amount: 100, Currency: "yuan"}}, "amount.currency"},
			{lending.NewApplication{Amount: cny(100), TermDays: 31}, "term_days"},
			{lending.NewApplication{Amount: cny(100), TermDays: -1}, "term_days"},
			{lending.NewApplication{Amount: cny(100), Purpose: strings.Repeat("货", 501)}, "purpose"},
			{lending.NewApplication{Amount: cny(100), IdempotencyKey: "a\x00b"}, "idempotency_key"},
		} {
			_, _, err := e.svc.Apply(e.ctx, e.merchant, o.ID, c.n)
			wantField(t, err, c.field)
		}
		_, _, err := e.svc.Apply(e.ctx, e.merchant, "ofr_nonesuch", lending.NewApplication{Amount: cny(100)})
		wantKind(t, err, dataport.KindNotFound)
		_, _, err = e.svc.Apply(e.ctx, e.merchant2, o.ID, lending.NewApplication{Amount: cny(100)})
		wantKind(t, err, dataport.KindNotFound)
		_, _, err = e.svc.Apply(e.ctx, e.bankA, o.ID, lending.NewApplication{Amount: cny(100)})
		wantKind(t, err, dataport.KindForbidden)
		_, _, err = e.svc.Apply(e.ctx, dataport.Actor{}, o.ID, lending.NewApplication{Amount: cny(100)})
		wantKind(t, err, dataport.KindUnauthorized)
		_, err = e.svc.Offers(e.ctx, e.merchant, lending.OfferFilter{Status: "pending"})
		wantField(t, err, "status")
		e.unchanged(before)
		// The offer is still there to take.
		if a := e.apply(e.merchant, o.ID, lending.NewApplication{Amount: cny(30_000_000)}); a.Decision.Outcome != "approved" {
			t.Fatalf("%+v", a.Decision)
		}
	})
}

// An ad-spend loan (投流貸) is capped by the merchant's live limit.
func TestAdSpendLoanLiveLimit(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		e.subscribe(e.bankA, subscription(lending.AdSpendLoan))
		e.publish(e.decision(e.merchant, "B", 50_000_000))
		o := e.openOffer(e.merchant, e.bankA)
		before := e.snapshot()
		_, _, err := e.svc.Apply(e.ctx, e.merchant, o.ID, lending.NewApplication{Amount: cny(3_000_000)})
		wantKind(t, err, dataport.KindConflict) // no live limit yet
		e.live[e.merchant.ParticipantID] = cny(2_000_000)
		_, _, err = e.svc.Apply(e.ctx, e.merchant, o.ID, lending.NewApplication{Amount: cny(3_000_000)})
		wantField(t, err, "amount.amount")
		e.unchanged(before)
		a := e.apply(e.merchant, o.ID, lending.NewApplication{Amount: cny(2_000_000), TermDays: 3})
		if a.Loan == nil || a.Loan.Product != lending.AdSpendLoan || a.Loan.Principal != cny(2_000_000) {
			t.Fatalf("%+v", a)
		}
	})
}
