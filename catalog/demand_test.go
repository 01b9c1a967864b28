package catalog_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

func TestDemandMatching(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		_, err := w.cat.PostDemand(ctx, w.supplier, catalog.NewDemand{Text: "信用评分", Currency: "CNY"})
		kind(t, err, dataport.KindForbidden)
		_, err = w.cat.PostDemand(ctx, w.buyer, catalog.NewDemand{Text: "信用评分", Currency: "yuan", Jurisdictions: []string{"XX"}})
		kind(t, err, dataport.KindInvalid)
		if n := len(dataport.FieldsOf(err)); n != 2 {
			t.Fatalf("problems: %v", dataport.FieldsOf(err))
		}
		demand, err := w.cat.PostDemand(ctx, w.buyer, catalog.NewDemand{Text: "需要小微企业信用评分数据 for SME credit risk",
			Category: "finance", Currency: "CNY", BudgetMax: 1_500_000, Jurisdictions: []string{"CN"}, DeliveryMode: "api"})
		if err != nil {
			t.Fatal(err)
		}
		// A product in another category does not fit; the credit product does.
		oil := details()
		oil.Title = dataport.Bilingual{Zh: "北海原油产量", En: "North Sea crude output"}
		oil.Category, oil.Tags, oil.Summary = "energy", []string{"oil"}, dataport.Bilingual{En: "oil output"}
		w.list(w.supplier, oil)
		inbox, _ := notify.Inbox(ctx, w.db, w.buyer, 10)
		if len(inbox) != 0 {
			t.Fatalf("a non-fitting listing notified the buyer: %s", inbox[0].Payload)
		}
		credit := w.list(w.supplier, details())
		inbox, err = notify.Inbox(ctx, w.db, w.buyer, 10)
		if err != nil || len(inbox) != 1 || inbox[0].Kind != "demand.matched" {
			t.Fatalf("inbox: %v %v", inbox, err)
		}
		var note struct {
			DemandID string        `json:"demand_id"`
			Match    catalog.Match `json:"match"`
		}
		json.Unmarshal(inbox[0].Payload, &note)
		if note.DemandID != demand.ID || note.Match.ProductID != credit.ID || len(note.Match.MatchedTerms) == 0 || len(note.Match.Reasons) != 4 {
			t.Fatalf("notification: %+v", note)
		}
		if !strings.Contains(strings.Join(note.Match.MatchedTerms, " "), "信用") {
			t.Fatalf("explanation lacks 信用: %v", note.Match.MatchedTerms)
		}
		// The matcher ranks the listed products for the demand, with the same reasons.
		ms, err := w.cat.Matches(ctx, w.buyer, demand.ID, 10)
		if err != nil || len(ms) != 1 || ms[0].ProductID != credit.ID {
			t.Fatalf("matches: %+v %v", ms, err)
		}
		_, err = w.cat.Matches(ctx, w.supplier, demand.ID, 10)
		kind(t, err, dataport.KindNotFound)

		// Both sides hear of a match: the supplier is told which demand wants its
		// product, with the demand and the same explanation.
		supplierBox, _ := notify.Inbox(ctx, w.db, w.supplier, 10)
		if len(supplierBox) != 1 || supplierBox[0].Kind != "product.fits_demand" {
			t.Fatalf("supplier inbox: %v", supplierBox)
		}
		var fits struct {
			ProductID string `json:"product_id"`
			Demand    struct {
				ID, Text string
			} `json:"demand"`
			Match catalog.Match `json:"match"`
		}
		json.Unmarshal(supplierBox[0].Payload, &fits)
		if fits.ProductID != credit.ID || fits.Demand.ID != demand.ID || fits.Demand.Text != demand.Text || len(fits.Match.Reasons) != 4 {
			t.Fatalf("supplier notification: %s", supplierBox[0].Payload)
		}
		// A demand posted when fitting products are already listed: both sides hear
		// of it at once.
		later, err := w.cat.PostDemand(ctx, w.buyer, catalog.NewDemand{Text: "SME credit scoring", Currency: "CNY"})
		if err != nil {
			t.Fatal(err)
		}
		supplierBox, _ = notify.Inbox(ctx, w.db, w.supplier, 10)
		if len(supplierBox) != 2 || !strings.Contains(string(supplierBox[0].Payload), later.ID) {
			t.Fatalf("supplier inbox after a new demand: %v", supplierBox)
		}
		inbox, _ = notify.Inbox(ctx, w.db, w.buyer, 10)
		if len(inbox) != 2 || !strings.Contains(string(inbox[0].Payload), later.ID) || !strings.Contains(string(inbox[0].Payload), credit.ID) {
			t.Fatalf("buyer inbox after a new demand: %v", inbox)
		}
	})
}

func TestQuotes(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		p := w.list(w.supplier, details())
		demand, err := w.cat.PostDemand(ctx, w.buyer, catalog.NewDemand{Text: "信用评分", Currency: "CNY"})
		if err != nil {
			t.Fatal(err)
		}
		price := dataport.Money{Amount: 900_000, Currency: "CNY"}
		_, err = w.cat.MakeQuote(ctx, w.supplier, demand.ID, catalog.NewQuote{ProductID: p.ID, Price: dataport.Money{Amount: -1, Currency: "CNY"}})
		kind(t, err, dataport.KindInvalid)
		_, err = w.cat.MakeQuote(ctx, w.agent, demand.ID, catalog.NewQuote{ProductID: p.ID, Price: price})
		kind(t, err, dataport.KindInvalid) // not the agent's product
		q, err := w.cat.MakeQuote(ctx, w.supplier, demand.ID, catalog.NewQuote{ProductID: p.ID, Price: price, Message: "首年九折"})
		if err != nil || q.Status != "open" {
			t.Fatalf("quote: %+v %v", q, err)
		}
		inbox, _ := notify.Inbox(ctx, w.db, w.buyer, 10)
		if len(inbox) == 0 || inbox[0].Kind != "quote.received" {
			t.Fatalf("buyer inbox: %v", inbox)
		}
		_, err = w.cat.DecideQuote(ctx, w.supplier, q.ID, true)
		kind(t, err, dataport.KindNotFound)
		if q, err = w.cat.DecideQuote(ctx, w.buyer, q.ID, true); err != nil || q.Status != "accepted" {
			t.Fatalf("accept: %+v %v", q, err)
		}
		_, err = w.cat.DecideQuote(ctx, w.buyer, q.ID, false)
		kind(t, err, dataport.KindConflict)
		inbox, _ = notify.Inbox(ctx, w.db, w.supplier, 10)
		if len(inbox) == 0 || inbox[0].Kind != "quote.accepted" {
			t.Fatalf("supplier inbox: %v", inbox)
		}
		qs, err := w.cat.Quotes(ctx, w.buyer, demand.ID)
		if err != nil || len(qs) != 1 || qs[0].Message != "首年九折" {
			t.Fatalf("quotes: %v %v", qs, err)
		}
		if _, err := w.cat.CloseDemand(ctx, w.buyer, demand.ID); err != nil {
			t.Fatal(err)
		}
		_, err = w.cat.MakeQuote(ctx, w.supplier, demand.ID, catalog.NewQuote{ProductID: p.ID, Price: price})
		kind(t, err, dataport.KindConflict)
	})
}
