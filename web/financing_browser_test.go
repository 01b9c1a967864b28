package web_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
)

// TestFinancingInBrowser walks both sides of financing in Chromium. An
// institution of the test's own subscribes through the form — an amount that is
// not one answered at its input first — and a merchant of its own, whose order
// data is attested, consents to it through its form and asks for a decision: the
// offer reaches it. It applies (a bad amount answered at its input first), sees
// the decision approved and the loan, switches to Chinese and revokes the
// consent. The institution then sees the application, its decision and the loan
// in its portfolio. Each page is saved as a screenshot in both languages; nothing
// is requested from outside the server.
func TestFinancingInBrowser(t *testing.T) {
	x, _ := financedWorld(t)
	ctx := context.Background()
	bank, bankKey := x.member(t, dataport.RoleFinancialInstitution)
	m, merchantKey, csv := x.newMerchant(t, 8)
	self := dataport.Actor{ParticipantID: m.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
	if _, err := x.fin.IngestBatch(ctx, self, m.ID, "csv", bytes.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
	cr := startChrome(t, x)
	// Each wait also waits for the page to have loaded whole, so that the next
	// step acts on the page it waited for, not on the one it replaces.
	until := func(what, js string) {
		t.Helper()
		cr.until(what, `document.readyState === "complete" && (`+js+`)`)
	}
	signIn := func(key string) {
		t.Helper()
		cr.step("sign in", chromedp.Navigate(x.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("key")),
			chromedp.SendKeys(chromedp.ID("key"), key), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	}
	signOut := func() {
		t.Helper()
		cr.step("sign out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("key")))
	}

	// The institution subscribes: a line that is not an amount first.
	signIn(bankKey)
	until("the institution's page", `location.pathname === "/institution" && document.documentElement.lang === "en" &&
		document.querySelector("#new-subscription") !== null`)
	cr.step("a new subscription", chromedp.Click(chromedp.ID("new-subscription")))
	until("the form", `document.querySelector("#subscription-form") !== null`)
	cr.shoot("subscription-new-en")
	cr.step("a line that is not an amount", chromedp.SetValue(chromedp.ID("max_line"), "lots"),
		chromedp.SetValue(chromedp.ID("score_floor"), "300"), chromedp.Click(chromedp.ID("subscribe")))
	until("the problem at the line", `location.pathname === "/institution/subscriptions" &&
		document.querySelector("#problems-max_line .problem") !== null &&
		document.querySelector("#max_line").getAttribute("aria-invalid") === "true" &&
		document.querySelector("#max_line").value === "lots" && document.querySelector("#score_floor").value === "300"`)
	cr.shoot("subscription-problem-en")
	cr.step("subscribe", chromedp.SetValue(chromedp.ID("max_line"), "100000000"), chromedp.Click(chromedp.ID("subscribe")))
	until("the subscription", `location.pathname.startsWith("/institution/subscriptions/sub_") &&
		document.querySelector('[data-rule="score_floor"]') !== null && document.querySelector("#status").textContent === "Active"`)
	cr.shoot("subscription-en")
	signOut()

	// The merchant consents to the institution and asks for a decision.
	signIn(merchantKey)
	until("the dashboard", `location.pathname === "/merchant" && document.querySelector("#manage-consents") !== null`)
	cr.step("consents", chromedp.Click(chromedp.ID("manage-consents")))
	until("the consents' page", `document.querySelector("#grant-form") !== null`)
	cr.step("consent to the institution", chromedp.Click(chromedp.CSS(`input[name="institution"][value="`+bank.ID+`"]`)),
		chromedp.Click(chromedp.CSS(`#grant-form button[type=submit]`)))
	until("the consent granted", `location.pathname === "/merchant/consents" &&
		document.querySelectorAll('[data-consent][data-status="active"]').length === 1`)
	cr.shoot("consents-en")
	cr.step("decide", chromedp.Navigate(x.srv.URL+"/merchant"), chromedp.WaitVisible(chromedp.ID("decide")), chromedp.Click(chromedp.ID("decide")))
	until("the offer", `location.pathname === "/merchant" && document.querySelector('#offers a[href^="/merchant/offers/"]') !== null`)
	offers, err := x.lend.Offers(ctx, self, lending.OfferFilter{MerchantID: m.ID, Status: "open"})
	if err != nil || len(offers) != 1 || offers[0].InstitutionID != bank.ID {
		t.Fatalf("the merchant's open offers: %v %+v", err, offers)
	}
	cr.step("open the offer", chromedp.Click(chromedp.CSS(`#offers a[href="/merchant/offers/`+offers[0].ID+`"]`)))
	until("the offer's page", `document.querySelector("#apply-form") !== null`)
	cr.shoot("offer-en")

	// It applies: an amount that is not one first.
	cr.step("an amount that is not one", chromedp.SetValue(chromedp.ID("amount"), "many"), chromedp.Click(chromedp.ID("apply-send")))
	until("the problem at the amount", `document.querySelector("#problems-amount .problem") !== null && document.querySelector("#amount").value === "many"`)
	cr.shoot("offer-problem-en")
	cr.step("apply", chromedp.SetValue(chromedp.ID("amount"), formatMajor(offers[0].Amount.Amount/2)),
		chromedp.SetValue(chromedp.ID("purpose"), "spring stock"), chromedp.Click(chromedp.ID("apply-send")))
	until("approved, with the loan", `location.pathname.startsWith("/merchant/applications/") &&
		document.querySelector("#decision").dataset.outcome === "approved" && document.querySelector("#loan .loan-principal") !== null`)
	cr.shoot("application-en")
	apps, err := x.lend.Applications(ctx, self, lending.ApplicationFilter{MerchantID: m.ID})
	if err != nil || len(apps) != 1 || apps[0].LoanID == "" {
		t.Fatalf("the applications: %v %+v", err, apps)
	}
	cr.step("switch to Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	until("the decision in Chinese", `document.documentElement.lang === "zh-CN" && document.querySelector("#outcome").textContent === "已批准"`)
	cr.shoot("application-zh")
	cr.step("the offer, taken", chromedp.Navigate(x.srv.URL+"/merchant/offers/"+offers[0].ID), chromedp.WaitVisible(chromedp.ID("offer")))
	until("no form on a taken offer", `document.querySelector("#apply-form") === null && document.querySelector(".offer-status").textContent.startsWith("已使用")`)
	cr.shoot("offer-zh")
	cr.step("the shops", chromedp.Navigate(x.srv.URL+"/merchant/shops"), chromedp.WaitVisible(chromedp.ID("connect-form")))
	cr.shoot("shops-zh")

	// It revokes its consent.
	cr.step("revoke the consent", chromedp.Navigate(x.srv.URL+"/merchant/consents"), chromedp.WaitVisible(chromedp.CSS(`form.revoke button`)),
		chromedp.Click(chromedp.CSS(`form.revoke button`)))
	until("the consent revoked", `document.querySelectorAll('[data-consent][data-status="revoked"]').length === 1 &&
		document.querySelector("form.revoke") === null`)
	cr.shoot("consents-zh")
	cr.step("the dashboard", chromedp.Navigate(x.srv.URL+"/merchant"), chromedp.WaitVisible(chromedp.ID("applications")))
	until("the application and the loan on the dashboard", `document.querySelector('#applications [data-application="`+apps[0].ID+`"]') !== null &&
		document.querySelectorAll("#loans tbody tr").length === 1`)
	cr.shoot("merchant-financing-zh")
	signOut()

	// The institution sees the application, its decision and the loan.
	signIn(bankKey)
	until("the portfolio with the loan", `location.pathname === "/institution" && document.documentElement.lang === "zh-CN" &&
		document.querySelector('[data-application="`+apps[0].ID+`"]') !== null &&
		document.querySelector('[data-loan="`+apps[0].LoanID+`"]') !== null &&
		document.querySelectorAll("figure.chart svg.chart-categories .mark").length >= 2`)
	cr.shoot("institution-financing-zh")
	cr.step("the application", chromedp.Click(chromedp.CSS(`#applications [data-application="`+apps[0].ID+`"] a`)))
	until("its decision and loan", `document.querySelector("#decision").dataset.outcome === "approved" &&
		document.querySelector('#loan[data-loan="`+apps[0].LoanID+`"]') !== null && document.querySelectorAll("#decision [data-rule]").length === 1`)
	cr.shoot("institution-application-zh")
	cr.step("switch to English", chromedp.Click(chromedp.CSS(`.langs a[data-lang="en"]`)))
	until("the decision in English", `document.documentElement.lang === "en" && document.querySelector("#outcome").textContent === "Approved"`)
	cr.shoot("institution-application-en")
	cr.step("the portfolio in English", chromedp.Navigate(x.srv.URL+"/institution"), chromedp.WaitVisible(chromedp.ID("loans")))
	cr.shoot("institution-financing-en")
	cr.step("the subscription", chromedp.Click(chromedp.CSS(`#subscriptions a[href^="/institution/subscriptions/sub_"]`)))
	until("the subscription's page", `document.querySelector("#rules-form") !== null`)
	cr.step("pause it", chromedp.Click(chromedp.ID("pause")))
	until("paused", `document.querySelector("#subscription").dataset.status === "paused" && document.querySelector("#resume") !== null`)
	cr.step("switch to Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	until("the subscription in Chinese", `document.documentElement.lang === "zh-CN" && document.querySelector("#status").textContent === "已暂停"`)
	cr.shoot("subscription-zh")
	cr.step("a new subscription in Chinese", chromedp.Navigate(x.srv.URL+"/institution/subscriptions/new"), chromedp.WaitVisible(chromedp.ID("subscription-form")))
	cr.shoot("subscription-new-zh")
	cr.finish(20)
}
