package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/internal/browsertest"
)

// artifactsEnv names the folder the browser tests save their screenshots in (CI
// collects it); without it they go to the test's temporary folder.
const artifactsEnv = "DATAPORT_ARTIFACTS"

// TestConsoleInBrowser walks through the console in Debian's Chromium as a buyer
// would: a wrong key answered in place, sign-in with a key, a search with a
// two-character Chinese query typed into the search box (htmx searches as one
// types) that finds products with the query highlighted, a facet that filters, the
// product page, the language switch (remembered on the next page), a phone's
// width, and sign-out. Every request the pages make is watched: none may go to
// another host than the exchange's, no script may fail and the
// Content-Security-Policy may refuse nothing. Each main page is saved as a
// screenshot in both languages.
func TestConsoleInBrowser(t *testing.T) {
	x := seeded(t)
	cr := startChrome(t, x)
	tab, step, until, shoot := cr.tab, cr.step, cr.until, cr.shoot

	// Signed out, the console opens at its sign-in page, in the browser's
	// language. A wrong key is answered at the key's input, in place (htmx swaps
	// the form the 422 answer carries).
	step("open the console", chromedp.Navigate(x.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("key")))
	until("the sign-in page in English", `location.pathname === "/login" && document.documentElement.lang === "en"`)
	shoot("login-en")
	step("a wrong key", chromedp.SendKeys(chromedp.ID("key"), "dp.key_wrong.secret"),
		chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	until("the problem at the key", `document.querySelector("#problems-key .problem") !== null && location.pathname === "/login"`)
	shoot("login-problem-en")

	// Sign in with the buyer's key: the catalog.
	step("sign in", chromedp.SendKeys(chromedp.ID("key"), x.keys[dataport.RoleBuyer]),
		chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	until("the catalog", `location.pathname === "/catalog" && document.querySelector("#q") !== null`)
	step("the catalog's products", chromedp.WaitVisible(chromedp.CSS(".hit")))
	shoot("catalog-en")

	// Type a two-character Chinese query: the results change as one types, the
	// matched words marked, and the address follows the search.
	step("type 港口", chromedp.SendKeys(chromedp.ID("q"), "港口"))
	until("hits for 港口", `document.querySelectorAll(".hit .snippet mark").length > 0 &&
		[...document.querySelectorAll(".hit .snippet mark")].every(m => m.textContent === "港口") &&
		new URLSearchParams(location.search).get("q") === "港口"`)
	shoot("search-en")
	found, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll(".hit").length`))
	if err != nil || found == 0 {
		t.Fatalf("hits for 港口: %d, %v", found, err)
	}

	// Filter by a facet: its count is what the filtered search finds.
	facet, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`(() => {
		const a = document.querySelector('[data-facet="category"] a:not(.selected)');
		return [a.dataset.value, a.querySelector(".n").textContent];
	})()`))
	if err != nil || len(facet) != 2 {
		t.Fatalf("read a category facet: %v %v", facet, err)
	}
	step("filter by category "+facet[0], chromedp.Click(chromedp.CSS(`[data-facet="category"] a[data-value="`+facet[0]+`"]`)))
	until("the filtered search", fmt.Sprintf(`new URLSearchParams(location.search).get("category") === %q &&
		document.querySelector(".chip") !== null && /\D%s\D/.test(" " + document.querySelector("#count").textContent + " ") &&
		document.querySelectorAll(".hit").length === Math.min(20, %s)`, facet[0], facet[1], facet[1]))

	// The product page.
	title, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(".hit h2 a")))
	if err != nil {
		t.Fatal(err)
	}
	step("open the product", chromedp.Click(chromedp.CSS(".hit h2 a")), chromedp.WaitVisible(chromedp.ID("certificate")))
	until("the product page", `location.pathname.startsWith("/products/") && document.querySelector(".regno") !== null`)
	if h1, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS("h1"))); strings.TrimSpace(h1) != strings.TrimSpace(title) {
		t.Errorf("the product page's title %q is not the hit's %q", h1, title)
	}
	productURL, _ := chromedp.Run(tab, chromedp.Location())
	shoot("product-en")

	// Switch to Chinese: the same page, in Chinese, and the choice is
	// remembered on the next page opened.
	step("switch to Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	until("the product page in Chinese", `document.documentElement.lang === "zh-CN" && location.pathname.startsWith("/products/")`)
	if h1, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS("h1"))); !hasHan(h1) {
		t.Errorf("the product's title in Chinese is %q", h1)
	}
	shoot("product-zh")
	step("open the catalog", chromedp.Navigate(x.srv.URL+"/catalog?q="+url.QueryEscape("信用")), chromedp.WaitVisible(chromedp.CSS(".hit")))
	until("the catalog still in Chinese", `document.documentElement.lang === "zh-CN" && document.querySelector(".hit .snippet mark").textContent === "信用"`)
	shoot("search-zh")
	step("the whole catalog", chromedp.Navigate(x.srv.URL+"/catalog"), chromedp.WaitVisible(chromedp.CSS(".hit")))
	shoot("catalog-zh")

	// A phone's width: one column, nothing wider than the screen.
	step("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
		chromedp.Navigate(productURL), chromedp.WaitVisible(chromedp.ID("certificate")))
	until("the page fits a phone", `document.documentElement.scrollWidth <= window.innerWidth`)
	shoot("product-zh-phone")
	step("the catalog on a phone", chromedp.Navigate(x.srv.URL+"/catalog?q="+url.QueryEscape("港口")), chromedp.WaitVisible(chromedp.CSS(".hit")))
	until("the catalog fits a phone", `document.documentElement.scrollWidth <= window.innerWidth`)
	shoot("catalog-zh-phone")
	step("back to a desktop", chromedp.EmulateViewport(1280, 900))

	// Sign out: the sign-in page, in the language chosen, and the catalog is
	// closed again.
	step("sign out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("key")))
	until("signed out", `location.pathname === "/login" && document.documentElement.lang === "zh-CN"`)
	shoot("login-zh")
	step("the catalog signed out", chromedp.Navigate(x.srv.URL+"/catalog"), chromedp.WaitVisible(chromedp.ID("key")))
	until("sent to sign in", `location.pathname === "/login"`)
	step("the error page", chromedp.Navigate(x.srv.URL+"/lang/xx"), chromedp.WaitVisible(chromedp.CSS(".error-page")))
	shoot("error-zh")

	// Nothing left the server, nothing failed.
	cr.finish(10)
}

// chrome is a Chromium tab on the exchange's console, for the browser tests: each
// step waits for its condition with a generous timeout, every request the pages
// make is recorded, and pages are saved as screenshots.
type chrome struct {
	t      *testing.T
	x      *exchange
	tab    context.Context
	seen   *browsertest.Activity
	shots  string
	server *url.URL
}

// startChrome starts Debian's Chromium (DATAPORT_TEST_CHROMIUM) with a fresh
// profile; it stops when the test ends.
func startChrome(t *testing.T, x *exchange) *chrome {
	t.Helper()
	cr := &chrome{t: t, x: x, shots: artifacts(t)}
	var err error
	if cr.server, err = url.Parse(x.srv.URL); err != nil {
		t.Fatal(err)
	}
	// One deadline for the whole walk, generous since the race detector slows the
	// server many times over; an English browser, so that the language the console
	// picks first is the Accept-Language's.
	cr.tab, cr.seen = browsertest.Start(t, 4*time.Minute,
		chromedp.Flag("lang", "en-US"), chromedp.Flag("accept-lang", "en-US,en"), chromedp.WindowSize(1280, 900))
	return cr
}

// step runs actions, within a minute.
func (cr *chrome) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	cr.t.Helper()
	wait, done := context.WithTimeout(cr.tab, time.Minute)
	defer done()
	if err := chromedp.Do(wait, actions...); err != nil {
		cr.t.Fatalf("%s: %v\npage:\n%s\n%s", what, err, clip(text(cr.tab)), cr.seen.Report())
	}
}

// until waits for a JavaScript condition to hold on the page, once the page is
// parsed whole: a condition on its top may hold while the rest of it is still
// arriving, and the next step may act on an input further down.
func (cr *chrome) until(what, js string) {
	cr.t.Helper()
	if err := waitFor(cr.tab, `document.readyState !== "loading" && (`+js+`)`); err != nil {
		cr.t.Fatalf("%s (%s): %v\npage:\n%s\n%s", what, js, err, clip(text(cr.tab)), cr.seen.Report())
	}
}

// shoot checks the page shows no missing message and saves it as name.png.
func (cr *chrome) shoot(name string) {
	cr.t.Helper()
	if marked, err := chromedp.Run(cr.tab, chromedp.Evaluate[bool](`document.documentElement.outerHTML.includes("⟦")`)); err != nil || marked {
		cr.t.Errorf("%s shows a missing message (or could not be read: %v):\n%s", name, err, clip(text(cr.tab)))
	}
	png, err := chromedp.Run(cr.tab, chromedp.FullScreenshot(100))
	if err != nil {
		cr.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(cr.shots, name+".png"), png, 0o644); err != nil {
		cr.t.Fatal(err)
	}
}

// finish checks that at least min requests were seen, none of them to another
// host than the exchange's, and that no script failed and the
// Content-Security-Policy refused nothing.
func (cr *chrome) finish(min int) {
	t := cr.t
	t.Helper()
	if n := len(cr.seen.Requests()); n < min {
		t.Errorf("only %d requests were seen: the listener is not working", n)
	}
	for _, r := range cr.seen.Outside(cr.server) {
		t.Errorf("the console requested %s, which is not the exchange %s", r, cr.server.Host)
	}
	// The wrong key's 422 and the error page's 404 are pages under test, not
	// failures; uncaught exceptions, console errors and what the
	// Content-Security-Policy refused are.
	for _, c := range append(append(cr.seen.Exceptions(), cr.seen.Errors()...), cr.seen.Security()...) {
		t.Errorf("the page reported: %s", c)
	}
	if t.Failed() {
		t.Log(cr.seen.Report())
	}
	t.Logf("screenshots in %s", cr.shots)
}

// artifacts returns the folder for this test's screenshots.
func artifacts(t *testing.T) string {
	dir := os.Getenv(artifactsEnv)
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "web", t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// waitFor waits until a JavaScript condition holds on the page. A navigation
// under way destroys the page's context and fails a poll; the wait then goes on
// on the next page, until the condition holds or a minute has passed.
func waitFor(ctx context.Context, js string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)))
		if err == nil {
			return nil
		}
		last = err
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

// text is the page's visible text, for failure messages.
func text(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		return fmt.Sprintf("(page text unavailable: %v)", err)
	}
	return s
}

// download runs actions that start a download (a click on a link to a file) and
// returns the file the browser saved, as a person would find it on their disk.
func (cr *chrome) download(what string, actions ...chromedp.Action[chromedp.Void]) []byte {
	cr.t.Helper()
	dir := cr.t.TempDir()
	wait, done := context.WithTimeout(cr.tab, time.Minute)
	defer done()
	progress := chromedp.Events(wait, cdpbrowser.DownloadProgress)
	allow := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true)})
		return err
	})
	if err := chromedp.Do(wait, append([]chromedp.Action[chromedp.Void]{allow}, actions...)...); err != nil {
		cr.t.Fatalf("%s: %v\n%s", what, err, cr.seen.Report())
	}
	for ev, err := range progress {
		if err != nil {
			cr.t.Fatalf("%s: the download did not finish: %v", what, err)
		}
		switch ev.State {
		case cdpbrowser.DownloadProgressStateCompleted:
			b, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				cr.t.Fatalf("%s: %v", what, err)
			}
			return b
		case cdpbrowser.DownloadProgressStateCanceled:
			cr.t.Fatalf("%s: the browser cancelled the download", what)
		}
	}
	cr.t.Fatalf("%s: no download", what)
	return nil
}

func ptr[T any](v T) *T { return &v }
