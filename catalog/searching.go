package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog/search"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
)

// Search over listed products. The index lives in memory (catalog/search.Index:
// postings, facets, BM25 with block-max top-k); its durable copy is one row per
// product in search_entries, written in the same transaction as the listing change
// and numbered with that change's filing. Each search first applies the rows that
// changed since the last one it saw, so every server, on either engine, answers
// from the same committed state and a listing is searchable as soon as it commits.
// Products whose supplier or agent is suspended are left out at query time, so a
// suspension hides them at once and a resumption shows them again without
// reindexing.

// SearchQuery asks for listed products.
type SearchQuery struct {
	Q            string
	Type         string
	Category     string
	Jurisdiction string // origin jurisdiction
	Grade        string
	SupplierID   string
	DeliveryMode string
	Currency     string // with PriceMin/PriceMax: a plan price in this currency
	PriceMin     int64  // minor units
	PriceMax     int64  // minor units; 0: no upper bound
	Sort         string // "relevance" (default with a query) or "newest"
	After        string // the cursor of the previous page
	Limit        int    // 20 when 0, 100 at most
}

// MaxSearchDepth bounds how deep pages reach into one result list: past it a buyer
// narrows the search instead (a deep page costs a top-k as deep).
const MaxSearchDepth = 10_000

// Hit is one product found, as buyers see it.
type Hit struct {
	Product Product `json:"product"`
	Score   float64 `json:"score"`
	// Snippet is the title with the matched terms in <mark>, HTML-escaped.
	Snippet string `json:"snippet"`
}

// SearchResult is one page of hits with facet counts over all matches.
type SearchResult struct {
	Total  int                       `json:"total"`
	Items  []Hit                     `json:"items"`
	Next   string                    `json:"next,omitempty"`
	Facets map[string]map[string]int `json:"facets" doc:"counts over all matches, by type, category, origin, grade, supplier and delivery mode"`
}

const titleWeight = 3

// The index's keyword fields, in the order of search_entries' columns.
var indexFields = []string{"type", "category", "origin", "grade", "supplier", "agent"}

// entry is a product's row in search_entries.
type entry struct {
	productID, typ, category, origin, grade, supplier, agent, listedAt, modes, currency, terms string
	length, priceMin                                                                           int64
}

func entryOf(p *Product) entry {
	d := p.Details
	tf := make(map[string]int64, 256)
	var length int64
	add := func(text string, weight int64) {
		for _, t := range search.Analyze(text) {
			tf[t.Text] += weight
			length += weight
		}
	}
	add(d.Title.Zh+" "+d.Title.En, titleWeight)
	add(d.Summary.Zh+" "+d.Summary.En+" "+d.Description.Zh+" "+d.Description.En, 1)
	add(strings.Join(d.Tags, " ")+" "+d.Category+" "+d.Coverage, 1)
	price, currency := int64(-1), ""
	for _, plan := range d.PricePlans {
		if price < 0 || plan.Price.Amount < price {
			price, currency = plan.Price.Amount, plan.Price.Currency
		}
	}
	return entry{productID: p.ID, typ: d.Type, category: d.Category, origin: d.OriginJurisdiction, grade: d.Grade,
		supplier: p.SupplierID, agent: p.AgentID, listedAt: store.FormatTime(p.UpdatedAt),
		modes: "," + strings.Join(d.DeliveryModes, ",") + ",", currency: currency, priceMin: price,
		length: max(length, 1), terms: search.EncodeTerms(tf)}
}

func (e *entry) doc() search.Doc {
	var tags []string
	for _, m := range strings.Split(strings.Trim(e.modes, ","), ",") {
		if m != "" {
			tags = append(tags, m)
		}
	}
	return search.Doc{Key: e.productID, Order: e.listedAt, Encoded: e.terms, Length: e.length,
		Fields: []string{e.typ, e.category, e.origin, e.grade, e.supplier, e.agent}, Tags: tags, Amount: e.priceMin, Unit: e.currency}
}

// index makes a listed product's listed revision searchable, in tx.
func index(tx *store.Tx, p *Product) error {
	seq, err := ledger.Next(tx)
	if err != nil {
		return err
	}
	return putEntry(tx, seq, entryOf(p))
}

func putEntry(tx *store.Tx, seq int64, e entry) error {
	_, err := tx.Exec(`INSERT INTO search_entries (product_id, seq, live, length, type, category, origin, grade, supplier_id,
		agent_id, listed_at, modes, price_min, currency, terms) VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (product_id) DO UPDATE SET seq = excluded.seq, live = 1, length = excluded.length, type = excluded.type,
		category = excluded.category, origin = excluded.origin, grade = excluded.grade, supplier_id = excluded.supplier_id,
		agent_id = excluded.agent_id, listed_at = excluded.listed_at, modes = excluded.modes, price_min = excluded.price_min,
		currency = excluded.currency, terms = excluded.terms`,
		e.productID, seq, e.length, e.typ, e.category, e.origin, e.grade, e.supplier, e.agent, e.listedAt, e.modes, e.priceMin, e.currency, e.terms)
	return err
}

// unindex takes a product out of search, in tx.
func unindex(tx *store.Tx, id string) error {
	seq, err := ledger.Next(tx)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`UPDATE search_entries SET live = 0, seq = $2, terms = '' WHERE product_id = $1`, id, seq)
	return err
}

// catchUpPage is how many changed entries one catch-up query reads.
var catchUpPage = 1000

// liveIndex is this process's copy of the index and the last change it applied.
type liveIndex struct {
	mu     sync.Mutex
	idx    *search.Index
	seen   int64 // search_entries.seq of the last change applied
	loaded bool
}

const entryColumns = `product_id, seq, live, length, type, category, origin, grade, supplier_id, agent_id, listed_at, modes, price_min, currency, terms`

func scanEntry(rows *sql.Rows) (entry, int64, bool, error) {
	var e entry
	var seq, live int64
	err := rows.Scan(&e.productID, &seq, &live, &e.length, &e.typ, &e.category, &e.origin, &e.grade, &e.supplier, &e.agent,
		&e.listedAt, &e.modes, &e.priceMin, &e.currency, &e.terms)
	return e, seq, live == 1, err
}

// searchIndex returns the index brought up to the latest committed change, with
// the participants whose products are hidden (suspended), read in the same
// transaction.
func (s *Service) searchIndex(ctx context.Context) (*search.Index, []string, error) {
	const op = "catalog.searchIndex"
	li := s.live
	li.mu.Lock()
	defer li.mu.Unlock()
	if !li.loaded {
		if err := s.loadIndex(ctx); err != nil {
			return nil, nil, dataport.Internal(op, err)
		}
	}
	var hidden []string
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		// In pages along (seq, product_id): an ordered index range scan on both
		// engines, whatever plan a prepared statement gets.
		page := catchUpPage
		var puts []search.Doc
		var removes []string
		seq, after, from := li.seen+1, "", ">=" // every entry numbered li.seen is applied
		for {
			rows, err := tx.Query(`SELECT `+entryColumns+` FROM search_entries WHERE (seq, product_id) `+from+` ($1, $2)
				ORDER BY seq, product_id LIMIT `+strconv.Itoa(page), seq, after)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				e, s, live, err := scanEntry(rows)
				if err != nil {
					rows.Close()
					return err
				}
				if live {
					puts = append(puts, e.doc())
				} else {
					removes = append(removes, e.productID)
				}
				seq, after, from, n = s, e.productID, ">", n+1
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if n < page {
				break
			}
		}
		if len(puts)+len(removes) > 0 {
			li.idx.Apply(puts, removes)
		}
		if from == ">" { // something was read: seq is the last number applied
			li.seen = seq
		}
		var err error
		hidden, err = suspendedParticipants(tx)
		return err
	})
	if err != nil {
		return nil, nil, dataport.Internal(op, err)
	}
	return li.idx, hidden, nil
}

func suspendedParticipants(tx *store.Tx) ([]string, error) {
	rows, err := tx.Query(`SELECT id FROM participants WHERE status = 'suspended'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// loadIndex builds the index from search_entries: the rows up to the greatest
// number at the start, so that later changes arrive through the catch-up. When the
// table is empty but products are listed (a database from before the index moved to
// memory) it first rebuilds the rows from the listed revisions.
func (s *Service) loadIndex(ctx context.Context) error {
	li := s.live
	if err := s.rebuildEntries(ctx); err != nil {
		return err
	}
	idx := search.NewIndex("delivery_mode", indexFields...)
	var upTo int64
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM search_entries`).Scan(&upTo); err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT `+entryColumns+` FROM search_entries WHERE live = 1 AND seq <= $1 ORDER BY listed_at, product_id`, upTo)
		if err != nil {
			return err
		}
		defer rows.Close()
		// Reading the rows and building the index overlap: batches go to a goroutine
		// that applies them in order.
		batches := make(chan []search.Doc, 2)
		applied := make(chan struct{})
		go func() {
			defer close(applied)
			for b := range batches {
				idx.Apply(b, nil)
			}
		}()
		batch := make([]search.Doc, 0, 4096)
		for rows.Next() {
			e, _, _, err := scanEntry(rows)
			if err != nil {
				close(batches)
				<-applied
				return err
			}
			if batch = append(batch, e.doc()); len(batch) == cap(batch) {
				batches <- batch
				batch = make([]search.Doc, 0, 4096)
			}
		}
		batches <- batch
		close(batches)
		<-applied
		return rows.Err()
	})
	if err != nil {
		return err
	}
	idx.Compact() // exact-sized postings
	li.idx, li.seen, li.loaded = idx, upTo, true
	return nil
}

func (s *Service) rebuildEntries(ctx context.Context) error {
	var entries, listed int64
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(`SELECT COUNT(*) FROM search_entries`).Scan(&entries); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT COUNT(*) FROM products WHERE status = 'listed'`).Scan(&listed)
	})
	if err != nil || entries > 0 || listed == 0 {
		return err
	}
	return s.db.WriteDerived(ctx, func(tx *store.Tx) error {
		seq, err := ledger.Size(tx)
		if err != nil {
			return err
		}
		var ids []string
		rows, err := tx.Query(`SELECT id FROM products WHERE status = 'listed' ORDER BY id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		ps, err := listedProducts(tx, "catalog.rebuildEntries", ids)
		if err != nil {
			return err
		}
		for i := range ps {
			if err := putEntry(tx, seq, entryOf(&ps[i])); err != nil {
				return err
			}
		}
		return nil
	})
}

// Search finds listed products. Anyone authenticated may search.
func (s *Service) Search(ctx context.Context, actor dataport.Actor, q SearchQuery) (SearchResult, error) {
	const op = "catalog.Search"
	if actor.Anonymous() {
		return SearchResult{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if utf8.RuneCountInString(q.Q) > search.MaxQueryRunes {
		return SearchResult{}, dataport.Invalid(op, dataport.FieldProblem{Field: "q", Message: fmt.Sprintf("at most %d characters", search.MaxQueryRunes)})
	}
	if q.PriceMin < 0 || q.PriceMax < 0 || (q.PriceMax > 0 && q.PriceMax < q.PriceMin) {
		return SearchResult{}, dataport.Invalid(op, dataport.FieldProblem{Field: "price_max", Message: "prices are not negative and the maximum is not below the minimum"})
	}
	if (q.PriceMin > 0 || q.PriceMax > 0) && q.Currency == "" {
		return SearchResult{}, dataport.Invalid(op, dataport.FieldProblem{Field: "currency", Message: "a price range needs its currency"})
	}
	if q.Limit <= 0 {
		q.Limit = 20
	}
	q.Limit = min(q.Limit, 100)
	offset := 0
	if q.After != "" {
		n, err := strconv.Atoi(q.After)
		if err != nil || n < 0 {
			return SearchResult{}, dataport.Invalid(op, dataport.FieldProblem{Field: "after", Message: "a cursor from a previous page"})
		}
		if n >= MaxSearchDepth {
			return SearchResult{}, dataport.Invalid(op, dataport.FieldProblem{Field: "after", Message: fmt.Sprintf("pages reach %d results deep: narrow the search", MaxSearchDepth)})
		}
		offset = n
	}
	terms := search.Query(q.Q)
	if strings.TrimSpace(q.Q) != "" && len(terms) == 0 {
		return SearchResult{Items: []Hit{}, Facets: map[string]map[string]int{}}, nil
	}
	idx, hidden, err := s.searchIndex(ctx)
	if err != nil {
		return SearchResult{}, err
	}
	req := search.Request{Terms: terms, Fields: map[string]string{}, Tag: q.DeliveryMode,
		Hide:   map[string][]string{"supplier": hidden, "agent": hidden},
		Newest: q.Sort == "newest", Offset: offset, Limit: min(q.Limit, MaxSearchDepth-offset), Facets: true}
	for field, v := range map[string]string{"type": q.Type, "category": q.Category, "origin": q.Jurisdiction, "grade": q.Grade, "supplier": q.SupplierID} {
		if v != "" {
			req.Fields[field] = v
		}
	}
	if q.Currency != "" {
		req.Unit, req.Min, req.Max = q.Currency, q.PriceMin, q.PriceMax
	}
	found := idx.Search(req)
	delete(found.Facets, "agent")
	res := SearchResult{Total: found.Total, Items: []Hit{}, Facets: found.Facets}
	if len(found.Hits) > 0 {
		ids := make([]string, len(found.Hits))
		score := map[string]float64{}
		for i, h := range found.Hits {
			ids[i], score[h.Key] = h.Key, h.Score
		}
		err = s.db.Read(ctx, func(tx *store.Tx) error {
			ps, err := listedProducts(tx, op, ids)
			for _, p := range ps {
				res.Items = append(res.Items, Hit{Product: p, Score: math.Round(score[p.ID]*1e6) / 1e6, Snippet: highlight(title(p.Details.Title), terms)})
			}
			return err
		})
		if err != nil {
			return SearchResult{}, err
		}
	}
	if next := offset + q.Limit; next < found.Total && next < MaxSearchDepth {
		res.Next = strconv.Itoa(next)
	}
	return res, nil
}

func title(t dataport.Bilingual) string {
	return strings.TrimSpace(t.Zh + " " + t.En)
}

// highlight escapes text and marks the stretches whose terms the query has.
func highlight(text string, terms []string) string {
	want := map[string]bool{}
	for _, t := range terms {
		want[t] = true
	}
	marked := make([]bool, len(text))
	for _, t := range search.Analyze(text) {
		if want[t.Text] {
			for i := t.Start; i < t.End; i++ {
				marked[i] = true
			}
		}
	}
	var b strings.Builder
	in := false
	for i := 0; i < len(text); {
		_, size := utf8.DecodeRuneInString(text[i:])
		if marked[i] != in {
			if marked[i] {
				b.WriteString("<mark>")
			} else {
				b.WriteString("</mark>")
			}
			in = marked[i]
		}
		b.WriteString(html.EscapeString(text[i : i+size]))
		i += size
	}
	if in {
		b.WriteString("</mark>")
	}
	return b.String()
}
