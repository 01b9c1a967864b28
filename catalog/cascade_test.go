package catalog_test

import (
	"context"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// Suspending an agent suspends the listings it acts for; resuming restores exactly
// those. A listing the operator suspended on its own stays suspended, and one whose
// other party is still suspended stays held.
func TestSuspensionCascade(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		foreign := details()
		foreign.OriginJurisdiction = "NO"
		listThrough := func() catalog.Product {
			p, err := w.cat.Create(ctx, w.agent, catalog.NewProduct{SupplierID: w.foreign.ID, Details: foreign})
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range []func() (catalog.Product, error){
				func() (catalog.Product, error) { return w.cat.Submit(ctx, w.agent, p.ID) },
				func() (catalog.Product, error) { return w.cat.StartReview(ctx, w.operator, p.ID) },
				func() (catalog.Product, error) { return w.cat.Approve(ctx, w.operator, p.ID) },
			} {
				if p, err = step(); err != nil {
					t.Fatal(err)
				}
			}
			return p
		}
		a, b := listThrough(), listThrough()
		own := w.list(w.supplier, details())
		if _, err := w.cat.Suspend(ctx, w.operator, b.ID, "complaint"); err != nil {
			t.Fatal(err)
		}
		status := func(id string) catalog.Product {
			p, err := w.cat.Get(ctx, w.operator, id)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}

		if _, err := w.reg.Suspend(ctx, w.operator, w.agent.ParticipantID, "licence under review"); err != nil {
			t.Fatal(err)
		}
		if p := status(a.ID); p.Status != catalog.Suspended || p.Suspension.By != "cascade:"+w.agent.ParticipantID {
			t.Fatalf("the agent's listing after its suspension: %+v", p)
		}
		if p := status(own.ID); p.Status != catalog.Listed {
			t.Fatalf("another supplier's listing: %s", p.Status)
		}
		if ids := w.search(catalog.SearchQuery{Q: "信用"}); len(ids) != 1 || ids[0] != own.ID {
			t.Fatalf("search during the suspension: %v", ids)
		}
		_, err := w.cat.Resume(ctx, w.operator, a.ID)
		kind(t, err, dataport.KindConflict) // held by the agent's suspension

		// The foreign supplier is suspended too; resuming the agent leaves the listing
		// held by the supplier's suspension.
		if _, err := w.reg.Suspend(ctx, w.operator, w.foreign.ID, "sanctions check"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.reg.Resume(ctx, w.operator, w.agent.ParticipantID, ""); err != nil {
			t.Fatal(err)
		}
		if p := status(a.ID); p.Status != catalog.Suspended || p.Suspension.By != "cascade:"+w.foreign.ID {
			t.Fatalf("held by the supplier: %+v", p.Suspension)
		}
		if _, err := w.reg.Resume(ctx, w.operator, w.foreign.ID, ""); err != nil {
			t.Fatal(err)
		}
		if p := status(a.ID); p.Status != catalog.Listed || p.Suspension != nil {
			t.Fatalf("after both resumed: %+v", p)
		}
		if p := status(b.ID); p.Status != catalog.Suspended || p.Suspension.By != w.operator.ParticipantID {
			t.Fatalf("the operator's own suspension was lifted by the cascade: %+v", p)
		}
		if ids := w.search(catalog.SearchQuery{Q: "信用"}); len(ids) != 2 {
			t.Fatalf("search after resuming: %v", ids)
		}
		// Every step of the cascade is filed.
		var fs []ledger.Filing
		w.db.Read(ctx, func(tx *store.Tx) error {
			fs, err = ledger.List(tx, ledger.Filter{Subject: a.ID})
			return err
		})
		var events []string
		for _, f := range fs {
			events = append(events, f.Type)
		}
		want := []string{"product.suspended", "product.suspension_held", "product.resumed"}
		if got := events[len(events)-3:]; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("filed %v, want it to end %v", events, want)
		}
	})
}
