package web

import (
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/dataport/dataport"
)

// Templates. templates/layout.html and templates/partials.html are the base every
// page shares; each other file in templates/ is a page, parsed over its own copy of
// the base, once per language: the message functions (t, text, enum, label) are
// bound to the language at parse time, so a template calls {{t "key"}} anywhere,
// inside range and with as well.
//
// A page's file defines "content" (what goes in <main>) and may define regions
// named "#<id>" around parts that htmx replaces (an element with that id): Render
// then answers an htmx request for that target with the region alone.

var baseTemplates = []string{"layout.html", "partials.html"}

func (c *Console) loadTemplates() error {
	pages, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return err
	}
	c.templates = map[Lang]map[string]*template.Template{}
	for _, lang := range Langs {
		l := c.localizer(lang)
		base := template.New("base").Funcs(c.funcs(l))
		for _, name := range baseTemplates {
			if _, err := base.ParseFS(templateFiles, "templates/"+name); err != nil {
				return err
			}
		}
		c.templates[lang] = map[string]*template.Template{}
		for _, p := range pages {
			name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
			if isBase(name + ".html") {
				continue
			}
			t, err := base.Clone()
			if err != nil {
				return err
			}
			if _, err := t.ParseFS(templateFiles, p); err != nil {
				return err
			}
			c.templates[lang][name] = t
		}
	}
	return nil
}

func isBase(file string) bool {
	for _, b := range baseTemplates {
		if b == file {
			return true
		}
	}
	return false
}

// funcs are the template functions, bound to one language.
func (c *Console) funcs(l *Localizer) template.FuncMap {
	return template.FuncMap{
		// Messages: {{t "catalog.found" .Total}}; a bilingual value of the data;
		// a closed set's value (role, type, status, …); an open set's value.
		"t":          l.T,
		"text":       l.Text,
		"enum":       func(set string, v any) string { return l.Enum(set, fmt.Sprint(v)) },
		"label":      func(set string, v any) string { return l.Label(set, fmt.Sprint(v)) },
		"asset":      c.asset,
		"money":      func(m dataport.Money) string { return formatMoney(m) },
		"date":       func(t time.Time) string { return formatDate(t) },
		"time":       func(t time.Time) string { return formatTime(t) },
		"stamp":      formatStamp,
		"marked":     marked,
		"problemsOf": problemsOf,
		"short":      shortID,
		"add":        func(a, b int) int { return a + b },
		"query":      withQuery,
		"join":       strings.Join,
	}
}

// marked shows a search snippet: the catalog's title, HTML-escaped, with the
// matched terms in <mark>. The console trusts no more than that: it keeps the
// <mark> tags and escapes everything else again, so a snippet can never carry
// other markup into the page, whatever the catalog returns.
func marked(snippet string) template.HTML {
	text := func(s string) string {
		return template.HTMLEscapeString(html.UnescapeString(strings.ReplaceAll(s, "</mark>", "")))
	}
	parts := strings.Split(snippet, "<mark>")
	var b strings.Builder
	b.WriteString(text(parts[0]))
	for _, part := range parts[1:] {
		inner, rest, _ := strings.Cut(part, "</mark>")
		b.WriteString("<mark>" + text(inner) + "</mark>" + text(rest))
	}
	return template.HTML(b.String())
}

// formatMoney shows integer minor units in their currency: CNY 1,500.00. Two
// minor digits except for the currencies that have none.
func formatMoney(m dataport.Money) string {
	digits := 2
	switch m.Currency {
	case "JPY", "KRW", "VND", "CLP", "ISK":
		digits = 0
	}
	neg := m.Amount < 0
	n := m.Amount
	if neg {
		n = -n
	}
	unit := int64(1)
	for range digits {
		unit *= 10
	}
	whole, frac := n/unit, n%unit
	s := groupThousands(whole)
	if digits > 0 {
		s += fmt.Sprintf(".%0*d", digits, frac)
	}
	if neg {
		s = "-" + s
	}
	return strings.TrimSpace(m.Currency + " " + s)
}

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Dates and times are shown in China Standard Time, the exchange's calendar.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(dataport.China).Format(time.DateOnly)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(dataport.China).Format("2006-01-02 15:04 MST")
}

// formatStamp shows a time the data carries as RFC 3339 text (a certificate's
// listing time) as formatTime does, or as it is when it is not one.
func formatStamp(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return formatTime(t)
}

// shortID shortens a long identifier or hash for display; the full one is in
// the element's title.
func shortID(s string) string {
	if len(s) <= 16 {
		return s
	}
	return s[:12] + "…"
}

// withQuery returns path with its query changed: pairs of name and value, an empty
// value removing the name. Links that change one filter of a search keep the rest.
func withQuery(rawPath string, pairs ...string) (string, error) {
	u, err := url.Parse(rawPath)
	if err != nil {
		return "", err
	}
	if len(pairs)%2 != 0 {
		return "", fmt.Errorf("query: odd number of arguments")
	}
	v := u.Query()
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			v.Del(pairs[i])
		} else {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	u.RawQuery = v.Encode()
	return u.String(), nil
}
