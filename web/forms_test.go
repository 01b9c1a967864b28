package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dataport/dataport"
)

// TestCatalogFormAnswersInline sends the catalog's search form with bad input: the
// search's field problems (dataport.Error's FieldProblems) come back next to the
// inputs they are about, with 422 and the form as typed; htmx gets the results
// region with the problems swapped into the form out of band.
func TestCatalogFormAnswersInline(t *testing.T) {
	x := seeded(t)
	b := x.browser(t)
	b.signIn(x.keys[dataport.RoleBuyer])
	cases := []struct {
		query url.Values
		input string // where the problem must show
	}{
		// The catalog refuses a price range without its currency (field currency)…
		{url.Values{"q": {"港口"}, "price_min": {"100"}}, "currency"},
		// …and one whose maximum is below its minimum (field price_max).
		{url.Values{"q": {"港口"}, "currency": {"CNY"}, "price_min": {"100"}, "price_max": {"50"}}, "price_max"},
		// The console's own check: an amount must be a number.
		{url.Values{"currency": {"CNY"}, "price_min": {"lots"}}, "price_min"},
		// The search's limit on the query (field q).
		{url.Values{"q": {strings.Repeat("港", 201)}}, "q"},
	}
	for _, lang := range []string{"zh-CN", "en"} {
		b.lang = lang
		for _, c := range cases {
			p := b.get("/catalog?" + c.query.Encode())
			if p.status != http.StatusUnprocessableEntity {
				t.Errorf("%v: %d, want 422", c.query, p.status)
				continue
			}
			problems := between(p.body, `id="problems-`+c.input+`"`, `</div>`)
			if !strings.Contains(problems, `class="problem"`) {
				t.Errorf("%v: no problem at %s:\n%s", c.query, c.input, clip(p.body))
			}
			if m := markers.FindAllString(p.body, -1); len(m) > 0 {
				t.Errorf("%v: missing messages %v", c.query, m)
			}
			for name := range c.query {
				if v := c.query.Get(name); !strings.Contains(p.body, `value="`+v+`"`) && name != "currency" {
					t.Errorf("%v: the form lost %s=%s", c.query, name, v)
				}
			}
			if strings.Contains(p.body, `class="hit"`) {
				t.Errorf("%v: a refused search shows results", c.query)
			}

			h := b.get("/catalog?"+c.query.Encode(), "HX-Request", "true", "HX-Target", "results")
			if h.status != http.StatusUnprocessableEntity || !strings.HasPrefix(strings.TrimSpace(h.body), `<div id="results"`) {
				t.Errorf("%v over htmx: want the results region with 422, got %s", c.query, describe(h))
			}
			if oob := between(h.body, `id="problems-`+c.input+`" hx-swap-oob="true"`, `</div>`); !strings.Contains(oob, `class="problem"`) {
				t.Errorf("%v over htmx: the problem at %s is not swapped in out of band:\n%s", c.query, c.input, clip(h.body))
			}
		}
	}
}

// TestHTMXRegions checks that an htmx request for a region gets the region alone,
// a plain request the whole page, and an error in a region the error page's
// content, retargeted to the page's main region.
func TestHTMXRegions(t *testing.T) {
	x := seeded(t)
	b := x.browser(t)
	b.signIn(x.keys[dataport.RoleBuyer])
	full := b.get("/catalog?q=" + url.QueryEscape("信用"))
	region := b.get("/catalog?q="+url.QueryEscape("信用"), "HX-Request", "true", "HX-Target", "results")
	if !strings.Contains(full.body, "<html") || strings.Contains(region.body, "<html") {
		t.Fatalf("the whole page and the region are not told apart")
	}
	if !strings.Contains(region.body, "<mark>信用</mark>") || !strings.Contains(region.body, `id="filters" hx-swap-oob="true"`) {
		t.Errorf("the region lacks the hits or the filters:\n%s", clip(region.body))
	}
	missing := b.get("/products/prd_nosuch", "HX-Request", "true", "HX-Target", "results")
	if missing.status != http.StatusNotFound || missing.header.Get("HX-Retarget") != "#main" || strings.Contains(missing.body, "<html") {
		t.Errorf("an error over htmx: %s", describe(missing))
	}
}
