package web_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dataport/dataport"
)

// pageCase is a page of the console as the demo world's roles open it: the roles
// listed get status, every other role 403 (or its status in others); with no roles
// listed, every role gets status.
type pageCase struct {
	path   string
	status int
	roles  []dataport.Role
	// others are the statuses of roles not listed that the page lets in but whose
	// subject is not theirs to see: another party's deal is 404 to them, as the
	// services answer for what an actor may not know exists.
	others map[dataport.Role]int
}

// pageSets are the pages TestEveryPageInBothLanguages opens, by part of the
// console: each part's tests add theirs in an init, as a function of the shared
// exchange (which has the demo world and its catalog), so that pages about one
// product or deal can name it.
var pageSets = map[string]func(t testing.TB, x *exchange) []pageCase{
	"catalog": func(t testing.TB, x *exchange) []pageCase {
		product := x.firstHit(t, "港口")
		return []pageCase{
			{path: "/catalog", status: http.StatusOK},
			{path: "/catalog?q=" + url.QueryEscape("港口"), status: http.StatusOK},
			{path: "/catalog?q=freight&type=dataset&sort=newest", status: http.StatusOK},
			{path: "/catalog?category=shipping&jurisdiction=CN&delivery_mode=api", status: http.StatusOK},
			{path: "/catalog?currency=CNY&price_min=100&price_max=50", status: http.StatusUnprocessableEntity},
			{path: "/catalog?q=" + url.QueryEscape("信用") + "&after=20", status: http.StatusOK},
			{path: "/catalog?q=zzzznotaword", status: http.StatusOK},
			{path: "/products/" + product.ID, status: http.StatusOK},
			{path: "/products/prd_nosuchproduct", status: http.StatusNotFound},
		}
	},
	"financing": func(t testing.TB, x *exchange) []pageCase {
		return []pageCase{
			{path: "/merchant", status: http.StatusOK, roles: []dataport.Role{dataport.RoleMerchant}},
			{path: "/institution", status: http.StatusOK, roles: []dataport.Role{dataport.RoleFinancialInstitution}},
		}
	},
}

// TestEveryPageInBothLanguages opens every page of the console (pageSets) as each
// role of the demo world, in Chinese and in English, and checks that each answers
// as it should and shows no missing message; and that every page the console has
// is among them, opened with success by some role.
func TestEveryPageInBothLanguages(t *testing.T) {
	x := seeded(t)
	var pages []pageCase
	for _, set := range pageSets {
		pages = append(pages, set(t, x)...)
	}
	opened := map[string]bool{} // page patterns some role opened with success
	for _, lang := range []string{"zh-CN", "en-US"} {
		anonymous := x.browser(t)
		anonymous.lang = lang
		anonymous.mustPage("/login", http.StatusOK)
		anonymous.mustPage("/login?signout=revoked", http.StatusOK)
		for _, pg := range pages {
			if p := anonymous.get(pg.path); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login?next=") {
				t.Errorf("%s signed out: %s", pg.path, describe(p))
			}
		}
		for _, role := range dataport.Roles {
			key := x.keys[role]
			if key == "" {
				continue
			}
			b := x.browser(t)
			b.lang = lang
			b.signIn(key)
			for _, pg := range pages {
				want := pg.status
				if len(pg.roles) > 0 && !slices.Contains(pg.roles, role) {
					want = http.StatusForbidden
					if status, ok := pg.others[role]; ok {
						want = status
					}
				}
				p := b.mustPage(pg.path, want)
				wantLang := `<html lang="zh-CN">`
				if lang == "en-US" {
					wantLang = `<html lang="en">`
				}
				if !strings.Contains(p.body, wantLang) {
					t.Errorf("%s as %s in %s: no %s", pg.path, role, lang, wantLang)
				}
				if want == http.StatusOK {
					r := httptest.NewRequest(http.MethodGet, pg.path, nil)
					opened[x.console.PatternOf(r)] = true
				}
			}
		}
	}
	// Every page a GET opens is in pageSets: the sign-in page and the language
	// switch are opened above and by the session tests.
	for _, pattern := range x.console.PagePatterns() {
		if !strings.HasPrefix(pattern, "GET ") || pattern == "GET /{$}" || pattern == "GET /login" || pattern == "GET /lang/{lang}" {
			continue
		}
		if !opened[pattern] {
			t.Errorf("no role opened the page %q with success: add it to pageSets", pattern)
		}
	}
}

// TestCatalogSearch checks the catalog page: a two-character Chinese query finds
// the products with their highlighted titles, facets count the matches and filter
// them, the snippets are HTML from the search shown as such, and the next page is
// a link.
func TestCatalogSearch(t *testing.T) {
	x := seeded(t)
	b := x.browser(t)
	b.signIn(x.keys[dataport.RoleBuyer])
	p := b.mustPage("/catalog?q="+url.QueryEscape("港口"), http.StatusOK)
	if !strings.Contains(p.body, "<mark>港口</mark>") {
		t.Fatalf("no highlighted snippet for 港口:\n%s", clip(p.body))
	}
	if strings.Contains(p.body, "&lt;mark&gt;") {
		t.Errorf("a snippet's <mark> is shown escaped")
	}
	// The facet links filter: following the category facet's link narrows the
	// search to that category, and the filter shows as a chip that removes it.
	link := between(p.body, `data-facet="category"`, `</section>`)
	href := html.UnescapeString(between(link, `href="`, `"`))
	count := between(link, `class="n">`, `<`)
	if href == "" || count == "" {
		t.Fatalf("no category facet link with its count:\n%s", clip(link))
	}
	u, err := url.Parse(href)
	if err != nil || u.Query().Get("category") == "" || u.Query().Get("q") != "港口" {
		t.Fatalf("facet link %q does not keep the query and add the category", href)
	}
	filtered := b.mustPage(href, http.StatusOK)
	if got := total.FindStringSubmatch(filtered.body); got == nil || got[1] != count {
		t.Errorf("the facet counted %s products, the filtered search found %v", count, got)
	}
	chip := between(filtered.body, `class="chip" href="`, `"`)
	if chip == "" {
		t.Fatalf("the filter in force is not shown:\n%s", clip(filtered.body))
	}
	if u, _ := url.Parse(html.UnescapeString(chip)); u.Query().Get("category") != "" || u.Query().Get("q") != "港口" {
		t.Errorf("removing the filter goes to %s", chip)
	}
	// Paging: the next page is a link that carries the search on.
	all := b.mustPage("/catalog", http.StatusOK)
	next := html.UnescapeString(between(all.body, `rel="next" href="`, `"`))
	if next == "" {
		t.Fatalf("no next page on the whole catalog")
	}
	second := b.mustPage(next, http.StatusOK)
	if strings.Contains(second.body, firstProduct(all.body)) {
		t.Errorf("the second page shows the first page's first product")
	}
}

var total = regexp.MustCompile(`id="count">\D*(\d+)`)

func firstProduct(body string) string { return between(body, `class="hit" data-product="`, `"`) }

// between returns the text of s after the first from up to the next to.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	in, _, _ := strings.Cut(rest, to)
	return in
}

// TestConsoleBesideTheAPI: the console answers its own paths, / among them, and
// leaves the API's to the API, which still authenticates its callers itself.
func TestConsoleBesideTheAPI(t *testing.T) {
	x := seeded(t)
	b := x.browser(t)
	for _, c := range []struct {
		path, contentType string
		status            int
	}{
		{"/", "text/html", http.StatusSeeOther},
		{"/login", "text/html", http.StatusOK},
		{"/static/style.css", "text/css", http.StatusOK},
		{"/favicon.ico", "image/svg+xml", http.StatusOK},
		{"/api/v1/me", "application/problem+json", http.StatusUnauthorized},
		{"/api/v1/products?q=x", "application/problem+json", http.StatusUnauthorized},
		{"/docs", "text/html", http.StatusOK},
		{"/catalog.jsonld", "application/ld+json", http.StatusOK},
		{"/healthz", "application/json", http.StatusOK},
	} {
		p := b.get(c.path)
		if p.status != c.status || !strings.HasPrefix(p.header.Get("Content-Type"), c.contentType) {
			t.Errorf("GET %s: %d %s, want %d %s", c.path, p.status, p.header.Get("Content-Type"), c.status, c.contentType)
		}
	}
	// A console session is not an API credential.
	b.signIn(x.keys[dataport.RoleBuyer])
	if p := b.get("/api/v1/me"); p.status != http.StatusUnauthorized {
		t.Errorf("the API with a console session cookie: %d", p.status)
	}
}

// TestProductPage opens a listed product as a buyer and as the operator: both see
// what the listing carries, its registration certificate and a compliance summary
// — the buyer what the rules say about a sale to it, the operator the filed
// listing assessment and every revision — with the product's bilingual texts in
// the page's language.
func TestProductPage(t *testing.T) {
	x := seeded(t)
	p := x.firstHit(t, "信用")
	d := p.Details
	for _, c := range []struct {
		role       dataport.Role
		lang       string
		title      string
		assessment string // the marker of the summary's kind
		revisions  bool
	}{
		{dataport.RoleBuyer, "zh-CN", d.Title.Zh, "若您购买", false},
		{dataport.RoleBuyer, "en", d.Title.En, "If you bought it", false},
		{dataport.RoleOperator, "en", d.Title.En, "Listing assessment (filed)", true},
	} {
		b := x.browser(t)
		b.lang = c.lang
		b.signIn(x.keys[c.role])
		page := b.mustPage("/products/"+p.ID, http.StatusOK)
		body := html.UnescapeString(page.body)
		want := []string{"<h1>" + c.title + "</h1>", p.RegistrationNumber, c.assessment, `id="plans"`, `id="fields"`,
			`id="sample"`, `id="policy"`, d.Scenarios[0], "CNY "}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s in %s: the product page lacks %q", c.role, c.lang, w)
			}
		}
		// The history's table marks the listed revision's row.
		if got := strings.Contains(page.body, `<tr class="listed">`); got != c.revisions {
			t.Errorf("%s: the revision history shown is %v, want %v", c.role, got, c.revisions)
		}
	}
}
