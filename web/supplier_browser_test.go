package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/compliance"
)

// TestSupplierInBrowser walks a domestic supplier's journey in Chromium: it signs
// in at its page, creates a product through the editor (a wrong country first,
// answered at its input), uploads the compliance report watching the upload's
// progress (static/upload.js), submits the product and sees it submitted; after
// the operator lists it, its page shows it listed with its registration number.
// Each main page is shot in English and, after the language switch, in Chinese.
// Nothing is requested from elsewhere and no script or CSP error is reported.
func TestSupplierInBrowser(t *testing.T) {
	x := seeded(t)
	me, key := x.domesticParty(t, dataport.RoleSupplier)
	cr := startChrome(t, x)
	tab, step, until, shoot := cr.tab, cr.step, cr.until, cr.shoot

	step("open the supplier's page signed out", chromedp.Navigate(x.srv.URL+"/supplier"), chromedp.WaitVisible(chromedp.ID("key")))
	step("sign in", chromedp.SendKeys(chromedp.ID("key"), key), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	until("the supplier's page", `location.pathname === "/supplier" && document.documentElement.lang === "en" && document.querySelector("#products .empty") !== null`)
	shoot("supplier-en")

	// The editor: every field typed as a person would, with a country that is none.
	step("the editor", chromedp.Click(chromedp.ID("new-product")), chromedp.WaitVisible(chromedp.ID("editor")))
	shoot("supplier-editor-en")
	step("fill in the product", fillProduct("长三角港口吞吐量（浏览器）", "Yangtze delta port throughput (browser)", "api", "XX")...)
	step("create it", chromedp.Click(chromedp.ID("save")))
	until("the country's problem at its input", `document.querySelector("#problems-origin_jurisdiction .problem") !== null &&
		document.querySelector("#origin_jurisdiction").getAttribute("aria-invalid") === "true" &&
		document.querySelector("#title_en").value === "Yangtze delta port throughput (browser)"`)
	shoot("supplier-editor-problem-en")
	if n := len(x.supplierProducts(t, me.ID)); n != 0 {
		t.Fatalf("the refused form created %d products", n)
	}
	step("fix the country", setValues(map[string]string{"origin_jurisdiction": ""}), chromedp.SendKeys(chromedp.ID("origin_jurisdiction"), "CN"),
		chromedp.Click(chromedp.ID("save")))
	until("the draft's page", `location.pathname.startsWith("/supplier/products/prd_") &&
		document.querySelector(".supplier-product").dataset.status === "draft"`)

	// The compliance report, uploaded with its progress shown.
	step("upload the compliance report", uploadReport(t)...)
	until("uploaded with its progress, and cited", reportUploaded)
	shoot("supplier-product-en")

	step("submit it", chromedp.Click(chromedp.ID("submit-button")))
	until("submitted", productSubmitted)
	step("my products", chromedp.Navigate(x.srv.URL+"/supplier"), chromedp.WaitVisible(chromedp.ID("products")))
	products := x.supplierProducts(t, me.ID)
	if len(products) != 1 {
		t.Fatalf("%d products after the journey", len(products))
	}
	id := products[0].ID
	until("the product submitted on the list", `document.querySelector('tr[data-product="`+id+`"]').dataset.status === "submitted"`)

	// The operator's review (its own pages are another part's): listed.
	ctx := context.Background()
	if _, err := x.cat.StartReview(ctx, x.operator, id); err != nil {
		t.Fatal(err)
	}
	listed, err := x.cat.Approve(ctx, x.operator, id)
	if err != nil {
		t.Fatal(err)
	}
	step("my products again", chromedp.Navigate(x.srv.URL+"/supplier"), chromedp.WaitVisible(chromedp.ID("products")))
	until("listed with its registration number", `document.querySelector('tr[data-product="`+id+`"]').dataset.status === "listed" &&
		document.querySelector('tr[data-product="`+id+`"] .regno').textContent === "`+listed.RegistrationNumber+`"`)
	shoot("supplier-listed-en")
	step("the contracts page", chromedp.Navigate(x.srv.URL+"/supplier/contracts"), chromedp.WaitVisible(chromedp.CSS(".supplier-contracts")))
	shoot("supplier-contracts-en")

	// Switch to Chinese: each main page again.
	step("switch to Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	until("the contracts page in Chinese", `document.documentElement.lang === "zh-CN" && location.pathname === "/supplier/contracts"`)
	shoot("supplier-contracts-zh")
	step("my products in Chinese", chromedp.Navigate(x.srv.URL+"/supplier"), chromedp.WaitVisible(chromedp.ID("products")))
	until("the list in Chinese", `document.documentElement.lang === "zh-CN" && document.querySelector('tr[data-product="`+id+`"] .badge').textContent === "已挂牌"`)
	shoot("supplier-zh")
	step("the product in Chinese", chromedp.Click(chromedp.CSS(`tr[data-product="`+id+`"] a`)), chromedp.WaitVisible(chromedp.ID("editor")))
	until("the listed product's editor proposes a change", `document.querySelector("h1").textContent === "长三角港口吞吐量（浏览器）" &&
		document.querySelector("#save").textContent === "保存变更"`)
	shoot("supplier-product-zh")
	step("a new product in Chinese", chromedp.Navigate(x.srv.URL+"/supplier/products/new"), chromedp.WaitVisible(chromedp.ID("editor")))
	shoot("supplier-editor-zh")
	if h1, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("h1"))); err != nil || !hasHan(h1) {
		t.Errorf("the editor's title in Chinese: %q %v", h1, err)
	}
	cr.finish(10)
}

// TestAgencyContractInBrowser: a foreign supplier signs the agency contract its
// agent proposed by choosing its private key file: the browser signs the
// document (static/sign.js) and the exchange records the signature.
func TestAgencyContractInBrowser(t *testing.T) {
	x := seeded(t)
	ctx := context.Background()
	agent, _ := x.domesticParty(t, dataport.RoleAgent)
	supplier, supplierKey := x.member(t, dataport.RoleSupplier)
	key := newSigningKey(t)
	key.register(t, x, supplier.ID)
	keyID, pemPath := key.id, key.pem
	today := x.clock.Now().UTC()
	k, err := x.rules.ProposeContract(ctx, dataport.Actor{ParticipantID: agent.ID, Roles: []dataport.Role{dataport.RoleAgent}},
		compliance.NewAgencyContract{SupplierID: supplier.ID, AgentID: agent.ID, Categories: []string{"energy"},
			ValidFrom: today.Format(time.DateOnly), ValidUntil: today.AddDate(1, 0, 0).Format(time.DateOnly), Terms: "Test terms."})
	if err != nil {
		t.Fatal(err)
	}
	cr := startChrome(t, x)
	step, until, shoot := cr.step, cr.until, cr.shoot
	step("open the contracts signed out", chromedp.Navigate(x.srv.URL+"/supplier/contracts"), chromedp.WaitVisible(chromedp.ID("key")))
	step("sign in", chromedp.SendKeys(chromedp.ID("key"), supplierKey), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	until("the contracts page", `location.pathname === "/supplier/contracts" && document.querySelector('[data-contract="`+k.ID+`"] form[data-sign]') !== null`)
	shoot("supplier-sign-en")
	step("choose the key file", chromedp.SetUploadFiles(chromedp.ID("sign-key-"+k.ID), []string{pemPath}))
	until("signed in the browser", `document.querySelector("#signature-`+k.ID+`").value !== "" &&
		document.querySelector("#key_id-`+k.ID+`").value === "`+keyID+`" &&
		document.querySelector('[data-contract="`+k.ID+`"] [data-sign-status]').classList.contains("ok")`)
	shoot("supplier-signed-en")
	step("send the signature", chromedp.Click(chromedp.ID("sign-button-"+k.ID)))
	until("recorded", `document.querySelector('[data-contract="`+k.ID+`"] form[data-sign]') === null && location.pathname === "/supplier/contracts"`)
	c, err := x.rules.Contract(ctx, x.operator, k.ID)
	if err != nil || c.SupplierSignature == nil || c.SupplierSignature.KeyID != keyID {
		t.Fatalf("the supplier's signature was not recorded: %+v %v", c.SupplierSignature, err)
	}
	if _, err := base64.StdEncoding.DecodeString(c.SupplierSignature.Signature); err != nil || strings.TrimSpace(c.SupplierSignature.Signature) == "" {
		t.Errorf("the signature recorded: %q", c.SupplierSignature.Signature)
	}
	cr.finish(3)
}

// setValues sets inputs' and selects' values by id, as a choice or a paste sets
// them.
func setValues(values map[string]string) chromedp.Action[chromedp.Void] {
	js := "(() => {"
	for id, v := range values {
		js += "document.getElementById(" + jsString(id) + ").value = " + jsString(v) + ";"
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](js+"return true; })()")(ctx, t)
		return err
	})
}

// check ticks a checkbox, whether or not it was ticked.
func check(selector string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(() => { document.querySelector(`+jsString(selector)+`).checked = true; return true; })()`)(ctx, t)
		return err
	})
}

// fillProduct fills the product editor as a supplier does: a subscription of CNY
// 2,400 a month delivered by mode, from the jurisdiction origin.
func fillProduct(titleZh, titleEn, mode, origin string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		setValues(map[string]string{"title_zh": titleZh, "summary_zh": "主要港口的每日吞吐量。",
			"update_frequency": "daily", "plan_kind_0": "subscription", "plan_period_0": "month",
			"fields": "port | string | 港口 | port", "origin_jurisdiction": ""}),
		chromedp.SendKeys(chromedp.ID("title_en"), titleEn),
		chromedp.SendKeys(chromedp.ID("summary_en"), "Daily throughput of the main ports."),
		chromedp.SendKeys(chromedp.ID("category"), "shipping"),
		check(`input[name=delivery_modes][value=` + mode + `]`),
		chromedp.SendKeys(chromedp.ID("plan_price_0"), "2400"),
		chromedp.SendKeys(chromedp.ID("scenarios"), "research"),
		chromedp.SendKeys(chromedp.ID("sample"), "port,teu"),
		chromedp.Click(chromedp.ID("rights_holding")),
		chromedp.SendKeys(chromedp.ID("origin_jurisdiction"), origin),
	}
}

// uploadReport chooses and uploads a compliance report on a draft's page, large
// enough that the upload reports its progress on the way (static/upload.js).
func uploadReport(t *testing.T) []chromedp.Action[chromedp.Void] {
	report := filepath.Join(t.TempDir(), "assessment.md")
	if err := os.WriteFile(report, append([]byte("# Compliance assessment (test)\n\n"), bytes.Repeat([]byte("The data is lawful to trade.\n"), 80_000)...), 0o644); err != nil {
		t.Fatal(err)
	}
	// The page may still be loading when the draft's status shows at its top.
	return []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.ID("upload-button")), setValues(map[string]string{"kind": "compliance_report"}),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{report}), chromedp.Click(chromedp.ID("upload-button"))}
}

// reportUploaded holds once the report is uploaded, its progress seen to the end,
// and cited by the product's second revision.
const reportUploaded = `document.documentElement.dataset.uploadProgress === "100" &&
	document.querySelector("#attachments .name") !== null && document.querySelector("#attachments .name").textContent === "assessment.md" &&
	document.querySelector('#revisions tr[data-revision="2"]') !== null`

const productSubmitted = `document.querySelector(".supplier-product").dataset.status === "submitted" && document.querySelector("#editor") === null`
