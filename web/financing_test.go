package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/credit/merchantsim"
	"github.com/dataport/dataport/demo"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/registry"
)

// The merchant's dashboard and the financial institution's page, over plain HTTP,
// against the demo's financing world: its merchants' order histories ingested as
// attested batches through finance, their credit decided by credit (which
// publishes the offers through lending), a consent, subscriptions and a loan.

// financeWorld is the shared exchange's financing world.
type financeWorld struct {
	merchant    registry.Participant // the demo's frozen-meat merchant: a decision, an offer, a loan
	merchantKey string
	bank        registry.Participant // the institution it consents to
	bankKey     string
	decision    credit.Decision
	loan        lending.Loan
}

var (
	financedOnce sync.Once
	financed     financeWorld
	financedErr  error
)

// financedWorld seeds the shared exchange's financing side once: demo.SeedFinance,
// then the merchant takes its first offer.
func financedWorld(t testing.TB) (*exchange, financeWorld) {
	t.Helper()
	x := seeded(t)
	financedOnce.Do(func() { financed, financedErr = seedFinancing(x) })
	if financedErr != nil {
		t.Fatalf("seed the financing world: %v", financedErr)
	}
	return x, financed
}

func seedFinancing(x *exchange) (financeWorld, error) {
	ctx := context.Background()
	var f financeWorld
	fw, err := demo.SeedFinance(ctx, demo.FinanceServices{Finance: x.fin, Credit: x.cred, Lending: x.lend}, x.world, x.clock.Now())
	if err != nil {
		return f, err
	}
	for _, p := range x.world.Members {
		switch {
		case p.Has(dataport.RoleMerchant) && p.MerchantCategory == "frozen meat e-commerce":
			f.merchant = p
		case p.LegalName.En == "Pudong Commercial Bank Co., Ltd.":
			f.bank = p
		}
	}
	if f.merchant.ID == "" || f.bank.ID == "" {
		return f, fmt.Errorf("the demo world lacks its frozen-meat merchant or Pudong bank")
	}
	f.decision = fw.Decisions[f.merchant.ID]
	if _, f.merchantKey, err = x.reg.IssueKey(ctx, f.merchant.ID, registry.NewAPIKey{Name: "web financing", Roles: []dataport.Role{dataport.RoleMerchant}}); err != nil {
		return f, err
	}
	if _, f.bankKey, err = x.reg.IssueKey(ctx, f.bank.ID, registry.NewAPIKey{Name: "web financing", Roles: []dataport.Role{dataport.RoleFinancialInstitution}}); err != nil {
		return f, err
	}
	self := dataport.Actor{ParticipantID: f.merchant.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
	offers, err := x.lend.Offers(ctx, self, lending.OfferFilter{MerchantID: f.merchant.ID, InstitutionID: f.bank.ID, Status: "open"})
	if err != nil {
		return f, err
	}
	if len(offers) == 0 {
		return f, fmt.Errorf("the merchant (grade %s, line %v) has no offer from the bank", f.decision.Grade, f.decision.Line)
	}
	a, _, err := x.lend.Apply(ctx, self, offers[0].ID, lending.NewApplication{
		Amount: dataport.Money{Amount: offers[0].Amount.Amount / 2, Currency: offers[0].Amount.Currency}, Purpose: "stock for the new year"})
	if err != nil {
		return f, err
	}
	if a.Loan == nil {
		return f, fmt.Errorf("the application was %s: %v", a.Decision.Outcome, a.Decision.Reasons)
	}
	f.loan = *a.Loan
	return f, nil
}

// TestMerchantDashboard opens the merchant's dashboard in both languages: its
// shops, its batches with their attestation, five charts each with its table, its
// latest score, the offers, the loan and the consent, all from the exchange's data.
func TestMerchantDashboard(t *testing.T) {
	x, f := financedWorld(t)
	ctx := context.Background()
	self := dataport.Actor{ParticipantID: f.merchant.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
	shops, err := x.fin.Shops(ctx, self, f.merchant.ID)
	if err != nil || len(shops) == 0 {
		t.Fatalf("shops: %v %d", err, len(shops))
	}
	batches, err := x.fin.Batches(ctx, self, f.merchant.ID, "", 10)
	if err != nil || len(batches) == 0 {
		t.Fatalf("batches: %v %d", err, len(batches))
	}
	latest, err := x.cred.Latest(ctx, self, f.merchant.ID)
	if err != nil {
		t.Fatal(err)
	}
	offers, err := x.lend.Offers(ctx, self, lending.OfferFilter{MerchantID: f.merchant.ID})
	if err != nil || len(offers) == 0 {
		t.Fatalf("offers: %v %d", err, len(offers))
	}
	consents, err := x.lend.Consents(ctx, self, lending.ConsentFilter{MerchantID: f.merchant.ID})
	if err != nil || len(consents) == 0 {
		t.Fatalf("consents: %v %d", err, len(consents))
	}
	for _, c := range []struct{ lang, title, grade, line string }{
		{"zh-CN", "商户经营看板", "风险等级", "授信额度"},
		{"en-US", "Merchant dashboard", "Risk grade", "Credit line"},
	} {
		b := x.browser(t)
		b.lang = c.lang
		b.signIn(f.merchantKey)
		p := b.mustPage("/merchant", http.StatusOK)
		want := []string{"<h1>" + c.title + "</h1>", c.grade, c.line,
			`class="score-points">` + strconv.FormatInt(latest.Score, 10) + "<",
			`class="score-grade">` + string(latest.Grade) + "<",
			`class="score-line">` + cny(latest.Line.Amount) + "<",
			`href="/merchant" aria-current="page"`,
			`data-consent="` + consents[0].ID + `"`,
			cny(f.loan.Principal.Amount),
		}
		for _, s := range shops {
			want = append(want, "<td>"+s.Name+"</td>")
		}
		for _, bt := range batches {
			want = append(want, `data-batch="`+bt.ID+`"`, bt.SHA256, fmt.Sprintf(`<td class="num">%d</td>`, bt.FilingSeq))
		}
		for _, o := range offers {
			want = append(want, `data-offer="`+o.ID+`"`)
		}
		for _, w := range want {
			if !strings.Contains(p.body, w) {
				t.Errorf("%s: the dashboard lacks %q", c.lang, w)
			}
		}
		// Five charts, each an SVG with its data table, and real points drawn.
		for _, id := range []string{"sales", "orders", "rates", "receivables", "scores"} {
			fig := between(p.body, `id="chart-`+id+`"`, `</figure>`)
			if !strings.Contains(fig, "<svg") || !strings.Contains(fig, `class="chart-table`) {
				t.Errorf("%s: chart %s lacks its SVG or its table:\n%s", c.lang, id, clip(fig))
			}
			if strings.Contains(fig, `class="no-data"`) {
				t.Errorf("%s: chart %s says there is no data", c.lang, id)
			}
		}
		// The sales table's amounts are the daily sums finance keeps.
		daily, err := x.fin.Daily(ctx, self, f.merchant.ID, 30, x.clock.Now())
		if err != nil || len(daily.Days) == 0 {
			t.Fatalf("daily: %v %d", err, len(daily.Days))
		}
		last := daily.Days[len(daily.Days)-1]
		sales := between(p.body, `id="chart-sales"`, `</figure>`)
		if row := fmt.Sprintf(`<tr><th scope="row">%s</th><td data-value="%d">%s</td>`, last.Day, last.Sales, cny(last.Sales)); !strings.Contains(sales, row) {
			t.Errorf("%s: the sales table lacks %s", c.lang, row)
		}
	}
}

// cny writes an amount as the console does: CNY 1,234.56.
func cny(minor int64) string {
	s := strconv.FormatInt(minor/100, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return fmt.Sprintf("CNY %s.%02d", s, minor%100)
}

// TestInstitutionPage opens the bank's page in both languages: its
// subscriptions, the offer it made to the merchant, the merchant's application
// and its decision, and the portfolio with the loan by grade and by product.
func TestInstitutionPage(t *testing.T) {
	x, f := financedWorld(t)
	ctx := context.Background()
	bank := dataport.Actor{ParticipantID: f.bank.ID, Roles: []dataport.Role{dataport.RoleFinancialInstitution}}
	subs, err := x.lend.Subscriptions(ctx, bank, lending.SubscriptionFilter{InstitutionID: f.bank.ID})
	if err != nil || len(subs) == 0 {
		t.Fatalf("subscriptions: %v %d", err, len(subs))
	}
	offers, err := x.lend.Offers(ctx, bank, lending.OfferFilter{InstitutionID: f.bank.ID})
	if err != nil || len(offers) == 0 {
		t.Fatalf("offers: %v %d", err, len(offers))
	}
	for _, c := range []struct{ lang, title, product, grade string }{
		{"zh-CN", "融资业务", "订单融资", "按风险等级的资产组合"},
		{"en-US", "Financing", "Order financing", "Portfolio by risk grade"},
	} {
		b := x.browser(t)
		b.lang = c.lang
		b.signIn(f.bankKey)
		p := b.mustPage("/institution", http.StatusOK)
		want := []string{"<h1>" + c.title + "</h1>", c.product, c.grade, `href="/institution" aria-current="page"`,
			`data-application="` + f.loan.ApplicationID + `"`, cny(f.loan.Principal.Amount)}
		for _, s := range subs {
			want = append(want, `data-subscription="`+s.ID+`"`)
		}
		for _, o := range offers {
			want = append(want, `data-offer="`+o.ID+`"`)
		}
		for _, w := range want {
			if !strings.Contains(p.body, w) {
				t.Errorf("%s: the institution's page lacks %q", c.lang, w)
			}
		}
		for _, id := range []string{"by-grade", "by-product"} {
			fig := between(p.body, `id="chart-`+id+`"`, `</figure>`)
			if !strings.Contains(fig, "chart-categories") || !strings.Contains(fig, `class="chart-table`) || strings.Contains(fig, `class="no-data"`) {
				t.Errorf("%s: chart %s lacks its bars or its table:\n%s", c.lang, id, clip(fig))
			}
		}
		// The loan's grade is a row of the grade table, with its outstanding amount.
		grades := between(p.body, `id="chart-by-grade"`, `</figure>`)
		if row := `<th scope="row">` + f.loan.Grade + `</th><td data-value="` + strconv.FormatInt(f.loan.Outstanding.Amount, 10) + `">`; !strings.Contains(grades, row) {
			t.Errorf("%s: the grade table lacks %s:\n%s", c.lang, row, clip(grades))
		}
	}
}

// TestFinancingPagesByRole: each page is its role's; another role gets the
// console's 403 page and no link to it.
func TestFinancingPagesByRole(t *testing.T) {
	x, f := financedWorld(t)
	for _, c := range []struct {
		key    string
		path   string
		status int
	}{
		{x.keys[dataport.RoleBuyer], "/merchant", http.StatusForbidden},
		{x.keys[dataport.RoleBuyer], "/institution", http.StatusForbidden},
		{f.merchantKey, "/institution", http.StatusForbidden},
		{f.bankKey, "/merchant", http.StatusForbidden},
		{x.keys[dataport.RoleOperator], "/merchant", http.StatusForbidden},
	} {
		b := x.browser(t)
		b.signIn(c.key)
		p := b.mustPage(c.path, c.status)
		if !strings.Contains(p.body, "error-page") {
			t.Errorf("%s: not the console's error page:\n%s", c.path, clip(p.body))
		}
		if strings.Contains(p.body, `href="`+c.path+`"`) {
			t.Errorf("the navigation links to %s for a role it is not for", c.path)
		}
	}
	// Changes need the form's CSRF token.
	b := x.browser(t)
	b.signIn(f.merchantKey)
	if p := b.do(http.MethodPost, "/merchant/decide", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("deciding without a CSRF token: %d", p.status)
	}
	if p := b.post("/merchant/decide", url.Values{}); p.status != http.StatusSeeOther {
		t.Errorf("deciding as the merchant: %s", describe(p))
	}
	bb := x.browser(t)
	bb.signIn(x.keys[dataport.RoleBuyer])
	if p := bb.post("/merchant/decide", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("deciding as a buyer: %d", p.status)
	}
}

// newMerchant registers a merchant of the test's own with the simulated shops of
// merchantsim's merchant i, and returns it, its key, and that merchant's orders
// as a CSV file.
func (x *exchange) newMerchant(t testing.TB, i int) (registry.Participant, string, []byte) {
	t.Helper()
	p, key := x.member(t, dataport.RoleMerchant)
	self := dataport.Actor{ParticipantID: p.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
	m := merchantsim.DefaultParams().WithRisk(7, i, -0.5)
	m.Age = 120
	for _, n := range m.NewShops() {
		if _, err := x.fin.ConnectShop(context.Background(), self, p.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	orders := m.Orders(x.clock.Now())
	sort.SliceStable(orders, func(a, b int) bool { return orders[a].OrderedAt.Before(orders[b].OrderedAt) })
	var buf bytes.Buffer
	if err := merchantsim.WriteCSV(&buf, orders); err != nil {
		t.Fatal(err)
	}
	return p, key, buf.Bytes()
}

// upload sends a file through the dashboard's upload form, as a browser would.
func (b *browser) upload(name string, data []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", b.csrf())
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		b.t.Fatal(err)
	}
	fw.Write(data)
	w.Close()
	req, err := http.NewRequest(http.MethodPost, b.x.srv.URL+"/merchant/batches", &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept-Language", b.lang)
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

var reportLine = regexp.MustCompile(`id="report"[\s\S]*?SHA-256 <code>([0-9a-f]{64})</code>`)

// TestMerchantUploadAndDecide: a new merchant sends its order history through the
// page and sees the batch's report in place, with the attestation finance filed;
// a file of another kind is refused at its input; "decide now" then gives it a
// score the dashboard shows.
func TestMerchantUploadAndDecide(t *testing.T) {
	x, _ := financedWorld(t)
	m, key, csv := x.newMerchant(t, 3)
	self := dataport.Actor{ParticipantID: m.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
	b := x.browser(t)
	b.lang = "en"
	b.signIn(key)
	before := b.mustPage("/merchant", http.StatusOK)
	if !strings.Contains(before.body, "No credit decision yet") || !strings.Contains(before.body, "No batch has been sent yet") {
		t.Errorf("a new merchant's dashboard:\n%s", clip(before.body))
	}
	if p := b.upload("orders.pdf", []byte("%PDF")); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Choose the file&#39;s format") {
		t.Errorf("a PDF: %s", describe(p))
	}
	p := b.upload("orders.csv", csv)
	if p.status != http.StatusOK {
		t.Fatalf("upload: %s", describe(p))
	}
	batches, err := x.fin.Batches(context.Background(), self, m.ID, "", 1)
	if err != nil || len(batches) != 1 {
		t.Fatalf("batches after the upload: %v %d", err, len(batches))
	}
	got := reportLine.FindStringSubmatch(p.body)
	if got == nil || got[1] != batches[0].SHA256 || batches[0].Accepted == 0 {
		t.Errorf("the report shows %v; finance attested %s with %d rows accepted", got, batches[0].SHA256, batches[0].Accepted)
	}
	if !strings.Contains(p.body, fmt.Sprintf("Batch %s attested: %d of %d rows accepted", batches[0].ID, batches[0].Accepted, batches[0].Rows)) {
		t.Errorf("the report's counts are not the batch's:\n%s", clip(between(p.body, `id="report"`, `</div>`)))
	}
	if d := b.post("/merchant/decide", url.Values{}); d.status != http.StatusSeeOther || d.header.Get("Location") != "/merchant#score" {
		t.Fatalf("decide: %s", describe(d))
	}
	latest, err := x.cred.Latest(context.Background(), self, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	after := b.mustPage("/merchant", http.StatusOK)
	if !strings.Contains(after.body, `class="score-points">`+strconv.FormatInt(latest.Score, 10)+"<") ||
		!strings.Contains(after.body, fmt.Sprintf("<dd>%d</dd>", latest.FilingSeq)) {
		t.Errorf("the dashboard does not show the new decision %d (filing %d):\n%s", latest.Score, latest.FilingSeq, clip(between(after.body, `id="score"`, `</section>`)))
	}
}

// TestMerchantInBrowser: the merchant signs in in Chromium, sees its dashboard's
// charts drawn (SVG with their marks) and their tables, opens one, and switches
// to Chinese; the institution's page is closed to it. The bank then signs in and
// sees its portfolio's charts. Each page is saved as a screenshot.
func TestMerchantInBrowser(t *testing.T) {
	x, f := financedWorld(t)
	cr := startChrome(t, x)
	cr.step("open the dashboard signed out", chromedp.Navigate(x.srv.URL+"/merchant"), chromedp.WaitVisible(chromedp.ID("key")))
	cr.until("sent to sign in", `location.pathname === "/login"`)
	cr.step("sign in", chromedp.SendKeys(chromedp.ID("key"), f.merchantKey), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	cr.until("the dashboard", `location.pathname === "/merchant" && document.documentElement.lang === "en"`)
	cr.until("five charts with their marks and tables", `(() => {
		const figs = [...document.querySelectorAll("figure.chart")];
		return figs.length === 5 &&
			figs.every(f => f.querySelector("svg.chart") !== null && f.querySelector("table.chart-table") !== null) &&
			figs.every(f => f.querySelector("svg .mark") !== null && f.querySelector("svg .no-data") === null) &&
			document.querySelector(".score-grade").textContent.trim().length === 1;
	})()`)
	cr.shoot("merchant-en")
	cr.step("show the sales numbers", chromedp.Click(chromedp.CSS(`#chart-sales summary`)))
	cr.until("the sales table visible", `document.querySelector("#chart-sales table.chart-table").getBoundingClientRect().height > 0 &&
		document.querySelectorAll("#chart-sales table.chart-table tbody tr").length === 30`)
	cr.shoot("merchant-sales-table-en")
	cr.step("switch to Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	cr.until("the dashboard in Chinese", `document.documentElement.lang === "zh-CN" && location.pathname === "/merchant" &&
		document.querySelector("h1").textContent === "商户经营看板" &&
		document.querySelectorAll("figure.chart svg.chart").length === 5 &&
		document.querySelector("#chart-sales svg title").textContent === "每日销售额"`)
	cr.shoot("merchant-zh")
	cr.step("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
		chromedp.Navigate(x.srv.URL+"/merchant"), chromedp.WaitVisible(chromedp.ID("score")))
	cr.until("the dashboard fits a phone", `document.documentElement.scrollWidth <= window.innerWidth`)
	cr.shoot("merchant-zh-phone")
	cr.step("back to a desktop", chromedp.EmulateViewport(1280, 900))

	// The institution's page is not the merchant's: the console's 403 page.
	cr.step("the institution's page as the merchant", chromedp.Navigate(x.srv.URL+"/institution"), chromedp.WaitVisible(chromedp.CSS(".error-page")))
	cr.shoot("institution-forbidden-zh")

	// The bank signs in: its portfolio by grade and by product, with the loan.
	cr.step("sign out", chromedp.Navigate(x.srv.URL+"/merchant"), chromedp.WaitVisible(chromedp.CSS("form.signout button")),
		chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("key")))
	cr.step("the institution's page signed out", chromedp.Navigate(x.srv.URL+"/institution"), chromedp.WaitVisible(chromedp.ID("key")))
	cr.step("sign in as the bank", chromedp.SendKeys(chromedp.ID("key"), f.bankKey), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	cr.until("the portfolio's charts", `location.pathname === "/institution" && document.documentElement.lang === "zh-CN" &&
		document.querySelectorAll("figure.chart svg.chart-categories .mark").length >= 2 &&
		document.querySelectorAll("figure.chart table.chart-table").length === 2 &&
		document.querySelector('[data-application="`+f.loan.ApplicationID+`"]') !== null`)
	cr.shoot("institution-zh")
	cr.finish(5)
}

// Each participant starts at its own work: a merchant at its dashboard, a financial
// institution at its portfolio, anyone else at the catalog — after signing in, and
// at / afterwards.
func TestLandingByRole(t *testing.T) {
	x, f := financedWorld(t)
	for key, want := range map[string]string{
		f.merchantKey:                  "/merchant",
		f.bankKey:                      "/institution",
		x.keys[dataport.RoleBuyer]:     "/catalog",
		x.keys[dataport.RoleOperator]:  "/operator",
		x.keys[dataport.RoleSupplier]:  "/supplier",
		x.keys[dataport.RoleAgent]:     "/supplier",
		x.keys[dataport.RoleRegulator]: "/regulator",
	} {
		b := x.browser(t)
		p := b.post("/login", url.Values{"key": {key}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != want {
			t.Errorf("signed in: %d to %q, want %s", p.status, p.header.Get("Location"), want)
		}
		if p := b.get("/"); p.header.Get("Location") != want {
			t.Errorf("/: to %q, want %s", p.header.Get("Location"), want)
		}
	}
}
