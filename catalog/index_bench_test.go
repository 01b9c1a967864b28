package catalog

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport/catalog/search"
)

// BenchmarkIndexOnly measures the in-memory index alone (no database): building it
// from analysed products, and answering the benchmark's queries.
// DATAPORT_BENCH_PRODUCTS sets the size (20000).
func BenchmarkIndexOnly(b *testing.B) {
	n := envInt("DATAPORT_BENCH_PRODUCTS", 20_000)
	docs := make([]search.Doc, n)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			g := newSynthetic(uint64(w) + 1)
			for i := w; i < n; i += 2 {
				p := Product{ID: fmt.Sprintf("prd_%09d", i), SupplierID: fmt.Sprintf("sup%d", i%300), Details: g.details(), UpdatedAt: base.Add(time.Duration(i) * time.Second)}
				e := entryOf(&p)
				docs[i] = e.doc()
			}
		})
	}
	wg.Wait()
	idx := search.NewIndex("delivery_mode", indexFields...)
	start := time.Now()
	for i := 0; i < len(docs); i += 4096 {
		idx.Apply(docs[i:min(i+4096, len(docs))], nil)
	}
	idx.Compact()
	docs = nil
	runtime.GC()
	b.Logf("%d products indexed in %s", n, time.Since(start))
	for _, q := range benchQueries {
		b.Run(q.name, func(b *testing.B) {
			req := search.Request{Terms: search.Query(q.q.Q), Fields: map[string]string{}, Tag: q.q.DeliveryMode, Newest: q.q.Sort == "newest", Limit: 20, Facets: true,
				Hide: map[string][]string{"supplier": {"sup7"}}}
			if q.q.Category != "" {
				req.Fields["category"] = q.q.Category
			}
			if q.q.Type != "" {
				req.Fields["type"] = q.q.Type
			}
			if q.q.Jurisdiction != "" {
				req.Fields["origin"] = q.q.Jurisdiction
			}
			if q.q.Currency != "" {
				req.Unit, req.Max = q.q.Currency, q.q.PriceMax
			}
			var total int
			for b.Loop() {
				total = idx.Search(req).Total
			}
			b.ReportMetric(float64(total), "matches")
		})
	}
}

// BenchmarkAnalyzeProduct is the write side of indexing: a product's terms, weighted.
func BenchmarkAnalyzeProduct(b *testing.B) {
	g := newSynthetic(1)
	ps := make([]Product, 1000)
	for i := range ps {
		ps[i] = Product{ID: fmt.Sprintf("prd_%09d", i), Details: g.details()}
	}
	i := 0
	for b.Loop() {
		entryOf(&ps[i%len(ps)])
		i++
	}
}
