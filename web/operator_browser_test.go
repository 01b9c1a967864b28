package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/registry"
)

// TestOperatorInBrowser walks through the operator's day in Chromium, on an
// exchange of its own (it suspends a participant): the overview, a submitted
// product in the review queue with its assessment, the review started and the
// product approved with its registration number shown; a participant's KYC
// rejected without a note (answered at the note) and then verified; a supplier
// suspended with one click after the confirmation that says what will happen, the
// cascade shown (its listed product suspended), and resumed; a rule pack with an
// error answered at the source, then a good one uploaded as a file and activated.
// Each main page is saved in English and in Chinese; nothing is requested from
// elsewhere and no script or CSP error occurs.
func TestOperatorInBrowser(t *testing.T) {
	x := fresh(t, dataport.SystemClock{})
	ctx := context.Background()
	supplier := opDomesticSupplier(t, x)
	p := opSubmitted(t, x, supplier, "Waigaoqiao gate transactions")
	pending, err := x.reg.CreateParticipant(ctx, x.operator, registry.NewParticipant{LegalName: dataport.Bilingual{En: "Fjordline Logistics AS"},
		Jurisdiction: "NO", Kind: registry.Foreign, RegistrationNumber: "912345670", Roles: []dataport.Role{dataport.RoleSupplier}})
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "pack-2026.12.1.yaml")
	if err := os.WriteFile(good, []byte(strings.Replace(string(compliance.DefaultPackSource), `version: "2026.11.1"`, `version: "2026.12.1"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	cr := startChrome(t, x)
	step, until, shoot, at := cr.step, cr.until, cr.shoot, x.srv.URL
	step("sign in", chromedp.Navigate(at+"/login"), chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), x.keys[dataport.RoleOperator]), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	until("signed in", `location.pathname !== "/login"`)
	step("the overview", chromedp.Navigate(at+"/operator"), chromedp.WaitVisible(chromedp.ID("overview")))
	until("one product in review", `document.querySelector("#count-queue").textContent.trim() === "1" && document.documentElement.lang === "en"`)
	shoot("operator-en")

	// The review queue, the product with its assessment, the review and the listing.
	step("the review queue", chromedp.Click(chromedp.CSS(`#overview a[href="/operator/review"]`)))
	until("the product in the queue", `location.pathname === "/operator/review" &&
		document.querySelector('#queue tr[data-product="`+p.ID+`"] .outcome-allow') !== null`)
	shoot("operator-review-en")
	step("open the product", chromedp.Click(chromedp.CSS(`#queue tr[data-product="`+p.ID+`"] a`)))
	until("its assessment", `document.querySelector('#assessment [data-outcome="allow"]') !== null && document.querySelector("#start") !== null`)
	shoot("operator-product-en")
	step("start the review", chromedp.Click(chromedp.ID("start")))
	until("under review", `document.querySelector('#product[data-state="under_review"]') !== null && document.querySelector("#approve") !== null`)
	step("approve", chromedp.Click(chromedp.ID("approve")))
	until("listed with its registration number", `document.querySelector('#done[data-done="listed"]') !== null &&
		document.querySelector("#regno") !== null && document.querySelector("#regno").textContent.trim().length > 0`)
	shoot("operator-product-listed-en")

	// A participant's KYC: a rejection needs a note.
	kyc := at + "/operator/participants/" + pending.ID
	step("the pending participant", chromedp.Navigate(kyc), chromedp.WaitVisible(chromedp.ID("kyc-form")))
	step("reject without a note", chromedp.SetValue(chromedp.ID("kyc-status"), "rejected"), chromedp.Click(chromedp.ID("kyc-submit")))
	until("the problem at the note", `document.querySelector("#problems-kyc-note .problem") !== null`)
	shoot("operator-kyc-problem-en")
	step("verify", chromedp.SetValue(chromedp.ID("kyc-status"), "verified"), chromedp.SendKeys(chromedp.ID("kyc-note"), "registry extract checked"),
		chromedp.Click(chromedp.ID("kyc-submit")))
	until("verified", `document.querySelector('#done[data-done="kyc"]') !== null && document.querySelector("#kyc-badge.op-kyc-verified") !== null`)

	// The supplier suspended with one click, after the confirmation; the cascade.
	step("the supplier", chromedp.Navigate(at+"/operator/participants/"+supplier.ID), chromedp.WaitVisible(chromedp.ID("suspend")))
	shoot("operator-participant-en")
	step("suspend…", chromedp.Click(chromedp.ID("suspend")))
	until("what will happen", `document.querySelector("#will-products") !== null && /\b1\b/.test(document.querySelector("#will-products").textContent)`)
	shoot("operator-suspend-en")
	step("suspend", chromedp.SendKeys(chromedp.ID("reason"), "licence withdrawn by the authority"), chromedp.Click(chromedp.ID("suspend-submit")))
	until("the cascade", `document.querySelector('#participant[data-status="suspended"]') !== null &&
		document.querySelector('#cascade[data-kind="suspended"] li[data-type="product_suspended"][data-subject="`+p.ID+`"]') !== null &&
		document.querySelector('#products tr[data-product="`+p.ID+`"][data-status="suspended"]') !== null`)
	shoot("operator-cascade-en")
	step("resume", chromedp.Click(chromedp.ID("resume")))
	until("resumed, the product listed again", `document.querySelector('#participant[data-status="active"]') !== null &&
		document.querySelector('#cascade[data-kind="resumed"] li[data-type="product_resumed"]') !== null &&
		document.querySelector('#products tr[data-product="`+p.ID+`"][data-status="listed"]') !== null`)

	// A rule pack with an error, then a good one from a file, activated.
	step("the rule packs", chromedp.Navigate(at+"/operator/packs"), chromedp.WaitVisible(chromedp.ID("pack-form")))
	step("a pack with an error", chromedp.SendKeys(chromedp.ID("source"), "version: \"2026.12.9\"\nrules: []\n"), chromedp.Click(chromedp.ID("pack-submit")))
	until("the problem at the source", `document.querySelector("#problems-source .problem") !== null && location.pathname === "/operator/packs"`)
	shoot("operator-pack-problem-en")
	step("a good pack from a file (it takes the place of what is in the textarea)", chromedp.SetUploadFiles(chromedp.ID("pack-file"), []string{good}),
		chromedp.Click(chromedp.ID("pack-submit")))
	until("the stored pack", `location.pathname === "/operator/packs/2026.12.1" && document.querySelector("#activate") !== null &&
		document.querySelectorAll('#cases tr[data-passed="true"]').length > 0 && document.querySelector('#cases tr[data-passed="false"]') === null`)
	step("activate", chromedp.Click(chromedp.ID("activate")))
	until("in force", `document.querySelector('#pack[data-status="active"]') !== null`)
	shoot("operator-pack-en")

	// The other pages in English, then every page in Chinese.
	pages := []struct{ path, name, ready string }{
		{"/operator", "operator", "overview"},
		{"/operator/review", "operator-review", "queue-empty"},
		{"/operator/products/" + p.ID, "operator-product", "assessment"},
		{"/operator/participants", "operator-participants", "participants"},
		{"/operator/participants/" + supplier.ID, "operator-participant", "participant"},
		{"/operator/participants/" + supplier.ID + "/suspend", "operator-suspend", "confirm"},
		{"/operator/packs", "operator-packs", "packs"},
		{"/operator/packs/2026.12.1", "operator-pack", "pack"},
		{"/operator/contracts", "operator-contracts", "awaiting"},
		{"/operator/approvals", "operator-approvals", "expiry"},
		{"/operator/harvest", "operator-harvest", "add-source"},
		{"/operator/mirror", "operator-mirror", "usage"},
	}
	for _, pg := range pages[8:] {
		step(pg.name, chromedp.Navigate(at+pg.path), chromedp.WaitVisible(chromedp.ID(pg.ready)))
		shoot(pg.name + "-en")
	}
	step("switch to Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	until("in Chinese", `document.documentElement.lang === "zh-CN" && document.querySelector("h1").textContent === "境内镜像"`)
	for _, pg := range pages {
		step(pg.name+" in Chinese", chromedp.Navigate(at+pg.path), chromedp.WaitVisible(chromedp.ID(pg.ready)))
		until(pg.name+" in Chinese", `document.documentElement.lang === "zh-CN"`)
		shoot(pg.name + "-zh")
	}
	step("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
		chromedp.Navigate(at+"/operator/participants/"+supplier.ID), chromedp.WaitVisible(chromedp.ID("participant")))
	until("the participant fits a phone", `document.documentElement.scrollWidth <= window.innerWidth`)
	shoot("operator-participant-zh-phone")
	step("back to a desktop", chromedp.EmulateViewport(1280, 900))
	cr.finish(20)
}
