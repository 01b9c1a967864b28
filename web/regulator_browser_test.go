package web_test

import (
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport"
)

// TestRegulatorInBrowser walks the regulator's journey in Chromium: sign in, the
// log's latest checkpoint on the supervision page, a trace of a product of the
// demo catalog typed into the form, its listing's filing, and the proof checked in
// the browser — every step passing. Then the data the page hands the script is
// tampered with, a hash of the audit path and then the checkpoint's signature, and
// the browser's check FAILS at the right step: the check can fail. Bad input is
// answered at its input; the pages are shot in English and Chinese.
func TestRegulatorInBrowser(t *testing.T) {
	x := seeded(t)
	product := x.firstHit(t, "港口")
	listed := listedFiling(t, x, product.ID)
	seq := strconv.FormatInt(listed.Seq, 10)
	cr := startChrome(t, x)
	tab, step, until, shoot := cr.tab, cr.step, cr.until, cr.shoot

	step("open supervision signed out", chromedp.Navigate(x.srv.URL+"/regulator"), chromedp.WaitVisible(chromedp.ID("key")))
	step("sign in as the regulator", chromedp.SendKeys(chromedp.ID("key"), x.keys[dataport.RoleRegulator]),
		chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	until("the supervision page", `location.pathname === "/regulator" && document.documentElement.lang === "en"`)
	until("the latest checkpoint", `Number(document.querySelector("#checkpoint .size").textContent) >= `+seq+` &&
		document.querySelector("#checkpoint .origin").textContent === "web.test.example/log" &&
		document.querySelector("#note").textContent.includes("\u2014 web.test.example/log ") &&
		document.querySelector('#counts tr[data-kind="product.listed"]') !== null`)
	shoot("regulator-en")

	// A trace typed into the form: the product's filings, its listing among them.
	step("trace the product", chromedp.SetValue(chromedp.ID("by"), "product"), chromedp.SendKeys(chromedp.ID("id"), product.ID),
		chromedp.Click(chromedp.CSS(`#trace-form button[type=submit]`)))
	until("the product's filings", `location.pathname === "/regulator/trace" &&
		document.querySelector('#results tr[data-seq="`+seq+`"] a[href="/regulator/filings/`+seq+`"]') !== null`)
	shoot("regulator-trace-en")

	// The listing's filing, checked in the browser: every step passes.
	step("open the listing's filing", chromedp.Click(chromedp.CSS(`#results tr[data-seq="`+seq+`"] a[href="/regulator/filings/`+seq+`"]`)),
		chromedp.WaitVisible(chromedp.ID("verify-button")))
	until("the filing's page", `location.pathname === "/regulator/filings/`+seq+`" && document.querySelector("#proof-data") !== null`)
	verify := func(what string) string {
		t.Helper()
		step(what, chromedp.Click(chromedp.ID("verify-button")))
		until(what+": done", `document.querySelector("#verify").dataset.result !== undefined`)
		res, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#verify").dataset.result + ":" +
			[...document.querySelectorAll("#steps li")].map(li => li.dataset.step + "=" + li.dataset.result).join(",")`))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return res
	}
	const allPass = "pass:leaf=pass,path=pass,root=pass,signature=pass"
	if got := verify("verify in the browser"); got != allPass {
		t.Fatalf("the browser's check of an untouched proof: %s, want %s\n%s", got, allPass, text(tab))
	}
	shoot("regulator-filing-en")

	// One hash of the audit path changed in the data the page gives the script:
	// the path leads to another root, which is not the checkpoint's.
	tamper := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => {
			const block = document.querySelector("#proof-data");
			const d = JSON.parse(block.textContent);
			`+js+`
			block.textContent = JSON.stringify(d);
			return true;
		})()`)); err != nil {
			t.Fatalf("tamper with %s: %v", what, err)
		}
	}
	tamper("a path hash", `const h = atob(d.proof[0]);
		d.proof[0] = btoa(String.fromCharCode(h.charCodeAt(0) ^ 1) + h.slice(1));`)
	if got, want := verify("verify a tampered path"), "fail:leaf=pass,path=pass,root=fail,signature=pass"; got != want {
		t.Errorf("the browser's check of a tampered path: %s, want %s", got, want)
	}
	until("the failure shown", `document.querySelector("#outcome").classList.contains("fail") &&
		document.querySelector('#steps li[data-step="root"] .step-result').textContent === "FAILED"`)
	shoot("regulator-filing-tampered-en")

	// The checkpoint's signature changed, on a fresh page: the hashes hold, the
	// Ed25519 signature does not.
	step("reload the filing", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("verify-button")))
	tamper("the signature", `const lines = d.checkpoint.split("\n");
		const i = lines.findIndex(l => l.startsWith("\u2014 web.test.example/log "));
		const sig = atob(lines[i].split(" ")[2]);
		lines[i] = "\u2014 web.test.example/log " + btoa(sig.slice(0, 10) + String.fromCharCode(sig.charCodeAt(10) ^ 1) + sig.slice(11));
		d.checkpoint = lines.join("\n");`)
	if got, want := verify("verify a tampered signature"), "fail:leaf=pass,path=pass,root=pass,signature=fail"; got != want {
		t.Errorf("the browser's check of a tampered signature: %s, want %s", got, want)
	}

	// In Chinese: the same page, checked again from the server's data.
	step("switch to Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	until("the filing in Chinese", `document.documentElement.lang === "zh-CN" && location.pathname === "/regulator/filings/`+seq+`" &&
		document.querySelector("h1").textContent === "备案 `+seq+`"`)
	step("the verify button", chromedp.WaitVisible(chromedp.ID("verify-button")))
	if got := verify("verify in Chinese"); got != allPass {
		t.Errorf("the browser's check in Chinese: %s, want %s", got, allPass)
	}
	until("the steps in Chinese", `document.querySelector('#steps li[data-step="signature"] .step-result').textContent === "通过"`)
	shoot("regulator-filing-zh")

	// A phone's width: the hashes and the entry wrap, nothing is wider than the
	// screen.
	step("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
		chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("verify-button")))
	until("the filing fits a phone", `document.documentElement.scrollWidth <= window.innerWidth`)
	shoot("regulator-filing-zh-phone")
	step("back to a desktop", chromedp.EmulateViewport(1280, 900))

	step("the supervision page in Chinese", chromedp.Navigate(x.srv.URL+"/regulator"), chromedp.WaitVisible(chromedp.ID("checkpoint")))
	until("in Chinese", `document.documentElement.lang === "zh-CN" && document.querySelector("h1").textContent === "监管"`)
	shoot("regulator-zh")
	step("trace the supplier", chromedp.SetValue(chromedp.ID("by"), "participant"), chromedp.SendKeys(chromedp.ID("id"), product.SupplierID),
		chromedp.Click(chromedp.CSS(`#trace-form button[type=submit]`)))
	until("the supplier's filings", `location.pathname === "/regulator/trace" && document.querySelectorAll("#results tr[data-seq]").length > 0`)
	shoot("regulator-trace-zh")

	// A product's id where a deal's is asked for: the problem under the id, what
	// was typed kept.
	step("a deal's trace with a product's id", chromedp.SetValue(chromedp.ID("by"), "deal"), chromedp.SetValue(chromedp.ID("id"), product.ID),
		chromedp.Click(chromedp.CSS(`#trace-form button[type=submit]`)))
	until("the problem at the id", `document.querySelector("#problems-id .problem") !== null &&
		document.querySelector("#problems-id .problem").textContent.includes("deal_") &&
		document.querySelector("#id").value === "`+product.ID+`" && document.querySelector("#results tr[data-seq]") === null`)
	shoot("regulator-trace-problem-zh")

	// The bundle-checking page.
	step("the bundle check", chromedp.Navigate(x.srv.URL+"/regulator/verify"), chromedp.WaitVisible(chromedp.ID("bundle")))
	step("check nothing", chromedp.Click(chromedp.CSS(`#verify-form button[type=submit]`)))
	until("the problem at the bundle", `document.querySelector("#problems-bundle .problem") !== null`)
	shoot("regulator-verify-zh")

	cr.finish(10)
}
