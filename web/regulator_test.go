package web_test

import (
	"context"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
)

// The regulator's pages, for the regulator and the operator (the ledger shows
// both every filing): the overview, traces good and bad, filings found and not,
// and the page that checks a proof bundle.
func init() {
	pageSets["regulator"] = func(t testing.TB, x *exchange) []pageCase {
		product := x.firstHit(t, "港口")
		both := []dataport.Role{dataport.RoleRegulator, dataport.RoleOperator}
		return []pageCase{
			{path: "/regulator", status: http.StatusOK, roles: both},
			{path: "/regulator/trace?by=product&id=" + product.ID, status: http.StatusOK, roles: both},
			{path: "/regulator/trace?by=participant&id=" + product.SupplierID + "&kind=product.listed&from=2020-01-01&to=2099-12-31", status: http.StatusOK, roles: both},
			{path: "/regulator/trace?by=deal&id=deal_" + strings.Repeat("0", 26), status: http.StatusOK, roles: both},
			{path: "/regulator/trace?by=product&id=prt_not_a_product", status: http.StatusUnprocessableEntity, roles: both},
			{path: "/regulator/trace?by=product&id=" + product.ID + "&from=2026-13-01", status: http.StatusUnprocessableEntity, roles: both},
			{path: "/regulator/filings/1", status: http.StatusOK, roles: both},
			{path: "/regulator/filings/999999999", status: http.StatusNotFound, roles: both},
			{path: "/regulator/filings/first", status: http.StatusNotFound, roles: both},
			{path: "/regulator/verify", status: http.StatusOK, roles: both},
		}
	}
}

// listedFiling returns the product.listed filing of a product of the demo
// catalog, once a signed checkpoint covers it.
func listedFiling(t testing.TB, x *exchange, productID string) ledger.Filing {
	t.Helper()
	ctx := context.Background()
	fs, err := ledger.NewReader(x.db).List(ctx, x.operator, ledger.Filter{Subject: productID, Type: "product.listed"})
	if err != nil || len(fs) == 0 {
		t.Fatalf("the listing of %s: %d filings, %v", productID, len(fs), err)
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := x.log.WaitCovered(wait, fs[0].Seq); err != nil {
		t.Fatal(err)
	}
	return fs[0]
}

// TestRegulatorOverviewAndTrace: the overview shows the log's latest checkpoint as
// the log signed it and the filings counted by type; a trace of a product of the
// demo catalog lists its filings with links to each; a participant's trace pages;
// and bad input is answered at its input with 422, in both languages.
func TestRegulatorOverviewAndTrace(t *testing.T) {
	x := seeded(t)
	product := x.firstHit(t, "港口")
	listed := listedFiling(t, x, product.ID)
	b := x.browser(t)
	b.lang = "en"
	b.signIn(x.keys[dataport.RoleRegulator])

	home := b.mustPage("/regulator", http.StatusOK)
	cp, _ := x.log.Latest()
	for _, want := range []string{`<code class="origin">web.test.example/log</code>`, x.log.VerifierKey(), "— web.test.example/log ",
		`data-kind="product.listed"`, "Product listed", `action="/regulator/trace"`} {
		if !strings.Contains(html.UnescapeString(home.body), want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	if size, _ := strconv.ParseInt(between(home.body, `<dd class="size">`, `<`), 10, 64); size < cp.Size {
		t.Errorf("the overview's checkpoint has size %d, the log's latest %d", size, cp.Size)
	}

	// The product's trace: its filings in order, the listing among them, each
	// linking to its page.
	trace := b.mustPage("/regulator/trace?by=product&id="+product.ID, http.StatusOK)
	row := between(trace.body, `<tr data-seq="`+strconv.FormatInt(listed.Seq, 10)+`">`, `</tr>`)
	if !strings.Contains(row, `href="/regulator/filings/`+strconv.FormatInt(listed.Seq, 10)+`"`) || !strings.Contains(row, listed.SHA256) ||
		!strings.Contains(row, "Product listed") {
		t.Errorf("the trace's row of the listing (filing %d):\n%s", listed.Seq, clip(row))
	}
	if !strings.Contains(trace.body, `href="/regulator/trace?by=participant&amp;id=`+product.SupplierID+`"`) {
		t.Errorf("the supplier, a subject of the listing, does not link to its own trace")
	}

	// The supplier's trace pages by 50: the next page starts after the first's
	// last filing and repeats none of them.
	all, err := ledger.NewReader(x.db).List(context.Background(), x.operator, ledger.Filter{Subject: product.SupplierID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	first := b.mustPage("/regulator/trace?by=participant&id="+product.SupplierID, http.StatusOK)
	if got := strings.Count(first.body, `<tr data-seq="`); got != min(50, len(all)) {
		t.Errorf("the supplier's first page shows %d filings of %d", got, len(all))
	}
	if len(all) > 50 {
		next := html.UnescapeString(between(first.body, `rel="next" href="`, `"`))
		if u, err := url.Parse(next); err != nil || u.Query().Get("after") != strconv.FormatInt(all[49].Seq, 10) {
			t.Fatalf("the next page's link: %q", next)
		}
		second := b.mustPage(next, http.StatusOK)
		if !strings.Contains(second.body, `<tr data-seq="`+strconv.FormatInt(all[50].Seq, 10)+`">`) ||
			strings.Contains(second.body, `<tr data-seq="`+strconv.FormatInt(all[49].Seq, 10)+`">`) {
			t.Errorf("the second page does not start after the first")
		}
	} else {
		t.Logf("the supplier has only %d filings: paging not exercised", len(all))
	}

	// Bad input, at its input, in both languages; nothing is traced.
	for _, lang := range []string{"en", "zh-CN"} {
		b.lang = lang
		for _, c := range []struct{ query, input, en, zh string }{
			{"by=product&id=prt_0123", "id", "A product&#39;s id is prd_", "数据产品编号为 prd_"},
			{"by=deal&id=", "id", "Enter the id to trace.", "请填写要追溯的编号。"},
			{"by=ship&id=" + product.ID, "by", "Choose what to trace", "请选择追溯对象"},
			{"by=product&id=" + product.ID + "&from=1.3.2026", "from", "Enter a date as YYYY-MM-DD", "请按 YYYY-MM-DD"},
			{"by=product&id=" + product.ID + "&from=2026-03-02&to=2026-03-01", "to", "The last day cannot be before the first.", "结束日期不能早于开始日期。"},
			{"by=product&id=" + product.ID + "&kind=no.such_kind", "kind", "Nothing of this kind has been filed", "没有此类型的备案"},
		} {
			p := b.mustPage("/regulator/trace?"+c.query, http.StatusUnprocessableEntity)
			want := c.en
			if lang != "en" {
				want = c.zh
			}
			problems := between(p.body, `id="problems-`+c.input+`"`, `</div>`)
			if !strings.Contains(problems, want) {
				t.Errorf("%s in %s: the problem at %s is %q, want %q", c.query, lang, c.input, problems, want)
			}
			if strings.Contains(p.body, `<tr data-seq="`) {
				t.Errorf("%s: filings traced despite the bad input", c.query)
			}
		}
	}
	// What was typed comes back.
	p := b.mustPage("/regulator/trace?by=product&id=prt_0123&from=2026-03-01", http.StatusUnprocessableEntity)
	if !strings.Contains(p.body, `value="prt_0123"`) || !strings.Contains(p.body, `value="2026-03-01"`) ||
		!strings.Contains(p.body, `<option value="product" selected>`) {
		t.Errorf("the form does not come back as typed:\n%s", clip(between(p.body, `id="trace-form"`, `</form>`)))
	}

	// Other roles are refused; the operator may trace too.
	buyer := x.browser(t)
	buyer.signIn(x.keys[dataport.RoleBuyer])
	buyer.mustPage("/regulator/trace?by=product&id="+product.ID, http.StatusForbidden)
	operator := x.browser(t)
	operator.signIn(x.keys[dataport.RoleOperator])
	operator.mustPage("/regulator/trace?by=product&id="+product.ID, http.StatusOK)
}

// TestRegulatorFilingProof: a filing's page shows its canonical entry, its leaf
// hash, the audit path against the latest checkpoint, and the bundle to download,
// which verifies offline with the log's public key as `dataport verify` checks it;
// the bundle-checking page holds it, and refuses a tampered bundle or the wrong
// key at its input with 422. A filing that does not exist is the 404 page.
func TestRegulatorFilingProof(t *testing.T) {
	x := seeded(t)
	product := x.firstHit(t, "信用")
	listed := listedFiling(t, x, product.ID)
	b := x.browser(t)
	b.lang = "en"
	b.signIn(x.keys[dataport.RoleRegulator])
	path := "/regulator/filings/" + strconv.FormatInt(listed.Seq, 10)
	p := b.mustPage(path, http.StatusOK)
	body := html.UnescapeString(p.body)
	leaf := ledger.LeafHash(listed.Entry)
	for _, want := range []string{string(listed.Entry), `id="leaf-hash">` + hexOf(leaf), `id="leaf-index">` + strconv.FormatInt(listed.Seq-1, 10),
		"The server checked this proof with the log's public key only", `id="proof-data"`, `id="verify-button" hidden`} {
		if !strings.Contains(body, want) {
			t.Errorf("the filing's page lacks %q", want)
		}
	}
	if !strings.Contains(p.header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("the filing page's CSP: %q", p.header.Get("Content-Security-Policy"))
	}

	// The bundle, downloaded, proves the filing with nothing but the public key.
	dl := b.get(path + "?download=proof")
	if dl.status != http.StatusOK || !strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("the download: %s", describe(dl))
	}
	bundle, cp, err := ledger.VerifyProofBundle([]byte(dl.body), x.log.VerifierKey(), listed.Entry)
	if err != nil {
		t.Fatalf("the downloaded bundle does not verify: %v\n%s", err, dl.body)
	}
	if bundle.Index != listed.Seq-1 || cp.Size < listed.Seq {
		t.Errorf("the bundle proves index %d in a tree of %d", bundle.Index, cp.Size)
	}
	// The page's audit path is the bundle's.
	for _, h := range bundle.Proof {
		if !strings.Contains(p.body, "<li><code>"+hexOf(h)+"</code></li>") {
			t.Errorf("the page's audit path lacks %x", h)
		}
	}

	// The checking page: the bundle holds and is this exchange's filing.
	ok := b.post("/regulator/verify", url.Values{"bundle": {dl.body}})
	if ok.status != http.StatusOK || !strings.Contains(ok.body, "The proof holds") ||
		!strings.Contains(ok.body, `<p class="alert" id="match">`) {
		t.Fatalf("checking the bundle: %s", describe(ok))
	}

	// Tampered: one hash of the audit path changed, or the entry; and a key not
	// the log's. Each is answered at its input, with the bundle as pasted.
	if len(bundle.Proof) == 0 {
		t.Fatal("the audit path is empty: the shared exchange has many filings")
	}
	first := base64.StdEncoding.EncodeToString(bundle.Proof[0])
	flipped := append([]byte(nil), bundle.Proof[0]...)
	flipped[0] ^= 1
	tamperedPath := strings.Replace(dl.body, "\n"+first+"\n", "\n"+base64.StdEncoding.EncodeToString(flipped)+"\n", 1)
	tamperedEntry := strings.Replace(dl.body, "extra "+base64.StdEncoding.EncodeToString(listed.Entry),
		"extra "+base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(listed.Entry), `"product.listed"`, `"product.delisted"`, 1))), 1)
	if tamperedPath == dl.body || tamperedEntry == dl.body {
		t.Fatal("the tampering changed nothing")
	}
	_, otherKey, err := ledger.GenerateKey("web.test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, bundle, key, input, want string
	}{
		{"a path hash changed", tamperedPath, "", "bundle", "is not proven included"},
		{"the entry changed", tamperedEntry, "", "bundle", "is not proven included"},
		{"another key of the same name", dl.body, otherKey, "key", "is not signed by web.test.example/log"},
		{"not a key", dl.body, "web.test.example/log", "key", "verifier key"},
		{"nothing pasted", "", "", "bundle", "Paste a proof bundle."},
		{"not a bundle", "hello", "", "bundle", "This does not verify"},
	} {
		p := b.post("/regulator/verify", url.Values{"bundle": {c.bundle}, "key": {c.key}})
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %s", c.name, describe(p))
			continue
		}
		problems := html.UnescapeString(between(p.body, `id="problems-`+c.input+`"`, `</div>`))
		if !strings.Contains(problems, c.want) {
			t.Errorf("%s: the problem at %s is %q, want %q", c.name, c.input, problems, c.want)
		}
		if c.bundle != "" && !strings.Contains(html.UnescapeString(p.body), c.bundle) {
			t.Errorf("%s: the bundle does not come back as pasted", c.name)
		}
		if strings.Contains(p.body, "The proof holds") {
			t.Errorf("%s: the tampered bundle is said to hold", c.name)
		}
	}

	// Filings that do not exist, and one the buyer may not read here.
	b.mustPage("/regulator/filings/999999999", http.StatusNotFound)
	b.mustPage("/regulator/filings/0", http.StatusNotFound)
	b.mustPage("/regulator/filings/x1", http.StatusNotFound)
	b.mustPage("/regulator/filings/1?download=proof", http.StatusOK)
	buyer := x.browser(t)
	buyer.signIn(x.keys[dataport.RoleBuyer])
	buyer.mustPage(path, http.StatusForbidden)
	if p := buyer.get(path + "?download=proof"); p.status != http.StatusForbidden {
		t.Errorf("the buyer downloading the bundle: %d", p.status)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}
