package catalog_test

import (
	"context"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// A buyer lists its own demands, newest first, open or closed; a supplier lists
// the open demands its listed products fit, with the explanation, and not the
// ones they do not fit or that are closed.
func TestDemandLists(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		credit := w.list(w.supplier, details())
		post := func(text, category string) catalog.Demand {
			t.Helper()
			d, err := w.cat.PostDemand(ctx, w.buyer, catalog.NewDemand{Text: text, Category: category, Currency: "CNY"})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		fits := post("小微企业信用评分", "")
		other := post("北海原油产量", "energy")
		closed := post("SME credit scoring", "")
		if _, err := w.cat.CloseDemand(ctx, w.buyer, closed.ID); err != nil {
			t.Fatal(err)
		}
		ids := func(ds []catalog.Demand, err error) []string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, d := range ds {
				out = append(out, d.ID)
			}
			return out
		}
		same := func(what string, got []string, want ...string) {
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
		same("the buyer's", ids(w.cat.Demands(ctx, w.buyer, catalog.DemandFilter{})), closed.ID, other.ID, fits.ID)
		same("the buyer's open", ids(w.cat.Demands(ctx, w.buyer, catalog.DemandFilter{Status: "open"})), other.ID, fits.ID)
		same("the operator's", ids(w.cat.Demands(ctx, w.operator, catalog.DemandFilter{Limit: 1})), closed.ID)
		same("the supplier's own", ids(w.cat.Demands(ctx, w.supplier, catalog.DemandFilter{})))
		if _, err := w.cat.Demands(ctx, w.buyer, catalog.DemandFilter{Status: "pending"}); dataport.KindOf(err) != dataport.KindInvalid {
			t.Errorf("an unknown status: %v", err)
		}

		got, err := w.cat.FittingDemands(ctx, w.supplier, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Demand.ID != fits.ID || len(got[0].Matches) != 1 || got[0].Matches[0].ProductID != credit.ID ||
			len(got[0].Matches[0].MatchedTerms) == 0 || got[0].Demand.Text != fits.Text {
			t.Fatalf("the supplier's fitting demands: %+v", got)
		}
		// The agent manages no product here: none fit; a buyer may not ask.
		if got, err := w.cat.FittingDemands(ctx, w.agent, 10); err != nil || len(got) != 0 {
			t.Errorf("the agent's: %+v %v", got, err)
		}
		if _, err := w.cat.FittingDemands(ctx, w.buyer, 10); dataport.KindOf(err) != dataport.KindForbidden {
			t.Errorf("a buyer asks: %v", err)
		}
	})
}
