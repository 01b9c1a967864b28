package lending_test

import (
	"testing"

	"github.com/dataport/dataport/lending"
)

// A bank polling offers with the last change seq it saw misses nothing: every new
// offer once, and every offer again when it is superseded, withdrawn or taken — in
// the order the changes were filed. A declined application changes nothing.
func TestOfferCursorMissesNothing(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		sub := e.subscribe(e.bankA, subscription(lending.OrderFinancing))
		e.subscribe(e.bankA, subscription(lending.CreditSales))

		var seen int64
		seenStatus := map[string]string{} // offer → its status as last polled
		poll := func(limit int) []lending.Offer {
			t.Helper()
			var got []lending.Offer
			for {
				page := e.offers(e.bankA, lending.OfferFilter{AfterSeq: seen, Limit: limit})
				for _, o := range page {
					if o.ChangeSeq <= seen {
						t.Fatalf("offer %s at change %d, after %d", o.ID, o.ChangeSeq, seen)
					}
					seen = o.ChangeSeq
					seenStatus[o.ID] = o.Status
				}
				got = append(got, page...)
				if len(page) < limit {
					return got
				}
			}
		}
		want := func(got []lending.Offer, status map[string]string) {
			t.Helper()
			if len(got) != len(status) {
				t.Fatalf("polled %d offers, want %d: %+v", len(got), len(status), got)
			}
			for _, o := range got {
				if s, ok := status[o.ID]; !ok || o.Status != s {
					t.Fatalf("polled %s %s, want %v", o.ID, o.Status, status)
				}
			}
		}

		e.publish(e.decision(e.merchant, "B", 50_000_000))
		first := poll(1)
		if len(first) != 2 {
			t.Fatalf("first poll: %+v", first)
		}
		want(poll(100), nil) // nothing new

		// A new decision: two new offers, and the two old ones superseded.
		e.publish(e.decision(e.merchant, "A", 60_000_000))
		second := poll(3)
		status := map[string]string{first[0].ID: "superseded", first[1].ID: "superseded"}
		for _, o := range e.offers(e.bankA, lending.OfferFilter{Status: "open"}) {
			status[o.ID] = "open"
		}
		want(second, status)

		// A declined application leaves the offer as it was: not listed again.
		if _, err := e.svc.SetRules(e.ctx, e.bankA, sub.ID, []lending.Rule{{ID: "small", Expr: "amount <= 100", Reason: "too much"}}); err != nil {
			t.Fatal(err)
		}
		order := e.offers(e.bankA, lending.OfferFilter{Status: "open", Product: lending.OrderFinancing})[0]
		if a := e.apply(e.merchant, order.ID, lending.NewApplication{Amount: cny(1_000)}); a.Decision.Outcome != "declined" {
			t.Fatalf("%+v", a.Decision)
		}
		want(poll(100), nil)
		// Taken: listed again.
		if a := e.apply(e.merchant, order.ID, lending.NewApplication{Amount: cny(100)}); a.Decision.Outcome != "approved" {
			t.Fatalf("%+v", a.Decision)
		}
		want(poll(100), map[string]string{order.ID: "taken"})
		// Withdrawn with the consent: listed again.
		if _, err := e.svc.RevokeConsent(e.ctx, e.merchant, c.ID, "changed banks"); err != nil {
			t.Fatal(err)
		}
		withdrawn := map[string]string{}
		for id, s := range seenStatus {
			if s == "open" {
				withdrawn[id] = "withdrawn"
			}
		}
		if len(withdrawn) != 1 {
			t.Fatalf("open offers before the revocation: %v", seenStatus)
		}
		want(poll(100), withdrawn)

		// The cursor is the bank's own view: the merchant polls its side alike,
		// and a negative cursor is no cursor.
		if got := e.offers(e.merchant, lending.OfferFilter{}); len(got) != 4 || got[3].ChangeSeq != seen {
			t.Fatalf("the merchant's offers by change: %+v, last change %d", got, seen)
		}
		_, err := e.svc.Offers(e.ctx, e.bankA, lending.OfferFilter{AfterSeq: -1})
		wantField(t, err, "after_seq")
		if o, err := e.svc.Offer(e.ctx, e.bankA, order.ID); err != nil || o.ChangeSeq == 0 || o.ChangeSeq == o.FilingSeq {
			t.Fatalf("the taken offer's change: %+v %v", o, err)
		}
	})
}
