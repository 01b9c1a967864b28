package web

import (
	"context"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
)

// The catalog: search of listed products in Chinese and English (the catalog's
// own search: every term must match, BM25 with the title weighted), facets with
// counts over all matches that work as filters, highlighted titles, sort and
// paging. The search form is a GET form, so a search is a link; with htmx it
// searches as one types and the results region alone is replaced.

// searchFilters are the catalog's filters: the query parameter, the facet whose
// values it takes, and how its values are shown (enum: a closed set's message;
// label: an open set's, or the value as it is; participant: a name).
var searchFilters = []struct {
	Param, Facet, Set string
	Show              string
}{
	{"type", "type", "type", "enum"},
	{"category", "category", "category", "label"},
	{"jurisdiction", "origin", "country", "label"},
	{"grade", "grade", "grade", "enum"},
	{"delivery_mode", "delivery_mode", "delivery", "enum"},
	{"supplier", "supplier", "", "participant"},
}

// searchCurrencies are the currencies the price filter offers.
var searchCurrencies = []string{"CNY", "USD", "EUR", "HKD", "GBP", "JPY", "SGD"}

// catalogPage is the catalog template's data.
type catalogPage struct {
	Form       *Form
	Result     catalog.SearchResult
	Searched   bool // the search ran (the form was valid)
	Hits       []hitView
	Facets     []facetView
	Filters    []activeFilter // the filters in force, as hidden inputs and chips
	Currencies []string
	Sorts      []string
	NextURL    string // the next page; "" on the last
	FirstURL   string // the first page, when on a later one
}

type hitView struct {
	Product  catalog.Product
	Snippet  template.HTML
	Supplier string
	Price    *catalog.PricePlan // the lowest plan
}

type facetView struct {
	Name   string // facet name, for its message
	Param  string
	Values []facetValue
}

type facetValue struct {
	Value, Label, URL string
	Count             int
	Selected          bool
}

type activeFilter struct {
	Param, Facet, Value, Label, RemoveURL string
}

// catalogFields binds the search's field problems to the form's inputs.
var catalogFields = Fields{
	"q":         {Input: "q", Message: "catalog.error.q"},
	"price_min": {Input: "price_min", Message: "catalog.error.price"},
	"price_max": {Input: "price_max", Message: "catalog.error.price"},
	"currency":  {Input: "currency", Message: "catalog.error.currency"},
	"after":     {Input: "", Message: "catalog.error.after"},
}

func (c *Console) catalog(q *Request) error {
	f := q.Form()
	sq := catalog.SearchQuery{Q: f.Get("q"), Type: f.Get("type"), Category: f.Get("category"),
		Jurisdiction: f.Get("jurisdiction"), Grade: f.Get("grade"), SupplierID: f.Get("supplier"),
		DeliveryMode: f.Get("delivery_mode"), Currency: f.Get("currency"), Sort: f.Get("sort"),
		After: f.Get("after"), Limit: 20}
	if sq.Sort != "" && sq.Sort != "relevance" && sq.Sort != "newest" {
		sq.Sort = ""
	}
	var ok bool
	if sq.PriceMin, ok = parseAmount(f.Get("price_min"), sq.Currency); !ok {
		f.Fail("price_min", q.T("catalog.error.amount"))
	}
	if sq.PriceMax, ok = parseAmount(f.Get("price_max"), sq.Currency); !ok {
		f.Fail("price_max", q.T("catalog.error.amount"))
	}
	d := catalogPage{Form: f, Currencies: searchCurrencies, Sorts: enums["sort"]}
	status := http.StatusOK
	if !f.Invalid() {
		res, err := c.deps.Catalog.Search(q.Context(), q.Actor, sq)
		if f.Absorb(err, q.Localizer, catalogFields) {
			status = http.StatusUnprocessableEntity
		} else if err != nil {
			return err
		} else {
			d.Result, d.Searched = res, true
		}
	} else {
		status = http.StatusUnprocessableEntity
	}
	names := c.participantNames(q)
	base := "/catalog"
	if v := searchQuery(f).Encode(); v != "" {
		base += "?" + v
	}
	for _, h := range d.Result.Items {
		hv := hitView{Product: h.Product, Snippet: marked(h.Snippet), Supplier: names(h.Product.SupplierID)}
		for i, plan := range h.Product.Details.PricePlans {
			if hv.Price == nil || plan.Price.Amount < hv.Price.Price.Amount {
				hv.Price = &h.Product.Details.PricePlans[i]
			}
		}
		d.Hits = append(d.Hits, hv)
	}
	for _, sf := range searchFilters {
		selected := f.Get(sf.Param)
		show := func(v string) string {
			switch sf.Show {
			case "enum":
				return q.Enum(sf.Set, v)
			case "label":
				return q.Label(sf.Set, v)
			}
			return names(v)
		}
		if selected != "" {
			d.Filters = append(d.Filters, activeFilter{Param: sf.Param, Facet: sf.Facet, Value: selected, Label: show(selected),
				RemoveURL: mustQuery(base, sf.Param, "", "after", "")})
		}
		counts := d.Result.Facets[sf.Facet]
		if len(counts) == 0 {
			continue
		}
		fv := facetView{Name: sf.Facet, Param: sf.Param}
		for v, n := range counts {
			if v == "" || n == 0 {
				continue
			}
			toggle := v
			if v == selected {
				toggle = ""
			}
			fv.Values = append(fv.Values, facetValue{Value: v, Label: show(v), Count: n, Selected: v == selected,
				URL: mustQuery(base, sf.Param, toggle, "after", "")})
		}
		// The biggest first, as a shopper reads them; equal counts by name.
		sort.Slice(fv.Values, func(i, j int) bool {
			a, b := fv.Values[i], fv.Values[j]
			if a.Count != b.Count {
				return a.Count > b.Count
			}
			return a.Label < b.Label
		})
		if len(fv.Values) > 0 {
			d.Facets = append(d.Facets, fv)
		}
	}
	if d.Result.Next != "" {
		d.NextURL = mustQuery(base, "after", d.Result.Next)
	}
	if sq.After != "" {
		d.FirstURL = mustQuery(base, "after", "")
	}
	if q.partial {
		// The address bar shows the search as a link would carry it, without the
		// form's empty inputs.
		q.W.Header().Set("HX-Push-Url", base)
	}
	return q.Render(status, "catalog", d)
}

// searchQuery is the form's search as a query string: the inputs that are set, in
// a stable order, so that facet and paging links keep the rest of the search.
func searchQuery(f *Form) url.Values {
	v := url.Values{}
	for _, name := range []string{"q", "type", "category", "jurisdiction", "grade", "delivery_mode", "supplier",
		"currency", "price_min", "price_max", "sort", "after"} {
		if x := f.Get(name); x != "" {
			v.Set(name, x)
		}
	}
	return v
}

func mustQuery(base string, pairs ...string) string {
	u, err := withQuery(base, pairs...)
	if err != nil {
		return base
	}
	return u
}

// parseAmount reads a price typed in major units ("1500", "1,500.50") as minor
// units of currency; "" is no bound.
func parseAmount(s, currency string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	if s == "" {
		return 0, true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v > 1e15 {
		return 0, false
	}
	scale := 100.0
	if formatMoney(dataport.Money{Amount: 1, Currency: currency}) == currency+" 1" {
		scale = 1 // a currency without minor units
	}
	return int64(math.Round(v * scale)), true
}

// participantNames returns a function that names participants as the actor may see
// them: the registry shows a participant's record to itself, the operator and
// regulators, and to anyone else a participant is its id. Names are read once per
// page.
func (c *Console) participantNames(q *Request) func(id string) string {
	seen := map[string]string{}
	return func(id string) string {
		if id == "" {
			return ""
		}
		if n, ok := seen[id]; ok {
			return n
		}
		// Unnamed, a participant is told apart by the end of its id (the start
		// of a ULID is its time, shared by those registered together).
		n := q.T("participant.unnamed", id[max(0, len(id)-8):])
		if p, err := c.deps.Registry.GetParticipant(context.WithoutCancel(q.Context()), q.Actor, id); err == nil {
			n = q.Text(p.LegalName)
		}
		seen[id] = n
		return n
	}
}
