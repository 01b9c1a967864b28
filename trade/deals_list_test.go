package trade_test

import (
	"context"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/trade/tradetest"
)

// Deals lists a party's own deals, newest first and paged; the operator sees
// every deal; History is a deal's filed steps in order, for those who may read it.
func TestDealsAndHistory(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := tradetest.New(t, engine)
		ctx := context.Background()
		req := trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api", Price: 100_000}
		w.Fund(w.Buyer, 1_000_000)
		w.Fund(w.Abroad, 1_000_000)
		var mine []string
		for range 3 {
			d, err := w.Deals.Request(ctx, w.Buyer, req)
			if err != nil {
				t.Fatal(err)
			}
			mine = append(mine, d.ID)
		}
		theirs, err := w.Deals.Request(ctx, w.Abroad, req)
		if err != nil {
			t.Fatal(err)
		}
		ids := func(ds []trade.Deal) []string {
			var out []string
			for _, d := range ds {
				out = append(out, d.ID)
			}
			return out
		}
		same := func(what string, got, want []string) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("%s: %v, want %v", what, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s: %v, want %v", what, got, want)
				}
			}
		}
		list := func(actor dataport.Actor, f trade.DealFilter) []string {
			t.Helper()
			ds, err := w.Deals.Deals(ctx, actor, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.Moves == nil {
					t.Fatalf("deal %s is listed without its moves", d.ID)
				}
			}
			return ids(ds)
		}
		// The buyer its own, newest first; the other buyer its own; the supplier
		// and the operator all four.
		same("the buyer's", list(w.Buyer, trade.DealFilter{}), []string{mine[2], mine[1], mine[0]})
		same("the other buyer's", list(w.Abroad, trade.DealFilter{}), []string{theirs.ID})
		all := []string{theirs.ID, mine[2], mine[1], mine[0]}
		same("the supplier's", list(w.Supplier, trade.DealFilter{}), all)
		same("the operator's", list(w.Operator, trade.DealFilter{}), all)
		// Paging goes on from the last id of a page.
		first := list(w.Buyer, trade.DealFilter{Limit: 2})
		same("the first page", first, []string{mine[2], mine[1]})
		same("the next page", list(w.Buyer, trade.DealFilter{Limit: 2, Before: first[1]}), []string{mine[0]})
		// By state: an offered deal.
		if _, err := w.Deals.Offer(ctx, w.Supplier, mine[1], 120_000); err != nil {
			t.Fatal(err)
		}
		same("the offered", list(w.Buyer, trade.DealFilter{State: trade.Offered}), []string{mine[1]})
		if _, err := w.Deals.Deals(ctx, w.Buyer, trade.DealFilter{State: "HAGGLING"}); dataport.KindOf(err) != dataport.KindInvalid {
			t.Errorf("an unknown state: %v", err)
		}
		if _, err := w.Deals.Deals(ctx, dataport.Actor{}, trade.DealFilter{}); dataport.KindOf(err) != dataport.KindUnauthorized {
			t.Errorf("anonymous: %v", err)
		}

		// The history: requested, offered, counter-requested, in order, with the
		// state and price each left.
		if _, err := w.Deals.CounterRequest(ctx, w.Buyer, mine[1], 110_000); err != nil {
			t.Fatal(err)
		}
		h, err := w.Deals.History(ctx, w.Buyer, mine[1])
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for i, e := range h {
			steps = append(steps, e.Type+" "+e.State)
			if i > 0 && e.Seq <= h[i-1].Seq || e.SHA256 == "" || e.At.IsZero() {
				t.Errorf("step %d: %+v", i, e)
			}
		}
		want := []string{"trade.requested REQUESTED", "trade.offered OFFERED", "trade.counter_requested REQUESTED"}
		if len(steps) < len(want) {
			t.Fatalf("history %v, want it to start %v", steps, want)
		}
		// The request's assessment may be filed between the steps: compare the moves.
		var moves []string
		for _, s := range steps {
			if s != "trade.assessed REQUESTED" {
				moves = append(moves, s)
			}
		}
		same("the history", moves, want)
		if last := h[len(h)-1]; last.Price.Amount != 110_000 || last.Actor != w.Buyer.ParticipantID {
			t.Errorf("the counter-request: %+v", last)
		}
		if _, err := w.Deals.History(ctx, w.Abroad, mine[1]); dataport.KindOf(err) != dataport.KindNotFound {
			t.Errorf("another buyer reads the history: %v", err)
		}
		if h, err := w.Deals.History(ctx, w.Operator, mine[1]); err != nil || len(h) != len(steps) {
			t.Errorf("the operator's history: %d %v", len(h), err)
		}
	})
}
