package catalog

import (
	"context"
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog/search"
	"github.com/dataport/dataport/store"
)

// Search over listed products. The index is ordinary tables filled with the terms of
// catalog/search's analyzer, and ranking is BM25 computed here, so both engines give
// the same results. Matching is conjunctive: a product matches when it has every
// query term. Products whose supplier or agent is suspended are left out by the
// query itself, so a suspension hides them at once and a resumption shows them again
// without reindexing.
//
// This is the straightforward form: it scores every match. The catalog issue's
// goal of 20 ms at a million products needs top-k retrieval that stops early; the
// interface (SearchQuery in, SearchResult out) is meant to stay while that arrives.

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

const (
	titleWeight = 3
	bm25K1      = 1.2
	bm25B       = 0.75
)

// index puts a listed product's listed revision into the search index.
func index(tx *store.Tx, p *Product) error {
	if err := unindex(tx, p.ID); err != nil {
		return err
	}
	d := p.Details
	tf := map[string]int64{}
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
	modes := "," + strings.Join(d.DeliveryModes, ",") + ","
	if _, err := tx.Exec(`INSERT INTO search_docs (product_id, length, type, category, origin, grade, supplier_id, agent_id, listed_at,
		modes, price_min, currency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, p.ID, max(length, 1), d.Type, d.Category,
		d.OriginJurisdiction, d.Grade, p.SupplierID, p.AgentID, store.FormatTime(p.UpdatedAt), modes, price, currency); err != nil {
		return err
	}
	terms := make([]string, 0, len(tf))
	for t := range tf {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	for start := 0; start < len(terms); start += 100 {
		batch := terms[start:min(start+100, len(terms))]
		var q strings.Builder
		q.WriteString(`INSERT INTO search_postings (term, product_id, tf) VALUES `)
		args := make([]any, 0, 3*len(batch))
		for i, t := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
			args = append(args, t, p.ID, tf[t])
		}
		if _, err := tx.Exec(q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func unindex(tx *store.Tx, id string) error {
	if _, err := tx.Exec(`DELETE FROM search_postings WHERE product_id = $1`, id); err != nil {
		return err
	}
	_, err := tx.Exec(`DELETE FROM search_docs WHERE product_id = $1`, id)
	return err
}

type candidate struct {
	id, typ, category, listedAt string
	origin, grade, supplier     string
	modes                       string
	length                      int64
	tf                          map[string]int64
	score                       float64
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
		offset = n
	}
	terms := search.Query(q.Q)
	if strings.TrimSpace(q.Q) != "" && len(terms) == 0 {
		return SearchResult{Items: []Hit{}, Facets: map[string]map[string]int{}}, nil
	}
	var res SearchResult
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var args []any
		arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
		where := []string{`s.status = 'active'`, `(d.agent_id = '' OR EXISTS (SELECT 1 FROM participants a WHERE a.id = d.agent_id AND a.status = 'active'))`}
		for col, v := range map[string]string{"d.type": q.Type, "d.category": q.Category, "d.origin": q.Jurisdiction, "d.grade": q.Grade, "d.supplier_id": q.SupplierID} {
			if v != "" {
				where = append(where, col+" = "+arg(v))
			}
		}
		if q.DeliveryMode != "" {
			where = append(where, "d.modes LIKE "+arg("%,"+q.DeliveryMode+",%"))
		}
		if q.Currency != "" {
			where = append(where, "d.currency = "+arg(q.Currency), "d.price_min >= "+arg(q.PriceMin))
			if q.PriceMax > 0 {
				where = append(where, "d.price_min <= "+arg(q.PriceMax))
			}
		}
		var sqlq string
		if len(terms) > 0 {
			in := make([]string, len(terms))
			for i, t := range terms {
				in[i] = arg(t)
			}
			sqlq = `SELECT d.product_id, d.type, d.category, d.listed_at, d.length, d.origin, d.grade, d.supplier_id, d.modes, p.term, p.tf
				FROM search_postings p JOIN search_docs d ON d.product_id = p.product_id
				JOIN participants s ON s.id = d.supplier_id
				WHERE p.term IN (` + strings.Join(in, ", ") + `) AND ` + strings.Join(where, " AND ")
		} else {
			sqlq = `SELECT d.product_id, d.type, d.category, d.listed_at, d.length, d.origin, d.grade, d.supplier_id, d.modes, '', 0
				FROM search_docs d JOIN participants s ON s.id = d.supplier_id WHERE ` + strings.Join(where, " AND ")
		}
		rows, err := tx.Query(sqlq, args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		byID := map[string]*candidate{}
		for rows.Next() {
			var c candidate
			var term string
			var tf int64
			if err := rows.Scan(&c.id, &c.typ, &c.category, &c.listedAt, &c.length, &c.origin, &c.grade, &c.supplier, &c.modes, &term, &tf); err != nil {
				rows.Close()
				return dataport.Internal(op, err)
			}
			have, ok := byID[c.id]
			if !ok {
				c.tf = map[string]int64{}
				have = &c
				byID[c.id] = have
			}
			if term != "" {
				have.tf[term] = tf
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dataport.Internal(op, err)
		}
		// Every query term must match; BM25 over the matching products.
		var docs int64
		var total int64
		if err := tx.QueryRow(`SELECT COUNT(*), COALESCE(SUM(length), 0) FROM search_docs`).Scan(&docs, &total); err != nil {
			return dataport.Internal(op, err)
		}
		avg := float64(total) / math.Max(1, float64(docs))
		df := map[string]int{}
		for _, c := range byID {
			for t := range c.tf {
				df[t]++
			}
		}
		var found []*candidate
		for _, c := range byID {
			if len(c.tf) < len(terms) {
				continue
			}
			for _, t := range terms {
				idf := math.Log(1 + (float64(docs)-float64(df[t])+0.5)/(float64(df[t])+0.5))
				tf := float64(c.tf[t])
				c.score += idf * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*float64(c.length)/avg))
			}
			found = append(found, c)
		}
		newest := q.Sort == "newest" || len(terms) == 0
		sort.Slice(found, func(i, j int) bool {
			a, b := found[i], found[j]
			if !newest && a.score != b.score {
				return a.score > b.score
			}
			if a.listedAt != b.listedAt {
				return a.listedAt > b.listedAt
			}
			return a.id > b.id // ids grow with time: the newer first
		})
		res.Total = len(found)
		res.Facets = map[string]map[string]int{"type": {}, "category": {}, "origin": {}, "grade": {}, "supplier": {}, "delivery_mode": {}}
		for _, c := range found {
			res.Facets["type"][c.typ]++
			res.Facets["category"][c.category]++
			res.Facets["origin"][c.origin]++
			res.Facets["grade"][c.grade]++
			res.Facets["supplier"][c.supplier]++
			for _, m := range strings.Split(strings.Trim(c.modes, ","), ",") {
				if m != "" {
					res.Facets["delivery_mode"][m]++
				}
			}
		}
		res.Items = []Hit{}
		for i := offset; i < len(found) && i < offset+q.Limit; i++ {
			c := found[i]
			p, err := get(tx, op, c.id, 0)
			if err != nil {
				return err
			}
			if p.ListedRevision != p.Revision {
				if p, err = get(tx, op, c.id, p.ListedRevision); err != nil {
					return err
				}
			}
			res.Items = append(res.Items, Hit{Product: p, Score: math.Round(c.score*1e6) / 1e6, Snippet: highlight(title(p.Details.Title), terms)})
		}
		if offset+q.Limit < len(found) {
			res.Next = strconv.Itoa(offset + q.Limit)
		}
		return nil
	})
	return res, err
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
