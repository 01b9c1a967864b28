package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/internal/testenv"
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
	chromium := testenv.Tool(t, "DATAPORT_TEST_CHROMIUM", "chromium")
	profile := t.TempDir() // made first, removed last: after the browser exits
	shots := artifacts(t)
	x := seeded(t)
	server, err := url.Parse(x.srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	// One deadline for the whole walk, browser start included, so that a browser
	// that hangs fails the test instead of stalling the run; it is generous,
	// since the race detector slows the server many times over.
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium refuses its sandbox
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		// The browser itself stays quiet: the only traffic is the pages'.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US,en"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(profile),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var seen activity
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(seen.record))
	defer cancelTab()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		wait, done := context.WithTimeout(tab, time.Minute)
		defer done()
		if err := chromedp.Do(wait, actions...); err != nil {
			t.Fatalf("%s: %v\npage:\n%s\n%s", what, err, clip(text(tab)), seen.report())
		}
	}
	until := func(what, js string) {
		t.Helper()
		if err := waitFor(tab, js); err != nil {
			t.Fatalf("%s (%s): %v\npage:\n%s\n%s", what, js, err, clip(text(tab)), seen.report())
		}
	}
	shoot := func(name string) {
		t.Helper()
		if marked, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.documentElement.outerHTML.includes("⟦")`)); err != nil || marked {
			t.Errorf("%s shows a missing message (or could not be read: %v):\n%s", name, err, clip(text(tab)))
		}
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

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
	requests := seen.requestURLs()
	if len(requests) < 10 {
		t.Errorf("only %d requests were seen: the listener is not working", len(requests))
	}
	for _, r := range requests {
		if strings.HasPrefix(r, "data:") {
			continue // inline content, no request on the wire
		}
		if u, err := url.Parse(r); err != nil || u.Host != server.Host {
			t.Errorf("the console requested %s, which is not the exchange %s", r, server.Host)
		}
	}
	for _, c := range seen.problems() {
		t.Errorf("the page reported: %s", c)
	}
	if t.Failed() {
		t.Log(seen.report())
	}
	t.Logf("screenshots in %s", shots)
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

// activity records what the pages did. record runs in the loop that reads the
// browser's messages: it only appends.
type activity struct {
	mu       sync.Mutex
	requests []string
	urls     map[network.RequestID]string
	failed   []string
	console  []string
	bad      []string // exceptions, console errors, Content-Security-Policy refusals
}

func (a *activity) record(ev any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request == nil {
			return
		}
		a.requests = append(a.requests, ev.Request.URL)
		if a.urls == nil {
			a.urls = map[network.RequestID]string{}
		}
		a.urls[ev.RequestID] = ev.Request.URL
	case *network.EventLoadingFailed:
		a.failed = append(a.failed, a.urls[ev.RequestID]+": "+ev.ErrorText)
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			a.bad = append(a.bad, "uncaught: "+msg)
		}
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, arg := range ev.Args {
			if arg.Description != "" {
				parts = append(parts, arg.Description)
			} else {
				parts = append(parts, string(arg.Value))
			}
		}
		line := "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
		a.console = append(a.console, line)
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			a.bad = append(a.bad, line)
		}
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil {
			line := fmt.Sprintf("%s %s: %s %s", e.Level, e.Source, e.Text, e.URL)
			a.console = append(a.console, line)
			// The wrong key's 422 and the error page's 404 are logged as failed
			// loads; they are the pages under test. Anything the
			// Content-Security-Policy refused is not.
			if e.Source == log.EntrySourceSecurity {
				a.bad = append(a.bad, line)
			}
		}
	}
}

func (a *activity) requestURLs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.requests...)
}

func (a *activity) problems() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.bad...)
}

func (a *activity) report() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for _, s := range []struct {
		name  string
		lines []string
	}{{"requests", a.requests}, {"failed loads", a.failed}, {"console", a.console}} {
		fmt.Fprintf(&b, "%s (%d):\n", s.name, len(s.lines))
		for _, l := range s.lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String()
}
