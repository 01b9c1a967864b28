package web

import (
	"errors"
	"html/template"
	"log/slog"
	"net/url"
	"reflect"
	"testing"

	"github.com/dataport/dataport"
)

func bilingual(zh, en string) dataport.Bilingual { return dataport.Bilingual{Zh: zh, En: en} }

// TestFormAbsorb: a service's field problems go to the inputs their fields are
// bound to (a field under a bound one too), in the page's words when the binding
// names them; problems of unbound fields, and bad input without fields, go to the
// top of the form; any other error is not the form's.
func TestFormAbsorb(t *testing.T) {
	l := &Localizer{Lang: En, msgs: catalogue{"x.price": "Check the price."}, log: slog.New(slog.DiscardHandler)}
	fields := Fields{
		"details.title":       {Input: "title"},
		"details.price_plans": {Input: "plans", Message: "x.price"},
	}
	f := NewForm(url.Values{"title": {"  港口  "}})
	err := dataport.Invalid("catalog.Create",
		dataport.FieldProblem{Field: "details.title", Message: "a title in Chinese, English or both"},
		dataport.FieldProblem{Field: "details.price_plans[1].price.currency", Message: "an ISO 4217 code"},
		dataport.FieldProblem{Field: "details.grade", Message: "core, important or general"})
	if !f.Absorb(dataport.Wrap("web.test", err), l, fields) {
		t.Fatal("bad input was not absorbed")
	}
	if got := f.Problems("title"); !reflect.DeepEqual(got, []string{"a title in Chinese, English or both"}) {
		t.Errorf("title: %v", got)
	}
	if got := f.Problems("plans"); !reflect.DeepEqual(got, []string{"Check the price."}) {
		t.Errorf("plans: %v", got)
	}
	if !reflect.DeepEqual(f.General, []string{"details.grade: core, important or general"}) {
		t.Errorf("general: %v", f.General)
	}
	if f.Get("title") != "港口" || !f.Invalid() {
		t.Errorf("the form lost what was typed or its state")
	}

	g := NewForm(nil)
	if !g.Absorb(dataport.Errorf("x", dataport.KindInvalid, "the price range is upside down"), l, nil) || len(g.General) != 1 {
		t.Errorf("bad input without fields: %v", g.General)
	}
	for _, other := range []error{nil, errors.New("disk full"), dataport.Errorf("x", dataport.KindForbidden, "no")} {
		h := NewForm(nil)
		if h.Absorb(other, l, fields) || h.Invalid() {
			t.Errorf("%v was absorbed", other)
		}
	}
}

// TestMarked: a snippet keeps its <mark> tags and nothing else; whatever else
// looks like markup is shown as text.
func TestMarked(t *testing.T) {
	for in, want := range map[string]template.HTML{
		"长三角<mark>港口</mark>吞吐量 &amp; more":             "长三角<mark>港口</mark>吞吐量 &amp; more",
		"<mark>a</mark> <mark>b</mark>":                "<mark>a</mark> <mark>b</mark>",
		`<script>alert(1)</script><mark>x`:             "&lt;script&gt;alert(1)&lt;/script&gt;<mark>x</mark>",
		`&lt;img src=x onerror=1&gt; <mark>"q"</mark>`: "&lt;img src=x onerror=1&gt; <mark>&#34;q&#34;</mark>",
		"</mark>stray": "stray",
	} {
		if got := marked(in); got != want {
			t.Errorf("marked(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLocalPath: after sign-in and a language switch the browser goes back only to
// a path of this server.
func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/catalog?q=港口": "/catalog?q=港口", "/products/prd_1": "/products/prd_1",
		"": "/x", "catalog": "/x", "//evil.example": "/x", "/\\evil.example": "/x",
		"https://evil.example/": "/x", "/ok\r\nSet-Cookie: a=b": "/x",
	} {
		if got := localPath(in, "/x"); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatMoney(t *testing.T) {
	for _, c := range []struct {
		m    dataport.Money
		want string
	}{
		{dataport.Money{Amount: 150000000, Currency: "CNY"}, "CNY 1,500,000.00"},
		{dataport.Money{Amount: 5, Currency: "USD"}, "USD 0.05"},
		{dataport.Money{Amount: -123456, Currency: "EUR"}, "EUR -1,234.56"},
		{dataport.Money{Amount: 1500, Currency: "JPY"}, "JPY 1,500"},
	} {
		if got := formatMoney(c.m); got != c.want {
			t.Errorf("formatMoney(%v) = %q, want %q", c.m, got, c.want)
		}
	}
	if v, ok := parseAmount("1,500.5", "CNY"); !ok || v != 150050 {
		t.Errorf("parseAmount 1,500.5 CNY = %d %v", v, ok)
	}
	if v, ok := parseAmount("1500", "JPY"); !ok || v != 1500 {
		t.Errorf("parseAmount 1500 JPY = %d %v", v, ok)
	}
	for _, bad := range []string{"abc", "-1", "1e400", "NaN"} {
		if _, ok := parseAmount(bad, "CNY"); ok {
			t.Errorf("parseAmount(%q) accepted", bad)
		}
	}
}

// TestCSRFTokens: a masked token differs every time and matches only its secret.
func TestCSRFTokens(t *testing.T) {
	secret, other := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	a, b := maskToken(secret), maskToken(secret)
	if a == b {
		t.Errorf("two masked tokens are the same")
	}
	if !tokenMatches(a, secret) || !tokenMatches(b, secret) {
		t.Errorf("a masked token does not match its secret")
	}
	if tokenMatches(a, other) || tokenMatches("", secret) || tokenMatches(a, nil) || tokenMatches(a[:10], secret) {
		t.Errorf("a token matches what it should not")
	}
}
