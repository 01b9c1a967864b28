package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/gowebpki/jcs"
)

// BenchmarkSearchScale loads a synthetic catalog and measures search the way the API
// runs it (catch-up, index, facets, the page's products read from the database),
// side by side with a plain LIKE scan answering the same queries. Sizes and
// repetitions come from the environment, so the same benchmark runs small by default
// and at a million products for BENCHMARKS.md:
//
//	DATAPORT_BENCH_PRODUCTS     products on SQLite (20000)
//	DATAPORT_BENCH_PRODUCTS_PG  products on PostgreSQL (20000)
//	DATAPORT_BENCH_QUERIES      timed runs of each query (200)
//	DATAPORT_BENCH_LIKE_QUERIES timed runs of each LIKE query (2)
//
// Run it with -benchtime 1x: each query's repetitions are counted here, and p50/p99
// are reported as metrics.
func BenchmarkSearchScale(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		n := envInt("DATAPORT_BENCH_PRODUCTS", 20_000)
		if engine == store.Postgres {
			n = envInt("DATAPORT_BENCH_PRODUCTS_PG", 20_000)
		}
		ctx := context.Background()
		db := storetest.Open(b, engine, store.Options{})
		reg := registry.New(db)
		_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "基准交易所"}})
		if err != nil {
			b.Fatal(err)
		}
		operator, _ := reg.Authenticate(ctx, token)
		suppliers, agents := benchParticipants(b, reg, operator)
		svc := New(db, reg, nil, nil) // bulk-loaded products cite no uploaded attachments

		start := time.Now()
		loadSynthetic(b, db, n, suppliers, agents)
		write := time.Since(start)
		b.ReportMetric(float64(n)/write.Seconds(), "written_products/s")

		start = time.Now()
		if _, _, err := svc.searchIndex(ctx); err != nil {
			b.Fatal(err)
		}
		load := time.Since(start)
		b.ReportMetric(float64(n)/load.Seconds(), "indexed_products/s")
		runtime.GC()
		st := svc.live.idx.Stats()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(rss())/(1<<20), "rss_MB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap_MB")
		fmt.Printf("%s: %d products, %d terms, %d postings (%.1f per product); written in %s (%.0f/s), index built in %s (%.0f/s); RSS %d MB, heap %d MB\n",
			engine, st.Docs, st.Terms, st.Postings, float64(st.Postings)/float64(max(st.Docs, 1)), write.Round(time.Millisecond), float64(n)/write.Seconds(),
			load.Round(time.Millisecond), float64(n)/load.Seconds(), rss()>>20, ms.HeapInuse>>20)

		buyer := dataport.Actor{ParticipantID: operator.ParticipantID, Roles: []dataport.Role{dataport.RoleBuyer}}
		iters := envInt("DATAPORT_BENCH_QUERIES", 200)
		likeIters := envInt("DATAPORT_BENCH_LIKE_QUERIES", 2)
		for _, q := range benchQueries {
			b.Run("index/"+q.name, func(b *testing.B) {
				var total int
				lat := measure(iters, func() {
					res, err := svc.Search(ctx, buyer, q.q)
					if err != nil {
						b.Fatal(err)
					}
					total = res.Total
				})
				report(b, lat, total)
			})
		}
		for _, q := range benchQueries {
			b.Run("like/"+q.name, func(b *testing.B) {
				var total int
				lat := make([]time.Duration, likeIters) // no warm-up: a scan reads everything anyway
				for i := range lat {
					start := time.Now()
					total = likeSearch(b, db, q.q)
					lat[i] = time.Since(start)
				}
				slices.Sort(lat)
				report(b, lat, total)
			})
		}
	})
}

type benchQuery struct {
	name string
	q    SearchQuery
}

var benchQueries = []benchQuery{
	{"zh1-数据", SearchQuery{Q: "数据"}},
	{"zh1-信用", SearchQuery{Q: "信用"}},
	{"zh1-油", SearchQuery{Q: "油"}},
	{"zh2-航运指数", SearchQuery{Q: "航运 指数"}},
	{"zh3-集装箱航运指数", SearchQuery{Q: "集装箱 航运 指数"}},
	{"en1-data", SearchQuery{Q: "data"}},
	{"en1-scoring", SearchQuery{Q: "scoring"}},
	{"en2-container-shipping", SearchQuery{Q: "container shipping"}},
	{"en3-global-container-freight", SearchQuery{Q: "global container freight"}},
	{"zh1-数据+finance", SearchQuery{Q: "数据", Category: "finance"}},
	{"zh2-信用评分+CN", SearchQuery{Q: "信用 评分", Jurisdiction: "CN"}},
	{"en1-data+api+price", SearchQuery{Q: "data", Type: "api", Currency: "CNY", PriceMax: 1_000_000}},
	{"en2-credit-risk+file", SearchQuery{Q: "credit risk", DeliveryMode: "file"}},
	{"zh1-数据-newest", SearchQuery{Q: "数据", Sort: "newest"}},
	{"browse-energy+api", SearchQuery{Category: "energy", DeliveryMode: "api"}},
}

func measure(n int, fn func()) []time.Duration {
	fn() // warm
	lat := make([]time.Duration, n)
	for i := range lat {
		start := time.Now()
		fn()
		lat[i] = time.Since(start)
	}
	slices.Sort(lat)
	return lat
}

func report(b *testing.B, lat []time.Duration, total int) {
	pct := func(p float64) float64 {
		i := min(int(p*float64(len(lat))), len(lat)-1)
		return float64(lat[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(total), "matches")
}

// likeSearch is the baseline: the same query as substring matches over each listed
// revision's details, every match read to count the facets, the 20 newest returned
// with their products. (Substrings stand in for the analyzer: 航运 matches 航运,
// "scor" would be needed for "scoring" to find "score".)
func likeSearch(b *testing.B, db *store.DB, q SearchQuery) int {
	var total int
	err := db.Read(context.Background(), func(tx *store.Tx) error {
		var args []any
		arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
		where := []string{"e.live = 1", "s.status = 'active'"}
		for _, w := range strings.Fields(strings.ToLower(q.Q)) {
			where = append(where, "LOWER(r.details) LIKE "+arg("%"+w+"%"))
		}
		for col, v := range map[string]string{"e.type": q.Type, "e.category": q.Category, "e.origin": q.Jurisdiction} {
			if v != "" {
				where = append(where, col+" = "+arg(v))
			}
		}
		if q.DeliveryMode != "" {
			where = append(where, "e.modes LIKE "+arg("%,"+q.DeliveryMode+",%"))
		}
		if q.Currency != "" {
			where = append(where, "e.currency = "+arg(q.Currency), "e.price_min >= "+arg(q.PriceMin))
			if q.PriceMax > 0 {
				where = append(where, "e.price_min <= "+arg(q.PriceMax))
			}
		}
		rows, err := tx.Query(`SELECT e.product_id, e.type, e.category, e.origin, e.grade, e.supplier_id, e.modes, e.listed_at
			FROM search_entries e JOIN products p ON p.id = e.product_id
			JOIN product_revisions r ON r.product_id = p.id AND r.revision = p.listed_revision
			JOIN participants s ON s.id = e.supplier_id WHERE `+strings.Join(where, " AND "), args...)
		if err != nil {
			return err
		}
		type row struct{ id, listedAt string }
		var found []row
		facets := map[string]map[string]int{"type": {}, "category": {}, "origin": {}, "grade": {}, "supplier": {}, "delivery_mode": {}}
		for rows.Next() {
			var id, typ, cat, origin, grade, supplier, modes, listedAt string
			if err := rows.Scan(&id, &typ, &cat, &origin, &grade, &supplier, &modes, &listedAt); err != nil {
				rows.Close()
				return err
			}
			found = append(found, row{id, listedAt})
			facets["type"][typ]++
			facets["category"][cat]++
			facets["origin"][origin]++
			facets["grade"][grade]++
			facets["supplier"][supplier]++
			for _, m := range strings.Split(strings.Trim(modes, ","), ",") {
				facets["delivery_mode"][m]++
			}
		}
		rows.Close()
		slices.SortFunc(found, func(a, b row) int { return strings.Compare(b.listedAt+b.id, a.listedAt+a.id) })
		var page []string
		for _, r := range found[:min(20, len(found))] {
			page = append(page, r.id)
		}
		if _, err := listedProducts(tx, "bench", page); err != nil {
			return err
		}
		total = len(found)
		return rows.Err()
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}

func benchParticipants(b *testing.B, reg *registry.Service, operator dataport.Actor) (suppliers, agents []string) {
	ctx := context.Background()
	for i := 0; len(suppliers) < 250; i++ {
		code, err := registry.CompleteUSCC(fmt.Sprintf("91310000%08dX", 10_000_000+i*7919)[:17])
		if err != nil {
			continue
		}
		p, err := reg.CreateParticipant(ctx, operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: fmt.Sprintf("数据供应商%03d有限公司", i)},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: []dataport.Role{dataport.RoleSupplier}})
		if err != nil {
			continue
		}
		suppliers = append(suppliers, p.ID)
	}
	for i := range 5 {
		code, err := registry.CompleteUSCC(fmt.Sprintf("91310101%08dX", 20_000_000+i*104729)[:17])
		if err != nil {
			b.Fatal(err)
		}
		p, err := reg.CreateParticipant(ctx, operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: fmt.Sprintf("国际数据代理%d有限公司", i)},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: []dataport.Role{dataport.RoleAgent}})
		if err != nil {
			b.Fatal(err)
		}
		agents = append(agents, p.ID)
	}
	for i := range 50 {
		p, err := reg.CreateParticipant(ctx, operator, registry.NewParticipant{LegalName: dataport.Bilingual{En: fmt.Sprintf("Open Data Provider %d Ltd", i)},
			Jurisdiction: []string{"NO", "GB", "US", "DE", "SG"}[i%5], Kind: registry.Foreign, RegistrationNumber: fmt.Sprintf("F%08d", i),
			Roles: []dataport.Role{dataport.RoleSupplier}})
		if err != nil {
			b.Fatal(err)
		}
		suppliers = append(suppliers, p.ID) // the last 50 are foreign
	}
	return suppliers, agents
}

// loadSynthetic writes n listed products straight into the catalog's tables: the
// product, its revision and its search entry, as a listing would, but without the
// workflow and its filings (this is a throwaway benchmark database). Two goroutines
// generate and analyse; one writes.
func loadSynthetic(b *testing.B, db *store.DB, n int, suppliers, agents []string) {
	type item struct {
		p       Product
		details string
		e       entry
	}
	const batch = 500
	batches := make(chan []item, 4)
	var wg sync.WaitGroup
	workers := 2
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newSynthetic(uint64(w) + 1)
			for first := w * batch; first < n; first += workers * batch {
				items := make([]item, 0, batch)
				for i := first; i < min(first+batch, n); i++ {
					d := g.details()
					s := suppliers[(i*7)%len(suppliers)]
					agent := ""
					if (i*7)%len(suppliers) >= len(suppliers)-50 {
						agent = agents[i%len(agents)]
					}
					at := base.Add(time.Duration(i) * 10 * time.Second)
					p := Product{ID: fmt.Sprintf("prd_bench%09d", i), SupplierID: s, AgentID: agent, Status: Listed, Revision: 1,
						LatestRevision: 1, ListedRevision: 1, RegistrationNumber: fmt.Sprintf("DP-2026-%07d", i+1), RegisteredAt: at,
						Details: d, CreatedAt: at, UpdatedAt: at, Version: 4}
					raw, _ := json.Marshal(d)
					canon, err := jcs.Transform(raw)
					if err != nil {
						panic(err)
					}
					items = append(items, item{p: p, details: string(canon), e: entryOf(&p)})
				}
				batches <- items
			}
		}()
	}
	go func() { wg.Wait(); close(batches) }()
	for items := range batches {
		err := db.WriteDerived(context.Background(), func(tx *store.Tx) error {
			for start := 0; start < len(items); start += 100 {
				part := items[start:min(start+100, len(items))]
				var pq, rq strings.Builder
				var pargs, rargs []any
				for i, it := range part {
					if i > 0 {
						pq.WriteString(", ")
						rq.WriteString(", ")
					}
					p := it.p
					at := store.FormatTime(p.UpdatedAt)
					k := len(pargs)
					fmt.Fprintf(&pq, "($%d, $%d, $%d, 'listed', 1, 1, $%d, $%d, '[]', '', '', '', $%d, $%d, 4)", k+1, k+2, k+3, k+4, k+5, k+6, k+7)
					pargs = append(pargs, p.ID, p.SupplierID, nullable(p.AgentID), p.RegistrationNumber, at, at, at)
					sum := sha256.Sum256([]byte(it.details))
					k = len(rargs)
					fmt.Fprintf(&rq, "($%d, 1, $%d, $%d, $%d, 'bench')", k+1, k+2, k+3, k+4)
					rargs = append(rargs, p.ID, it.details, hex.EncodeToString(sum[:]), at)
				}
				if _, err := tx.Exec(`INSERT INTO products (id, supplier_id, agent_id, status, latest_revision, listed_revision,
					registration_number, registered_at, review_reasons, suspended_reason, suspended_by, suspended_at,
					created_at, updated_at, version) VALUES `+pq.String(), pargs...); err != nil {
					return err
				}
				if _, err := tx.Exec(`INSERT INTO product_revisions (product_id, revision, details, sha256, created_at, created_by) VALUES `+rq.String(), rargs...); err != nil {
					return err
				}
				for _, it := range part {
					if err := putEntry(tx, 1, it.e); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// rss is the process's resident memory in bytes (Linux), or 0.
func rss() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
