package catalog_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/piprate/json-gold/ld"
)

func (w *world) list(supplier dataport.Actor, d catalog.Details) catalog.Product {
	w.t.Helper()
	ctx := context.Background()
	p, err := w.cat.Create(ctx, supplier, catalog.NewProduct{SupplierID: supplier.ParticipantID, Details: d})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, step := range []func() (catalog.Product, error){
		func() (catalog.Product, error) { return w.cat.Submit(ctx, supplier, p.ID) },
		func() (catalog.Product, error) { return w.cat.StartReview(ctx, w.operator, p.ID) },
		func() (catalog.Product, error) { return w.cat.Approve(ctx, w.operator, p.ID) },
	} {
		if p, err = step(); err != nil {
			w.t.Fatal(err)
		}
	}
	return p
}

func (w *world) search(q catalog.SearchQuery) []string {
	w.t.Helper()
	res, err := w.cat.Search(context.Background(), w.buyer, q)
	if err != nil {
		w.t.Fatal(err)
	}
	var ids []string
	for _, h := range res.Items {
		ids = append(ids, h.Product.ID)
	}
	return ids
}

func TestSearch(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		credit := details() // 小微企业信用评分 / SME credit scoring
		oil := details()
		oil.Title = dataport.Bilingual{Zh: "北海原油产量数据", En: "North Sea oil production score"}
		oil.Summary = dataport.Bilingual{En: "Monthly output of oil fields"}
		oil.Category, oil.Type, oil.Tags = "energy", "report", []string{"oil", "石油"}
		ship := details()
		ship.Title = dataport.Bilingual{Zh: "集装箱航运指数", En: "Container shipping index"}
		ship.Category, ship.Tags = "shipping", []string{"freight"}
		ship.Summary = dataport.Bilingual{Zh: "全球集装箱运价", En: "Global container freight rates"}
		pc := w.list(w.supplier, credit)
		po := w.list(w.supplier, oil)
		ps := w.list(w.supplier, ship)

		if got := w.search(catalog.SearchQuery{Q: "信用"}); len(got) != 1 || got[0] != pc.ID {
			t.Fatalf("信用: %v", got)
		}
		if got := w.search(catalog.SearchQuery{Q: "油"}); len(got) != 1 || got[0] != po.ID {
			t.Fatalf("油: %v", got)
		}
		// "score" in the oil title (weighted) ranks above "scoring" in the credit title? Both match.
		got := w.search(catalog.SearchQuery{Q: "score"})
		if len(got) != 2 {
			t.Fatalf("score: %v", got)
		}
		if got := w.search(catalog.SearchQuery{Q: "scoring", Category: "finance"}); len(got) != 1 || got[0] != pc.ID {
			t.Fatalf("scoring in finance: %v", got)
		}
		if got := w.search(catalog.SearchQuery{Q: "shipping 指数"}); len(got) != 1 || got[0] != ps.ID {
			t.Fatalf("shipping 指数: %v", got)
		}
		oilOnly := w.search(catalog.SearchQuery{DeliveryMode: "api", Currency: "CNY", PriceMax: 1_200_000})
		if len(oilOnly) != 3 {
			t.Fatalf("api at most 12,000 CNY a month: %v", oilOnly)
		}
		if got := w.search(catalog.SearchQuery{Currency: "CNY", PriceMin: 1_200_001}); len(got) != 0 {
			t.Fatalf("price above every plan: %v", got)
		}
		if got := w.search(catalog.SearchQuery{DeliveryMode: "sandbox"}); len(got) != 0 {
			t.Fatalf("sandbox: %v", got)
		}
		facets, _ := w.cat.Search(ctx, w.buyer, catalog.SearchQuery{})
		if facets.Facets["delivery_mode"]["api"] != 3 || facets.Facets["origin"]["CN"] != 3 || facets.Facets["supplier"][w.supplier.ParticipantID] != 3 {
			t.Fatalf("facets: %v", facets.Facets)
		}
		if got := w.search(catalog.SearchQuery{Q: "credit oil"}); len(got) != 0 {
			t.Fatalf("every term must match: %v", got)
		}
		if got := w.search(catalog.SearchQuery{}); len(got) != 3 || got[0] != ps.ID {
			t.Fatalf("newest first: %v", got)
		}
		res, _ := w.cat.Search(ctx, w.buyer, catalog.SearchQuery{Q: "信用", Limit: 1})
		if !strings.Contains(res.Items[0].Snippet, "<mark>信用</mark>") || res.Facets["category"]["finance"] != 1 {
			t.Fatalf("snippet %q, facets %v", res.Items[0].Snippet, res.Facets)
		}
		page1, _ := w.cat.Search(ctx, w.buyer, catalog.SearchQuery{Limit: 2})
		page2, _ := w.cat.Search(ctx, w.buyer, catalog.SearchQuery{Limit: 2, After: page1.Next})
		if page1.Total != 3 || len(page1.Items) != 2 || len(page2.Items) != 1 || page2.Next != "" {
			t.Fatalf("paging: %d+%d of %d", len(page1.Items), len(page2.Items), page1.Total)
		}

		// A suspended supplier's products vanish at once, and return on resume.
		w.reg.Suspend(ctx, w.operator, w.supplier.ParticipantID, "investigation")
		if got := w.search(catalog.SearchQuery{}); len(got) != 0 {
			t.Fatalf("suspended supplier's products found: %v", got)
		}
		w.reg.Resume(ctx, w.operator, w.supplier.ParticipantID, "")
		if got := w.search(catalog.SearchQuery{Q: "信用"}); len(got) != 1 {
			t.Fatalf("after resume: %v", got)
		}
		// A suspended or delisted product is not found.
		w.cat.Suspend(ctx, w.operator, pc.ID, "complaint")
		if got := w.search(catalog.SearchQuery{Q: "信用"}); len(got) != 0 {
			t.Fatalf("suspended product found: %v", got)
		}
		w.cat.Resume(ctx, w.operator, pc.ID)
		w.cat.Delist(ctx, w.supplier, pc.ID)
		if got := w.search(catalog.SearchQuery{Q: "信用"}); len(got) != 0 {
			t.Fatalf("delisted product found: %v", got)
		}
		_, err := w.cat.Search(ctx, w.buyer, catalog.SearchQuery{Q: strings.Repeat("数", 201)})
		kind(t, err, dataport.KindInvalid)
		_, err = w.cat.Search(ctx, w.buyer, catalog.SearchQuery{PriceMax: 5})
		kind(t, err, dataport.KindInvalid)
	})
}

func TestDCATExport(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		w := setup(t, engine)
		ctx := context.Background()
		var listed []string
		for i, title := range []string{"信用评分", "原油产量", "航运指数"} {
			d := details()
			d.Title.Zh = title
			d.Tags = []string{"t" + string(rune('a'+i))}
			listed = append(listed, w.list(w.supplier, d).ID)
		}
		draft, _ := w.cat.Create(ctx, w.supplier, catalog.NewProduct{SupplierID: w.supplier.ParticipantID, Details: details()})
		doc, more, err := w.cat.DCATPage(ctx, "https://exchange.example", 1, 2)
		if err != nil || !more {
			t.Fatalf("page 1: more %v, %v", more, err)
		}
		doc2, more2, _ := w.cat.DCATPage(ctx, "https://exchange.example", 2, 2)
		if more2 {
			t.Fatal("a third page")
		}
		// A JSON-LD processor expands both pages into exactly one dcat:Dataset per
		// listed product, and none for the draft.
		seen := map[string]bool{}
		for _, d := range []map[string]any{doc, doc2} {
			raw, _ := json.Marshal(d)
			var in any
			json.Unmarshal(raw, &in)
			expanded, err := ld.NewJsonLdProcessor().Expand(in, ld.NewJsonLdOptions(""))
			if err != nil {
				t.Fatalf("expand: %v", err)
			}
			var walk func(v any)
			walk = func(v any) {
				switch x := v.(type) {
				case []any:
					for _, e := range x {
						walk(e)
					}
				case map[string]any:
					if types, ok := x["@type"].([]any); ok {
						for _, ty := range types {
							if ty == "http://www.w3.org/ns/dcat#Dataset" {
								seen[x["@id"].(string)] = true
							}
						}
					}
					for _, e := range x {
						walk(e)
					}
				}
			}
			walk(expanded)
		}
		if len(seen) != 3 {
			t.Fatalf("%d datasets: %v", len(seen), seen)
		}
		for _, id := range listed {
			if !seen["https://exchange.example/api/v1/products/"+id] {
				t.Fatalf("%s missing", id)
			}
		}
		if seen["https://exchange.example/api/v1/products/"+draft.ID] {
			t.Fatal("a draft was exported")
		}
	})
}

// TestSearchAcrossServers: two catalog services on one database stand for two
// servers. Each keeps its own in-memory index and follows the other's changes
// through search_entries; an emptied search_entries table is rebuilt from the
// listed products.
func TestSearchAcrossServers(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		defer catalog.SetCatchUpPage(1)() // every change crosses a page boundary
		w := setup(t, engine)
		ctx := context.Background()
		other := catalog.New(w.db, w.reg, w.blobs, nil)
		count := func(c *catalog.Service, q string) int {
			t.Helper()
			res, err := c.Search(ctx, w.buyer, catalog.SearchQuery{Q: q})
			if err != nil {
				t.Fatal(err)
			}
			return res.Total
		}
		if n := count(other, "信用"); n != 0 { // loads an empty index
			t.Fatalf("before listing: %d", n)
		}
		p := w.list(w.supplier, details())
		if n := count(other, "信用"); n != 1 {
			t.Fatalf("the other server does not find the new listing: %d", n)
		}
		if _, err := w.cat.Suspend(ctx, w.operator, p.ID, "complaint"); err != nil {
			t.Fatal(err)
		}
		if n := count(other, "信用"); n != 0 {
			t.Fatalf("the other server still finds the suspended product: %d", n)
		}
		if _, err := w.cat.Resume(ctx, w.operator, p.ID); err != nil {
			t.Fatal(err)
		}
		second := details()
		second.Title = dataport.Bilingual{Zh: "企业信用报告", En: "Company credit reports"}
		w.list(w.supplier, second)
		if n := count(other, "信用"); n != 2 {
			t.Fatalf("after resume and a second listing: %d", n)
		}

		// An emptied table (a database from before the in-memory index) is rebuilt.
		if err := w.db.WriteDerived(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(`DELETE FROM search_entries`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		fresh := catalog.New(w.db, w.reg, w.blobs, nil)
		if n := count(fresh, "信用"); n != 2 {
			t.Fatalf("after the rebuild: %d", n)
		}
		if n := count(fresh, "reports"); n != 1 {
			t.Fatalf("reports after the rebuild: %d", n)
		}
	})
}
